"""The engine base: bounded retries on conflict, translated errors, harmless snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, ProgrammingError

from orderflow import Engine
from orderflow import engine_base as base
from orderflow.engine_base import retry_on_conflict
from orderflow.errors import ConcurrencyError, StoreUnavailableError
from orderflow.stock_item import StockItem


class Flaky:
    """A command that fails with the given errors, one per call, then succeeds."""

    def __init__(self, *errors: Exception, name: str = "command") -> None:
        self.errors = list(errors)
        self.calls = 0
        self.__name__ = name

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("orderflow.engine_base.time.sleep", lambda _: None)


def test_a_conflicting_save_is_retried_until_it_goes_through() -> None:
    command = Flaky(IntegrityError("conflict"), IntegrityError("conflict"))
    assert retry_on_conflict(command)() == "done"
    assert command.calls == 3


def test_a_locked_sqlite_file_is_retried_like_a_conflict() -> None:
    command = Flaky(OperationalError("database is locked"))
    assert retry_on_conflict(command)() == "done"
    assert command.calls == 2


def test_retrying_gives_up_after_a_bounded_number_of_attempts() -> None:
    command = Flaky(*[IntegrityError("conflict")] * (base.MAX_ATTEMPTS + 5), name="reserve_stock")
    with pytest.raises(ConcurrencyError, match=r"^reserve_stock: gave up after 30 conflicting"):
        retry_on_conflict(command)()
    assert command.calls == base.MAX_ATTEMPTS


@pytest.mark.parametrize(
    "error", [OperationalError("server closed the connection"), ProgrammingError("no table")]
)
def test_other_database_errors_become_one_line_store_errors(error: Exception) -> None:
    command = Flaky(error)
    with pytest.raises(StoreUnavailableError, match=rf"^database: {error}"):
        retry_on_conflict(command)()
    assert command.calls == 1


def test_a_command_called_by_another_command_is_retried_only_by_the_outer_one() -> None:
    inner = Flaky(IntegrityError("conflict"), IntegrityError("conflict"))
    outer_calls = 0

    @retry_on_conflict
    def outer() -> str:
        nonlocal outer_calls
        outer_calls += 1
        return retry_on_conflict(inner)()

    assert outer() == "done"
    assert (outer_calls, inner.calls) == (3, 3)


def test_the_retry_flag_is_cleared_after_a_command_fails() -> None:
    with pytest.raises(ConcurrencyError):
        retry_on_conflict(Flaky(*[IntegrityError("x")] * base.MAX_ATTEMPTS))()
    command = Flaky(IntegrityError("conflict"))
    assert retry_on_conflict(command)() == "done" and command.calls == 2


def set_up(engine: Engine) -> None:
    engine.register_warehouse("HN", "Kho Ha Noi")
    engine.register_product("TS", "Tee", sale_price=100_000)


def test_a_failing_snapshot_does_not_fail_or_repeat_the_command_that_was_saved(
    memory_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_up(memory_engine)
    for _ in range(98):
        memory_engine.receive_stock("TS", "HN", 1)
    assert memory_engine.snapshots is not None

    def broken_put(*_: Any, **__: Any) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(memory_engine.snapshots, "put", broken_put)
    memory_engine.receive_stock("TS", "HN", 1)  # version 100: a snapshot is due
    assert memory_engine.stock_level("TS", "HN").on_hand == 99


def test_a_snapshot_is_taken_every_100_stock_item_events(memory_engine: Engine) -> None:
    set_up(memory_engine)
    for _ in range(150):
        memory_engine.receive_stock("TS", "HN", 1)
    assert memory_engine.snapshots is not None
    snapshots = list(memory_engine.snapshots.get(StockItem.create_id("TS", "HN")))
    assert [s.originator_version for s in snapshots] == [100]


def test_the_engine_ignores_eventsourcing_settings_in_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.sqlite")
    monkeypatch.setenv("SQLITE_DBNAME", "/nonexistent/folder/x.db")
    engine = Engine(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    set_up(engine)
    assert engine.position() == 3
    engine.close()
