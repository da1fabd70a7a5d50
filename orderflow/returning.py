"""Engine commands for returns: goods back to stock or written off, refunds, corrected
invoices, exchanges.

`receive_return` is one transaction: the return, every stock movement and the order (and the
refund, when given). The corrected invoice and the exchange order follow as their own commands,
so each can be retried alone (or run by a subscriber on `Return.Received`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from orderflow import values
from orderflow.connections import _uuid
from orderflow.engine_base import retry_on_conflict
from orderflow.errors import InvalidStateError
from orderflow.invoicing import InvoicingCommands
from orderflow.moments import instant
from orderflow.order import Order
from orderflow.ordering import OrderCommands
from orderflow.returns import Return, return_lines
from orderflow.shipment import Shipment
from orderflow.stock_item import ReceiptReason, StockItem

DAMAGED_REASON = "damaged on return"


@dataclass(frozen=True)
class ReturnInfo:
    """A return as plain data."""

    id: UUID
    order_id: str
    order_reference: str
    lines: list[dict[str, Any]]
    reason: str
    received_at: str
    goods_value: Decimal
    refunds: list[dict[str, Any]]
    refunded: Decimal
    invoice_id: str
    exchange_order_id: str
    exchange_credit: Decimal

    @classmethod
    def of(cls, r: Return) -> ReturnInfo:
        return cls(
            r.id,
            r.order_id,
            r.order_reference,
            [dict(x) for x in r.lines],
            r.reason,
            r.received_at,
            r.goods_value,
            [dict(x) for x in r.refunds],
            r.refunded,
            r.invoice_id,
            r.exchange_order_id,
            r.exchange_credit,
        )


class ReturnCommands(InvoicingCommands, OrderCommands):
    """Returns and exchanges of shipped goods."""

    @retry_on_conflict
    def receive_return(
        self,
        order_id: UUID | str,
        lines: Sequence[Mapping[str, object]],
        *,
        reason: str = "",
        refund: object = None,
        reference: str = "",
        at: datetime | str | None = None,
    ) -> UUID:
        """Receive returned goods (lines: sku, quantity, condition resellable | damaged).

        Resellable units go back to the warehouse they were shipped from; damaged units are
        received and written off. `refund`: an amount, or "goods" for the returned goods' value;
        None records no refund now. Never more than was shipped, never more than was paid.
        """
        order = self._order_of(order_id)
        when = instant(at, default=self._now())
        placed = self._placed_lines(order, return_lines(lines))
        ret = Return.receive(str(order.id), order.reference, placed, reason, when)
        everything_back = self._everything_back(order, ret)
        stock = self._move_returned_stock(ret)
        order.link_return(ret.id)
        if everything_back:
            order.mark_returned()
        if refund is not None:
            amount = (
                ret.goods_value
                if refund == "goods"
                else values.money(refund, "refund", allow_zero=False)
            )
            self._refund(ret, order, amount, reference, when)
        self._save_stock(ret, order, *stock, arrived=stock, reason=f"return of {order.reference}")
        return ret.id

    @retry_on_conflict
    def refund_return(
        self,
        return_id: UUID | str,
        amount: object = None,
        reference: str = "",
        at: datetime | str | None = None,
    ) -> None:
        """Record money paid back for a return (default: its goods' value not yet refunded)."""
        ret = self._return(return_id)
        order = self._order_of(ret.order_id)
        value = ret.goods_value - ret.refunded if amount is None else values.money(amount, "amount")
        if value <= 0:
            raise InvalidStateError(ret.subject, "has nothing left to refund")
        self._refund(ret, order, value, reference, instant(at, default=self._now()))
        self._save(ret, order)

    def _refund(
        self, ret: Return, order: Order, amount: Decimal, reference: str, at: datetime
    ) -> None:
        ref = values.text(reference, "reference", max_length=50, required=False)
        tagged = f"{ref} (return {ret.id})" if ref else f"return {ret.id}"
        order.record_refund(amount, tagged, at)  # refuses more than was paid
        ret.record_refund(amount, tagged, at)

    # the invoice ---------------------------------------------------------------------------
    def replace_invoice_after_return(
        self, return_id: UUID | str, *, issue: bool = True
    ) -> UUID | None:
        """Take the returned goods off the order's issued invoice: a replacement invoice of what
        was kept (an adjustment when nothing was kept). None when the order has no invoice."""
        ret = self._return(return_id)
        if ret.invoice_id:
            return UUID(ret.invoice_id)
        if issue:
            self._provider()
        invoice_id = self._correct_invoice(ret.id)
        if invoice_id is not None and issue:
            self.issue_requested_invoice(invoice_id)
        return invoice_id

    @retry_on_conflict
    def _correct_invoice(self, return_id: UUID) -> UUID | None:
        ret = self._return(return_id)
        order = self._order_of(ret.order_id)
        current = self._current_invoice(order)
        if current is None:
            return None
        reason = f"goods returned ({ret.reason or 'return'} {ret.id})"
        kept = self._invoice_items(order)
        if kept and not self._money_adjusted(current):
            buyer = self._latest_buyer(current)
            new = self._replacement(current, order, reason, buyer, kept)
        else:  # amounts were adjusted since: take exactly the returned goods off
            new = self._adjustment(current, order, reason, _returned_goods(ret, order), None)
        ret.record_invoice(str(new.id))
        self._save(new, current, order, ret)
        return new.id

    # exchange ------------------------------------------------------------------------------
    def exchange_return(
        self,
        return_id: UUID | str,
        lines: Sequence[Mapping[str, object]],
        *,
        shipping_fee: object = 0,
        payment_method: str = "cod",
        note: str = "",
    ) -> UUID:
        """Exchange returned goods for others: a new order on the same channel, linked to the
        original (`exchange_of`), paid up to the returned goods' value with what the buyer paid."""
        ret = self._return(return_id)
        if ret.exchange_order_id:
            return UUID(ret.exchange_order_id)
        if ret.refunds:
            raise InvalidStateError(
                ret.subject, f"cannot exchange: {ret.refunded} VND was already refunded"
            )
        order = self._order_of(ret.order_id)
        number = order.return_ids.index(str(ret.id)) + 1
        new_id = self.place_order(
            order.channel,
            f"{order.external_id}-EX{number}",
            order.buyer,
            order.address,
            lines,
            shipping_fee,
            payment_method,
            note or f"exchange for {order.reference}",
            exchange_of=str(order.id),
        )
        self._settle_exchange(ret.id, new_id)
        return new_id

    @retry_on_conflict
    def _settle_exchange(self, return_id: UUID, new_order_id: UUID) -> None:
        ret = self._return(return_id)
        original = self._order_of(ret.order_id)
        new = self._order_of(new_order_id)
        credit = min(ret.goods_value, original.paid - original.refunded, new.total)
        ret.record_exchange(str(new.id), credit)
        if credit > 0:
            original.record_refund(credit, f"exchange credit to {new.reference}", self._now())
            new.record_payment(
                "payment", credit, f"exchange credit from {original.reference}", self._now()
            )
        self._save(ret, original, new)

    # queries -------------------------------------------------------------------------------
    def return_info(self, return_id: UUID | str) -> ReturnInfo:
        """One return by id."""
        return ReturnInfo.of(self._return(return_id))

    def returns_of_order(self, order_id: UUID | str) -> list[ReturnInfo]:
        """An order's returns, oldest first."""
        return [self.return_info(i) for i in self._order_of(order_id).return_ids]

    # helpers -------------------------------------------------------------------------------
    def _return(self, return_id: UUID | str) -> Return:
        return self._load(
            Return, _uuid(return_id, "return_id"), "return_id", str(return_id), "return"
        )

    def _shipped_units(self, order: Order) -> dict[str, dict[str, int]]:
        """Units of each SKU handed to a carrier, per warehouse they left from."""
        shipped: dict[str, dict[str, int]] = {}
        for shipment_id in order.shipment_ids:
            shipment = self._load(
                Shipment, UUID(shipment_id), "shipment_id", shipment_id, "shipment"
            )
            if shipment.handed_over:
                for item in shipment.items:
                    per_warehouse = shipped.setdefault(item["sku"], {})
                    per_warehouse[item["warehouse"]] = (
                        per_warehouse.get(item["warehouse"], 0) + item["quantity"]
                    )
        return shipped

    def _placed_lines(self, order: Order, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each line with its price, name and the warehouse it goes back to; refuses returning
        more than was shipped and not yet returned."""
        shipped, returned = self._shipped_units(order), self._returned_units(order)
        asked: dict[str, int] = {}
        placed = []
        for line in lines:
            sku = line["sku"]
            asked[sku] = asked.get(sku, 0) + line["quantity"]
            sent = sum(shipped.get(sku, {}).values())
            if asked[sku] > sent - returned.get(sku, 0):
                raise InvalidStateError(
                    f"order {order.reference}",
                    f"cannot return {asked[sku]} of {sku}: {sent} shipped, "
                    f"{returned.get(sku, 0)} already returned",
                )
            ordered = order.line(sku) or {}
            warehouse = max(shipped[sku].items(), key=lambda kv: kv[1])[0]
            placed.append(
                {
                    **line,
                    "name": ordered.get("name", sku),
                    "unit_price": ordered.get("unit_price", Decimal(0)),
                    "warehouse": warehouse,
                }
            )
        return placed

    def _move_returned_stock(self, ret: Return) -> list[StockItem]:
        """Resellable units back on the shelf; damaged units received, then written off."""
        items: dict[UUID, StockItem] = {}
        reference = f"return {ret.id}"
        for line in ret.lines:
            stock_id = StockItem.create_id(line["sku"], line["warehouse"])
            stock = items.get(stock_id) or self._load(
                StockItem, stock_id, "sku", line["sku"], "stock item"
            )
            items[stock_id] = stock
            if line["condition"] == "resellable":
                stock.restock(line["quantity"], reference)
            else:
                stock.receive(line["quantity"], ReceiptReason.RETURN, reference)
                stock.write_off(line["quantity"], DAMAGED_REASON, reference)
        return list(items.values())

    def _everything_back(self, order: Order, ret: Return) -> bool:
        shipped = self._shipped_units(order)
        returned = self._returned_units(order)
        for line in ret.lines:
            returned[line["sku"]] = returned.get(line["sku"], 0) + line["quantity"]
        return all(returned.get(sku, 0) >= sum(per.values()) for sku, per in shipped.items())


def _returned_goods(ret: Return, order: Order) -> list[dict[str, Any]]:
    """Decrease lines for a return's goods, one per SKU, at the prices the order charged."""
    units: dict[str, int] = {}
    for line in ret.lines:
        units[line["sku"]] = units.get(line["sku"], 0) + line["quantity"]
    decrease = []
    for sku, quantity in units.items():
        ordered = order.line(sku) or {"name": sku, "unit_price": Decimal(0), "vat_rate": "10"}
        price = ordered["unit_price"]
        decrease.append(
            {"sku": sku, "name": ordered["name"], "quantity": quantity, "unit_price": price,
             "vat_rate": ordered["vat_rate"], "gross": -quantity * price}
        )  # fmt: skip
    return decrease
