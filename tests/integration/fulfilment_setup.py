"""A seller with FAKE carriers, a FAKE e-invoice provider and a fixed clock, for the shipping,
invoicing and returns scenarios (built on the order scenarios' seller)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from orderflow.adapters.fakes import FakeCarrier, FakeEInvoiceProvider, FixedClock, fake_carriers

from orderflow import Engine
from orderflow.shipping import ShipmentInfo
from tests.integration.ordering_setup import place, seller

COMPANY = {
    "name": "Tran Thi Binh",
    "company": "Cong ty TNHH Thuong mai Binh An",
    "tax_code": "0314409058",
    "address": "88 Nguyen Thi Thap, Quan 7, TP. Ho Chi Minh",
    "email": "ketoan@binhan.vn",
}


@dataclass
class World:
    engine: Engine
    carriers: dict[str, FakeCarrier]
    provider: FakeEInvoiceProvider
    clock: FixedClock

    @property
    def ghn(self) -> FakeCarrier:
        return self.carriers["ghn"]


def connected(
    engine: Engine, invoice_threshold: int | None = None, *, provider: bool = True
) -> World:
    """The order scenarios' seller, connected to FAKE carriers and a FAKE e-invoice provider."""
    seller(engine)
    clock = FixedClock()
    world = World(engine, fake_carriers(), FakeEInvoiceProvider(clock=clock), clock)
    engine.connect(
        carriers=world.carriers,
        einvoice=world.provider if provider else None,
        clock=clock,
        invoice_threshold=invoice_threshold,
    )
    return world


def shipped(
    world: World, external_id: str = "1", carrier: str = "ghn", **lines: int
) -> tuple[UUID, ShipmentInfo]:
    """A COD order placed, booked and picked up by the carrier."""
    order_id = place(world.engine, external_id, **(lines or {"TEE": 2}))
    shipment = world.engine.book_shipment(order_id, carrier, weight_kg="0.8")
    world.engine.record_carrier_update(shipment.id, "picked_up", world.clock.advance(hours=2))
    return order_id, shipment


def delivered(world: World, external_id: str = "1", **lines: int) -> tuple[UUID, ShipmentInfo]:
    """A COD order delivered (so its COD is collected: the buyer has paid)."""
    order_id, shipment = shipped(world, external_id, **lines)
    world.engine.record_carrier_update(shipment.id, "delivered", world.clock.advance(days=1))
    return order_id, shipment
