"""Benchmark the NATS relay and a subscriber against plain nats-py, in the same run.

    .venv/bin/python scripts/bench_streams.py [--backend sqlite|postgres|both] [--events 20000]
        [--rate 500] [--seconds 10] [--per-save 1] [--subscriber-process]
        [--nats-url nats://127.0.0.1:4222] [--json]

1. Relay throughput: N events already in the store; the time from starting a Relay until it has
   stored position N (JetStream acked every event) -> events/s. Baseline: the same subjects,
   bodies and headers (pre-encoded) published with nats-py `publish_async` on one connection
   with the same number of publishes in flight, to a fresh stream -> messages/s.
   Also, for reference: the same messages with nats-py's core publish and one reply
   subscription for the acks (how the relay publishes) -> `relay_vs_lean` in the details.
2. Commit-to-subscriber latency: events committed at a steady rate by writer threads while
   `orderflow relay` (its own process) and one durable subscriber run; the subscriber runs in
   the writers' process, or with `--subscriber-process` in a process of its own as
   `orderflow subscribe` is deployed; for each event, the time from `save()` returning to the
   handler being called (relay + JetStream + consumer + ledger), p50 / p99.
Streams are named BENCH_<pid>_* and deleted afterwards; the store is a fresh SQLite file or a
fresh PostgreSQL database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.js.api import StorageType, StreamConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orderflow.adapters.bench.result import Result
from orderflow.adapters.nats import EventMessage, NatsSubscriberRunner, Relay, Subscriber
from orderflow.adapters.nats.envelope import Encoder
from orderflow.adapters.nats.relay import Outgoing, outgoing
from orderflow.adapters.settings import Settings, load_settings

from orderflow.engine import Engine
from orderflow.stock_item import ReceiptReason, StockItem

POSTGRES_SERVER = os.environ.get(
    "ORDERFLOW_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextmanager
def fresh_store(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-streams-") as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    import psycopg

    name = f"bench_streams_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def bench_settings(database_url: str, nats_url: str, label: str) -> Settings:
    tag = f"{os.getpid()}_{label}_{uuid.uuid4().hex[:4]}".upper()
    return load_settings(
        database_url=database_url,
        nats_url=nats_url,
        nats_stream=f"BENCH_{tag}",
        subject_prefix=f"bench{tag.lower()}",
        cache_size=0,
    )


async def _delete_streams(nats_url: str, *names: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for name in names:
        with contextlib.suppress(Exception):  # not there
            await js.delete_stream(name)
    await nc.close()


def write_backlog(engine: Engine, events: int, items: int = 20, per_save: int = 500) -> None:
    """`events` StockItem.Received events over `items` stock items, saved `per_save` at a time."""
    stock = [StockItem(sku=f"SKU{i}", warehouse="HN") for i in range(items)]
    written = items  # each Opened event counts
    engine.save(*stock)
    while written < events:
        for item in stock:
            batch = min(per_save, events - written)
            if batch <= 0:
                break
            for _ in range(batch):
                item.receive(1, ReceiptReason.PURCHASE_RECEIPT)
            engine.save(item)
            written += batch


def relay_throughput(database_url: str, nats_url: str, events: int) -> tuple[Result, Result]:
    """(relay events/s, plain nats-py publish_async messages/s) for the same messages."""
    settings = bench_settings(database_url, nats_url, "relay")
    engine = settings.open_engine()
    write_backlog(engine, events)
    total = engine.position()
    notifications = engine.recorder.select_notifications(start=None, limit=total + 1)
    messages = [outgoing(engine, settings.subject_prefix, n) for n in notifications]
    count = len(messages)
    # the relay passes stored JSON through: it must publish exactly what the baseline publishes
    encoder = Encoder(engine, settings.subject_prefix)
    if [encoder.encode(n) for n in notifications] != messages:
        raise AssertionError("the relay's encoding differs from the decoded messages")
    try:
        relay = Relay(settings, engine)
        stop = threading.Event()
        thread = threading.Thread(target=relay.run, args=(stop,))
        started = time.perf_counter()
        thread.start()
        while relay.stats.position < total:
            time.sleep(0.002)
        relay_seconds = time.perf_counter() - started
        stop.set()
        thread.join()
        baseline_seconds = asyncio.run(
            _plain_publish(nats_url, messages, settings.relay_max_pending)
        )
        lean_seconds = asyncio.run(_lean_publish(nats_url, messages, settings.relay_max_pending))
    finally:
        asyncio.run(_delete_streams(nats_url, settings.nats_stream, f"{settings.nats_stream}_BASE"))
        engine.close()
    backend = settings.store_config().backend
    relay_rate, base_rate = count / relay_seconds, count / baseline_seconds
    details = {
        "events": count,
        "relay_s": round(relay_seconds, 3),
        "plain_s": round(baseline_seconds, 3),
        # the relay publishes as `_lean_publish` does; relay / lean is its cost of reading the
        # log, encoding and bookkeeping over the leanest pipelined publish nats-py allows
        "lean_s": round(lean_seconds, 3),
        "relay_vs_lean": round(lean_seconds / relay_seconds, 3),
        "max_pending": settings.relay_max_pending,
    }
    return (
        Result("relay throughput", backend, relay_rate, "events/s", base_rate, details=details),
        Result("plain nats-py publish_async", backend, base_rate, "msgs/s", details=details),
    )


async def _scratch_stream(
    js: Any, messages: list[Outgoing], label: str
) -> tuple[str, list[tuple[str, bytes, dict[str, str]]]]:
    """A throwaway file stream of its own for a baseline, and the messages re-addressed to it
    (`<prefix>.<label>.<rest of the subject>`, same bodies and headers)."""
    prefix = messages[0].subject.split(".")[0]
    name = f"BENCH_{os.getpid()}_{uuid.uuid4().hex[:4]}_{label}".upper()
    await js.add_stream(
        StreamConfig(name=name, subjects=[f"{prefix}{label}.>"], storage=StorageType.FILE)
    )
    return name, [
        (f"{prefix}{label}.{m.subject.split('.', 1)[1]}", m.payload, m.headers) for m in messages
    ]


async def _plain_publish(nats_url: str, messages: list[Outgoing], max_pending: int) -> float:
    """Seconds to publish the messages with publish_async and have every ack (no database)."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream(publish_async_max_pending=max_pending)
    name, base = await _scratch_stream(js, messages, "base")
    started = time.perf_counter()
    futures = [await js.publish_async(s, p, headers=h) for s, p, h in base]
    await asyncio.wait_for(js.publish_async_completed(), 60)
    seconds = time.perf_counter() - started
    assert all(f.result().seq for f in futures)
    await js.delete_stream(name)
    await nc.close()
    return seconds


