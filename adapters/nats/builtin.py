"""The subscribers orderflow ships with (imported by `subscribers.registered()`).

`book-shipments`: on Shipment.Requested, ask the shipment's carrier to book the parcel and record
the tracking number, fee, expected delivery and label back through the engine. The carrier call
happens here, outside any engine command, so the subscriber's retries and dead letters cover it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from uuid import NAMESPACE_URL, uuid5

from orderflow.adapters.fakes import FakeCarrier, fake_carriers
from orderflow.adapters.nats.envelope import EventMessage
from orderflow.adapters.nats.subscribers import Handler, Subscriber, register
from orderflow.adapters.settings import Settings

from orderflow.engine import Engine
from orderflow.errors import InvalidStateError
from orderflow.ports import CarrierBooking, CarrierPort, ShipmentRequest
from orderflow.shipment import Shipment

log = logging.getLogger("orderflow.streams")

Carriers = Mapping[str, CarrierPort]


class StableFakeCarrier(FakeCarrier):
    """A FAKE carrier whose tracking number comes from the shipment id, not a counter.

    A real carrier is idempotent per shipment on its own servers; this gives the fake the same
    property across subscriber processes and restarts (the plain fake counts per process).
    """

    def book(self, request: ShipmentRequest) -> CarrierBooking:
        fresh = request.shipment_id not in self.bookings
        booking = super().book(request)
        if fresh:
            number = f"{self.prefix}{uuid5(NAMESPACE_URL, request.shipment_id).hex[:10].upper()}"
            booking = replace(
                booking, tracking_number=number, label=f"fake-label://{self.name}/{number}"
            )
            self.bookings[request.shipment_id] = booking
        return booking


def stable_fake_carriers() -> dict[str, CarrierPort]:
    """FAKE GHN and Viettel Post (real carriers cannot be reached from this environment)."""
    return {
        name: StableFakeCarrier(
            **{k: getattr(fake, k) for k in ("name", "prefix", "base_fee", "days")}
        )
        for name, fake in fake_carriers().items()
    }


def book_shipments(carriers: Callable[[], Carriers] = stable_fake_carriers) -> Subscriber:
    """The booking subscriber, with the carrier clients `carriers()` returns."""

    def build(engine: Engine, settings: Settings) -> Handler:
        clients = carriers()
        if all(isinstance(c, FakeCarrier) for c in clients.values()):
            log.warning("book-shipments: booking with FAKE carriers (%s)", ", ".join(clients))

        def handle(message: EventMessage) -> None:
            book(engine, clients, message)

        return handle

    return Subscriber(
        "book-shipments",
        build,
        (Shipment.Requested,),
        "books each requested shipment with its carrier and records the tracking number",
    )


def book(engine: Engine, carriers: Carriers, message: EventMessage) -> None:
    """Book one requested shipment, unless it is already booked or was cancelled meanwhile."""
    shipment = engine.shipment(message.aggregate_id)
    if shipment.tracking_number or shipment.status == "cancelled":
        return
    carrier = carriers.get(shipment.carrier)
    if carrier is None:
        raise InvalidStateError(
            f"carrier {shipment.carrier}", f"no client for it (have: {', '.join(carriers)})"
        )
    booking = carrier.book(engine.carrier_request(shipment.id))
    engine.record_carrier_booking(
        shipment.id, booking.tracking_number, booking.fee, booking.expected_delivery, booking.label
    )


register(book_shipments())
