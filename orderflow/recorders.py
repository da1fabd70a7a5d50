"""The engine's event recorders: the library's, with a leaner write and a read-set check.

Two things are added to eventsourcing's application recorders, keeping every guarantee they give:

* **One round trip per save on PostgreSQL.** The library pipelines BEGIN, the lock, NOTIFY and
  the insert, waits, then sends COMMIT and waits again, and dumps each row as a composite value
  in Python. Here the same statements — `SET LOCAL lock_timeout`, `LOCK TABLE ... IN EXCLUSIVE
  MODE` (insert order = commit order, so log readers never skip an event), NOTIFY, the insert —
  go as one multi-statement query, which PostgreSQL runs as one implicit transaction: committed
  when the last statement succeeds, rolled back whole on any error. The rows travel as four
  plain arrays, bound client-side by psycopg (quoted by libpq). Half the CPU of the pipeline.
* **A read-set check** (`expect`): a command that decided on aggregates it does not change
  (a product's price, a warehouse being active) can pass `save(..., expect={id: version})`.
  The insert then happens only if none of those aggregates has a newer event, checked inside
  the write transaction (under the table lock on PostgreSQL, the write lock on SQLite);
  otherwise nothing is written and IntegrityError is raised, as for any conflicting save, so
  the command is retried on fresh state. Changed aggregates need no entry: their own new
  versions already conflict when they are stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import get_topic, retry
from psycopg import ClientCursor
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from orderflow.loading import SQLITE_MAX_PAIRS, sqlite_newer_query, sqlite_pairs

Expected = Mapping[UUID, int]

STALE_READ = "stale read: an aggregate this command relied on has changed since it was read"


class PostgresEventRecorder(PostgresApplicationRecorder):
    """PostgreSQL: lock, notify, insert and commit in one round trip; optional read-set check."""

    checks_read_set = True

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        table = SQL("{}.{}").format(Identifier(datastore.schema), Identifier(events_table_name))
        # One simple query: PostgreSQL runs its statements as one implicit transaction, committed
        # after the last one and rolled back whole on any error; the lock is held until then.
        insert = SQL("; ").join(
            [
                *self.lock_table_statements,
                SQL("NOTIFY {}").format(Identifier(self.channel_name)),
                SQL(
                    "INSERT INTO {} (originator_id, originator_version, topic, state)"
                    " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[])"
                ).format(table),
            ]
        )
        self.insert_rows = insert + SQL(" RETURNING notification_id")
        # LATERAL ... LIMIT 1 keeps one primary-key probe per aggregate (as a plain join the
        # planner may hash the whole table).
        self.insert_rows_if_current = insert + SQL(
            " WHERE NOT EXISTS (SELECT 1 FROM unnest(%s::uuid[], %s::bigint[]) AS k(id, v)"
            " CROSS JOIN LATERAL (SELECT 1 FROM {} e"
            " WHERE e.originator_id = k.id AND e.originator_version > k.v LIMIT 1) AS newer)"
            " RETURNING notification_id"
        ).format(table)
        self.uuid_ids = datastore.originator_id_type == "uuid" and not datastore.enable_db_functions

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        expect: Expected | None = kwargs.pop("expect", None)
        if not self.uuid_ids:
            if expect:
                raise NotImplementedError("expect= needs uuid originator ids")
            return super().insert_events(stored_events, **kwargs)
        if not stored_events:
            return []
        rows: list[Any] = [
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        ]
        if expect:
            statement = self.insert_rows_if_current
            rows += [list(expect), list(expect.values())]
        else:
            statement = self.insert_rows
        with (
            self.datastore.get_connection() as conn,
            ClientCursor(conn, row_factory=tuple_row) as cur,
        ):
            cur.execute(statement, rows)
            while cur.nextset():  # to the insert's result, the last one
                pass
            ids = [row[0] for row in cur.fetchall()]
        if len(ids) != len(stored_events):  # the read-set check failed: nothing was written
            raise IntegrityError(STALE_READ)
        return ids


class SQLiteEventRecorder(SQLiteApplicationRecorder):
    """SQLite: the library's insert, plus the read-set check inside the write transaction."""

    checks_read_set = True

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        expect: Expected | None = kwargs.pop("expect", None)
        # Insert first: the first write takes SQLite's write lock, so the check below sees
        # every committed event and nobody can add one before this transaction ends.
        ids = super()._insert_events(c, stored_events, **kwargs)
        for start in range(0, len(expect or ()), SQLITE_MAX_PAIRS):
            chunk = list(expect.items())[start : start + SQLITE_MAX_PAIRS]  # type: ignore[union-attr]
            c.execute(
                sqlite_newer_query(self.events_table_name, len(chunk), "1", "LIMIT 1"),
                sqlite_pairs(chunk),
            )
            if c.fetchone():
                raise IntegrityError(STALE_READ)  # the transaction rolls back
        return ids


def recorder_topic(backend: str) -> str | None:
    """APPLICATION_RECORDER_TOPIC for a backend ('postgres', 'sqlite'; None for memory)."""
    recorder = {"postgres": PostgresEventRecorder, "sqlite": SQLiteEventRecorder}.get(backend)
    return get_topic(recorder) if recorder else None
