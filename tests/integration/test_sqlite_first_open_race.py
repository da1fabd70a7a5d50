"""Several processes opening a brand-new SQLite file at the same instant all succeed."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any


def _open(url: str, out: Any) -> None:
    from orderflow import open_engine

    try:
        open_engine(url).close()
        out.put("ok")
    except Exception as error:  # reported to the parent, which asserts on it
        out.put(f"{type(error).__name__}: {error}")


def test_four_processes_opening_a_new_sqlite_file_at_once_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    failures = []
    for trial in range(8):
        url = f"sqlite:///{tmp_path / f'new-{trial}.db'}"
        out = context.Queue()
        processes = [context.Process(target=_open, args=(url, out)) for _ in range(4)]
        for p in processes:
            p.start()
        for p in processes:
            p.join(timeout=60)
        failures += [r for r in (out.get(timeout=5) for _ in processes) if r != "ok"]
    assert failures == []
