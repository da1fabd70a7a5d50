"""The engine's event recorders: the library's, with a leaner write and a read-set check.

What is added to eventsourcing's application recorders, keeping every guarantee they give:

* **One round trip per save on PostgreSQL.** The library pipelines BEGIN, the lock, NOTIFY and
  the insert, waits, then sends COMMIT and waits again, and dumps each row as a composite value
  in Python. Here one call of a PL/pgSQL function, `<table>_insert` (created with the tables),
  does the same work — `SET LOCAL lock_timeout`, `LOCK TABLE ... IN EXCLUSIVE MODE` (insert
  order = commit order, so log readers never skip an event), NOTIFY, the insert — as one
  statement in autocommit mode: one implicit transaction, committed when the call returns,
  rolled back whole on any error, the lock held until the commit. The rows travel as text array
  literals (see _array_literals). (The library's own optional function skips the lock; this one
  does not.) On SQLite a save's rows go in with one executemany.
* **A read-set check** (`expect`): a command that decided on aggregates it does not change
  (a product's price, a warehouse being active) can pass `save(..., expect={id: version})`.
  The insert then happens only if none of those aggregates has a newer event, checked inside
  the write transaction (under the table lock on PostgreSQL, the write lock on SQLite);
  otherwise nothing is written and IntegrityError is raised, as for any conflicting save, so
  the command is retried on fresh state. Changed aggregates need no entry: their own new
  versions already conflict when they are stale.
* **The log's head before the save** is reported back (`report=SaveReport()`), and a caller
  that passes the head it knew (`known_head`) skips the read-set check when nobody wrote since:
  a process that is the only writer knows its cache is current (EngineBase keeps that head).
* **Snapshots in the same transaction** (`snapshots=[...]`), so a due snapshot costs no commit
  of its own and a refused save writes none.
* **An exclusive block** (`exclusive()`): the write lock taken before a command reads, held
  until its save commits, for a command that keeps losing to other writers.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTransaction,
)
from eventsourcing.utils import get_topic, retry

from orderflow.loading import SQLITE_MAX_PAIRS, quote_identifier, sqlite_newer_query, sqlite_pairs

Expected = Mapping[UUID, int]

STALE_READ = "stale read: an aggregate this command relied on has changed since it was read"
log = logging.getLogger(__name__)
UNDEFINED_FUNCTION = "42883"  # PostgreSQL's SQLSTATE for a function that does not exist

INSERT_FUNCTION = """
CREATE OR REPLACE FUNCTION {function}(
    ids uuid[], versions bigint[], topics text[], states bytea[], lock_timeout text,
    known_head bigint, read_ids uuid[], read_versions bigint[], snapshot_ids uuid[],
    snapshot_versions bigint[], snapshot_topics text[], snapshot_states bytea[]
) RETURNS TABLE (head_before bigint, inserted bigint) LANGUAGE plpgsql AS $insert$
DECLARE
    latest bigint;
BEGIN
    PERFORM set_config('lock_timeout', lock_timeout, true);
    LOCK TABLE {table} IN EXCLUSIVE MODE;
    SELECT coalesce(max(notification_id), 0) INTO latest FROM {table};
    IF latest IS DISTINCT FROM known_head AND EXISTS (
        SELECT 1 FROM unnest(read_ids, read_versions) AS k(id, v)
        CROSS JOIN LATERAL (
            SELECT 1 FROM {table} e
            WHERE e.originator_id = k.id AND e.originator_version > k.v LIMIT 1
        ) AS newer
    ) THEN
        RETURN;  -- something read has moved on: write nothing
    END IF;
    NOTIFY {channel};
    RETURN QUERY
        INSERT INTO {table} (originator_id, originator_version, topic, state)
        SELECT * FROM unnest(ids, versions, topics, states)
        RETURNING latest, notification_id;
    IF snapshot_ids IS NOT NULL THEN
        INSERT INTO {snapshots} (originator_id, originator_version, topic, state)
        SELECT * FROM unnest(snapshot_ids, snapshot_versions, snapshot_topics, snapshot_states)
        ON CONFLICT DO NOTHING;  -- the same version's snapshot is the same state
    END IF;
