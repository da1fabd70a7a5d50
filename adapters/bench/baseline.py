"""Raw baselines: the same stored rows the engine wrote, inserted with the bare driver.

The engine's rows are read back from its event table and replayed into a fresh table of the same
shape, one transaction per engine transaction, with plain psycopg / sqlite3 — no reads, no
aggregates, no serialisation. That is the floor the engine's write path is compared against.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from orderflow.store import sqlite_path

Row = tuple[Any, int, str, bytes]
Groups = list[list[Row]]


def stored_rows(url: str, after: int = 0) -> list[Row]:
    """(originator_id, version, topic, state) of every event after a position, in log order."""
    if url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(url)) as conn:
            return list(
                conn.execute(
                    "SELECT originator_id, originator_version, topic, state FROM stored_events "
                    "WHERE rowid > ? ORDER BY rowid",
                    (after,),
                )
            )
    with psycopg.connect(url) as conn:
        return list(
            conn.execute(
                "SELECT originator_id, originator_version, topic, state FROM orderflow_events "
                "WHERE notification_id > %s ORDER BY notification_id",
                (after,),
            )
        )


def group_transactions(rows: Sequence[Row], starts_group: Callable[[Row], bool]) -> Groups:
    """Split rows into the engine's transactions: a new one begins where `starts_group` is true."""
    groups: Groups = []
    for row in rows:
        if starts_group(row) or not groups:
            groups.append([])
        groups[-1].append(row)
    return groups


class RawWriter:
    """The bare driver writing groups of rows into a fresh table of the engine's table's shape
    (dropped on close), one transaction per group: `write(groups)` returns the seconds taken.
    Kept open across rounds, so a benchmark can alternate engine and baseline on the same
    machine conditions."""

    def __init__(self, url: str) -> None:
        self._sqlite = url.startswith("sqlite")
        if self._sqlite:
            self._conn: Any = sqlite3.connect(sqlite_path(url) + ".baseline", isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(
                "CREATE TABLE raw_events (originator_id TEXT, originator_version INTEGER,"
                " topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))"
            )
        else:
            self._conn = psycopg.connect(url, autocommit=True)
            _postgres_raw_table(self._conn)

    def write(self, groups: Groups) -> float:
        conn, started = self._conn, time.perf_counter()
        if self._sqlite:
            insert = "INSERT INTO raw_events VALUES (?, ?, ?, ?)"
            for group in groups:
                conn.execute("BEGIN")
                conn.executemany(insert, [(str(r[0]), r[1], r[2], r[3]) for r in group])
                conn.execute("COMMIT")
        else:
            for group in groups:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(RAW_INSERT, group)
        return time.perf_counter() - started

    def close(self) -> None:
        if not self._sqlite:
            self._conn.execute("DROP TABLE raw_events")
        self._conn.close()


def raw_latencies(url: str, groups: Groups, rate: float) -> list[float]:
    """The groups inserted with the bare driver at a fixed arrival rate (open loop, as the
    engine's latency run): seconds from each arrival to its commit, in arrival order."""
    if url.startswith("sqlite"):
        raise ValueError("raw_latencies: PostgreSQL only")
    samples = []
    with psycopg.connect(url, autocommit=True) as conn:
        _postgres_raw_table(conn)
        begin = time.perf_counter()
        for i, group in enumerate(groups):
            due = begin + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(RAW_INSERT, group)
            samples.append(time.perf_counter() - due)
        conn.execute("DROP TABLE raw_events")
    return samples


RAW_INSERT = (
    "INSERT INTO raw_events (originator_id, originator_version, topic, state)"
    " VALUES (%s, %s, %s, %s)"
)


def _postgres_raw_table(conn: psycopg.Connection[Any]) -> None:
    """A fresh table of the engine's event table's shape, without its lock or function."""
    conn.execute("DROP TABLE IF EXISTS raw_events")
    conn.execute(
        "CREATE TABLE raw_events (originator_id uuid NOT NULL, originator_version bigint NOT NULL,"
        " topic text, state bytea, notification_id bigserial,"
        " PRIMARY KEY (originator_id, originator_version))"
    )
    conn.execute("CREATE UNIQUE INDEX ON raw_events (notification_id ASC)")
