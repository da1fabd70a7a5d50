"""The purchase-order backlog: what is still expected from suppliers, line by line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from orderflow.projections.sql import Table
from orderflow.projections.view import Batch, Event, View, events_of, from_micros, on

from orderflow.purchase_order import OPEN, PurchaseOrder

WAITING = ("draft", *OPEN)


@dataclass(frozen=True)
class BacklogLine:
    """A line of a purchase order that is not fully received yet."""

    po_id: UUID
    number: str
    supplier: str
    warehouse: str
    status: str
    sku: str
    ordered: int
    received: int
    expected: int
    unit_cost: Decimal
    drafted_at: datetime


@dataclass(frozen=True)
class PurchaseOrderRow:
    id: UUID
    number: str
    supplier: str
    warehouse: str
    status: str
    ordered: int
    received: int
    total_cost: Decimal
    drafted_at: datetime


class PurchasingView(View):
    """Purchase orders and their lines, from each purchase order's state after its events."""

    name = "purchasing"
    title = "purchase-order backlog: open lines, expected quantities"
    tables = (
        Table(
            "orders",
            "po_id text, number text, supplier text, warehouse text, status text, ordered int,"
            " received int, "
            "total_cost int, drafted_us int",
            key="po_id",
            indexes=("status",),
        ),
        Table(
            "lines",
            "po_id text, sku text, number text, supplier text, warehouse text, status text,"
            " ordered int, "
            "received int, expected int, unit_cost int, drafted_us int",
            key="po_id, sku",
            indexes=("sku", "supplier"),
        ),
    )

    @on(*events_of(PurchaseOrder))
    def purchase_order_changed(self, batch: Batch, event: Event) -> None:
        po = batch.state(event)
        batch.later(po.id, lambda: self._put_purchase_order(batch, po))

    @staticmethod
    def _put_purchase_order(batch: Batch, po: Any) -> None:
        common = {
            "number": po.number,
            "supplier": po.supplier,
            "warehouse": po.warehouse,
            "status": po.status,
            "drafted_us": po.created_on,
        }
        batch.put(
            "orders",
            po_id=po.id,
            ordered=sum(int(li["quantity"]) for li in po.lines),
            received=sum(int(li["received"]) for li in po.lines),
            total_cost=po.total_cost,
            **common,
        )
        batch.delete_where("lines", po_id=po.id)
        for line in po.lines:
            ordered, received = int(line["quantity"]), int(line["received"])
            expected = max(ordered - received, 0) if po.status in WAITING else 0
            batch.put(
                "lines",
                po_id=po.id,
                sku=line["sku"],
                ordered=ordered,
                received=received,
                expected=expected,
                unit_cost=line["unit_cost"],
                **common,
            )

    def backlog(
        self,
        supplier: str | None = None,
        warehouse: str | None = None,
        sku: str | None = None,
        include_drafts: bool = True,
    ) -> list[BacklogLine]:
        """Lines still expected, oldest purchase order first."""
        where, params = ["expected > 0"], []
        for column, value in (("supplier", supplier), ("warehouse", warehouse), ("sku", sku)):
            if value:
                where.append(f"{column} = ?")
                params.append(value.upper())
        if not include_drafts:
            where.append("status <> ?")
            params.append("draft")
        rows = self.query(
            "SELECT po_id, number, supplier, warehouse, status, sku, ordered, received,"
            " expected, unit_cost,"
            f" drafted_us FROM {{lines}} WHERE {' AND '.join(where)} ORDER BY drafted_us, po_id,"
            " sku",
            params,
        )
        return [
            BacklogLine(
                UUID(r[0]),
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                int(r[6]),
                int(r[7]),
                int(r[8]),
                Decimal(r[9]),
                from_micros(r[10]),
            )
            for r in rows
        ]

    def purchase_orders(self, status: str | None = None) -> list[PurchaseOrderRow]:
        """Purchase orders, newest first, optionally of one status."""
        where = " WHERE status = ?" if status else ""
        rows = self.query(
            "SELECT po_id, number, supplier, warehouse, status, ordered, received, total_cost,"
            " drafted_us"
            f" FROM {{orders}}{where} ORDER BY drafted_us DESC, po_id",
            [status] if status else [],
        )
        return [
            PurchaseOrderRow(
                UUID(r[0]),
                r[1],
                r[2],
                r[3],
                r[4],
                int(r[5]),
                int(r[6]),
                Decimal(r[7]),
                from_micros(r[8]),
            )
            for r in rows
        ]