async def _lean_publish(nats_url: str, messages: list[Outgoing], max_pending: int) -> float:
    """The same with nats-py's core publish and one reply subscription taking every ack (what
    the relay does; no random token, future and semaphore per message), `max_pending` in flight.
    """
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    name, lean = await _scratch_stream(js, messages, "lean")
    inbox = nc.new_inbox()
    acked = 0
    arrived = asyncio.Event()

    async def answer(msg: Msg) -> None:
        nonlocal acked
        assert b'"seq"' in msg.data, msg.data
        acked += 1
        arrived.set()

    await nc.subscribe(f"{inbox}.*", cb=answer)
    started = time.perf_counter()
    for i, (subject, payload, headers) in enumerate(lean):
        while i - acked >= max_pending:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), 30)
        await nc.publish(subject, payload, reply=f"{inbox}.{i}", headers=headers)
    while acked < len(lean):
        arrived.clear()
        await asyncio.wait_for(arrived.wait(), 30)
    seconds = time.perf_counter() - started
    await js.delete_stream(name)
    await nc.close()
    return seconds


def subscriber_latency(
    database_url: str,
    nats_url: str,
    rate: float,
    seconds: float,
    writers: int = 4,
    per_save: int = 1,
    subscriber_process: bool = False,
) -> Result:
    """p50 / p99 from save() returning to the subscriber's handler being called.

    `writers` threads commit `per_save` events per save at `rate` events/s in total;
    `orderflow relay` runs as its own process; the subscriber (a durable consumer with the
    ledger) runs here beside the writer threads (sharing their interpreter lock), or with
    `subscriber_process` in a process of its own as `orderflow subscribe` does. Times are
    `time.perf_counter()` (CLOCK_MONOTONIC, one clock for every process on Linux).
    """
    settings = bench_settings(database_url, nats_url, "lat")
    engine = settings.open_engine()
    committed: dict[int, float] = {}
    arrived: dict[int, float] = {}

    def handle(message: EventMessage) -> None:
        arrived.setdefault(message.position, time.perf_counter())

    name = f"bench-{uuid.uuid4().hex[:6]}"
    stock = [
        [StockItem(sku=f"SKU{w}-{i}", warehouse="HN") for i in range(5)] for w in range(writers)
    ]
    engine.save(*(item for items in stock for item in items))
    relay = subprocess.Popen(
        [str(Path(sys.executable).parent / "orderflow"), "relay"],
        env=_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stop = threading.Event()
    folder = tempfile.TemporaryDirectory(prefix="bench-streams-")
    times = Path(folder.name) / "arrived.json"
    if subscriber_process:
        consumer: Any = subprocess.Popen(
            [sys.executable, __file__, "--subscriber-child", name, str(times)],
            env=_env(settings),
            stdout=subprocess.PIPE,
        )
        consumer.stdout.readline()  # bound to its durable consumer
    else:
        subscriber = Subscriber(name, lambda e, s: handle, (StockItem.Received,))
        runner = NatsSubscriberRunner(settings, subscriber, engine)
        consumer = threading.Thread(target=runner.run, args=(stop,))
        consumer.start()
    time.sleep(2.0)  # relay started, consumer created
    saves = int(rate * seconds / writers / per_save)

    def write(items: list[StockItem]) -> None:
        started = time.perf_counter()
        for k in range(saves):
            due = started + k * writers * per_save / rate
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            item = items[k % len(items)]
            for _ in range(per_save):
                item.receive(1, ReceiptReason.PURCHASE_RECEIPT)
            recordings = engine.save(item)
            at = time.perf_counter()
            for recording in recordings:
                committed[recording.notification.id] = at

    total = saves * writers * per_save
    try:
        started = time.perf_counter()
        threads = [threading.Thread(target=write, args=(items,)) for items in stock]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        write_seconds = time.perf_counter() - started
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _handled(arrived, times, total, subscriber_process):
            time.sleep(0.05)
    finally:
        if subscriber_process:
            consumer.send_signal(signal.SIGTERM)
            consumer.wait(timeout=30)
            with contextlib.suppress(OSError, ValueError):
                arrived = {int(k): v for k, v in json.loads(times.read_text()).items()}
        else:
            stop.set()
            consumer.join()
        folder.cleanup()
        relay.send_signal(signal.SIGTERM)
        relay.wait(timeout=30)
        asyncio.run(_delete_streams(nats_url, settings.nats_stream, f"{settings.nats_stream}_DLQ"))
        engine.close()
    # a thread switch can delay the writer's clock reading past the handler's: count those as 0
    ordered = sorted(max(arrived[p] - at, 0.0) for p, at in committed.items() if p in arrived)
    p50 = statistics.median(ordered) if ordered else float("nan")
    p99 = ordered[max(int(len(ordered) * 0.99) - 1, 0)] if ordered else float("nan")
    return Result(
        "commit-to-subscriber latency p50",
        settings.store_config().backend,
        p50 * 1000,
        "ms",
        details={
            "p99_ms": round(p99 * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1) if ordered else None,
            "events": total,
            "handled": len(ordered),
            "rate_per_s": round(total / write_seconds, 1),
            "writers": writers,
            "events_per_save": per_save,
            "subscriber": "own process" if subscriber_process else "in the writers' process",
        },
    )


def _handled(arrived: dict[int, float], times: Path, total: int, child: bool) -> bool:
    """True while events are still to be handled (the child process keeps a count in a file)."""
    if not child:
        return len(arrived) < total
    try:
        return int(Path(f"{times}.count").read_text() or 0) < total
    except (OSError, ValueError):
        return True


def subscriber_child(name: str, times: str) -> int:
    """The subscriber process: record when each event's handler is called; write the times as
    JSON on SIGTERM."""
    arrived: dict[int, float] = {}

    def handle(message: EventMessage) -> None:
        arrived.setdefault(message.position, time.perf_counter())

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    subscriber = Subscriber(name, lambda e, s: handle, (StockItem.Received,))
    runner = NatsSubscriberRunner(load_settings(), subscriber)
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    while not runner.consuming.wait(0.05):
        if stop.is_set() or not thread.is_alive():
            break
    print("consuming", flush=True)
    while not stop.wait(0.1):
        Path(f"{times}.count").write_text(str(len(arrived)))
    thread.join()
    Path(times).write_text(json.dumps(arrived))
    return 0


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "ORDERFLOW_DATABASE_URL": settings.database_url,
        "ORDERFLOW_NATS_URL": settings.nats_url or "",
        "ORDERFLOW_NATS_STREAM": settings.nats_stream,
        "ORDERFLOW_SUBJECT_PREFIX": settings.subject_prefix,
        "ORDERFLOW_CREATE_TABLES": "false",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--writers", type=int, default=4, help="threads committing events")
    parser.add_argument("--per-save", type=int, default=1, help="events committed per save")
    parser.add_argument(
        "--nats-url", default=os.environ.get("ORDERFLOW_NATS_URL", "nats://127.0.0.1:4222")
    )
    parser.add_argument(
        "--subscriber-process",
        action="store_true",
        help="run the subscriber in a process of its own (default: beside the writer threads)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--subscriber-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.subscriber_child:
        return subscriber_child(*args.subscriber_child)
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    results: list[Result] = []
    for backend in backends:
        with fresh_store(backend) as url:
            results.extend(relay_throughput(url, args.nats_url, args.events))
        with fresh_store(backend) as url:
            results.append(
                subscriber_latency(
                    url,
                    args.nats_url,
                    args.rate,
                    args.seconds,
                    args.writers,
                    args.per_save,
                    args.subscriber_process,
                )
            )
    for result in results:
        print(result.as_json() if args.json else _line(result))
    return 0


def _line(result: Result) -> str:
    ratio = f"  ({result.ratio:.2f}x of plain nats-py)" if result.ratio else ""
    extra = ", ".join(f"{k}={v}" for k, v in result.details.items())
    figure = f"{result.value:10,.1f} {result.unit}"
    return f"{result.backend:8} {result.scenario:36} {figure}{ratio}  [{extra}]"


if __name__ == "__main__":
    sys.exit(main())