END
$insert$"""
OLD_INSERT_FUNCTIONS = (
    "{function}(uuid[], bigint[], text[], bytea[], text, uuid[], bigint[])",
    "{function}(uuid[], bigint[], text[], bytea[], text, uuid[], bigint[], uuid[], bigint[],"
    " text[], bytea[])",
)
"""Signatures of the function in earlier versions (dropped: calls could be ambiguous)."""
CALL_PARAMETERS = (
    "%s::uuid[], %s::bigint[], %s::text[], %s::bytea[], %s::text, %s::bigint, %s::uuid[],"
    " %s::bigint[], %s::uuid[], %s::bigint[], %s::text[], %s::bytea[]"
)


@dataclass
class SaveReport:
    """What a save found, for the engine: the log's head just before its events went in."""

    head_before: int | None = None


class PostgresEventRecorder(PostgresApplicationRecorder):
    """PostgreSQL: lock, notify, insert and commit in one round trip; optional read-set check."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        reuse_the_last_connection(datastore.pool)
        self._pinned = threading.local()  # a connection holding the write lock: exclusive()
        schema = quote_identifier(datastore.schema)
        self.table = f"{schema}.{quote_identifier(events_table_name)}"
        function = f"{schema}.{quote_identifier(events_table_name + '_insert')}"
        self.snapshots_table = snapshots_table_of(events_table_name)
        self.create_function = INSERT_FUNCTION.format(
            function=function,
            table=self.table,
            snapshots=f"{schema}.{quote_identifier(self.snapshots_table)}",
            channel=quote_identifier(self.channel_name),
        )
        old_functions = ", ".join(f.format(function=function) for f in OLD_INSERT_FUNCTIONS)
        self.drop_old_functions = f"DROP FUNCTION IF EXISTS {old_functions}"
        self.function_lock = "SELECT pg_advisory_xact_lock(hashtext('{}'))".format(
            function.replace("'", "''")
        )
        self.call = f"SELECT * FROM {function}({CALL_PARAMETERS})"
        self.lock_timeout = f"{datastore.lock_timeout}s"
        self.has_function = datastore.originator_id_type == "uuid"

    def _create_table(self, curs: Any) -> None:
        """The library's tables, then the insert function (in the same transaction).

        CREATE OR REPLACE FUNCTION from several processes at once fails ("tuple concurrently
        updated"; the library replaces one of its own too): creators take turns on an advisory
        lock held until the creating transaction ends.
        """
        curs.execute(self.function_lock)
        super()._create_table(curs)
        curs.execute(self.drop_old_functions)
        curs.execute(self.create_function)

    @property
    def checks_read_set(self) -> bool:
        """False on a store whose tables predate the insert function (and with text ids)."""
        return self.has_function

    @property
    def writes_snapshots(self) -> bool:
        """Whether insert_events takes `snapshots` (stored events for `snapshots_table`)."""
        return self.has_function

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the table's write lock from now on: nobody else can write until this thread's
        next save (made on the same connection, and committed at once) or the block's end.

        For a command that keeps losing to other writers (see engine_base.EXCLUSIVE_AFTER):
        what it reads in the block cannot change before it saves. Reads take no lock that
        conflicts with it; other writers wait (up to their lock timeout).
        """
        with self.datastore.get_connection() as conn:
            conn.execute("BEGIN")
            try:
                conn.execute(f"SET LOCAL lock_timeout = '{self.lock_timeout}'")
                conn.execute(f"LOCK TABLE {self.table} IN EXCLUSIVE MODE")
                self._pinned.conn = conn
                yield
            finally:
                if getattr(self._pinned, "conn", None) is conn:  # no save was made in the block
                    self._pinned.conn = None
                    conn.execute("ROLLBACK")

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        expect, snapshots, known_head, report = _save_options(kwargs)
        if not self.has_function:
            if expect or snapshots:  # the caller relied on the function: have it try again
                raise IntegrityError(STALE_READ + " (no insert function on this store)")
            return cast(Sequence[int] | None, super().insert_events(stored_events, **kwargs))
        if not stored_events:
            return []
        params: list[object] = [*_array_literals(stored_events), self.lock_timeout, known_head]
        if expect:
            params += [_uuids(expect), _integers(expect.values())]
        else:
            params += [None, None]
        params += _array_literals(snapshots) if snapshots else [None] * 4
        pinned = getattr(self._pinned, "conn", None)
        try:
            if pinned is not None:  # in exclusive(): the lock is held on this connection
                with as_library_errors():
                    rows = pinned.execute(self.call, params, prepare=True).fetchall()
                    pinned.execute("COMMIT")
                self._pinned.conn = None
            else:
                with self.datastore.get_connection() as conn, conn.cursor() as cur:
                    cur.execute(self.call, params, prepare=True)
                    rows = cur.fetchall()
        except ProgrammingError as error:
            if getattr(error.__cause__, "sqlstate", None) != UNDEFINED_FUNCTION:
                raise
            log.warning(
                "no %s_insert function (tables made by an older orderflow; open once "
                "with create_tables to add it): using the library's insert",
                self.events_table_name,
            )
            self.has_function = False
            again = self.insert_events(stored_events, expect=expect, snapshots=snapshots, **kwargs)
            return cast(Sequence[int] | None, again)
        if len(rows) != len(stored_events):  # the read-set check failed: nothing was written
            raise IntegrityError(STALE_READ)
        report.head_before = rows[0]["head_before"]
        return [row["inserted"] for row in rows]


class SQLiteEventRecorder(SQLiteApplicationRecorder):
    """SQLite: the library's insert as one executemany, plus the read-set check inside the
    write transaction."""

    checks_read_set = True
    writes_snapshots = True

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        reuse_the_last_connection(datastore.pool)
        self._pinned = threading.local()  # the transaction holding the write lock: exclusive()
        self._gate = threading.Lock()  # held by a save, or by a whole exclusive() block
        self.snapshots_table = snapshots_table_of(events_table_name)
        table = quote_identifier(self.snapshots_table)
        self.insert_snapshots = f"INSERT OR IGNORE INTO {table} VALUES (?, ?, ?, ?)"
        events = quote_identifier(events_table_name)
        self.select_head = f"SELECT max(rowid) FROM {events}"

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the database's write lock from now on (as PostgresEventRecorder.exclusive):
        this thread's next save is made in this transaction and committed at once.

        The lock is SQLite's own, taken on a connection outside the pool's writer lock, and
        this process's other threads wait at `_gate` before their saves ask the pool for it.
        The pool queues every request, reads too, behind a thread waiting for its writer lock:
        holding that lock while this thread reads deadlocked with two other threads' saves
        until the pool's timeout (four threads of one engine on hot SKUs). Other processes
        wait in SQLite's busy handler. (A shared-memory database keeps the pool's lock too.)
        """
        pool = self.datastore.pool
        with self._gate:
            conn = pool.get_connection(is_writer=True if pool.is_sqlite_memory_mode else None)
            try:
                with SQLiteTransaction(conn, commit=True) as transaction, transaction as c:
                    c.execute(f"DELETE FROM {quote_identifier(self.events_table_name)} WHERE 0")
                    self._pinned.connection, self._pinned.cursor = conn, c
                    try:
                        yield
                    finally:
                        self._pinned.cursor = None
            finally:
                pool.put_connection(conn)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        cursor = getattr(self._pinned, "cursor", None)
        if cursor is None:  # the library's insert_events, without two generator contexts
            with (
                self._gate,  # not while another thread is in exclusive()
                self.datastore.get_connection(commit=True) as conn,
                SQLiteTransaction(conn, commit=True) as transaction,
                transaction as c,
            ):
                return self._insert_events(c, stored_events, **kwargs)
        with as_library_errors():
            ids = self._insert_events(cursor, stored_events, **kwargs)
            self._pinned.connection.commit()
        self._pinned.cursor = None
        return ids

    def _insert_events(
        self, c: SQLiteCursor | sqlite3.Cursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        expect, snapshots, known_head, report = _save_options(kwargs)
        # Insert first: the first write takes SQLite's write lock, so the check below sees
        # every committed event and nobody can add one before this transaction ends.
        c.executemany(self.insert_events_statement, _rows(stored_events))
        # Each row gets rowid max + 1 (nobody else can write now, and events are never
        # deleted), so one statement's rows are consecutive and the last one gives them all —
        # what the library's row-by-row inserts read from each cursor.lastrowid, without six
        # more statements per order — and the row before the first was the log's head.
        if stored_events:
            c.execute("SELECT last_insert_rowid()")
            last = c.fetchone()[0]
            ids = list(range(last - len(stored_events) + 1, last + 1))
            report.head_before = ids[0] - 1
        else:
            ids = []
            c.execute(self.select_head)
            report.head_before = c.fetchone()[0] or 0
        if report.head_before == known_head:
            expect = None  # nobody else wrote since: what the caller read is current
        pairs = list((expect or {}).items())
        for start in range(0, len(pairs), SQLITE_MAX_PAIRS):
            chunk = pairs[start : start + SQLITE_MAX_PAIRS]
            c.execute(
                sqlite_newer_query(self.events_table_name, len(chunk), "1", "LIMIT 1"),
                sqlite_pairs(chunk),
            )
            if c.fetchone():
                raise IntegrityError(STALE_READ)  # the transaction rolls back
        if snapshots:
            c.executemany(self.insert_snapshots, _rows(snapshots))
        return ids


LIBRARY_ERRORS = {
    error.__name__: error
    for error in (
        IntegrityError,
        OperationalError,
        ProgrammingError,
        InterfaceError,
        DataError,
        InternalError,
        NotSupportedError,
        DatabaseError,
    )
}


@contextmanager
def as_library_errors() -> Iterator[None]:
    """A driver's error (psycopg's, sqlite3's) raised as the library's exception of the same
    DB-API name, as the library's own connections do: for the statements run on a pinned
    connection in exclusive(), so that a duplicate order there is an IntegrityError the command
    recognises (it was seen as the driver's error, translated only when the block ended: the
    order placed by another process was not found and the command retried 30 times)."""
    try:
        yield
    except Exception as error:
        if type(error).__module__.partition(".")[0] not in ("psycopg", "sqlite3"):
            raise  # ours, or the library's already
        names = [kind.__name__ for kind in type(error).__mro__]
        ours = next((LIBRARY_ERRORS[n] for n in names if n in LIBRARY_ERRORS), PersistenceError)
        raise ours(str(error)) from error


def _save_options(
    kwargs: dict[str, Any],
) -> tuple[Expected | None, Sequence[StoredEvent], int | None, SaveReport]:
    """The engine's keyword arguments to insert_events, taken out of `kwargs`: expect,
    snapshots, known_head, report (a fresh one when not given)."""
    return (
        kwargs.pop("expect", None),
        kwargs.pop("snapshots", ()),
        kwargs.pop("known_head", None),
        kwargs.pop("report", None) or SaveReport(),
    )


def recorder_topic(backend: str) -> str | None:
    """APPLICATION_RECORDER_TOPIC for a backend ('postgres', 'sqlite'; None for memory)."""
    recorder = {"postgres": PostgresEventRecorder, "sqlite": SQLiteEventRecorder}.get(backend)
    return get_topic(recorder) if recorder else None


def _rows(stored: Sequence[StoredEvent]) -> list[tuple[str, int, str, bytes]]:
    """Stored events as rows of the library's SQLite tables (UUIDs as hex)."""
    return [(_hex(e.originator_id), e.originator_version, e.topic, e.state) for e in stored]


