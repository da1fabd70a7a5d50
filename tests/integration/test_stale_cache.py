"""Two engines on one store (as two processes): one's cached state goes stale behind its back.

place_order decides on cached aggregates without reading them first and checks, inside the
write, that none has moved on (see orderflow/recorders.py); these scenarios change what the
other engine has cached and check its next order sees the change.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from uuid import UUID

import pytest

from orderflow import Engine, engine_base, open_engine
from orderflow.errors import InvalidInputError
from tests.integration.ordering_setup import levels, place, seller


@pytest.fixture
def engines(store_url: str) -> Iterator[tuple[Engine, Engine]]:
    a = seller(open_engine(store_url))
    b = open_engine(store_url)
    place(a, "warm-1", TEE=1)  # a's cache now holds TEE's product, warehouses and stock
    place(a, "warm-2", TEE=1)
    yield a, b
    a.close()
    b.close()


@pytest.fixture(autouse=True)
def no_recent_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each scenario starts as a process that has not met a conflict (so it trusts its cache)."""
    monkeypatch.setattr(engine_base, "last_conflict", float("-inf"))


def test_a_price_changed_elsewhere_is_used(engines: tuple[Engine, Engine]) -> None:
    a, b = engines
    b.change_price("TEE", sale_price=250_000)
    order = a.order(place(a, "after-price", TEE=1))
    assert order.lines[0].unit_price == 250_000


def test_a_product_discontinued_elsewhere_is_refused(engines: tuple[Engine, Engine]) -> None:
    a, b = engines
    b.discontinue_product("TEE")
    with pytest.raises(InvalidInputError, match="no longer sold"):
        place(a, "after-discontinue", TEE=1)


def test_a_warehouse_deactivated_elsewhere_is_not_allocated(
    engines: tuple[Engine, Engine],
) -> None:
    a, b = engines
    b.deactivate_warehouse("HN", "flooded")
    order = a.order(place(a, "after-deactivate", TEE=2))
    assert order.lines[0].reserved == {"HCM": 2}


def test_stock_taken_elsewhere_is_not_sold_twice(engines: tuple[Engine, Engine]) -> None:
    a, b = engines  # TEE: HN 10 (2 reserved by a's warm-up), HCM 3
    place(b, "b-takes", TEE=8)  # HN is now fully reserved, but a's cache still shows 8 free
    order = a.order(place(a, "a-wants", TEE=4))
    assert order.lines[0].reserved == {"HCM": 3}
    assert order.lines[0].backordered == 1
    for on_hand, reserved in levels(a, "TEE").values():
        assert reserved <= on_hand


