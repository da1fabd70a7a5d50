"""Fresh, throwaway stores for a benchmark run: a SQLite file or a new PostgreSQL database."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_server_url() -> str:
    """The server benchmarks create their databases on (ORDERFLOW_BENCH_POSTGRES_URL)."""
    return os.environ.get("ORDERFLOW_BENCH_POSTGRES_URL", DEFAULT_SERVER)


@contextmanager
def fresh_postgres(label: str = "bench") -> Iterator[str]:
    """A new empty PostgreSQL database, dropped afterwards."""
    server = postgres_server_url()
    name = f"of_{label}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield urlsplit(server)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@contextmanager
def fresh_sqlite() -> Iterator[str]:
    """A new SQLite file in a temporary folder, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="orderflow-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


@contextmanager
def fresh_store(backend: str) -> Iterator[str]:
    """A fresh store URL for 'sqlite' or 'postgres'."""
    factory = fresh_sqlite() if backend == "sqlite" else fresh_postgres()
    with factory as url:
        yield url
