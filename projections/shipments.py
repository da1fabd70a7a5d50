"""Shipments by carrier and status, failed deliveries, and cash on delivery per carrier."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from orderflow.projections.sql import Table
from orderflow.projections.view import Batch, Event, View, events_of, from_micros, on

from orderflow.shipment import Shipment

COLUMNS = (
    "shipment_id, order_id, order_reference, carrier, service, status, tracking_number,"
    " cod_amount, "
    "cod_collected, cod_remitted, fee, failed_attempts, last_failure, decision, requested_us,"
    " updated_us"
)


@dataclass(frozen=True)
class ShipmentRow:
    """A parcel and where it is."""

    id: UUID
    order_id: str
    order_reference: str
    carrier: str
    service: str
    status: str
    tracking_number: str
    cod_amount: Decimal
    cod_collected: Decimal
    cod_remitted: Decimal
    fee: Decimal
    failed_attempts: int
    last_failure: str
    decision: str
    requested_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CodSummary:
    """Cash on delivery per carrier: what the carrier collected and what it paid out so far."""

    carrier: str
    shipments: int
    collected: Decimal
    remitted: Decimal

    @property
    def owed(self) -> Decimal:
        """Collected from buyers but not yet paid out to the seller."""
        return self.collected - self.remitted


@dataclass(frozen=True)
class CarrierStatusCount:
    carrier: str
    status: str
    shipments: int


class ShipmentsView(View):
    """One row per shipment, kept from the shipment's own state after each of its events."""

    name = "shipments"
    title = "shipments by carrier and status, failed deliveries, COD per carrier"
    tables = (
        Table(
            "shipments",
            "shipment_id text, order_id text, order_reference text, carrier text, service text,"
            " status text, "
            "tracking_number text, cod_amount int, cod_collected int, cod_remitted int, fee int, "
            "failed_attempts int, last_failure text, decision text, requested_us int, updated_us"
            " int",
            key="shipment_id",
            indexes=("carrier, status", "status", "order_id"),
        ),
    )

    @on(*events_of(Shipment))
    def shipment_changed(self, batch: Batch, event: Event) -> None:
        shipment = batch.state(event)
        batch.later(shipment.id, lambda: self._put_shipment(batch, shipment))

    @staticmethod
    def _put_shipment(batch: Batch, s: Any) -> None:
        failures = [
            h for h in s.history if h["status"] == "delivery_failed" and h["applied"] == "yes"
        ]
        batch.put(
            "shipments",
            shipment_id=s.id,
            order_id=s.order_id,
            order_reference=s.order_reference,
            carrier=s.carrier,
            service=s.service,
            status=s.status,
            tracking_number=s.tracking_number,
            cod_amount=s.cod_amount,
            cod_collected=s.cod_collected,
            cod_remitted=s.cod_remitted,
            fee=s.fee,
            failed_attempts=len(failures),
            last_failure=failures[-1]["reason"] if failures else "",
            decision=s.decision,
            requested_us=s.created_on,
            updated_us=s.modified_on,
        )

    # queries ------------------------------------------------------------------------------
    def _rows(self, where: str, params: list[object], limit: int) -> list[ShipmentRow]:
        sql = (
            f"SELECT {COLUMNS} FROM {{shipments}}{where}"
            " ORDER BY requested_us DESC, shipment_id LIMIT ?"
        )
        return [
            ShipmentRow(
                UUID(r[0]),
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                Decimal(r[7]),
                Decimal(r[8]),
                Decimal(r[9]),
                Decimal(r[10]),
                int(r[11]),
                r[12],
                r[13],
                from_micros(r[14]),
                from_micros(r[15]),
            )
            for r in self.query(sql, [*params, limit])
        ]

    def shipments(
        self, carrier: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[ShipmentRow]:
        """Shipments, newest first, optionally of one carrier and / or status."""
        chosen = {k: v.lower() for k, v in {"carrier": carrier, "status": status}.items() if v}
        where = " WHERE " + " AND ".join(f"{k} = ?" for k in chosen) if chosen else ""
        return self._rows(where, list(chosen.values()), limit)

    def by_carrier_and_status(self) -> list[CarrierStatusCount]:
        """How many shipments each carrier has in each status."""
        rows = self.query(
            "SELECT carrier, status, COUNT(*) FROM {shipments} GROUP BY carrier, status ORDER BY"
            " carrier, status"
        )
        return [CarrierStatusCount(c, s, int(n)) for c, s, n in rows]

    def failed_deliveries(
        self, include_resolved: bool = False, limit: int = 100
    ) -> list[ShipmentRow]:
        """Shipments whose delivery failed, awaiting a decision (or all that ever failed)."""
        if include_resolved:
            return self._rows(" WHERE failed_attempts > 0", [], limit)
        return self._rows(" WHERE status = ?", ["delivery_failed"], limit)

    def cod_by_carrier(self) -> list[CodSummary]:
        """Per carrier: COD collected from buyers and remitted to the seller."""
        rows = self.query(
            "SELECT carrier, COUNT(*), SUM(cod_collected), SUM(cod_remitted) FROM {shipments}"
            " WHERE cod_amount > 0 GROUP BY carrier ORDER BY carrier"
        )
        return [
            CodSummary(c, int(n), Decimal(col or 0), Decimal(rem or 0)) for c, n, col, rem in rows
        ]