def test_a_refusal_on_cached_state_is_checked_again(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = engines
    a.discontinue_product("TEE")
    with pytest.raises(InvalidInputError):
        place(a, "refused", TEE=1)
    b.update_product("TEE", brand="Viet Tien")  # moves the product on; still discontinued
    monkeypatch.setattr(engine_base, "last_conflict", float("-inf"))  # the refusal above set it
    retries = engine_base.conflict_retries
    with pytest.raises(InvalidInputError, match="no longer sold"):
        place(a, "still-refused", TEE=1)
    assert engine_base.conflict_retries == retries + 1  # refused on the cache, then on fresh state


def test_stock_opened_elsewhere_in_a_warehouse_taken_as_empty_is_used(
    engines: tuple[Engine, Engine],
) -> None:
    a, b = engines
    place(a, "mug-1", MUG=1)  # MUG has no stock item in HN: a remembers that
    a.set_preferred_warehouse("shopee", "HN")
    b.receive_stock("MUG", "HN", 4, "purchase_receipt", "PO-9")
    order = a.order(place(a, "mug-2", MUG=2))
    assert order.lines[0].reserved == {"HN": 2}  # the preferred warehouse, opened behind a's back


def test_a_channel_preference_set_elsewhere_is_followed(engines: tuple[Engine, Engine]) -> None:
    a, b = engines
    b.set_preferred_warehouse("shopee", "HCM")  # a has this channel's settings as missing
    order = a.order(place(a, "after-preference", TEE=2))
    assert order.lines[0].reserved == {"HCM": 2}


# one engine, the only writer: the save skips the read-set check (see EngineBase.known_head) --
@pytest.fixture
def only_writer(store_url: str) -> Iterator[Engine]:
    a = seller(open_engine(store_url))
    place(a, "warm-1", TEE=1)
    place(a, "warm-2", TEE=1)
    assert a.known_head() == a.position()
    yield a
    assert a.known_head() == a.position(), "nobody else wrote: the shortcut stayed on"
    a.close()


def test_the_only_writer_sees_its_own_changes_without_the_check(only_writer: Engine) -> None:
    """Changes this engine saved through other commands (its cache not refreshed by them) are
    marked unsure and read before the next order decides."""
    a = only_writer
    a.change_price("TEE", sale_price=250_000)
    assert a.order(place(a, "after-price", TEE=1)).lines[0].unit_price == 250_000
    a.deactivate_warehouse("HN", "flooded")
    assert a.order(place(a, "after-deactivate", TEE=2)).lines[0].reserved == {"HCM": 2}
    a.discontinue_product("TEE")
    with pytest.raises(InvalidInputError, match="no longer sold"):
        place(a, "after-discontinue", TEE=1)


def test_the_only_writer_sees_stock_and_settings_it_created(only_writer: Engine) -> None:
    a = only_writer
    place(a, "mug-1", MUG=1)  # MUG has no stock item in HN: a remembers that
    a.set_preferred_warehouse("shopee", "HN")
    a.receive_stock("MUG", "HN", 4, "purchase_receipt", "PO-9")
    assert a.order(place(a, "mug-2", MUG=2)).lines[0].reserved == {"HN": 2}


def test_after_another_writer_the_next_save_catches_up_and_the_shortcut_stays_on(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save that finds another writer's events before its own reads them back and marks what
    they changed, so the next orders skip the check again and still see those changes."""
    a, b = engines
    place(a, "mug-1", MUG=1)  # a has MUG's product, the warehouses and MUG's stock cached
    b.change_price("MUG", sale_price=150_000)
    b.deactivate_warehouse("HCM", "flooded")  # the only MUG stock is there
    place(a, "tee", TEE=1)  # checked in full (a's head is behind); then catches up on b
    assert a.known_head() == a.position()
    monkeypatch.setattr(engine_base, "last_conflict", float("-inf"))  # trust the cache again
    retries = engine_base.conflict_retries
    mug = a.order(place(a, "mug-2", MUG=2))  # no check: the marks bring MUG's state in
    assert engine_base.conflict_retries == retries and a.known_head() == a.position()
    assert mug.lines[0].unit_price == 150_000
    assert mug.lines[0].reserved == {} and mug.lines[0].backordered == 2


def test_too_much_from_another_writer_turns_the_shortcut_off(
    engines: tuple[Engine, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = engines
    monkeypatch.setattr(engine_base, "MAX_CATCH_UP", 1)
    b.change_price("TEE", sale_price=250_000)
    b.change_price("MUG", sale_price=150_000)  # two events: more than a will read back
    assert a.order(place(a, "after-price", TEE=1)).lines[0].unit_price == 250_000
    assert a.known_head() is None and not a._unsure  # from now on every save checks
    b.change_price("TEE", sale_price=260_000)
    assert a.order(place(a, "after-price-2", TEE=1)).lines[0].unit_price == 260_000
    assert a.order(place(a, "mug", MUG=1)).lines[0].unit_price == 150_000


def test_marks_are_dropped_and_the_shortcut_ends_past_the_limit(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = seller(open_engine(store_url))
    place(a, "warm-1", TEE=1)
    monkeypatch.setattr(engine_base, "MAX_UNSURE", 1)
    a.change_price("TEE", sale_price=250_000)  # marks the product
    a.change_price("MUG", sale_price=120_000)  # a second mark: past the limit
    assert a.known_head() is None and not a._unsure
    assert a.order(place(a, "after-limit", TEE=1)).lines[0].unit_price == 250_000
    a.close()


def test_threads_of_one_engine_never_oversell_while_the_shortcut_is_on(store_url: str) -> None:
    """Saves of several threads finish in any order; each catches up on the others' events
    (or a later one has already), so no thread decides on stale stock without the check."""
    a = seller(open_engine(store_url))
    a.receive_stock("RICE", "HN", 60, "purchase_receipt")
    errors: list[BaseException] = []
    placed: list[UUID] = []

    def orders(worker: int) -> None:
        try:
            for n in range(40):
                lines = {"RICE": 1 + n % 2, **({"TEE": 1} if n % 3 == 0 else {})}
                placed.append(place(a, f"t{worker}-{n}", **lines))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=orders, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    b = open_engine(store_url)  # fresh state, no cache
    for sku in ("RICE", "TEE"):
        for on_hand, reserved in levels(b, sku).values():
            assert reserved <= on_hand
    lines = [line for o in placed for line in b.order(o).lines if line.sku == "RICE"]
    assert sum(line.reserved.get("HN", 0) for line in lines) == levels(b, "RICE")["HN"][1] == 60
    assert sum(line.backordered for line in lines) == sum(line.quantity for line in lines) - 60
    b.close()
    a.close()
