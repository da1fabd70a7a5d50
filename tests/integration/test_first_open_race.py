"""Several processes opening a brand-new store at the same instant all succeed (SQLite's switch
to WAL; PostgreSQL's CREATE OR REPLACE FUNCTION, which fails when run concurrently)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

from tests import services


def _open(url: str, out: Any) -> None:
    from orderflow import open_engine

    try:
        open_engine(url).close()
        out.put("ok")
    except Exception as error:  # reported to the parent, which asserts on it
        out.put(f"{type(error).__name__}: {error}")


def open_at_once(url: str, processes: int = 4) -> list[str]:
    """Open the store from several processes at once; the failures they report."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    started = [context.Process(target=_open, args=(url, out)) for _ in range(processes)]
    for p in started:
        p.start()
    for p in started:
        p.join(timeout=60)
    return [r for r in (out.get(timeout=5) for _ in started) if r != "ok"]


def test_four_processes_opening_a_new_sqlite_file_at_once_all_succeed(tmp_path: Path) -> None:
    failures = []
    for trial in range(8):
        failures += open_at_once(f"sqlite:///{tmp_path / f'new-{trial}.db'}")
    assert failures == []


def test_four_processes_opening_a_new_postgres_database_at_once_all_succeed(
    postgres_server_url: str,
) -> None:
    failures = []
    for _ in range(4):
        with services.fresh_database(postgres_server_url) as url:
            failures += open_at_once(url)
    assert failures == []
