"""Looking after the views: how far behind they are, rebuilding them, verifying them.

`verify` replays the log into fresh copies of the views (tables with another prefix, in the
same database), up to exactly the position each stored view has reached, and compares the two
row by row inside one snapshot. Any difference means a stored row was changed by hand, an event
was applied twice or not at all, or a view's code changed without a rebuild.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from eventsourcing.application import Application
from orderflow.projections.registry import open_views, view_classes
from orderflow.projections.runner import Runner
from orderflow.projections.sql import BoundTable, Sql
from orderflow.projections.tracking import open_store
from orderflow.projections.view import View

MAX_REPORTED = 50  # differences listed per table; the rest are counted
ATTEMPTS = 5

Progress = Callable[[str, int], None]  # (view name, position reached)


@dataclass(frozen=True)
class ViewStatus:
    """Where a view stands against the newest event in the log."""

    name: str
    title: str
    position: int
    head: int

    @property
    def behind(self) -> int:
        """Positions not applied yet (positions have gaps, so at most this many events)."""
        return max(self.head - self.position, 0)


@dataclass(frozen=True)
class Difference:
    """One row where a stored view and its replay disagree."""

    view: str
    table: str
    key: dict[str, Any]
    kind: str  # "differs", "missing" (in the replay, not stored) or "extra" (stored only)
    columns: dict[str, tuple[Any, Any]] = field(
        default_factory=dict
    )  # column -> (stored, replayed)

    def __str__(self) -> str:
        key = ", ".join(f"{k}={v}" for k, v in self.key.items())
        where = f"{self.view}.{self.table} ({key})"
        if self.kind == "missing":
            return f"{where}: row missing from the stored view"
        if self.kind == "extra":
            return f"{where}: stored row that a replay does not produce"
        changes = "; ".join(
            f"{c} stored {s!r}, replayed {r!r}" for c, (s, r) in self.columns.items()
        )
        return f"{where}: {changes}"


@dataclass(frozen=True)
class Verification:
    """The outcome of verifying one view."""

    view: str
    position: int
    rows: int
    differences: list[Difference]
    more: int = 0  # differences found but not listed

    @property
    def ok(self) -> bool:
        return not self.differences and not self.more


def status(engine: Application[Any], names: Iterable[str] | None = None) -> list[ViewStatus]:
    """Each view's position and how far it is behind the newest event."""
    head = engine.recorder.max_notification_id() or 0
    return [
        ViewStatus(view.name, view.title, view.store.position(), head)
        for view in open_views(engine, names)
    ]


def rebuild(
    engine: Application[Any], names: Iterable[str] | None = None, progress: Progress | None = None
) -> list[ViewStatus]:
    """Empty the views and apply the whole log again, all of them in one pass over the log.

    Secondary indexes are dropped while the rows go in and built once at the end, which is
    cheaper than keeping them up to date row by row (a rebuild that is killed leaves them to
    the next process that opens the views: a view without all its indexes is not current).
    """
    views = open_views(engine, names)
    for view in views:
        with view.store.writing() as sql:
            view.store.lock_position(sql)
            view.store.reset(sql)
            view.store.drop_indexes(sql)
    report = (lambda p: progress("all", p)) if progress else None
    try:
        Runner(engine, views).catch_up(progress=report)
    except BaseException:
        with contextlib.suppress(Exception):  # the error that stopped the rebuild goes first
            _index(views)
        raise
    _index(views)
    head = engine.recorder.max_notification_id() or 0
    return [ViewStatus(view.name, view.title, view.store.position(), head) for view in views]


def _index(views: list[View]) -> None:
    for view in views:
        with view.store.writing() as sql:
            view.store.create_indexes(sql)


def verify(
    engine: Application[Any], names: Iterable[str] | None = None, progress: Progress | None = None
) -> list[Verification]:
    """Replay the log into fresh copies of the views and compare them with the stored ones."""
    return [_verify_one(engine, cls.name, progress) for cls in view_classes(names)]


def _verify_one(engine: Application[Any], name: str, progress: Progress | None) -> Verification:
    (stored,) = open_views(engine, [name])
    fresh = _fresh_copy(engine, stored)
    report = (lambda p: progress(name, p)) if progress else None
    try:
        for _ in range(ATTEMPTS):
            Runner(engine, [fresh]).catch_up(until=stored.store.position(), progress=report)
            result = _compare(stored, fresh)
            if result is not None:
                return result
        raise RuntimeError(f"view {name} kept moving; stop its runner and verify again")
    finally:
        fresh.store.drop()


def _fresh_copy(engine: Application[Any], view: View) -> View:
    cls = type(view)
    store = open_store(engine, cls.name, cls.tables, prefix=f"verify{uuid4().hex[:6]}")
    return cls(store, engine.repository)


def _compare(stored: View, fresh: View) -> Verification | None:
    """Row-by-row differences at one position, or None when the stored view moved on meanwhile."""
    with stored.store.reading() as sql:
        position = stored.store.read_position(sql)
        if fresh.store.read_position(sql) != position:
            return None
        differences: list[Difference] = []
        more = rows = 0
        for short, table in stored.store.tables.items():
            found = _table_differences(sql, stored.name, short, table, fresh.store.tables[short])
            differences += found[:MAX_REPORTED]
            more += max(len(found) - MAX_REPORTED, 0)
            counted = sql.one(f"SELECT COUNT(*) FROM {table.qualified}")
            rows += int(counted[0]) if counted else 0
        return Verification(stored.name, position, rows, differences, more)


def _table_differences(
    sql: Sql, view: str, short: str, stored: BoundTable, fresh: BoundTable
) -> list[Difference]:
    columns = ", ".join(stored.names)
    only_stored = sql.rows(
        f"SELECT {columns} FROM {stored.qualified} EXCEPT SELECT {columns} FROM {fresh.qualified}"
    )
    only_fresh = sql.rows(
        f"SELECT {columns} FROM {fresh.qualified} EXCEPT SELECT {columns} FROM {stored.qualified}"
    )
    key_at = [stored.names.index(k) for k in stored.key]
    by_key = {tuple(row[i] for i in key_at): row for row in only_fresh}
    found = []
    for row in only_stored:
        key = tuple(row[i] for i in key_at)
        replayed = by_key.pop(key, None)
        key_dict = dict(zip(stored.key, key, strict=True))
        if replayed is None:
            found.append(Difference(view, short, key_dict, "extra"))
            continue
        changed = {c: (s, r) for c, s, r in zip(stored.names, row, replayed, strict=True) if s != r}
        found.append(Difference(view, short, key_dict, "differs", changed))
    for key, _row in by_key.items():
        found.append(Difference(view, short, dict(zip(stored.key, key, strict=True)), "missing"))
    return found
