"""Helpers for the relay and subscriber tests: unique streams, reading them, running workers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import nats
from nats.js.errors import NotFoundError
from orderflow.adapters.nats import EventMessage, Relay
from orderflow.adapters.settings import Settings, load_settings

from orderflow.engine import Engine, open_engine

ROOT = Path(__file__).resolve().parents[2]


def unique_settings(database_url: str, nats_url: str, run_id: str, **overrides: Any) -> Settings:
    """Settings with a stream and subject prefix no other test (or person) uses.

    Workers do not create the engine's tables (two processes creating them at once can fail):
    open the first engine with `owner_engine`.
    """
    tag = f"{run_id}_{uuid.uuid4().hex[:6]}".upper()
    return load_settings(
        database_url=database_url,
        nats_url=nats_url,
        nats_stream=f"T_{tag}",
        subject_prefix=f"t{tag.lower()}",
        create_tables=False,
        **overrides,
    )


def owner_engine(settings: Settings) -> Engine:
    """The engine that creates the tables, opened before any worker starts."""
    return open_engine(replace(settings.store_config(), create_tables=True))


def delete_streams(settings: Settings) -> None:
    async def delete() -> None:
        nc = await nats.connect(settings.nats_url)
        js = nc.jetstream()
        for name in (settings.nats_stream, f"{settings.nats_stream}_DLQ"):
            with suppress(NotFoundError):
                await js.delete_stream(name)
        await nc.close()

    asyncio.run(delete())


@dataclass(frozen=True)
class Stored:
    """A message as the stream holds it."""

    seq: int
    subject: str
    headers: dict[str, str]
    event: EventMessage


def stream_messages(settings: Settings, stream: str | None = None) -> list[Stored]:
    """Every message in the stream, in stream order."""

    async def read() -> list[Stored]:
        nc = await nats.connect(settings.nats_url)
        js = nc.jetstream()
        name = stream or settings.nats_stream
        try:
            last = (await js.stream_info(name)).state.last_seq
        except NotFoundError:
            last = 0
        found = []
        for seq in range(1, last + 1):
            raw = await js.get_msg(name, seq)
            headers = dict(raw.headers or {})
            found.append(
                Stored(seq, raw.subject or "", headers, EventMessage.from_json(raw.data or b""))
            )
        await nc.close()
        return found

    return asyncio.run(read())


def stream_count(settings: Settings, stream: str | None = None) -> int:
    async def count() -> int:
        nc = await nats.connect(settings.nats_url)
        try:
            return int(
                (await nc.jetstream().stream_info(stream or settings.nats_stream)).state.messages
            )
        except NotFoundError:
            return 0
        finally:
            await nc.close()

    return asyncio.run(count())


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@contextmanager
def running(target: Callable[[threading.Event], None]) -> Iterator[threading.Event]:
    """Run a worker's `run(stop)` in a thread; stop it and re-raise its error at the end."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def main() -> None:
        try:
            target(stop)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=20)
        assert not thread.is_alive(), "worker did not stop within 20 s"
        if errors:
            raise errors[0]


@contextmanager
def relay_thread(settings: Settings, engine: Engine | None = None) -> Iterator[Relay]:
    relay = Relay(settings, engine)
    with running(relay.run):
        yield relay


def process_env(settings: Settings) -> dict[str, str]:
    """The environment for an `orderflow` subprocess with these settings."""
    env = dict(os.environ)
    env.update(
        {
            "ORDERFLOW_DATABASE_URL": settings.database_url,
            "ORDERFLOW_NATS_URL": settings.nats_url or "",
            "ORDERFLOW_NATS_STREAM": settings.nats_stream,
            "ORDERFLOW_SUBJECT_PREFIX": settings.subject_prefix,
            "ORDERFLOW_CREATE_TABLES": "false",
            "ORDERFLOW_RELAY_ACK_TIMEOUT": str(settings.relay_ack_timeout),
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def orderflow_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "orderflow"), *args]


def start_relay_process(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    """`orderflow relay` as a separate OS process (so it can be SIGKILLed)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            orderflow_command("relay", "--verbose"),
            env=process_env(settings),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def seed_catalogue(engine: Engine, skus: tuple[str, ...] = ("A", "B", "C")) -> None:
    engine.register_warehouse("HN", "Ha Noi")
    for sku in skus:
        engine.register_product(sku, f"Product {sku}", sale_price=10_000)


def receive_many(engine: Engine, count: int, skus: tuple[str, ...] = ("A", "B", "C")) -> None:
    """`count` receipts spread over the SKUs: StockItem aggregates with growing versions."""
    for i in range(count):
        engine.receive_stock(skus[i % len(skus)], "HN", 1)


def assert_exactly_once_in_order(engine: Engine, stored: list[Stored]) -> None:
    """The stream holds every event of the log once, each aggregate's events in version order."""
    log = engine.recorder.select_notifications(start=None, limit=1_000_000)
    expected = [EventMessage.from_notification(engine, n).id for n in log]
    ids = [s.event.id for s in stored]
    duplicates = len(ids) - len(set(ids))
    assert duplicates == 0, f"{duplicates} events stored more than once"
    missing = set(expected) - set(ids)
    assert not missing, f"{len(missing)} of {len(expected)} events missing from the stream"
    assert len(ids) == len(expected)
    last_version: dict[Any, int] = {}
    for s in stored:
        previous = last_version.get(s.event.aggregate_id, 0)
        assert s.event.version == previous + 1, (
            f"aggregate {s.event.aggregate_id}: version {s.event.version} after {previous}"
            f" (stream sequence {s.seq})"
        )
        last_version[s.event.aggregate_id] = s.event.version
