"""View tables and their SQL, written once and rendered for SQLite or PostgreSQL.

A view declares its tables as `Table`s; the statements a view needs (upsert, add, insert,
delete) are generated from them. Hand-written query SQL uses `?` placeholders and `{name}`
for the view's tables; `Dialect.render` turns both into the backend's form.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

TYPES = ("text", "int")


@dataclass(frozen=True)
class Dialect:
    """What differs between the two SQL backends, and nothing else."""

    name: str
    placeholder: str
    int_type: str
    schema: str = ""
    arrays: bool = False  # write many rows as one statement over column arrays (unnest)
    least: str = "min"  # the two-argument forms: SQLite's min/max, PostgreSQL's LEAST/GREATEST
    greatest: str = "max"

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
    return Dialect("postgres", "%s", "BIGINT", schema or "public", True, "LEAST", "GREATEST")


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
            "text": "TEXT NOT NULL DEFAULT ''",
            "int": f"{self.dialect.int_type} NOT NULL DEFAULT 0",
        }
        columns = ", ".join(f"{n} {kinds[t]}" for n, t in self.table.column_types.items())
        statements = [
            f"CREATE TABLE IF NOT EXISTS {self.qualified} ({columns},"
            f" PRIMARY KEY ({', '.join(self.key)}))"
        ]
        for i, index in enumerate(self.table.indexes):
            name = f"{self.real_name}_ix{i}"
            statements.append(f"CREATE INDEX IF NOT EXISTS {name} ON {self.qualified} ({index})")
        return statements

    def drop(self) -> str:
        return f"DROP TABLE IF EXISTS {self.qualified}"

    def insert(self, columns: Sequence[str], alias: str = "") -> str:
        """INSERT of many rows: one row's VALUES (run with executemany), or on PostgreSQL one
        statement over column arrays (`unnest`): a fixed, preparable text for any number of rows."""
        into = f"{self.qualified} AS {alias}" if alias else self.qualified
        if self.dialect.arrays:
            types = self.table.column_types
            arrays = ", ".join(
                f"%s::{'text' if types[c] == 'text' else 'bigint'}[]" for c in columns
            )
            source = f"SELECT * FROM unnest({arrays})"
        else:
            source = f"VALUES ({', '.join([self.dialect.placeholder] * len(columns))})"
        return f"INSERT INTO {into} ({', '.join(columns)}) {source}"

    def put(self, columns: Sequence[str]) -> str:
        """Insert rows, or overwrite just these columns of existing ones (keys must be distinct)."""
        rest = [c for c in columns if c not in self.key]
        action = ", ".join(f"{c} = excluded.{c}" for c in rest) if rest else ""
        conflict = f"DO UPDATE SET {action}" if action else "DO NOTHING"
        return f"{self.insert(columns)} ON CONFLICT ({', '.join(self.key)}) {conflict}"

    def fold(self, op: str, columns: Sequence[str]) -> str:
        """Insert rows, or combine these numbers with existing ones: add, least, greatest."""
        rest = [c for c in columns if c not in self.key]
        combine = {
            "add": "x.{0} + excluded.{0}",
            "least": self.dialect.least + "(x.{0}, excluded.{0})",
            "greatest": self.dialect.greatest + "(x.{0}, excluded.{0})",
        }[op]
        action = ", ".join(f"{c} = " + combine.format(c) for c in rest)
        conflict = f"ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {action}"
        return f"{self.insert(columns, alias='x')} {conflict}"

    def delete_many(self, columns: Sequence[str]) -> str:
        """DELETE of many rows at once by one column's values (`= ANY` an array on PostgreSQL)."""
        if self.dialect.arrays and len(columns) == 1:
            kind = "text" if self.table.column_types[columns[0]] == "text" else "bigint"
            return f"DELETE FROM {self.qualified} WHERE {columns[0]} = ANY(%s::{kind}[])"
        return self.delete(columns)

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


class Sql:
    """A cursor inside one transaction that answers plain tuples on every backend."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self.raw = cursor  # the library's cursor, for its own methods (tracking)
        self.cursor = getattr(cursor, "sqlite_cursor", cursor)
        self.dialect = dialect
        if dialect.name == "postgres":
            self.cursor.row_factory = _tuple_rows  # the library's dict rows lose same-named columns

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.cursor.execute(sql, tuple(params))

    def relax_durability(self) -> None:
        """PostgreSQL: commit without waiting for the disk. Safe for views only: they are derived
        from the log, and a crash can lose a recent view update only together with its position,
        which the runner then applies again."""
        if self.dialect.name == "postgres":
            self.cursor.execute("SET LOCAL synchronous_commit TO OFF")

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(sql, [tuple(r) for r in rows])

    def write_rows(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run an `insert` / `put` / `add` statement for many rows at once."""
        if not rows:
            return
        if self.dialect.arrays:
            self.cursor.execute(statement, [list(column) for column in zip(*rows, strict=True)])
        else:
            self.cursor.executemany(statement, rows)

    def delete_rows(self, statement: str, keys: Sequence[Sequence[Any]]) -> None:
        """Run a `delete_many` statement for many keys at once."""
        if not keys:
            return
        if self.dialect.arrays and len(keys[0]) == 1:
            self.cursor.execute(statement, [[key[0] for key in keys]])
        else:
            self.cursor.executemany(statement, keys)

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


def _tuple_rows(cursor: Any) -> type[tuple[Any, ...]]:
    """A psycopg row factory (what psycopg.rows.tuple_row is), without importing psycopg."""
    return tuple


def _plain(row: Any) -> tuple[Any, ...]:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)
