"""View tables and their SQL, written once and rendered for SQLite or PostgreSQL.

A view declares its tables as `Table`s; the statements a view needs (upsert, add, insert,
delete) are generated from them. Hand-written query SQL uses `?` placeholders and `{name}`
for the view's tables; `Dialect.render` turns both into the backend's form.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

TYPES = ("text", "int")
STAGE = "orderflow_stage"  # in bulk statements: the staging table (named for its width)


@dataclass(frozen=True)
class Dialect:
    """What differs between the two SQL backends, and nothing else."""

    name: str
    placeholder: str
    int_type: str
    schema: str = ""
    bulk: bool = False  # write many rows by COPY into a staging table, then one statement
    least: str = "min"  # the two-argument forms: SQLite's min/max, PostgreSQL's LEAST/GREATEST
    greatest: str = "max"
    text_type: str = "TEXT"

    def qualify(self, table: str) -> str:
        return f'"{self.schema}"."{table}"' if self.schema else table

    def render(self, sql: str, **tables: str) -> str:
        """`?` placeholders and `{table}` names in the backend's form."""
        if "%" in sql:
            raise ValueError("write '?' placeholders and pass patterns as parameters, not '%'")
        named = {key: self.qualify(value) for key, value in tables.items()}
        return sql.format(**named).replace("?", self.placeholder)


SQLITE = Dialect("sqlite", "?", "INTEGER")


def postgres(schema: str) -> Dialect:
    """PostgreSQL. Text compares byte by byte (collation "C"), as SQLite's does: the same order
    on both backends, and index upkeep without the locale's rules (a third of a rebuild's
    server time)."""
    return Dialect(
        "postgres",
        "%s",
        "BIGINT",
        schema or "public",
        True,
        "LEAST",
        "GREATEST",
        'TEXT COLLATE "C"',
    )


@dataclass(frozen=True)
class Table:
    """A view table: `columns` like "sku text, warehouse text, on_hand int", a primary key."""

    name: str
    columns: str
    key: str
    indexes: tuple[str, ...] = ()

    @property
    def column_types(self) -> dict[str, str]:
        pairs = [part.split() for part in self.columns.split(",")]
        types = {name: kind for name, kind in pairs}
        unknown = {kind for kind in types.values() if kind not in TYPES}
        if unknown:
            raise ValueError(f"table {self.name}: unknown column types {unknown}")
        return types

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.key.split(","))


