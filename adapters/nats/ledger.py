"""What the relay and the subscribers have done, kept in the engine's own database.

Two small tables next to `orderflow_events`:
- `orderflow_relay`: per relay, the highest log position JetStream acknowledged (never moves back);
- `orderflow_handled`: per subscriber and event id, the attempts so far and the outcome
  (pending / done / dead), so a redelivered or replayed event is not handled twice and a poison
  event is dead-lettered after a bounded number of attempts, whichever process saw it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from psycopg.rows import dict_row

Status = Literal["pending", "done", "dead"]
ERROR_LIMIT = 1000


@dataclass(frozen=True)
class Attempt:
    """The state of one event for one subscriber after an attempt was counted."""

    status: Status
    attempts: int
    error: str = ""


@dataclass(frozen=True)
class DeadLetter:
    subscriber: str
    event_id: str
    position: int
    attempts: int
    error: str


class Ledger(Protocol):
    def create_tables(self) -> None: ...
    def relay_position(self, relay: str) -> int: ...
    def save_relay_position(self, relay: str, position: int) -> None: ...
    def begin(
        self, subscriber: str, events: Sequence[tuple[str, int]], done: Sequence[str] = ()
    ) -> dict[str, Attempt]: ...
    def done(self, subscriber: str, event_ids: Sequence[str]) -> None: ...
    def fail(self, subscriber: str, event_id: str, error: str) -> None: ...
    def finish(self, subscriber: str, event_id: str, status: Status, error: str = "") -> None: ...
    def resume_position(self, subscriber: str) -> int: ...
    def dead_letters(self, subscriber: str) -> list[DeadLetter]: ...
    def close(self) -> None: ...


def open_ledger(app: Application[Any]) -> Ledger:
    """The ledger in the engine's database (SQLite or PostgreSQL), or in memory for memory://."""
    datastore = getattr(app.recorder, "datastore", None)
    if isinstance(datastore, SQLiteDatastore):
        return SqlLedger(
            SqliteTransactions(datastore.pool.db_name, datastore.pool.lock_timeout), "?"
        )
    if isinstance(datastore, PostgresDatastore):
        return SqlLedger(PostgresTransactions(datastore), "%s", schema=datastore.schema)
    return MemoryLedger()


class Transactions(Protocol):
    def transaction(self, commit: bool) -> AbstractContextManager[Any]: ...
    def script(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]: ...
    def close(self) -> None: ...


