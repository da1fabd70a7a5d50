"""Scenarios from scripts/bench_streams.py: relay vs plain nats-py, commit-to-subscriber latency.

They need a NATS server (ORDERFLOW_NATS_URL, default nats://127.0.0.1:4222) and the source tree
(the script is not installed with the package).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from orderflow.adapters.bench.result import Result
from orderflow.adapters.bench.stores import fresh_store

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_streams.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_streams", SCRIPT)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{SCRIPT} (run from a source checkout)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _nats_url() -> str:
    return os.environ.get("ORDERFLOW_NATS_URL", "nats://127.0.0.1:4222")


def relay(backend: str, quick: bool) -> Iterator[Result]:
    with fresh_store(backend) as url:
        for result in _script().relay_throughput(url, _nats_url(), 2_000 if quick else 20_000):
            if result.baseline and result.ratio is not None:
                result.target, result.met = ">= 0.7 x plain nats-py", result.ratio >= 0.7
                yield result


def subscriber_latency(backend: str, quick: bool) -> Iterator[Result]:
    per_save = 2 if backend == "postgres" else 1
    with fresh_store(backend) as url:
        result = _script().subscriber_latency(
            url, _nats_url(), 500, 2 if quick else 10, 4, per_save
        )
        p99 = result.details.get("p99_ms")
        yield Result(
            "commit-to-subscriber latency at 500 events/s (p99)",
            backend,
            float(p99) if p99 is not None else float("nan"),
            "ms",
            None,
            "p99 <= 100 ms",
            None if p99 is None else p99 <= 100,
            {"p50_ms": round(result.value, 1), **result.details},
        )