def _hex(originator_id: UUID | str) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else originator_id


def snapshots_table_of(events_table_name: str) -> str:
    """The snapshots table beside an events table, named as the library's factories name it
    ('orderflow_events' -> 'orderflow_snapshots', 'stored_events' -> 'stored_snapshots')."""
    return events_table_name.removesuffix("events") + "snapshots"


def _array_literals(stored: Sequence[StoredEvent]) -> list[str]:
    """Stored events as four PostgreSQL array literals: ids, versions, topics, states.

    Built with str.join and bytes.hex (C), ~50 us less per save than psycopg's binary array
    dumpers, which walk each element in Python; the server parses them as it would the arrays.
    """
    return [
        _uuids(e.originator_id for e in stored),
        _integers(e.originator_version for e in stored),
        "{" + ",".join(_quoted(e.topic) for e in stored) + "}",
        "{" + ",".join(f'"\\\\x{e.state.hex()}"' for e in stored) + "}",
    ]


def _uuids(ids: Iterable[UUID | str]) -> str:
    """uuid[] input: 32 hex digits each (a text id passes as it is)."""
    return "{" + ",".join(_hex(i) for i in ids) + "}"


def _integers(numbers: Iterable[int]) -> str:
    return "{" + ",".join(map(str, numbers)) + "}"


def _quoted(text: str) -> str:
    """An array element, double-quoted (backslash and quote escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _MostRecentFirst(deque[Any]):
    """A pool's idle connections, handed out last returned first."""

    def popleft(self) -> Any:
        return self.pop()


def reuse_the_last_connection(pool: Any) -> None:
    """Make a connection pool (psycopg_pool's, or eventsourcing's for SQLite) hand out the
    connection returned last (LIFO, as SQLAlchemy's pool_use_lifo) instead of the one idle
    longest.

    Both pools take idle connections from the left of a deque and return them to the right, so
    one thread's commands rotate through every pooled connection, each gone cold since its
    turn: on PostgreSQL a server process of its own (~50 us more client CPU per save here than
    the same connection again, and slower on the server too); on SQLite a page cache that the
    other connections' writes have made stale (no difference measured with one thread). The
    change is to which end connections are taken from (neither pool has a setting for it); a
    pool of another shape is left as it is.
    """
    idle = getattr(pool, "_pool", None)
    if type(idle) is deque:
        pool._pool = _MostRecentFirst(idle)
