"""The benchmark harness keeps working: a --quick run of every scenario (targets not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"scenario", "backend", "value", "unit", "baseline", "ratio", "target", "met"}


def test_a_quick_benchmark_run_reports_every_scenario_as_json_and_never_oversells(
    postgres_server_url: str, nats_server_url: str
) -> None:
    env = {
        "ORDERFLOW_BENCH_POSTGRES_URL": postgres_server_url,
        "ORDERFLOW_NATS_URL": nats_server_url,
    }
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**__import__("os").environ, **env},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    results = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert all(set(r) >= KEYS for r in results)
    scenarios = {(r["scenario"].split(",")[0].split(" on ")[0], r["backend"]) for r in results}
    assert len(scenarios) >= 8, scenarios
    for r in results:
        assert r["value"] == r["value"] and r["value"] >= 0, r  # measured, not NaN
        if r["baseline"]:
            assert abs(r["ratio"] - r["value"] / r["baseline"]) < 0.01
    races = [r for r in results if "hot SKUs" in r["scenario"]]
    assert races and all(r["details"]["oversold_units"] == 0 for r in races)
    [latency] = [r for r in results if r["scenario"].startswith("place-order latency")]
    assert latency["details"]["raw_p99_ms"] > 0  # the same arrivals through the bare driver
