"""The relay against a real nats-server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from nats.aio.msg import Msg
from orderflow.adapters.demo import set_up_catalogue
from orderflow.adapters.demo_orders import run_orders
from orderflow.adapters.nats.envelope import (
    SCHEMA,
    Encoder,
    event_id,
    event_id_text,
    subject_for,
)
from orderflow.adapters.nats.ledger import open_ledger
from orderflow.adapters.nats.relay import _read_ack
from orderflow.adapters.settings import Settings

from orderflow.engine import Engine, open_engine
from tests import services
from tests.integration.streams_helpers import (
    assert_exactly_once_in_order,
    delete_streams,
    owner_engine,
    receive_many,
    relay_thread,
    seed_catalogue,
    start_relay_process,
    stream_count,
    stream_messages,
    unique_settings,
    wait_until,
)


@pytest.fixture
def settings(store_url: str, nats_server_url: str, run_id: str) -> Iterator[Settings]:
    s = unique_settings(store_url, nats_server_url, run_id, relay_ack_timeout=2)
    yield s
    delete_streams(s)


@pytest.fixture
def seeded(settings: Settings) -> Iterator[Engine]:
    engine = owner_engine(settings)
    seed_catalogue(engine)
    yield engine
    engine.close()


def relay_position(engine: Engine, settings: Settings) -> int:
    return open_ledger(engine).relay_position(f"relay:{settings.nats_stream}")


def test_every_event_reaches_its_subject_with_headers_and_a_versioned_json_body(
    settings: Settings, seeded: Engine
) -> None:
    receive_many(seeded, 6)
    with relay_thread(settings):
        wait_until(
            lambda: stream_count(settings) == seeded.position(), 10, "the backlog to be relayed"
        )
        receive_many(seeded, 3)
        wait_until(
            lambda: stream_count(settings) == seeded.position(), 10, "a live event to be relayed"
        )
    stored = stream_messages(settings)
    assert_exactly_once_in_order(seeded, stored)

    received = next(s for s in stored if s.event.type == "StockItem.Received")
    prefix = settings.subject_prefix
    assert received.subject == f"{prefix}.stockitem.received"
    assert received.headers["Nats-Msg-Id"] == str(received.event.id)
    assert received.headers["Orderflow-Event-Type"] == "StockItem.Received"
    assert received.headers["Orderflow-Aggregate-Id"] == str(received.event.aggregate_id)
    assert received.headers["Orderflow-Version"] == str(received.event.version)
    assert received.headers["Orderflow-Position"] == str(received.event.position)
    assert received.headers["Orderflow-Timestamp"] == received.event.timestamp.isoformat()
    assert received.event.data == {"quantity": 1, "reason": "purchase_receipt", "reference": ""}
    assert [s.event.position for s in stored] == sorted(s.event.position for s in stored)


def test_body_schema_has_decimals_and_ids_as_strings(settings: Settings, seeded: Engine) -> None:
    with relay_thread(settings):
        wait_until(lambda: stream_count(settings) == seeded.position(), 10, "the backlog")
    stored = stream_messages(settings)
    product = next(s for s in stored if s.event.type == "Product.Registered")
    body = json.loads(product.event.to_json())
    assert body["schema"] == SCHEMA
    assert isinstance(body["aggregate_id"], str) and isinstance(body["id"], str)
    assert body["position"] == product.event.position
    text = json.dumps(body["data"])
    assert "10000" in text and "Decimal" not in text


def test_the_relay_encoding_of_every_kind_of_event_is_byte_identical_to_decoding(
    engine: Engine,
) -> None:
    """The relay passes the stored JSON through; the bytes must equal the decoded encoding."""
    set_up_catalogue(engine, lambda line: None)
    run_orders(engine, lambda line: None, 10)
    log = engine.recorder.select_notifications(start=None, limit=1_000_000)
    encoder = Encoder(engine, "shop")
    decoded: list[int] = []
    reference = encoder.decode
    encoder.decode = lambda n: decoded.append(n.id) or reference(n)  # type: ignore[method-assign]
    topics = set()
    for notification in log:
        assert encoder.encode(notification) == reference(notification), notification
        assert event_id_text(
            str(notification.originator_id), notification.originator_version
        ) == str(event_id(notification.originator_id, notification.originator_version))
        topics.add(notification.topic)
    assert len(topics) > 40
    assert decoded == [], "every event of a plain JSON store is passed through"


def test_the_relay_decodes_events_it_cannot_pass_through() -> None:
    """Compressed (or enciphered) state, an unexpected stored layout: decoded, same bytes."""
    compressed = open_engine(
        "memory://", extra_env={"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}
    )
    plain = open_engine("memory://")
    for engine, passes in ((compressed, False), (plain, True)):
        seed_catalogue(engine)
        receive_many(engine, 3)
        encoder = Encoder(engine, "shop")
        assert encoder.plain is passes
        for notification in engine.recorder.select_notifications(start=None, limit=100):
            assert encoder.encode(notification) == encoder.decode(notification)
        engine.close()
    last = plain.recorder.select_notifications(start=None, limit=100)[-1]
    assert last.state.startswith(b'{"timestamp":')
    odd = replace(last, state=b'{"quantity":1,' + last.state[1:])  # a key before the timestamp
    encoder = Encoder(plain, "shop")
    assert encoder.encode(odd) == encoder.decode(odd)
    assert json.loads(encoder.encode(odd).payload)["data"]["quantity"] == 1


def test_only_a_pub_ack_from_the_stream_counts_as_an_ack() -> None:
    def answer(data: bytes, headers: dict[str, str] | None = None) -> Msg:
        return Msg(None, subject="_INBOX.x.7", data=data, headers=headers)  # type: ignore[arg-type]

    assert _read_ack(answer(b'{"stream":"S","seq":3}'), "S") == (False, "")
    assert _read_ack(answer(b'{"stream":"S","seq":3,"duplicate":true}'), "S") == (True, "")
    for bad in (
        answer(b"", {"Status": "503"}),  # no responders
        answer(b'{"error":{"code":503,"err_code":10039,"description":"jetstream not enabled"}}'),
        answer(b'{"stream":"OTHER","seq":3}'),
        answer(b"not json"),
    ):
        duplicate, error = _read_ack(bad, "S")
        assert error and not duplicate


def test_subject_is_prefix_aggregate_event_in_lower_case() -> None:
    topic = "orderflow.stock_item:StockItem.Reserved"
    assert subject_for("orderflow", topic) == "orderflow.stockitem.reserved"
    assert subject_for("shop", "orderflow.shipment:Shipment.Requested") == "shop.shipment.requested"


def test_a_restarted_relay_resumes_from_its_stored_position(
    settings: Settings, seeded: Engine
) -> None:
    with relay_thread(settings) as relay:
        wait_until(lambda: stream_count(settings) == seeded.position(), 10, "the backlog")
    first_run_position = relay_position(seeded, settings)
    assert first_run_position == seeded.position()
    receive_many(seeded, 5)
    with relay_thread(settings) as relay:
        wait_until(lambda: stream_count(settings) == seeded.position(), 10, "the new events")
    new_events = seeded.recorder.select_notifications(
        start=first_run_position, limit=1000, inclusive_of_start=False
    )
    assert relay.stats.published == len(new_events) > 0, "only events after the stored position"
    assert relay_position(seeded, settings) == seeded.position()
    assert_exactly_once_in_order(seeded, stream_messages(settings))


def test_a_pipeline_of_three_publishes_still_relays_everything_in_order(
    settings: Settings, seeded: Engine
) -> None:
    receive_many(seeded, 60)
    narrow = settings.model_copy(update={"relay_max_pending": 3})
    with relay_thread(narrow) as relay:
        wait_until(lambda: relay.stats.position == seeded.position(), 15, "the backlog")
    assert_exactly_once_in_order(seeded, stream_messages(settings))
    assert relay.stats.restarts == 0


def test_the_stream_is_created_with_the_configured_subjects_and_duplicate_window(
    settings: Settings, seeded: Engine
) -> None:
    import asyncio

    import nats

    custom = settings.model_copy(update={"nats_duplicate_window": 30})
    with relay_thread(custom):
        wait_until(lambda: stream_count(custom) == seeded.position(), 10, "the backlog")

    async def info() -> object:
        nc = await nats.connect(custom.nats_url)
        try:
            return (await nc.jetstream().stream_info(custom.nats_stream)).config
        finally:
            await nc.close()

    config = asyncio.run(info())
    assert config.subjects == [f"{custom.subject_prefix}.>"]  # type: ignore[attr-defined]
    assert config.duplicate_window == 30  # type: ignore[attr-defined]


def relaying_lines(log: Path) -> int:
    return log.read_text().count("relaying from position") if log.exists() else 0


def test_relay_killed_at_random_points_leaves_every_event_exactly_once_in_log_order(
    settings: Settings, seeded: Engine, tmp_path: Path
) -> None:
    stop_writing = threading.Event()

    def write() -> None:
        while not stop_writing.is_set():
            receive_many(seeded, 10)
            time.sleep(random.uniform(0, 0.03))

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    rng = random.Random()
    log = tmp_path / "relay.log"
    try:
        for round_ in range(6):
            relay = start_relay_process(settings, log)
            if round_ % 3 == 2:  # now and then while it is still starting
                time.sleep(rng.uniform(0.1, 1.0))
            else:  # mostly while it publishes the backlog and the live events
                started = relaying_lines(log) + 1
                wait_until(lambda s=started: relaying_lines(log) >= s, 30, "the relay to start")
                time.sleep(rng.uniform(0.0, 0.6))
            relay.send_signal(signal.SIGKILL)
            relay.wait(timeout=10)
    finally:
        stop_writing.set()
        writer.join(timeout=30)
    assert stream_count(settings) > 0, log.read_text()[-2000:]
    with relay_thread(settings):
        wait_until(
            lambda: relay_position(seeded, settings) == seeded.position(),
            20,
            "the last relay to catch up",
        )
    assert_exactly_once_in_order(seeded, stream_messages(settings))


def test_a_second_relay_waits_and_takes_over_when_the_first_dies(
    settings: Settings, seeded: Engine, tmp_path: Path
) -> None:
    first = start_relay_process(settings, tmp_path / "first.log")
    wait_until(lambda: stream_count(settings) == seeded.position(), 15, "the first relay to relay")
    second = start_relay_process(settings, tmp_path / "second.log")
    try:
        wait_until(
            lambda: "waiting to take over" in (tmp_path / "second.log").read_text(),
            15,
            "the second relay to wait for the lock",
        )
        receive_many(seeded, 5)
        wait_until(
            lambda: stream_count(settings) == seeded.position(), 10, "the first relay to relay more"
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        receive_many(seeded, 5)
        wait_until(
            lambda: stream_count(settings) == seeded.position(), 15, "the second relay to take over"
        )
        assert "taken over" in (tmp_path / "second.log").read_text()
    finally:
        for process in (first, second):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
    assert second.returncode == 0
    assert_exactly_once_in_order(seeded, stream_messages(settings))
    assert relay_position(seeded, settings) == seeded.position()


def test_sigterm_stops_the_relay_cleanly_with_its_position_stored(
    settings: Settings, seeded: Engine, tmp_path: Path
) -> None:
    relay = start_relay_process(settings, tmp_path / "relay.log")
    wait_until(lambda: stream_count(settings) == seeded.position(), 15, "the relay to relay")
    relay.send_signal(signal.SIGTERM)
    assert relay.wait(timeout=15) == 0
    assert relay_position(seeded, settings) == seeded.position()
    assert "relay stopped at position" in (tmp_path / "relay.log").read_text()


def start_nats(port: int, store: str) -> subprocess.Popen[bytes]:
    """A nats-server we can SIGKILL (throwaway_nats only stops politely)."""
    binary = services.nats_server_binary()
    assert binary, "no nats-server binary"
    process = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", store],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: services.port_open("127.0.0.1", port), 10, "nats-server to start")
    return process


def test_nothing_is_lost_when_nats_server_restarts_during_relaying(
    store_url: str, run_id: str, tmp_path: Path
) -> None:
    port = services.free_port()
    store = str(tmp_path / "nats-store")
    url = f"nats://127.0.0.1:{port}"
    settings = unique_settings(store_url, url, run_id, relay_ack_timeout=1)
    engine = owner_engine(settings)
    seed_catalogue(engine)
    stop_writing = threading.Event()

    def write() -> None:
        while not stop_writing.is_set():
            receive_many(engine, 5)
            time.sleep(0.01)

    writer = threading.Thread(target=write, daemon=True)
    with relay_thread(settings, engine) as relay:
        with services.throwaway_nats(port, store=store):  # stopped with SIGTERM on leaving
            writer.start()
            wait_until(lambda: stream_count(settings) > 20, 10, "relaying to start")
        time.sleep(1)
        killed = start_nats(port, store)
        try:
            count = stream_count(settings)
            wait_until(lambda: stream_count(settings) > count + 20, 15, "relaying after a restart")
        finally:
            killed.send_signal(signal.SIGKILL)
            killed.wait(timeout=10)
        time.sleep(1)
        with services.throwaway_nats(port, store=store):
            stop_writing.set()
            writer.join(timeout=30)
            wait_until(
                lambda: relay_position(engine, settings) == engine.position(), 20, "catch up"
            )
            stored = stream_messages(settings)
    assert relay.stats.restarts >= 2
    assert_exactly_once_in_order(engine, stored)
    engine.close()


def test_relay_carries_on_after_its_database_connections_are_cut(
    postgres_url: str, nats_server_url: str, run_id: str
) -> None:
    settings = unique_settings(postgres_url, nats_server_url, run_id, relay_ack_timeout=2)
    engine = owner_engine(settings)
    seed_catalogue(engine)
    dbname = postgres_url.rsplit("/", 1)[1]
    try:
        with relay_thread(settings) as relay:
            wait_until(lambda: stream_count(settings) == engine.position(), 10, "the backlog")
            services.admin_execute(
                postgres_url,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                f" WHERE datname = '{dbname}' AND pid <> pg_backend_pid()",
            )  # what a database restart looks like to the relay
            receive_many(engine, 10)
            wait_until(
                lambda: stream_count(settings) == engine.position(), 20, "relaying to carry on"
            )
            wait_until(
                lambda: relay.stats.position == engine.position(), 10, "the position to be stored"
            )
        assert_exactly_once_in_order(engine, stream_messages(settings))
        assert relay_position(engine, settings) == engine.position()
    finally:
        engine.close()
        delete_streams(settings)
