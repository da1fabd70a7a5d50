"""The book-shipments subscriber: a requested shipment gets its carrier booking recorded, once."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from orderflow.adapters.nats import InProcessRunner, NatsSubscriberRunner, find
from orderflow.adapters.nats.builtin import StableFakeCarrier, book_shipments
from orderflow.adapters.settings import Settings

from orderflow.engine import Engine
from tests.integration.ordering_setup import place, seller
from tests.integration.streams_helpers import (
    delete_streams,
    owner_engine,
    relay_thread,
    running,
    unique_settings,
    wait_until,
)


@pytest.fixture
def settings(store_url: str, nats_server_url: str, run_id: str) -> Iterator[Settings]:
    s = unique_settings(store_url, nats_server_url, run_id, subscriber_backoff=[0.05])
    yield s
    delete_streams(s)


@pytest.fixture
def shop(settings: Settings) -> Iterator[Engine]:
    engine = owner_engine(settings)
    seller(engine)
    yield engine
    engine.close()


def requested(engine: Engine, external_id: str, carrier: str) -> UUID:
    order_id = place(engine, external_id, TEE=1)
    return engine.request_shipment(order_id, carrier, weight_kg="0.5")


def booked(engine: Engine, *shipment_ids: UUID) -> bool:
    return all(engine.shipment(s).tracking_number for s in shipment_ids)


def test_a_requested_shipment_is_booked_with_its_carrier_through_nats(
    settings: Settings, shop: Engine
) -> None:
    ghn = requested(shop, "1", "ghn")
    runner = NatsSubscriberRunner(settings, find("book-shipments"))
    with relay_thread(settings), running(runner.run):
        vtp = requested(shop, "2", "viettelpost")
        wait_until(lambda: booked(shop, ghn, vtp), 15, "both shipments booked")
    first, second = shop.shipment(ghn), shop.shipment(vtp)
    assert first.status == "booked" and first.tracking_number.startswith("GHNFAKE")
    assert second.tracking_number.startswith("VTPFAKE") and second.fee > 0
    assert shop.find_shipment("ghn", first.tracking_number) == ghn
    assert runner.handled == 2 and runner.dead == 0


def test_without_nats_the_same_subscriber_books_in_process_and_calls_the_carrier_once(
    settings: Settings, shop: Engine
) -> None:
    carriers = {"ghn": StableFakeCarrier("ghn", prefix="GHNFAKE")}
    subscriber = book_shipments(lambda: carriers)
    local = settings.model_copy(update={"nats_url": None})
    ids = [requested(shop, str(n), "ghn") for n in range(3)]
    with running(InProcessRunner(local, subscriber).run):
        wait_until(lambda: booked(shop, *ids), 10, "three shipments booked")
    with running(InProcessRunner(local, subscriber).run):  # a restart handles nothing again
        more = requested(shop, "9", "ghn")
        wait_until(lambda: booked(shop, more), 10, "a shipment requested later booked")
    booked_ids = [call.argument.shipment_id for call in carriers["ghn"].calls]
    assert sorted(booked_ids) == sorted(str(s) for s in [*ids, more])


def test_a_cancelled_shipment_is_not_booked(settings: Settings, shop: Engine) -> None:
    carriers = {"ghn": StableFakeCarrier("ghn", prefix="GHNFAKE")}
    local = settings.model_copy(update={"nats_url": None})
    cancelled = requested(shop, "1", "ghn")
    shop.cancel_shipment(cancelled, "buyer changed the address")
    kept = requested(shop, "1-again", "ghn")
    with running(InProcessRunner(local, book_shipments(lambda: carriers)).run):
        wait_until(lambda: booked(shop, kept), 10, "the other shipment booked")
    assert shop.shipment(cancelled).tracking_number == ""
    assert [c.argument.shipment_id for c in carriers["ghn"].calls] == [str(kept)]
