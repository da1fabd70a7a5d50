"""A projection runner killed with SIGKILL at random moments, again and again, while orders and
stock movements keep being written: after a last restart the views equal a replay from zero."""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from orderflow.projections import catch_up
from orderflow.projections.admin import status, verify

from orderflow import Engine, open_engine
from tests.integration.ordering_setup import place, seller

KILLS = 6


def keep_writing(engine: Engine, stop: threading.Event, errors: list[BaseException]) -> None:
    """Orders, receipts and cancellations, as fast as the store takes them."""
    n = 0
    try:
        while not stop.is_set():
            n += 1
            engine.receive_stock("TEE", "HN", 3, reference=f"PN-{n}")
            order = place(engine, f"K{n}", TEE=1, MUG=1) if n % 2 else place(engine, f"K{n}", TEE=2)
            if n % 5 == 0:
                engine.cancel_order(order, "test")
            engine.receive_stock("MUG", "HCM", 1)
    except BaseException as error:  # reported by the test
        errors.append(error)


RUNNER = """
import sys
from orderflow import open_engine
from orderflow.projections import open_read_models
models = open_read_models(open_engine(sys.argv[1], create_tables=False))
print("ready", flush=True)
sys.stdin.readline()
models.run_forever()
"""


def ready_runners(url: str, count: int, logs: Path) -> list[subprocess.Popen[str]]:
    """Runner processes started side by side, each waiting for a line on stdin to begin."""
    processes = []
    try:
        for n in range(count):
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-c", RUNNER, url],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=(logs / f"runner{n}.log").open("w"),
                    text=True,
                )
            )
        for n, process in enumerate(processes):
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready", (
                logs / f"runner{n}.log"
            ).read_text()
    except BaseException:
        for process in processes:
            process.kill()
        raise
    return processes


def go(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()


def kill(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(10)


@pytest.mark.slow
def test_a_runner_killed_at_random_moments_resumes_without_losing_or_doubling_anything(
    store_url: str, tmp_path: Path
) -> None:
    engine = open_engine(store_url)
    seller(engine)
    engine.receive_stock("MUG", "HCM", 500)
    for n in range(900):  # a backlog (~2,000 events), so the first kill lands mid-catch-up
        place(engine, f"B{n}", TEE=1) if n % 3 else engine.receive_stock("TEE", "HN", 2)
    stop, errors = threading.Event(), []
    writer = threading.Thread(target=keep_writing, args=(engine, stop, errors))
    writer.start()
    behind_at_kill = []
    status(engine)  # creates the view tables: runners then start without any DDL
    runners = ready_runners(store_url, KILLS + 1, tmp_path)
    try:
        go(runners[0])
        for previous, current in itertools.pairwise(runners):
            # the first kill early (a rebuild runs at >10,000 events/s), the others at random
            first = previous is runners[0]
            time.sleep(random.uniform(0.01, 0.03) if first else random.uniform(0.05, 0.5))
            go(current)  # for a moment two runners work on the same views
            time.sleep(random.uniform(0, 0.1))
            kill(previous)
            behind_at_kill.append(max(s.behind for s in status(engine)))
        time.sleep(random.uniform(0.05, 0.3))
        kill(runners[-1])
    finally:
        stop.set()
        writer.join(30)
        for process in runners:
            process.kill()
            process.wait(10)
    assert not errors, errors
    assert any(behind > 0 for behind in behind_at_kill), "every kill found the views idle"
    catch_up(engine)
    assert all(s.behind == 0 for s in status(engine))
    results = verify(engine)
    assert [str(d) for r in results for d in r.differences] == []
    assert all(r.ok for r in results)
    engine.close()
