"""Stock per warehouse per SKU: on hand, reserved, available, incoming, and low-stock alerts."""

# Event classes made by @event("Name") exist only at run time: mypy cannot see them.
# mypy: disable-error-code="attr-defined"

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orderflow.projections.sql import Table
from orderflow.projections.view import Batch, Event, View, events_of, on

from orderflow.purchase_order import OPEN, PurchaseOrder
from orderflow.reorder_point import ReorderPoint
from orderflow.stock_item import StockItem


@dataclass(frozen=True)
class StockRow:
    """One SKU in one warehouse. Incoming: still expected on confirmed purchase orders."""

    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    available: int
    incoming: int
    reorder_level: int
    reorder_quantity: int

    @property
    def is_low(self) -> bool:
        """Available units are at or below the reorder level (a level of 0 never alerts)."""
        return self.reorder_level > 0 and self.available <= self.reorder_level

    @property
    def covered_by_incoming(self) -> bool:
        """What is on its way lifts the SKU above its reorder level again."""
        return self.available + self.incoming > self.reorder_level


class StockView(View):
    """Stock levels from StockItem events, incoming units from purchase orders, reorder points."""

    name = "stock"
    title = "stock per warehouse per SKU, low-stock alerts"
    tables = (
        Table(
            "levels",
            "sku text, warehouse text, on_hand int, reserved int, reorder_level int, "
            "reorder_quantity int, updated_us int",
            key="sku, warehouse",
            indexes=("warehouse",),
        ),
        Table(
            "incoming",
            "po_id text, sku text, warehouse text, quantity int",
            key="po_id, sku",
            indexes=("sku, warehouse",),
        ),
    )

    @on(*events_of(StockItem))
    def stock_moved(self, batch: Batch, event: Event) -> None:
        item = batch.state(event)
        batch.later(
            item.id,
            lambda: batch.put(
                "levels",
                sku=item.sku,
                warehouse=item.warehouse,
                on_hand=item.on_hand,
                reserved=item.reserved,
                updated_us=item.modified_on,
            ),
        )

    @on(ReorderPoint.Set, ReorderPoint.Changed)
    def reorder_point_set(self, batch: Batch, event: Event) -> None:
        point = batch.state(event)
        batch.put(
            "levels",
            sku=point.sku,
            warehouse=point.warehouse,
            reorder_level=point.level,
            reorder_quantity=point.reorder_quantity,
        )

    @on(
        PurchaseOrder.Drafted,
        PurchaseOrder.LinesChanged,
        PurchaseOrder.Confirmed,
        PurchaseOrder.GoodsReceived,
        PurchaseOrder.RemainderCancelled,
    )
    def purchase_order_changed(self, batch: Batch, event: Event) -> None:
        po = batch.state(event)
        batch.later(po.id, lambda: self._incoming(batch, po))

    @staticmethod
    def _incoming(batch: Batch, po: Any) -> None:
        for line in po.lines:
            expected = (
                max(int(line["quantity"]) - int(line["received"]), 0) if po.status in OPEN else 0
            )
            if expected:
                batch.put(
                    "incoming",
                    po_id=po.id,
                    sku=line["sku"],
                    warehouse=po.warehouse,
                    quantity=expected,
                )
                batch.put("levels", sku=line["sku"], warehouse=po.warehouse)
            else:
                batch.delete("incoming", po_id=po.id, sku=line["sku"])

    # queries ------------------------------------------------------------------------------
    SELECT = (
        "SELECT l.sku, l.warehouse, l.on_hand, l.reserved, COALESCE(i.quantity, 0),"
        " l.reorder_level,"
        " l.reorder_quantity FROM {levels} l LEFT JOIN (SELECT sku, warehouse, SUM(quantity) AS"
        " quantity"
        " FROM {incoming} GROUP BY sku, warehouse) i ON i.sku = l.sku AND i.warehouse = l.warehouse"
    )

    def _rows(self, where: list[str], params: list[Any]) -> list[StockRow]:
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.query(f"{self.SELECT}{clause} ORDER BY l.sku, l.warehouse", params)
        return [
            StockRow(sku, wh, on_hand, reserved, on_hand - reserved, incoming, level, qty)
            for sku, wh, on_hand, reserved, incoming, level, qty in rows
        ]

    def levels(self, sku: str | None = None, warehouse: str | None = None) -> list[StockRow]:
        """Stock rows, optionally of one SKU and / or one warehouse, by SKU then warehouse."""
        where, params = [], []
        if sku:
            where.append("l.sku = ?")
            params.append(sku.upper())
        if warehouse:
            where.append("l.warehouse = ?")
            params.append(warehouse.upper())
        return self._rows(where, params)

    def low_stock(self, warehouse: str | None = None) -> list[StockRow]:
        """SKUs whose available units are at or below their reorder level."""
        where = ["l.reorder_level > 0", "l.on_hand - l.reserved <= l.reorder_level"]
        params = []
        if warehouse:
            where.append("l.warehouse = ?")
            params.append(warehouse.upper())
        return self._rows(where, params)
