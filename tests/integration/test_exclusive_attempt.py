"""A command that keeps losing to other writers runs, after EXCLUSIVE_AFTER conflicts, holding
the store's write lock from its first read to its save: it cannot lose again."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from orderflow import Engine, engine_base, open_engine
from orderflow.errors import NotFoundError
from orderflow.order import Order
from orderflow.store import sqlite_path
from tests.integration.ordering_setup import place, seller


@pytest.fixture
def engine_and_url(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, str]]:
    monkeypatch.setattr(engine_base, "backoff", lambda attempt: 0.0)
    engine = seller(open_engine(store_url))
    yield engine, store_url
    engine.close()


def other_write(url: str) -> str:
    """One row written with the bare driver, waiting 0.2 s at most for the store's write lock:
    'written', or 'blocked'."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(sqlite_path(url), timeout=0.2, isolation_level=None)
        try:
            conn.execute(
                "INSERT INTO stored_events VALUES (?, 1, 'tests:Other', x'7b7d')", [uuid4().hex]
            )
        except sqlite3.OperationalError:
            return "blocked"
        finally:
            conn.close()
        return "written"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET lock_timeout = '200ms'")
        try:
            conn.execute(
                "INSERT INTO orderflow_events (originator_id, originator_version, topic, state)"
                " VALUES (%s, 1, 'tests:Other', '{}')",
                [uuid4()],
            )
        except psycopg.errors.LockNotAvailable:
            return "blocked"
    return "written"


def losing(engine: Engine, monkeypatch: pytest.MonkeyPatch, during: Any) -> list[int]:
    """Make place_order lose its first EXCLUSIVE_AFTER attempts; `during` runs in the next."""
    attempts: list[int] = []
    real = type(engine)._place

    def conflicting(self: Engine, *args: Any) -> Any:
        attempts.append(self.attempt())
        if self.attempt() <= engine_base.EXCLUSIVE_AFTER:
            raise IntegrityError("another writer saved first")
        during()
        return real(self, *args)

    monkeypatch.setattr(type(engine), "_place", conflicting)
    return attempts


def test_the_attempt_after_many_conflicts_holds_the_write_lock_until_it_saves(
    engine_and_url: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, url = engine_and_url
    seen: list[str] = []
    attempts = losing(a, monkeypatch, lambda: seen.append(other_write(url)))
    order_id = place(a, "lucky-nine", TEE=2)
    assert attempts == list(range(1, engine_base.EXCLUSIVE_AFTER + 2))
    assert seen == ["blocked"]  # nobody else could write while it read and decided
    assert a.order(order_id).lines[0].reserved == {"HN": 2}
    assert other_write(url) == "written"  # and the lock went with its save


def test_a_refusal_in_the_exclusive_attempt_writes_nothing_and_releases_the_lock(
    engine_and_url: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, url = engine_and_url
    before = a.position()
    losing(a, monkeypatch, lambda: None)
    with pytest.raises(NotFoundError):
        place(a, "refused", NOSUCH=1)
    assert a.position() == before
    assert not a._exists(Order.create_id("shopee", "refused"))
    assert other_write(url) == "written"


def test_an_order_another_process_placed_meanwhile_is_found_in_the_exclusive_attempt(
    engine_and_url: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The duplicate key on the pinned connection is the library's IntegrityError, so the
    command finds the other's order (it retried 30 times and gave up, once in a CI run)."""
    a, url = engine_and_url
    b = open_engine(url)
    try:
        placed = place(b, "shared-1", TEE=1)
        monkeypatch.setattr(engine_base, "EXCLUSIVE_AFTER", 0)  # every attempt exclusive
        retries = engine_base.conflict_retries
        assert place(a, "shared-1", TEE=1) == placed
        assert engine_base.conflict_retries == retries  # found at once, nothing written
        assert a.order(placed).lines[0].reserved == {"HN": 1}
    finally:
        b.close()