@dataclass(frozen=True)
class BoundTable:
    """A table with its real name in one database, and the statements that change it."""

    table: Table
    real_name: str
    dialect: Dialect
    names: tuple[str, ...] = field(init=False)
    key: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.table.column_types))
        object.__setattr__(self, "key", self.table.key_columns)

    @property
    def qualified(self) -> str:
        return self.dialect.qualify(self.real_name)

    def create(self) -> list[str]:
        """CREATE TABLE / INDEX statements (idempotent)."""
        kinds = {
            "text": f"{self.dialect.text_type} NOT NULL DEFAULT ''",
            "int": f"{self.dialect.int_type} NOT NULL DEFAULT 0",
        }
        columns = ", ".join(f"{n} {kinds[t]}" for n, t in self.table.column_types.items())
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.qualified} ({columns},"
            f" PRIMARY KEY ({', '.join(self.key)}))"
        ]
        return statements + self.create_indexes()

    def index_names(self) -> list[str]:
        return [f"{self.real_name}_ix{i}" for i in range(len(self.table.indexes))]

    def create_indexes(self) -> list[str]:
        """CREATE INDEX statements of the secondary indexes (idempotent)."""
        return [
            f"CREATE INDEX IF NOT EXISTS {name} ON {self.qualified} ({index})"
            for name, index in zip(self.index_names(), self.table.indexes, strict=True)
        ]

    def drop_indexes(self) -> list[str]:
        """DROP INDEX statements of the secondary indexes (idempotent)."""
        return [f"DROP INDEX IF EXISTS {self.dialect.qualify(name)}" for name in self.index_names()]

    def drop(self) -> str:
        return f"DROP TABLE IF EXISTS {self.qualified}"

    def source(self, columns: Sequence[str], staged: int | None = None) -> str:
        """Where a bulk statement takes its rows from: one row's VALUES (run with executemany),
        or on PostgreSQL part `staged` of the staging table the rows were copied into."""
        if staged is None:
            return f"VALUES ({', '.join([self.dialect.placeholder] * len(columns))})"
        types = self.table.column_types
        values = ", ".join(
            f"c{i}" if types[c] == "text" else f"c{i}::{self.dialect.int_type}"
            for i, c in enumerate(columns)
        )
        return f"SELECT {values} FROM {STAGE} WHERE k = {int(staged)}"

    def insert(self, columns: Sequence[str], alias: str = "", staged: int | None = None) -> str:
        """INSERT of many rows (see `source`)."""
        into = f"{self.qualified} AS {alias}" if alias else self.qualified
        return f"INSERT INTO {into} ({', '.join(columns)}) {self.source(columns, staged)}"

    def put(self, columns: Sequence[str], staged: int | None = None) -> str:
        """Insert rows, or overwrite just these columns of existing ones (keys must be distinct)."""
        rest = [c for c in columns if c not in self.key]
        action = ", ".join(f"{c} = excluded.{c}" for c in rest) if rest else ""
        conflict = f"DO UPDATE SET {action}" if action else "DO NOTHING"
        return f"{self.insert(columns, '', staged)} ON CONFLICT ({', '.join(self.key)}) {conflict}"

    def fold(self, op: str, columns: Sequence[str], staged: int | None = None) -> str:
        """Insert rows, or combine these numbers with existing ones: add, least, greatest."""
        rest = [c for c in columns if c not in self.key]
        combine = {
            "add": "x.{0} + excluded.{0}",
            "least": self.dialect.least + "(x.{0}, excluded.{0})",
            "greatest": self.dialect.greatest + "(x.{0}, excluded.{0})",
        }[op]
        action = ", ".join(f"{c} = " + combine.format(c) for c in rest)
        conflict = f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {action}"
        return f"{self.insert(columns, 'x', staged)} {conflict}"

    def write(self, op: str, columns: Sequence[str], staged: int | None = None) -> str:
        """The statement of a write: "insert", "put", or a fold ("add", "least", "greatest")."""
        if op == "insert":
            return self.insert(columns, "", staged)
        if op == "put":
            return self.put(columns, staged)
        return self.fold(op, columns, staged)

    def delete_many(self, columns: Sequence[str], staged: int | None = None) -> str:
        """DELETE of many rows at once by their values of these columns."""
        if staged is None:
            return self.delete(columns)
        names = ", ".join(columns)
        match = " AND ".join(f"x.{c} = s.{c}" for c in columns)
        return (
            f"DELETE FROM {self.qualified} AS x USING ({self.source(columns, staged)})"
            f" AS s ({names}) WHERE {match}"
        )

    def _where(self, columns: Sequence[str]) -> str:
        return " AND ".join(f"{c} = {self.dialect.placeholder}" for c in columns)

    def delete(self, columns: Sequence[str] = ()) -> str:
        """DELETE by the whole key (or by the given columns)."""
        return f"DELETE FROM {self.qualified} WHERE {self._where(columns or self.key)}"

    def select_by_key(self) -> str:
        return f"SELECT {', '.join(self.names)} FROM {self.qualified} WHERE {self._where(self.key)}"

    def select_ordered(self) -> str:
        return (
            f"SELECT {', '.join(self.names)} FROM {self.qualified} ORDER BY {', '.join(self.key)}"
        )


_stages: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
"""The staging tables each PostgreSQL connection has (temporary tables live per session)."""


def stage_table(width: int, dialect: Dialect) -> tuple[str, str]:
    """The staging table for rows of up to `width` columns, and its CREATE: a part number and
    text columns, emptied at every commit. (Temporary tables live with a session.)"""
    name = f"{STAGE}{width}"
    columns = ", ".join(f"c{i} {dialect.text_type}" for i in range(width))
    return name, f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} (k INTEGER, {columns})" + (
        " ON COMMIT DELETE ROWS"
    )