class PostgresTransactions:
    """A connection of the ledger's own, each statement committed by itself (autocommit) without
    waiting for the WAL flush (`synchronous_commit = off` for this session only).

    Every ledger write is one statement, so autocommit gives the same atomicity as a transaction
    around it, in one round trip, and without taking a connection from the engine's pool (where
    it waited behind the engine's writers). A database crash may forget the last few
    milliseconds of ledger rows (never half a row): those events are relayed or handled once
    more, which de-duplication and idempotent handlers absorb. An ordinary commit would cost a
    disk flush per handled event.
    """

    def __init__(self, datastore: PostgresDatastore) -> None:
        pool = datastore.pool
        kwargs = pool.kwargs if isinstance(pool.kwargs, dict) else {}
        self.options = {k: v for k, v in kwargs.items() if k != "row_factory"}
        self.password = pool.get_password_func
        self.timeout = pool.timeout
        self.conn: Any = None
        self.lock = threading.Lock()

    def _connect(self) -> Any:
        options = dict(self.options)
        if self.password is not None:
            options["password"] = self.password()
        conn = psycopg.connect(
            **options,
            autocommit=True,
            row_factory=dict_row,
            connect_timeout=max(1, int(self.timeout)),
            application_name="orderflow-ledger",
        )
        conn.execute("SET synchronous_commit TO OFF")
        return conn

    @contextmanager
    def transaction(self, commit: bool) -> Iterator[Any]:
        with self.lock:
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = self._connect()
                with self.conn.cursor() as cursor:
                    yield cursor
            except psycopg.Error as error:
                if self.conn is not None and self.conn.broken:
                    self.conn.close()
                    self.conn = None
                raise _persistence_error(error) from error

    def script(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Run the statements in one transaction, one round trip; the last one's rows.

        They go as one simple query (parameters bound client-side), which PostgreSQL runs as one
        implicit transaction: committed after the last statement, rolled back whole on error.
        """
        query = "; ".join(sql for sql, _ in statements)
        params = [p for _, statement_params in statements for p in statement_params]
        with (
            self.transaction(commit=True) as cursor,
            psycopg.ClientCursor(cursor.connection, row_factory=dict_row) as client,
        ):
            client.execute(query, params)
            while client.nextset():  # to the last statement's result
                pass
            return list(client.fetchall()) if client.description else []

    def close(self) -> None:
        with self.lock:
            if self.conn is not None:
                self.conn.close()
                self.conn = None


def _persistence_error(error: Exception) -> PersistenceError:
    """psycopg's error as the eventsourcing error the callers handle (as the library maps it)."""
    if isinstance(error, psycopg.IntegrityError):
        return IntegrityError(str(error))
    if isinstance(error, psycopg.ProgrammingError):
        return ProgrammingError(str(error))
    if isinstance(error, psycopg.InterfaceError):
        return InterfaceError(str(error))
    return OperationalError(str(error))


BUSY_WAITS = (0.0002, 0.0005, 0.001, 0.002)  # seconds between tries for SQLite's write lock


class SqliteTransactions:
    """A connection of the ledger's own on the SQLite file, with synchronous=NORMAL (WAL).

    Same trade-off as on PostgreSQL: an OS crash or power cut may forget the newest ledger rows,
    a process crash never does; a FULL fsync per handled event would cap a subscriber at a few
    hundred events per second.

    The write lock is tried every 0.2-2 ms (up to the lock timeout) instead of through SQLite's
    busy handler, whose sleeps grow to 25-100 ms: with the engine committing hundreds of times a
    second the lock is free only for moments, and the handler's long sleeps missed them, holding
    a subscriber's batch for up to half a second.
    """

    def __init__(self, path: str, lock_timeout: int | None) -> None:
        self.timeout = lock_timeout or 5
        self.conn = sqlite3.connect(
            path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.lock = threading.Lock()

    def _begin_immediate(self, cursor: sqlite3.Cursor) -> None:
        cursor.execute("PRAGMA busy_timeout = 0")
        try:
            deadline = time.monotonic() + self.timeout
            tries = 0
            while True:
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if not _busy(error) or time.monotonic() > deadline:
                        raise
                time.sleep(BUSY_WAITS[min(tries, len(BUSY_WAITS) - 1)])
                tries += 1
        finally:
            cursor.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")

    @contextmanager
    def transaction(self, commit: bool) -> Iterator[Any]:
        with self.lock:
            cursor = self.conn.cursor()
            try:
                if commit:
                    self._begin_immediate(cursor)
                else:
                    cursor.execute("BEGIN")
                yield cursor
                cursor.execute("COMMIT" if commit else "ROLLBACK")
            except sqlite3.Error as error:
                self.conn.rollback()
                raise OperationalError(str(error)) from error
            except BaseException:
                self.conn.rollback()
                raise
            finally:
                cursor.close()

    def script(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Run the statements in one transaction; the last one's rows."""
        return _sqlite_script(self, statements)

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def _sqlite_script(
    transactions: SqliteTransactions, statements: Sequence[tuple[str, Sequence[Any]]]
) -> list[Any]:
    rows: list[Any] = []
    with transactions.transaction(commit=True) as cursor:
        for sql, params in statements:
            cursor.execute(sql, tuple(params))
            rows = list(cursor.fetchall())
    return rows


def _busy(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


class SqlLedger:
    """The ledger as two tables next to the events."""

    def __init__(self, transactions: Transactions, placeholder: str, schema: str = "") -> None:
        self.transactions = transactions
        self.placeholder = placeholder
        prefix = f'"{schema}".' if schema else ""
        self.relay_table = f"{prefix}orderflow_relay"
        self.handled_table = f"{prefix}orderflow_handled"

    @contextmanager
    def _cursor(self, commit: bool = True) -> Iterator[Any]:
        with self.transactions.transaction(commit=commit) as cursor:
            yield cursor

    def _run(
        self, sql: str, params: Sequence[Any] = (), commit: bool = True, rows: bool = False
    ) -> list[Any]:
        """Run one statement in its own transaction; rows (when asked) index by column name."""
        with self._cursor(commit) as cursor:
            cursor.execute(sql.replace("%s", self.placeholder), tuple(params))
            return list(cursor.fetchall()) if rows else []

    def create_tables(self) -> None:
        statements = (
            f"CREATE TABLE IF NOT EXISTS {self.relay_table} ("
            " name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.handled_table} ("
            " subscriber TEXT NOT NULL, event_id TEXT NOT NULL, position BIGINT NOT NULL,"
            " status TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '',"
            " PRIMARY KEY (subscriber, event_id))",
        )
        for statement in statements:
            try:
                self._run(statement)
            except (IntegrityError, ProgrammingError):  # another process created it just now
                self._run(statement)

    def relay_position(self, relay: str) -> int:
        sql = f"SELECT position FROM {self.relay_table} WHERE name = %s"
        rows = self._run(sql, (relay,), commit=False, rows=True)
        return int(rows[0]["position"]) if rows else 0

    def save_relay_position(self, relay: str, position: int) -> None:
        t = self.relay_table
        self._run(
            f"INSERT INTO {t} AS r (name, position) VALUES (%s, %s) ON CONFLICT (name)"
            " DO UPDATE SET position = excluded.position WHERE r.position < excluded.position",
            (relay, position),
        )

    def begin(
        self, subscriber: str, events: Sequence[tuple[str, int]], done: Sequence[str] = ()
    ) -> dict[str, Attempt]:
        """Count one more attempt at each pending (event id, position); one transaction.

        `done`: events (of an earlier batch) to mark handled first, in the same transaction.
        """
        if not events:
            self.done(subscriber, done)
            return {}
        t = self.handled_table
        values = ", ".join(["(%s, %s, %s, 'pending', 1)"] * len(events))
        params = [v for event_id, position in events for v in (subscriber, event_id, position)]
        insert = (
            f"INSERT INTO {t} AS h (subscriber, event_id, position, status, attempts)"
            f" VALUES {values} ON CONFLICT (subscriber, event_id)"
            " DO UPDATE SET attempts = h.attempts + 1 WHERE h.status = 'pending'"
            " RETURNING event_id, status, attempts, error"
        )
        statements = [self._done_statement(subscriber, done)] if done else []
        statements.append((insert, params))
        rows = self.transactions.script(
            [(sql.replace("%s", self.placeholder), p) for sql, p in statements]
        )
        found = {str(r["event_id"]): r for r in rows}
        settled = [event_id for event_id, _ in events if event_id not in found]
        if settled:  # done or dead already: read them as they are
            marks = ", ".join(["%s"] * len(settled))
            rows = self._run(
                f"SELECT event_id, status, attempts, error FROM {t}"
                f" WHERE subscriber = %s AND event_id IN ({marks})",
                [subscriber, *settled],
                commit=False,
                rows=True,
            )
            found.update({str(r["event_id"]): r for r in rows})
        return {
            k: Attempt(r["status"], int(r["attempts"]), str(r["error"])) for k, r in found.items()
        }

    def done(self, subscriber: str, event_ids: Sequence[str]) -> None:
        """Mark events handled; one transaction."""
        if event_ids:
            self._run(*self._done_statement(subscriber, event_ids))

    def _done_statement(self, subscriber: str, event_ids: Sequence[str]) -> tuple[str, list[Any]]:
        marks = ", ".join(["%s"] * len(event_ids))
        return (
            f"UPDATE {self.handled_table} SET status = 'done', error = ''"
            f" WHERE subscriber = %s AND event_id IN ({marks})",
            [subscriber, *event_ids],
        )

    def fail(self, subscriber: str, event_id: str, error: str) -> None:
        self._run(
            f"UPDATE {self.handled_table} SET error = %s"
            " WHERE subscriber = %s AND event_id = %s AND status = 'pending'",
            (error[:ERROR_LIMIT], subscriber, event_id),
        )

    def finish(self, subscriber: str, event_id: str, status: Status, error: str = "") -> None:
        self._run(
            f"UPDATE {self.handled_table} SET status = %s, error = %s"
            " WHERE subscriber = %s AND event_id = %s",
            (status, error[:ERROR_LIMIT], subscriber, event_id),
        )

    def resume_position(self, subscriber: str) -> int:
        rows = self._run(
            f"SELECT max(position) AS position FROM {self.handled_table}"
            " WHERE subscriber = %s AND status <> 'pending'",
            (subscriber,),
            commit=False,
            rows=True,
        )
        return int(rows[0]["position"] or 0) if rows else 0

    def close(self) -> None:
        self.transactions.close()

    def dead_letters(self, subscriber: str) -> list[DeadLetter]:
        rows = self._run(
            f"SELECT event_id, position, attempts, error FROM {self.handled_table}"
            " WHERE subscriber = %s AND status = 'dead' ORDER BY position",
            (subscriber,),
            commit=False,
            rows=True,
        )
        return [
            DeadLetter(
                subscriber,
                str(r["event_id"]),
                int(r["position"]),
                int(r["attempts"]),
                str(r["error"]),
            )
            for r in rows
        ]


class MemoryLedger:
    """The same bookkeeping in a dict, for engines on memory:// (one process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._relay: dict[str, int] = {}
        self._handled: dict[tuple[str, str], tuple[int, Attempt]] = {}

    def create_tables(self) -> None:
        pass

    def close(self) -> None:
        pass

    def relay_position(self, relay: str) -> int:
        return self._relay.get(relay, 0)

    def save_relay_position(self, relay: str, position: int) -> None:
        with self._lock:
            self._relay[relay] = max(position, self._relay.get(relay, 0))

    def begin(
        self, subscriber: str, events: Sequence[tuple[str, int]], done: Sequence[str] = ()
    ) -> dict[str, Attempt]:
        self.done(subscriber, done)
        with self._lock:
            found = {}
            for event_id, position in events:
                _, attempt = self._handled.get(
                    (subscriber, event_id), (position, Attempt("pending", 0))
                )
                if attempt.status == "pending":
                    attempt = Attempt("pending", attempt.attempts + 1, attempt.error)
                self._handled[(subscriber, event_id)] = (position, attempt)
                found[event_id] = attempt
            return found

    def done(self, subscriber: str, event_ids: Sequence[str]) -> None:
        for event_id in event_ids:
            self._set(subscriber, event_id, "done", "")

    def fail(self, subscriber: str, event_id: str, error: str) -> None:
        self._set(subscriber, event_id, None, error)

    def finish(self, subscriber: str, event_id: str, status: Status, error: str = "") -> None:
        self._set(subscriber, event_id, status, error)

    def _set(self, subscriber: str, event_id: str, status: Status | None, error: str) -> None:
        with self._lock:
            position, attempt = self._handled[(subscriber, event_id)]
            new = Attempt(status or attempt.status, attempt.attempts, error[:ERROR_LIMIT])
            self._handled[(subscriber, event_id)] = (position, new)

    def resume_position(self, subscriber: str) -> int:
        done = [
            p
            for (s, _), (p, a) in self._handled.items()
            if s == subscriber and a.status != "pending"
        ]
        return max(done, default=0)

    def dead_letters(self, subscriber: str) -> list[DeadLetter]:
        return sorted(
            (
                DeadLetter(s, e, p, a.attempts, a.error)
                for (s, e), (p, a) in self._handled.items()
                if s == subscriber and a.status == "dead"
            ),
            key=lambda d: d.position,
        )
