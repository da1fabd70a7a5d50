"""The order board (by status, channel, day; search) and every order's timeline in words."""

# Event classes made by @event("Name") exist only at run time: mypy cannot see them.
# mypy: disable-error-code="attr-defined"

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from orderflow.projections.sql import Table
from orderflow.projections.view import Batch, Event, View, events_of, from_micros, local_day, on
from orderflow.projections.words import describe, event_name

from orderflow.invoice import Invoice
from orderflow.order import Order
from orderflow.returns import Return
from orderflow.shipment import Shipment


@functools.lru_cache(maxsize=4096)  # buyers come back
def phone_digits(phone: str) -> str:
    """A Vietnamese phone number in one form for searching: 0901234567 (from +84 901 234 567)."""
    digits = re.sub(r"\D", "", phone)
    return "0" + digits[2:] if digits.startswith("84") and len(digits) >= 11 else digits


@dataclass(frozen=True)
class OrderRow:
    """An order on the board."""

    id: UUID
    reference: str
    channel: str
    external_id: str
    status: str
    fulfilment: str
    placed_at: datetime
    day: str
    buyer_name: str
    buyer_phone: str
    units: int
    total: Decimal
    paid: Decimal
    payment_method: str
    tracking_number: str


@dataclass(frozen=True)
class BoardCount:
    status: str
    channel: str
    orders: int
    total: Decimal


ORDER_COLUMNS = (
    "order_id, channel, external_id, status, fulfilment, placed_us, day, buyer_name, buyer_phone, "
    "units, total, paid, payment_method, tracking_number"
)


class OrderBoard(View):
    """One row per order, kept from the order's own state after each of its events."""

    name = "orders"
    title = "order board: by status, channel, day; search"
    follows = (Shipment,)
    tables = (
        Table(
            "orders",
            "order_id text, channel text, external_id text, status text, fulfilment text,"
            " placed_us int, "
            "day text, buyer_name text, buyer_phone text, units int, total int, paid int, "
            "payment_method text, tracking_number text, updated_us int",
            key="order_id",
            indexes=(
                "status, placed_us",
                "channel, placed_us",
                "day",
                "external_id",
                "buyer_phone",
            ),
        ),
        Table(
            "tracking_numbers",
            "tracking_number text, order_id text, shipment_id text",
            key="tracking_number",
            indexes=("order_id",),
        ),
    )

    @on(*events_of(Order))
    def order_changed(self, batch: Batch, event: Event) -> None:
        order = batch.state(event)
        batch.later(order.id, lambda: self._put_order(batch, order))

    @staticmethod
    def _put_order(batch: Batch, order: Any) -> None:
        batch.put(
            "orders",
            order_id=order.id,
            channel=order.channel,
            external_id=order.external_id,
            status=order.status,
            fulfilment=order.fulfilment,
            placed_us=order.created_on,
            day=local_day(order.created_on),
            buyer_name=order.buyer.get("name", ""),
            buyer_phone=phone_digits(order.buyer.get("phone", "")),
            units=sum(int(line["quantity"]) for line in order.lines),
            total=order.total,
            paid=order.paid,
            payment_method=order.payment_method,
            updated_us=order.modified_on,
        )

    @on(Shipment.Booked)
    def shipment_booked(self, batch: Batch, event: Event) -> None:
        shipment = batch.state(event)
        batch.put(
            "tracking_numbers",
            tracking_number=shipment.tracking_number,
            order_id=shipment.order_id,
            shipment_id=shipment.id,
        )
        batch.put("orders", order_id=shipment.order_id, tracking_number=shipment.tracking_number)

    # queries ------------------------------------------------------------------------------
    def _rows(self, where: str, params: list[Any], limit: int, offset: int = 0) -> list[OrderRow]:
        sql = (
            f"SELECT {ORDER_COLUMNS} FROM {{orders}}{where}"
            " ORDER BY placed_us DESC, order_id LIMIT ? OFFSET ?"
        )
        return [
            OrderRow(
                UUID(r[0]),
                f"{r[1]}/{r[2]}",
                r[1],
                r[2],
                r[3],
                r[4],
                from_micros(r[5]),
                r[6],
                r[7],
                r[8],
                int(r[9]),
                Decimal(r[10]),
                Decimal(r[11]),
                r[12],
                r[13],
            )
            for r in self.query(sql, [*params, limit, offset])
        ]

    def board(
        self,
        status: str | None = None,
        channel: str | None = None,
        day: str | None = None,
        fulfilment: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[OrderRow]:
        """Orders, newest first, perhaps of one status, channel, fulfilment or day (YYYY-MM-DD)."""
        filters = {"status": status, "channel": channel, "day": day, "fulfilment": fulfilment}
        chosen = {k: v.lower() if k != "day" else v for k, v in filters.items() if v}
        where = " WHERE " + " AND ".join(f"{k} = ?" for k in chosen) if chosen else ""
        return self._rows(where, list(chosen.values()), limit, offset)

    def counts(self, day: str | None = None) -> list[BoardCount]:
        """How many orders (and how much money) per status and channel."""
        where = " WHERE day = ?" if day else ""
        sql = (
            f"SELECT status, channel, COUNT(*), SUM(total) FROM {{orders}}{where}"
            " GROUP BY status, channel ORDER BY status, channel"
        )
        return [
            BoardCount(s, c, int(n), Decimal(t or 0))
            for s, c, n, t in self.query(sql, [day] if day else [])
        ]

    def search(self, text: str, limit: int = 50) -> list[OrderRow]:
        """Orders whose external id, buyer phone or tracking number is `text`."""
        term = text.strip()
        found = self._rows(" WHERE external_id = ?", [term], limit)
        if phone := phone_digits(term):
            found += self._rows(" WHERE buyer_phone = ?", [phone], limit)
        found += self._rows(
            " WHERE order_id IN (SELECT order_id FROM {tracking_numbers} WHERE tracking_number ="
            " ?)",
            [term.upper()],
            limit,
        )
        unique = {row.id: row for row in found}
        return list(unique.values())[:limit]

    def order(self, order_id: UUID) -> OrderRow | None:
        """One order's row."""
        rows = self._rows(" WHERE order_id = ?", [str(order_id)], 1)
        return rows[0] if rows else None


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to an order."""

    position: int
    at: datetime
    event: str
    text: str


class OrderTimeline(View):
    """Every event of an order, its shipments, invoices and returns, in words."""

    name = "timeline"
    title = "every event of an order in human words"
    tables = (
        Table(
            "entries",
            "order_id text, pos int, at_us int, event text, text text",
            key="order_id, pos",
        ),
    )

    @on(*events_of(Order))
    def order_event(self, batch: Batch, event: Event) -> None:
        self._entry(batch, event, event.originator_id)

    @on(*events_of(Shipment), *events_of(Invoice), *events_of(Return))
    def related_event(self, batch: Batch, event: Event) -> None:
        self._entry(batch, event, batch.state(event).order_id)

    @staticmethod
    def _entry(batch: Batch, event: Event, order_id: Any) -> None:
        batch.append(
            "entries",
            order_id=order_id,
            pos=batch.position,
            at_us=event.timestamp,
            event=event_name(event),
            text=describe(event),
        )

    def of(self, order_id: UUID) -> list[TimelineEntry]:
        """The order's events, oldest first."""
        rows = self.query(
            "SELECT pos, at_us, event, text FROM {entries} WHERE order_id = ? ORDER BY pos",
            [str(order_id)],
        )
        return [TimelineEntry(int(p), from_micros(a), e, t) for p, a, e, t in rows]
