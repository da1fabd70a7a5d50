"""Tracking recorders that own tables: a view's rows and its log position commit together.

`SQLiteViewStore` and `PostgresViewStore` subclass the library's tracking recorders, so
`insert_tracking`, `max_tracking_id` and `wait` behave as documented, and add:
- the view's tables, created with the tracking table, in the same database as the events;
- one tracking table per view (`<prefix>_<name>_tracking`; the library's SQLite recorder
  has a single fixed `tracking` table, which several views could not share);
- `writing()` / `reading()` transactions with a `Sql` cursor that speaks `?` on both backends;
- `lock_position()`: the first statement of a write, so that a view's update, the check of
  where it stands and its new position are one atomic step even with two runners at once.

Usable by anything that must remember how far it read the log (the NATS relay, subscribers):
`open_store(engine, "natsrelay")` gives a store with no tables.
"""

from __future__ import annotations

import contextlib
import random
import time
import weakref
import zlib
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import uuid4

from eventsourcing.application import Application
from eventsourcing.persistence import (
    IntegrityError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from orderflow.projections.sql import SQLITE, BoundTable, Dialect, Sql, Table, postgres

DEFAULT_PREFIX = "view"
SCHEMA = "__schema__"  # a row of the tracking table holding the checksum of the view's tables


class ViewStore(TrackingRecorder):
    """The backend-neutral half of a view's store; mixed into a library tracking recorder."""

    datastore: Any
    dialect: Dialect
    name: str
    application_name: str
    tracking_table_name: str
    tables: dict[str, BoundTable]

    def _set_up(
        self,
        name: str,
        tables: Sequence[Table],
        prefix: str,
        application_name: str,
        dialect: Dialect,
    ) -> None:
        self.name = name
        self.application_name = application_name
        self.dialect = dialect
        self.tracking_table_name = f"{prefix}_{name}_tracking"
        if any(t.name == "tracking" for t in tables):
            raise ValueError(
                f"view {name}: 'tracking' is the name of its position table; pick another"
            )
        self.tables = {t.name: BoundTable(t, f"{prefix}_{name}_{t.name}", dialect) for t in tables}

    @property
    def tracking_table(self) -> str:
        return self.dialect.qualify(self.tracking_table_name)

    def table_names(self) -> dict[str, str]:
        """Each table's qualified name, by its short name: for `Dialect.render`."""
        return {short: bound.real_name for short, bound in self.tables.items()}

    def render(self, sql: str) -> str:
        """Query SQL with `?` and `{table}` names, in this backend's form."""
        return self.dialect.render(sql, **self.table_names())

    def schema_fingerprint(self) -> int:
        """A checksum of the view's table definitions: when it changes, the view is rebuilt."""
        ddl = "\n".join(statement for table in self.tables.values() for statement in table.create())
        return zlib.crc32(ddl.encode())

    def _create_table(self, c: Any) -> None:
        super()._create_table(c)  # type: ignore[misc]
        mark = self.dialect.placeholder
        sql = Sql(c, self.dialect)
        stored = sql.one(
            f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = {mark}",
            (SCHEMA,),
        )
        if stored is not None and stored[0] != self.schema_fingerprint():
            for table in self.tables.values():  # the definition changed: start again from zero
                sql.execute(table.drop())
            sql.execute(
                f"DELETE FROM {self.tracking_table} WHERE application_name = {mark}",
                (self.application_name,),
            )
        for table in self.tables.values():
            for statement in table.create():
                sql.execute(statement)
        upsert = (
            f"INSERT INTO {self.tracking_table} VALUES ({mark}, {mark})"
            " ON CONFLICT (application_name) "
        )
        sql.execute(upsert + "DO NOTHING", (self.application_name, 0))
        sql.execute(
            upsert + "DO UPDATE SET notification_id = excluded.notification_id",
            (SCHEMA, self.schema_fingerprint()),
        )

    def is_current(self) -> bool:
        """The tables and indexes exist as this code defines them (nothing to create or rebuild)."""
        try:
            return self.max_tracking_id(SCHEMA) == self.schema_fingerprint() and self._indexed()
        except (OperationalError, ProgrammingError):
            return False  # no tracking table yet

    def _indexed(self) -> bool:
        """Every secondary index is there (a rebuild that was killed leaves them to be made)."""
        names = [name for table in self.tables.values() for name in table.index_names()]
        if not names:
            return True
        with self.reading() as sql:
            if self.dialect.name == "postgres":
                found = sql.rows(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = %s"
                    " AND indexname = ANY(%s)",
                    (self.dialect.schema, names),
                )
            else:
                marks = ", ".join("?" * len(names))
                found = sql.rows(
                    f"SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ({marks})",
                    names,
                )
        return len(found) == len(names)

    def drop_indexes(self, sql: Sql) -> None:
        """Drop the secondary indexes (a rebuild builds them again once its rows are in)."""
        for table in self.tables.values():
            for statement in table.drop_indexes():
                sql.execute(statement)

    def create_indexes(self, sql: Sql) -> None:
        for table in self.tables.values():
            for statement in table.create_indexes():
                sql.execute(statement)

    def create(self, attempts: int = 50) -> None:
        """Create the tables when missing (or rebuild them from zero when their definition changed).

        Nothing is written when they are current, so starting many processes at once is cheap;
        the first start races other writers (SQLite refuses to upgrade a stale read), so retry.
        """
        for attempt in range(attempts):
            if self.is_current():
                return
            try:
                self.create_table()  # type: ignore[attr-defined]  # the library recorder's
                return
            except PersistenceError:  # e.g. "tuple concurrently updated" when two create at once
                if attempt == attempts - 1:
                    raise
                time.sleep(random.uniform(0.01, 0.05 * min(attempt + 1, 10)))

    @contextlib.contextmanager
    def writing(self) -> Iterator[Sql]:
        """A transaction that commits when the block ends without an error."""
        with self.datastore.transaction(commit=True) as cursor:
            sql = Sql(cursor, self.dialect)
            yield sql
            sql.flush()
        sql.committed()

    @contextlib.contextmanager
    def reading(self) -> Iterator[Sql]:
        """A read-only transaction that sees one consistent snapshot."""
        with self.datastore.transaction(commit=False) as cursor:
            sql = Sql(cursor, self.dialect)
            if self.dialect.name == "postgres":
                sql.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield sql

    def lock_position(self, sql: Sql) -> int:
        """Take the view's write lock first thing in a transaction; return its position."""
        mark = self.dialect.placeholder
        table = self.tracking_table
        sql.execute(
            f"UPDATE {table} SET notification_id = notification_id WHERE application_name = {mark}",
            (self.application_name,),
        )
        return self.read_position(sql)

    def read_position(self, sql: Sql) -> int:
        mark = self.dialect.placeholder
        row = sql.one(
            f"SELECT notification_id FROM {self.tracking_table} WHERE application_name = {mark}",
            (self.application_name,),
        )
        return int(row[0]) if row and row[0] is not None else 0

    def position(self) -> int:
        """The position of the last event this view has applied (0 when none)."""
        return self.max_tracking_id(self.application_name) or 0

    def track(self, sql: Sql, position: int) -> None:
        """Record the new position in the same transaction (refused unless it moves forward)."""
        self._insert_tracking(sql.raw, Tracking(self.application_name, position))  # type: ignore[attr-defined]

    def reset(self, sql: Sql) -> None:
        """Empty every table and go back to position 0 (inside a write transaction).

        PostgreSQL: TRUNCATE (transactional there), not DELETE. A DELETE leaves every row dead
        in the table and in its primary key until a vacuum, and the rebuild that follows puts
        the same keys in again: each insert then also checks the dead entry of its key, and
        every rebuild grows the tables (a view truncated gets new, empty files)."""
        tables = [table.qualified for table in self.tables.values()]
        if self.dialect.name != "postgres":
            for table in tables:
                sql.execute(f"DELETE FROM {table}")
        elif tables:
            sql.execute(f"TRUNCATE {', '.join(tables)}")
        mark = self.dialect.placeholder
        sql.execute(
            f"UPDATE {self.tracking_table} SET notification_id = 0 WHERE application_name = {mark}",
            (self.application_name,),
        )

    def drop(self) -> None:
        """Remove the tables and the tracking table."""
        with self.writing() as sql:
            for table in self.tables.values():
                sql.execute(table.drop())
            sql.execute(f"DROP TABLE IF EXISTS {self.tracking_table}")


def lock_positions(sql: Sql, stores: Sequence[ViewStore]) -> list[int]:
    """`lock_position` of several stores in one write transaction; one round trip on PostgreSQL."""
    if sql.dialect.name != "postgres" or len(stores) < 2:
        return [store.lock_position(sql) for store in stores]
    locks = ", ".join(
        f"l{i} AS (UPDATE {store.tracking_table} SET notification_id = notification_id"
        f" WHERE application_name = %s RETURNING {i} AS i, notification_id)"
        for i, store in enumerate(stores)
    )
    union = " UNION ALL ".join(f"SELECT * FROM l{i}" for i in range(len(stores)))
    found = dict(sql.rows(f"WITH {locks} {union}", [store.application_name for store in stores]))
    return [int(found.get(i) or 0) for i in range(len(stores))]


def track_positions(sql: Sql, stores: Sequence[ViewStore], position: int) -> None:
    """`track` of several stores; on PostgreSQL sent with the transaction's other bulk writes.

    Refused (IntegrityError) unless every position moves forward, as the library's tracking."""
    if sql.dialect.name != "postgres":
        for store in stores:
            store.track(sql, position)
        return
    if not stores:
        return
    end = int(position)
    upserts = ", ".join(
        f"t{i} AS (INSERT INTO {store.tracking_table} AS x VALUES ({_literal(store)}, {end})"
        " ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id"
        " WHERE x.notification_id < excluded.notification_id RETURNING 1)"
        for i, store in enumerate(stores)
    )
    count = " + ".join(f"(SELECT count(*) FROM t{i})" for i in range(len(stores)))
    sql.defer(f"WITH {upserts} SELECT {count}")
    done = sql.flush()
    if done is None or int(done[0]) != len(stores):
        raise IntegrityError(f"failed to record tracking at {end} for {len(stores)} views")


def _literal(store: ViewStore) -> str:
    return "'" + store.application_name.replace("'", "''") + "'"


class SQLiteViewStore(ViewStore, SQLiteTrackingRecorder):
    """A view store in the engine's SQLite file."""

    def __init__(
        self,
        datastore: SQLiteDatastore,
        *,
        name: str,
        tables: Sequence[Table] = (),
        prefix: str = DEFAULT_PREFIX,
        application_name: str,
    ) -> None:
        if not datastore.single_row_tracking:
            raise ValueError("views need single-row tracking (SINGLE_ROW_TRACKING=y, the default)")
        self._set_up(name, tables, prefix, application_name, SQLITE)
        SQLiteTrackingRecorder.__init__(self, datastore)
        table = self.tracking_table_name
        self.insert_tracking_statement = (
            f"INSERT INTO {table} VALUES (:application_name, :notification_id) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = :notification_id "
            f"WHERE {table}.notification_id < :notification_id RETURNING notification_id"
        )
        self.select_max_tracking_id_statement = (
            f"SELECT MAX(notification_id) FROM {table} WHERE application_name=?"
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.tracking_table_name} (application_name TEXT, "
            "notification_id INTEGER, PRIMARY KEY (application_name)) WITHOUT ROWID"
        ]


class PostgresViewStore(ViewStore, PostgresTrackingRecorder):
    """A view store in the engine's PostgreSQL database (and schema)."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        name: str,
        tables: Sequence[Table] = (),
        prefix: str = DEFAULT_PREFIX,
        application_name: str,
    ) -> None:
        if not datastore.single_row_tracking:
            raise ValueError("views need single-row tracking (SINGLE_ROW_TRACKING=y, the default)")
        self._set_up(name, tables, prefix, application_name, postgres(datastore.schema))
        PostgresTrackingRecorder.__init__(
            self, datastore, tracking_table_name=self.tracking_table_name
        )


_view_datastores: weakref.WeakKeyDictionary[Any, SQLiteDatastore] = weakref.WeakKeyDictionary()


def datastore_of(engine: Application[Any]) -> Any:
    """Where an engine's views live: its own PostgreSQL database (sharing its pool), the same
    SQLite file through a pool of their own, or an in-memory SQLite database for memory://.

    SQLite: the library's pool lets one writer at a time in and queues everyone else in order;
    sharing it, a view transaction and the engine's commands would wait on each other inside
    the process with a fixed 5 s limit. With their own pool they meet only at SQLite's file
    lock, which waits as long as the engine's lock timeout.
    """
    datastore = getattr(engine.recorder, "datastore", None)
    if datastore is not None and not isinstance(datastore, SQLiteDatastore):
        return datastore
    if engine not in _view_datastores:
        if datastore is None:
            uri = f"file:orderflow-views-{uuid4().hex}?mode=memory&cache=shared"
            _view_datastores[engine] = SQLiteDatastore(uri)
        else:
            pool = datastore.pool
            _view_datastores[engine] = SQLiteDatastore(pool.db_name, lock_timeout=pool.lock_timeout)
    return _view_datastores[engine]


def open_store(
    engine: Application[Any],
    name: str,
    tables: Sequence[Table] = (),
    prefix: str = DEFAULT_PREFIX,
    create: bool = True,
) -> ViewStore:
    """The store of one view (or of any log reader's position) next to the engine's events."""
    datastore = datastore_of(engine)
    options = {"name": name, "tables": tables, "prefix": prefix, "application_name": engine.name}
    store: ViewStore
    if isinstance(datastore, SQLiteDatastore):
        store = SQLiteViewStore(datastore, **options)  # type: ignore[arg-type]
    else:
        store = PostgresViewStore(datastore, **options)  # type: ignore[arg-type]
    if create:
        store.create()
    return store
