"""Engine commands and queries for stock: receipts, reservations, shipments, counts, transfers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.domain import Aggregate

from orderflow import values
from orderflow.catalogue import CatalogueCommands
from orderflow.engine_base import retry_on_conflict
from orderflow.errors import InvalidInputError
from orderflow.stock_item import ReceiptReason, StockItem


@dataclass(frozen=True)
class StockLevel:
    """Units of a SKU in a warehouse: on hand, reserved for orders, available (the difference)."""

    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    available: int

    @classmethod
    def of(cls, item: StockItem) -> StockLevel:
        return cls(item.sku, item.warehouse, item.on_hand, item.reserved, item.available)


@dataclass(frozen=True)
class CountLine:
    """One SKU of a stock count: what the system expected, what was counted, the adjustment."""

    sku: str
    expected: int
    counted: int
    difference: int


@dataclass(frozen=True)
class CountReport:
    """The outcome of a stock count: one line per SKU, with the adjustment recorded."""

    warehouse: str
    reference: str
    counted_by: str
    lines: list[CountLine]

    @property
    def total_difference(self) -> int:
        """The net adjustment over every line."""
        return sum(line.difference for line in self.lines)


class InventoryCommands(CatalogueCommands):
    """Stock per SKU per warehouse."""

    def _stock_item(self, sku: str, warehouse: str, *, for_receipt: bool = False) -> StockItem:
        """The stock item of a known SKU in a known warehouse (opened when first needed)."""
        sku = self._require_sku(sku)
        wh = self._active_warehouse(warehouse) if for_receipt else self._warehouse(warehouse)
        item = self._load_or_none(StockItem, StockItem.create_id(sku, wh.code))
        return item or StockItem(sku=sku, warehouse=wh.code)

    @retry_on_conflict
    def receive_stock(
        self,
        sku: str,
        warehouse: str,
        quantity: int,
        reason: ReceiptReason | str = ReceiptReason.PURCHASE_RECEIPT,
        reference: str = "",
    ) -> int:
        """Record goods received into a warehouse; returns the log position."""
        qty = values.quantity(quantity)
        why = ReceiptReason.parse(reason)
        item = self._stock_item(sku, warehouse, for_receipt=True)
        item.receive(qty, why, values.text(reference, "reference", required=False))
        return self._save_stock(item, arrived=[item], reason=f"received ({why.value})")

    @retry_on_conflict
    def reserve_stock(self, sku: str, warehouse: str, order_id: UUID | str, quantity: int) -> int:
        """Hold units of a SKU in a warehouse for an order."""
        qty = values.quantity(quantity)
        item = self._stock_item(sku, warehouse, for_receipt=True)
        item.reserve(_order_ref(order_id), qty)
        return self._save(item)

    @retry_on_conflict
    def release_stock(
        self,
        sku: str,
        warehouse: str,
        order_id: UUID | str,
        quantity: int | None = None,
        reason: str = "",
    ) -> int:
        """Give back units held for an order (all of them when no quantity is given)."""
        qty = None if quantity is None else values.quantity(quantity)
        item = self._stock_item(sku, warehouse)
        if not item.release(_order_ref(order_id), qty, reason):
            return self.position()  # nothing was held: nothing to record
        return self._save(item)

    @retry_on_conflict
    def ship_stock(
        self, sku: str, warehouse: str, order_id: UUID | str, quantity: int, reference: str = ""
    ) -> int:
        """Reserved units leave the warehouse for an order."""
        qty = values.quantity(quantity)
        item = self._stock_item(sku, warehouse)
        item.ship(_order_ref(order_id), qty, reference)
        return self._save(item)

    @retry_on_conflict
    def restock_return(self, sku: str, warehouse: str, quantity: int, reference: str = "") -> int:
        """Resellable returned units go back into stock."""
        qty = values.quantity(quantity)
        item = self._stock_item(sku, warehouse)
        item.restock(qty, reference)
        return self._save_stock(item, arrived=[item], reason="restocked return")

    @retry_on_conflict
    def write_off_stock(
        self, sku: str, warehouse: str, quantity: int, reason: str, reference: str = ""
    ) -> int:
        """Remove damaged or lost units from the available stock."""
        qty = values.quantity(quantity)
        why = values.text(reason, "reason")
        item = self._stock_item(sku, warehouse)
        item.write_off(qty, why, reference)
        return self._save(item)

    @retry_on_conflict
    def transfer_stock(
        self, sku: str, from_warehouse: str, to_warehouse: str, quantity: int, reference: str = ""
    ) -> int:
        """Move available units between two warehouses in one transaction."""
        qty = values.quantity(quantity)
        source = self._stock_item(sku, from_warehouse)
        target = self._stock_item(sku, to_warehouse, for_receipt=True)
        if source.id == target.id:
            raise InvalidInputError("to_warehouse", "must differ from the source warehouse")
        source.transfer_out(qty, target.warehouse, reference)
        target.transfer_in(qty, source.warehouse, reference)
        return self._save_stock(
            source, target, arrived=[target], reason=f"transfer from {source.warehouse}"
        )

    @retry_on_conflict
    def record_stock_count(
        self, warehouse: str, counts: Mapping[str, int], counted_by: str = "", reference: str = ""
    ) -> CountReport:
        """Record a periodic count of a warehouse; each difference is saved as an adjustment."""
        if not counts:
            raise InvalidInputError("counts", "count at least one SKU")
        wh = self._warehouse(warehouse)
        who = values.text(counted_by, "counted_by", required=False)
        ref = values.text(reference, "reference", required=False)
        items: dict[UUID, StockItem] = {}
        lines = []
        for sku, counted in counts.items():
            number = values.count(counted, f"counts.{sku}")
            item = self._stock_item(sku, wh.code)
            if item.id in items:
                raise InvalidInputError("counts", f"{item.sku} is counted twice")
            items[item.id] = item
            expected = item.on_hand
            difference = item.count(number, who, ref)
            lines.append(CountLine(item.sku, expected, number, difference))
        found = [
            item for item, line in zip(items.values(), lines, strict=True) if line.difference > 0
        ]
        self._save_stock(*items.values(), arrived=found, reason="found in a stock count")
        return CountReport(wh.code, ref, who, lines)

    def _save_stock(
        self, *aggregates: Aggregate, arrived: Sequence[StockItem] = (), reason: str = ""
    ) -> int:
        """Save a command's aggregates; `arrived` are stock items that gained available units
        (`reason`: how). Here only saved: OrderCommands first gives those units to the orders
        waiting for them, in the same transaction. Returns the log position."""
        return self._save(*aggregates)

    def stock_level(self, sku: str, warehouse: str) -> StockLevel:
        """On hand, reserved and available units of a SKU in a warehouse."""
        return StockLevel.of(self._stock_item(sku, warehouse))

    def stock_of_sku(self, sku: str) -> list[StockLevel]:
        """A SKU's stock in every warehouse."""
        code = self._require_sku(sku)
        levels = []
        for warehouse in self.warehouses():
            item = self._load_or_none(StockItem, StockItem.create_id(code, warehouse.code))
            levels.append(
                StockLevel.of(item) if item else StockLevel(code, warehouse.code, 0, 0, 0)
            )
        return levels

    def stock_in_warehouse(self, warehouse: str) -> list[StockLevel]:
        """Every SKU's stock in one warehouse, in the order first stocked there.

        Reads the log's StockItem.Opened events and loads only this warehouse's items, so the
        cost follows the number of stock items, not the size of the catalogue.
        """
        code = self._warehouse(warehouse).code
        opened = self._events_of(StockItem.Opened)
        ids = [e.originator_id for e in opened if getattr(e, "warehouse", None) == code]
        return [StockLevel.of(self._load(StockItem, i, "warehouse", code)) for i in ids]


def _order_ref(order_id: UUID | str) -> str:
    return values.text(str(order_id), "order_id", max_length=100)
