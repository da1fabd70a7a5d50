"""Engine commands and queries for purchasing: shortages, proposals, purchase orders, receipts.

A goods receipt adds the units to stock and, in the same transaction, reserves them for the
orders waiting for that SKU, oldest first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

from orderflow import values
from orderflow.backlog import Backlog
from orderflow.engine_base import retry_on_conflict
from orderflow.errors import InvalidInputError, NotFoundError
from orderflow.order_views import Proposal, PurchaseOrderInfo, ReceiptResult, Shortage
from orderflow.ordering import OrderCommands, _Work
from orderflow.purchase_order import PurchaseOrder
from orderflow.sourcing import Sourcing
from orderflow.stock_item import ReceiptReason, StockItem


class PurchasingCommands(OrderCommands):
    """Buying what orders wait for, and receiving it."""

    # which supplier supplies a SKU ------------------------------------------------------------
    @retry_on_conflict
    def set_sourcing(
        self, sku: str, supplier: str, unit_cost: object = None, warehouse: str | None = None
    ) -> None:
        """Buy a SKU from this supplier (at this unit cost, into this warehouse) in proposals."""
        code = self._require_sku(sku)
        supplier_code = self._supplier(supplier).code
        cost = None if unit_cost is None else values.money(unit_cost, "unit_cost")
        into = self._active_warehouse(warehouse).code if warehouse else ""
        sourcing = self._load_or_none(Sourcing, Sourcing.create_id(code))
        if sourcing is None:
            sourcing = Sourcing(sku=code, supplier=supplier_code, unit_cost=cost, warehouse=into)
        else:
            sourcing.choose(supplier_code, cost, into)
        self._save(sourcing)

    # shortages and proposals ----------------------------------------------------------------
    def shortages(self) -> list[Shortage]:
        """SKUs that orders wait for: units waiting, on order, available, still to buy."""
        backlogs = [
            b
            for b in self._load_all(self._ids_of(Backlog.Opened)).values()
            if isinstance(b, Backlog) and b.waiting
        ]
        if not backlogs:
            return []
        open_orders = self._open_purchase_orders()
        warehouses = self._active_codes()
        return [
            Shortage.of(
                b,
                on_order=sum(po.remaining(b.sku) for po in open_orders),
                available=sum(self._stock(b.sku, wh).available for wh in warehouses),
            )
            for b in backlogs
        ]

    @retry_on_conflict
    def propose_purchase_orders(
        self, warehouse: str | None = None, supplier: str | None = None
    ) -> Proposal:
        """Draft purchase orders, one per supplier and warehouse, for what waiting orders lack.

        The supplier of a SKU is its sourcing (`set_sourcing`), else `supplier`; SKUs with
        neither are listed as unassigned. Units already on order are not proposed again.
        """
        default_supplier = self._supplier(supplier).code if supplier else ""
        default_warehouse = self._default_warehouse(warehouse)
        groups: dict[tuple[str, str], list[dict[str, object]]] = {}
        unassigned: dict[str, int] = {}
        for shortage in self.shortages():
            if shortage.to_buy <= 0:
                continue
            sourcing = self._load_or_none(Sourcing, Sourcing.create_id(shortage.sku))
            chosen = sourcing.supplier if sourcing else default_supplier
            if not chosen:
                unassigned[shortage.sku] = shortage.to_buy
                continue
            into = (sourcing.warehouse if sourcing else "") or default_warehouse
            cost = sourcing.unit_cost if sourcing and sourcing.unit_cost is not None else None
            line = {"sku": shortage.sku, "quantity": shortage.to_buy, "unit_cost": cost}
            groups.setdefault((chosen, into), []).append(line)
        drafts = [
            PurchaseOrder.draft(s, w, self._costed(lines), "proposed for backordered orders")
            for (s, w), lines in groups.items()
        ]
        if drafts:
            self._save(*drafts)
        return Proposal([PurchaseOrderInfo.of(po) for po in drafts], unassigned)

    def _costed(self, lines: list[dict[str, object]]) -> list[dict[str, object]]:
        """Lines whose unit cost defaults to the variant's cost price."""
        for line in lines:
            if line["unit_cost"] is None:
                line["unit_cost"] = self.variant(str(line["sku"])).cost_price
        return lines

    def _default_warehouse(self, warehouse: str | None) -> str:
        if warehouse:
            return self._active_warehouse(warehouse).code
        active = [self.warehouse(code) for code in self._active_codes()]
        main = [w for w in active if w.kind == "main"] or active
        if not main:
            raise InvalidInputError("warehouse", "no active warehouse to receive into")
        return main[0].code

    # purchase orders ------------------------------------------------------------------------
    @retry_on_conflict
    def draft_purchase_order(
        self, supplier: str, warehouse: str, lines: Sequence[Mapping[str, object]], note: str = ""
    ) -> UUID:
        """Draft a purchase order: lines of SKU, quantity and unit cost (default: cost price)."""
        supplier_code = self._supplier(supplier).code
        into = self._active_warehouse(warehouse).code
        checked = [self._with_cost(line) for line in lines]
        po = PurchaseOrder.draft(supplier_code, into, checked, note)
        self._save(po)
        return po.id

    def _with_cost(self, line: Mapping[str, object]) -> dict[str, object]:
        sku = self._require_sku(str(line.get("sku", "")))
        cost = line.get("unit_cost")
        return {
            **line,
            "sku": sku,
            "unit_cost": self.variant(sku).cost_price if cost is None else cost,
        }

    @retry_on_conflict
    def change_purchase_order_lines(
        self, purchase_order: UUID | str, lines: Sequence[Mapping[str, object]]
    ) -> None:
        """Replace the lines of a draft purchase order."""
        po = self._purchase_order(purchase_order)
        po.change_lines([self._with_cost(line) for line in lines])
        self._save(po)

    @retry_on_conflict
    def confirm_purchase_order(self, purchase_order: UUID | str) -> None:
        """Confirm a draft: it is sent to the supplier and goods can be received against it."""
        po = self._purchase_order(purchase_order)
        po.confirm()
        self._save(po)

    @retry_on_conflict
    def receive_purchase_order(
        self,
        purchase_order: UUID | str,
        receipt_number: str,
        quantities: Mapping[str, int] | None = None,
        allow_over_receipt: bool = False,
        at: datetime | str | None = None,
    ) -> ReceiptResult:
        """Record a goods receipt (all that is still expected when no quantities are given).

        The units go into stock and are reserved for waiting orders, oldest first, in the same
        transaction. The same receipt number again changes nothing.
        """
        po = self._purchase_order(purchase_order)
        counted = dict(quantities) if quantities else _everything_expected(po)
        recorded = po.receive(receipt_number, counted, allow_over_receipt, at)
        number = (
            po.receipts[-1]["number"] if recorded else values.code(receipt_number, "receipt_number")
        )
        if not recorded:
            return ReceiptResult(PurchaseOrderInfo.of(po), number, {}, [], False)
        self._active_warehouse(po.warehouse, "warehouse")
        work = _Work()
        fills = []
        for sku, qty in po.receipts[-1]["quantities"].items():
            item = self._item(sku, po.warehouse, work)
            item.receive(qty, ReceiptReason.PURCHASE_RECEIPT, f"{number} ({po.number})")
            fills += self._fill_waiting(sku, [item], work, f"goods receipt {number}")
        self._save(po, *work.aggregates())
        return ReceiptResult(
            PurchaseOrderInfo.of(po), number, dict(po.receipts[-1]["quantities"]), fills, True
        )

    @retry_on_conflict
    def cancel_purchase_order(self, purchase_order: UUID | str, reason: str) -> None:
        """Cancel what was not received yet (the whole purchase order when nothing was)."""
        po = self._purchase_order(purchase_order)
        po.cancel_remainder(reason)
        self._save(po)

    def purchase_order(self, purchase_order: UUID | str) -> PurchaseOrderInfo:
        """One purchase order by id or number (PO-XXXXXXXX)."""
        return PurchaseOrderInfo.of(self._purchase_order(purchase_order))

    def purchase_orders(self, status: str | None = None) -> list[PurchaseOrderInfo]:
        """Every purchase order, oldest first (optionally only those with this status)."""
        found = [PurchaseOrderInfo.of(po) for po in self._all_purchase_orders()]
        return [po for po in found if status is None or po.status == status]

    # loading --------------------------------------------------------------------------------
    def _all_purchase_orders(self) -> list[PurchaseOrder]:
        loaded = self._load_all(self._ids_of(PurchaseOrder.Drafted))
        return [po for po in loaded.values() if isinstance(po, PurchaseOrder)]

    def _open_purchase_orders(self) -> list[PurchaseOrder]:
        open_statuses = ("draft", "confirmed", "partly_received")
        return [po for po in self._all_purchase_orders() if po.status in open_statuses]

    def _purchase_order(self, ref: UUID | str) -> PurchaseOrder:
        text = values.text(str(ref), "purchase_order", max_length=100)
        try:
            return self._load(PurchaseOrder, UUID(text), "purchase_order", text, "purchase order")
        except ValueError:
            pass
        wanted = text.upper()
        for po in self._all_purchase_orders():
            if po.number == wanted:
                return po
        raise NotFoundError("purchase_order", text, "purchase order")

    def _stock(self, sku: str, warehouse: str) -> StockItem:
        item = self._load_or_none(StockItem, StockItem.create_id(sku, warehouse))
        return item or StockItem(sku=sku, warehouse=warehouse)


def _everything_expected(po: PurchaseOrder) -> dict[str, int]:
    expected = {line["sku"]: po.remaining(line["sku"]) for line in po.lines}
    return {sku: qty for sku, qty in expected.items() if qty > 0}
