"""Two engines on one store, commands interleaved on the same stock items: every conflict is
retried on fresh state until it converges, and a save of several aggregates is all or nothing.

The interleaving is made deterministic by letting engine B's save first run a command of
engine A: B loaded its aggregates, A commits, then B saves on stale versions and conflicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orderflow import ConcurrencyError, Engine, InsufficientStockError, open_engine
from orderflow.event_log import read_log


@pytest.fixture
def engines(store_url: str) -> Iterator[tuple[Engine, Engine]]:
    a = open_engine(store_url)
    a.register_warehouse("HN", "Kho Ha Noi")
    a.register_warehouse("HCM", "Kho Sai Gon")
    a.register_product(
        "TS",
        "Tee",
        attributes={"Color": ["Red", "Blue"]},
        sale_price=100_000,
        initial_stock={"TS-RED": {"HN": 10, "HCM": 5}, "TS-BLUE": {"HN": 4}},
    )
    b = open_engine(store_url, create_tables=False)
    yield a, b
    b.close()
    a.close()


def interleave(
    b: Engine, monkeypatch: pytest.MonkeyPatch, *commands_of_a: Callable[[], object]
) -> list[int]:
    """Before each of B's next saves, run the next command of A. Returns B's save attempts."""
    pending = list(commands_of_a)
    attempts: list[int] = []
    save = b.save

    def save_after_a(*aggregates: Any, **kwargs: Any) -> Any:
        attempts.append(len(attempts) + 1)
        if pending:
            pending.pop(0)()
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(b, "save", save_after_a)
    return attempts


def events_named(engine: Engine, name: str) -> list[dict[str, Any]]:
    return [
        vars(engine.mapper.to_domain_event(n))
        for n in read_log(engine.recorder)
        if n.topic.endswith(f".{name}")
    ]


def test_a_reservation_that_lost_a_race_is_retried_and_both_are_kept(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = engines
    attempts = interleave(b, monkeypatch, lambda: a.reserve_stock("TS-RED", "HN", "web-a", 4))
    b.reserve_stock("TS-RED", "HN", "web-b", 5)
    assert attempts == [1, 2]  # the first save conflicted, the retry went through
    for engine in (a, b):
        level = engine.stock_level("TS-RED", "HN")
        assert (level.on_hand, level.reserved, level.available) == (10, 9, 1)
    assert sorted(e["order_id"] for e in events_named(a, "Reserved")) == ["web-a", "web-b"]


def test_a_reservation_that_no_longer_fits_after_the_race_is_refused_and_writes_nothing(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = engines
    interleave(b, monkeypatch, lambda: a.reserve_stock("TS-RED", "HN", "web-a", 8))
    before_b = a.position() + 1  # A's reservation is the only write expected from here on
    with pytest.raises(InsufficientStockError, match="only 2 available"):
        b.reserve_stock("TS-RED", "HN", "web-b", 5)
    assert a.position() == before_b
    assert [e["order_id"] for e in events_named(a, "Reserved")] == ["web-a"]


def test_the_retry_converges_through_several_conflicts_in_a_row(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = engines
    attempts = interleave(
        b,
        monkeypatch,
        *[lambda i=i: a.receive_stock("TS-RED", "HN", 1, reference=f"PN-{i}") for i in range(5)],
    )
    b.write_off_stock("TS-RED", "HN", 8, "flood")
    assert len(attempts) == 6
    assert b.stock_level("TS-RED", "HN").on_hand == 7  # 10 + 5 receipts - 8
    assert len(events_named(a, "WrittenOff")) == 1


def test_a_transfer_that_conflicts_on_its_target_writes_neither_side_until_it_goes_through(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = engines
    # A changes only the target while B holds both: B's two-aggregate save must fail whole.
    attempts = interleave(b, monkeypatch, lambda: a.receive_stock("TS-RED", "HCM", 2))
    b.transfer_stock("TS-RED", "HN", "HCM", 6)
    assert len(attempts) == 2
    assert len(events_named(a, "TransferredOut")) == len(events_named(a, "TransferredIn")) == 1
    assert (a.stock_level("TS-RED", "HN").on_hand, a.stock_level("TS-RED", "HCM").on_hand) == (
        4,
        13,
    )


def test_a_transfer_refused_on_retry_leaves_both_warehouses_untouched(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = engines
    interleave(b, monkeypatch, lambda: a.reserve_stock("TS-RED", "HN", "web-a", 7))
    with pytest.raises(InsufficientStockError, match="cannot transfer 6"):
        b.transfer_stock("TS-RED", "HN", "HCM", 6)
    assert events_named(a, "TransferredOut") == events_named(a, "TransferredIn") == []
    assert a.stock_level("TS-RED", "HCM").on_hand == 5


def test_a_stock_count_that_conflicts_is_recounted_against_fresh_stock_and_saved_whole(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = engines
    interleave(b, monkeypatch, lambda: a.receive_stock("TS-BLUE", "HN", 3))
    report = b.record_stock_count("HN", {"TS-RED": 9, "TS-BLUE": 6})
    assert [(line.sku, line.expected, line.difference) for line in report.lines] == [
        ("TS-RED", 10, -1),
        ("TS-BLUE", 7, -1),  # expected 7 = 4 + A's 3: the retry saw A's receipt
    ]
    counted = events_named(a, "Counted")
    assert sorted(e["counted"] for e in counted) == [6, 9]  # one Counted per SKU, no partial one


def test_a_command_that_never_stops_conflicting_gives_up_and_writes_nothing(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = engines
    monkeypatch.setattr("orderflow.engine_base.MAX_ATTEMPTS", 3)
    interleave(b, monkeypatch, *[lambda: a.receive_stock("TS-RED", "HN", 1)] * 3)
    with pytest.raises(ConcurrencyError, match=r"^reserve_stock: gave up after 3"):
        b.reserve_stock("TS-RED", "HN", "web-b", 1)
    assert events_named(a, "Reserved") == []
    assert a.stock_level("TS-RED", "HN").on_hand == 13
