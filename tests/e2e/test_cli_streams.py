"""`orderflow relay` and `orderflow subscribe` as an operator runs them: with NATS, without it,
stopped with SIGTERM, and every bad input as one `field: reason` line with exit status 1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from orderflow.adapters.settings import Settings

from orderflow.engine import Engine
from tests.integration.ordering_setup import place, seller
from tests.integration.streams_helpers import (
    delete_streams,
    owner_engine,
    stream_count,
    unique_settings,
    wait_until,
)

ORDERFLOW = Path(sys.executable).parent / "orderflow"
ROOT = Path(__file__).resolve().parents[2]


def env_of(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    env.update(
        ORDERFLOW_DATABASE_URL=settings.database_url,
        ORDERFLOW_NATS_STREAM=settings.nats_stream,
        ORDERFLOW_SUBJECT_PREFIX=settings.subject_prefix,
        ORDERFLOW_CREATE_TABLES="false",
    )
    if settings.nats_url:
        env["ORDERFLOW_NATS_URL"] = settings.nats_url
    return env


def run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ORDERFLOW), *args],
        env=env_of(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def start(settings: Settings, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(ORDERFLOW), *args],
        env=env_of(settings),
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def stop(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    return process.returncode, out, err


@pytest.fixture
def settings(sqlite_url: str, nats_server_url: str, run_id: str) -> Iterator[Settings]:
    s = unique_settings(sqlite_url, nats_server_url, run_id)
    yield s
    delete_streams(s)


@pytest.fixture
def shop(settings: Settings) -> Iterator[Engine]:
    engine = owner_engine(settings)
    seller(engine)
    yield engine
    engine.close()


def test_relay_and_subscriber_book_a_requested_shipment_and_stop_cleanly_on_sigterm(
    settings: Settings, shop: Engine
) -> None:
    shipment = shop.request_shipment(place(shop, "1", TEE=1), "ghn", weight_kg="0.5")
    relay = start(settings, "relay")
    subscriber = start(settings, "subscribe", "book-shipments")
    try:
        wait_until(lambda: bool(shop.shipment(shipment).tracking_number), 20, "the booking")
        wait_until(lambda: stream_count(settings) == shop.position(), 10, "the booking relayed")
    finally:
        relay_code, relay_out, relay_err = stop(relay)
        sub_code, sub_out, sub_err = stop(subscriber)
    assert relay_code == 0, relay_err
    assert f"relay stopped at position {shop.position()}" in relay_out
    assert sub_code == 0, sub_err
    assert "subscriber book-shipments stopped: 1 handled, 0 dead-lettered" in sub_out
    assert "FAKE carriers" in sub_err
    assert "Traceback" not in relay_err + sub_err


def test_without_nats_subscribe_runs_the_handler_in_process(
    settings: Settings, shop: Engine
) -> None:
    local = settings.model_copy(update={"nats_url": None})
    shipment = shop.request_shipment(place(shop, "1", TEE=1), "viettelpost", weight_kg=1)
    subscriber = start(local, "subscribe", "book-shipments")
    try:
        wait_until(lambda: bool(shop.shipment(shipment).tracking_number), 20, "the booking")
    finally:
        code, out, err = stop(subscriber)
    assert code == 0, err
    assert "handling events in-process" in err
    assert "1 handled" in out


def test_subscribe_without_a_name_lists_the_subscribers(settings: Settings) -> None:
    result = run(settings, "subscribe")
    assert result.returncode == 0, result.stderr
    assert "book-shipments" in result.stdout


def test_an_unknown_subscriber_is_refused_in_one_line(settings: Settings) -> None:
    result = run(settings, "subscribe", "nope")
    assert result.returncode == 1
    assert "name: no subscriber 'nope' (known: book-shipments" in result.stderr
    assert "Traceback" not in result.stderr


def test_relay_without_a_nats_url_is_refused_in_one_line(settings: Settings) -> None:
    result = run(settings.model_copy(update={"nats_url": None}), "relay")
    assert result.returncode == 1
    assert "nats_url: not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_module_that_cannot_be_imported_is_refused_in_one_line(settings: Settings) -> None:
    result = run(settings, "subscribe", "--import", "no.such.module")
    assert result.returncode == 1
    assert "import: cannot import 'no.such.module'" in result.stderr