class Sql:
    """A cursor inside one transaction that answers plain tuples on every backend.

    On PostgreSQL, bulk writes (`write_rows`, `delete_rows`, `defer`) wait until `flush`, or
    the next statement that reads: then every row of them goes to the server in one COPY into
    a staging table, and every statement in one round trip (rows that are only inserted are
    copied straight into their table, between the statements before and after them).
    """

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.raw = cursor  # the library's cursor, for its own methods (tracking)
        self.cursor = getattr(cursor, "sqlite_cursor", cursor)
        self.dialect = dialect
        self._created: set[str] = set()  # staging tables created in this transaction
        self._staged: list[tuple[Any, ...]] = []  # (part, value, ...) rows to COPY
        self._width = 0  # the most values in a staged row
        self._parts = 0
        self._deferred: list[str | Copied] = []
        if dialect.name == "postgres":
            self.cursor.row_factory = _tuple_rows  # the library's dict rows lose same-named columns

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.flush()
        self.cursor.execute(sql, tuple(params))

    def relax_durability(self) -> None:
        """PostgreSQL: commit without waiting for the disk. Safe for views only: they are derived
        from the log, and a crash can lose a recent view update only together with its position,
        which the runner then applies again."""
        if self.dialect.name == "postgres":
            self.defer("SET LOCAL synchronous_commit TO OFF")

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.flush()
            self.cursor.executemany(sql, [tuple(r) for r in rows])

    def defer(self, statement: str) -> None:
        """PostgreSQL: run this statement (no parameters, no result) with the next flush."""
        self._deferred.append(statement)

    def write_rows(
        self, table: BoundTable, op: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Write many rows at once: "insert", "put", or a fold ("add", "least", "greatest").

        SQLite: the statement for one row, through executemany. PostgreSQL: one statement over
        the rows' part of the staging table, at the next flush; inserts are copied straight
        into their table instead (the same rows, and the same error on a duplicate key), in
        their turn among the deferred statements.
        """
        if not rows:
            return
        if self.dialect.bulk and op == "insert":
            self._deferred.append(Copied(table.qualified, tuple(columns), rows))
        elif self.dialect.bulk:
            self.defer(table.write(op, columns, self._stage(columns, rows)))
        else:
            self.cursor.executemany(table.write(op, columns), rows)

    def delete_rows(
        self, table: BoundTable, columns: Sequence[str], keys: Sequence[Sequence[Any]]
    ) -> None:
        """Delete the rows with these values of these (key) columns."""
        if not keys:
            return
        if self.dialect.bulk:
            self.defer(table.delete_many(columns, self._stage(columns, keys)))
        else:
            self.cursor.executemany(table.delete_many(columns), keys)

    def _stage(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
        part = self._parts
        self._parts += 1
        self._width = max(self._width, len(columns))
        self._staged.extend([(part, *row) for row in rows])
        return part

    def flush(self) -> tuple[Any, ...] | None:
        """Send the staged rows and the deferred statements, in order; the last statement's
        first row."""
        if not self._deferred:
            return None
        deferred, stage = self._deferred, STAGE
        if self._staged:
            stage, width = self._staging_table()
            self._copy(stage, self._staged, width + 1)  # and the part number
        self._staged, self._deferred, self._width = [], [], 0
        statements: list[str] = []
        for item in deferred:
            if isinstance(item, str):
                statements.append(item.replace(f"FROM {STAGE} ", f"FROM {stage} "))
            else:
                self._run(statements)
                statements = []
                self._copy(f"{item.table} ({', '.join(item.columns)})", item.rows)
        return self._run(statements)

    def _copy(self, into: str, rows: Sequence[Sequence[Any]], width: int = 0) -> None:
        """COPY the rows (padded with NULLs to `width` values) into a table."""
        with self.cursor.copy(f"COPY {into} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row if len(row) >= width else (*row, *[None] * (width - len(row))))

    def _run(self, statements: list[str]) -> tuple[Any, ...] | None:
        """Statements in one round trip; the last one's first row."""
        if not statements:
            return None
        self.cursor.execute("; ".join(statements))
        while self.cursor.nextset():
            pass
        return self.cursor.fetchone() if self.cursor.description else None

    def _staging_table(self) -> tuple[str, int]:
        width = -(-self._width // 8) * 8  # a few shapes cover every table
        name, create = stage_table(width, self.dialect)
        if name not in self._created and name not in _stages.get(self.cursor.connection, ()):
            self.cursor.execute(create)
            self._created.add(name)
        return name, width

    def committed(self) -> None:
        """The transaction committed: the staging tables it created stay with the connection."""
        if self._created:
            _stages.setdefault(self.cursor.connection, set()).update(self._created)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.execute(sql, params)
        return [_plain(row) for row in self.cursor.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self.execute(sql, params)
        row = self.cursor.fetchone()
        return None if row is None else _plain(row)

    def stream(
        self, sql: str, params: Sequence[Any] = (), size: int = 2000
    ) -> Iterator[tuple[Any, ...]]:
        """Rows a page at a time (SQLite streams; psycopg's client cursor buffers one result)."""
        self.execute(sql, params)
        while batch := self.cursor.fetchmany(size):
            yield from (_plain(row) for row in batch)


@dataclass(frozen=True)
class Copied:
    """Rows to COPY straight into a table when the deferred statements before them have run."""

    table: str
    columns: tuple[str, ...]
    rows: Sequence[Sequence[Any]]


def _tuple_rows(cursor: Any) -> type[tuple[Any, ...]]:
    """A psycopg row factory (what psycopg.rows.tuple_row is), without importing psycopg."""
    return tuple


def _plain(row: Any) -> tuple[Any, ...]:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)
