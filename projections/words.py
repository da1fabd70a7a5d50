"""Every event in human words, for order timelines, histories and the audit CLI."""

# Event classes made by @event("Name") exist only at run time: mypy cannot see them.
# mypy: disable-error-code="attr-defined"

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from orderflow.invoice import Invoice
from orderflow.order import Order
from orderflow.purchase_order import PurchaseOrder
from orderflow.reorder_point import ReorderPoint
from orderflow.returns import Return
from orderflow.shipment import Shipment
from orderflow.stock_item import StockItem

Event = Any
Words = Callable[[Event], str]

HIDDEN = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


def vnd(amount: Decimal | int | str) -> str:
    return f"{Decimal(amount):,.0f} VND"


def short(identifier: object) -> str:
    return str(identifier).replace("-", "")[:8]


def event_name(event: Event) -> str:
    """`Order.Placed`: the aggregate and the event, as people read it."""
    return type(event).__qualname__


def fields(event: Event) -> dict[str, Any]:
    """The event's own data (without id, version and time)."""
    return {k: v for k, v in vars(event).items() if k not in HIDDEN}


def units(lines: list[Mapping[str, Any]]) -> str:
    return ", ".join(f"{line['quantity']} x {line['sku']}" for line in lines)


def _placed(e: Event) -> str:
    goods = sum((line["quantity"] * Decimal(line["unit_price"]) for line in e.lines), Decimal(0))
    pay = "cash on delivery" if e.payment_method == "cod" else "prepaid"
    return (
        f"Placed on {e.channel} as {e.external_id} by {e.buyer.get('name', '')} "
        f"({e.buyer.get('phone', '')}): {units(e.lines)}; goods {vnd(goods)}, "
        f"shipping {vnd(e.shipping_fee)}, {pay}"
    )


def _payment(e: Event) -> str:
    what = {
        "payment": "Payment received",
        "cod_collected": "Cash on delivery collected by the carrier",
        "cod_remitted": "Cash on delivery paid out to the seller",
    }.get(e.kind, e.kind)
    return f"{what}: {vnd(e.amount)}" + (f" (ref {e.reference})" if e.reference else "")


def _carrier(what: str) -> Words:
    def words(e: Event) -> str:
        detail = f" ({e.carrier_status})" if e.carrier_status else ""
        reason = f": {e.reason}" if e.reason else ""
        return f"Carrier: {what}{detail}{reason}"

    return words


WORDS: dict[type, Words] = {
    Order.Placed: _placed,
    Order.Allocated: lambda e: f"Reserved {e.quantity} x {e.sku} in {e.warehouse}",
    Order.AllocationReleased: lambda e: f"Released {e.quantity} x {e.sku} in {e.warehouse}",
    Order.Backordered: lambda e: f"{e.quantity} x {e.sku} waiting for stock (backordered)",
    Order.BackorderReduced: lambda e: f"{e.quantity} x {e.sku} no longer waiting for stock",
    Order.LinesChanged: lambda e: f"Lines changed to {units(e.lines)}",
    Order.BuyerChanged: lambda e: (
        f"Buyer changed to {e.buyer.get('name', '')} ({e.buyer.get('phone', '')})"
    ),
    Order.AddressChanged: lambda e: (
        "Delivery address changed to "
        + ", ".join(
            e.address[k] for k in ("street", "ward", "district", "province") if e.address.get(k)
        )
    ),
    Order.ShippingFeeChanged: lambda e: f"Shipping fee changed to {vnd(e.shipping_fee)}",
    Order.Cancelled: lambda e: f"Cancelled: {e.reason}",
    Order.Packed: lambda e: f"Packed into shipment {short(e.shipment_id)}",
    Order.Shipped: lambda e: f"Handed over to the carrier (shipment {short(e.shipment_id)})",
    Order.Delivered: lambda e: "Delivered to the buyer",
    Order.DeliveryFailed: lambda e: f"Delivery failed: {e.reason}",
    Order.Returning: lambda e: "On its way back to the seller",
    Order.Returned: lambda e: "Came back to the seller",
    Order.InvoiceLinked: lambda e: f"Invoice {short(e.invoice_id)} requested",
    Order.ReturnLinked: lambda e: f"Return {short(e.return_id)} received",
    Order.PaymentRecorded: _payment,
    Order.RefundRecorded: lambda e: (
        f"Refunded {vnd(e.amount)}" + (f" (ref {e.reference})" if e.reference else "")
    ),
    Order.Completed: lambda e: "Completed: delivered and paid",
    Shipment.Requested: lambda e: (
        f"Shipment requested with {e.carrier} ({e.service}), COD {vnd(e.cod_amount)}"
    ),
    Shipment.Booked: lambda e: f"Booked with tracking number {e.tracking_number}, fee {vnd(e.fee)}",
    Shipment.Cancelled: lambda e: f"Shipment cancelled: {e.reason}",
    Shipment.PickedUp: _carrier("picked up"),
    Shipment.InTransit: _carrier("in transit"),
    Shipment.DeliveryFailed: _carrier("delivery failed"),
    Shipment.Delivered: _carrier("delivered"),
    Shipment.Returning: _carrier("returning to the seller"),
    Shipment.Returned: _carrier("returned to the seller"),
    Shipment.CancelledByCarrier: _carrier("cancelled"),
    Shipment.UpdateNoted: lambda e: f"Carrier update noted: {e.status or e.carrier_status}",
    Shipment.DecidedAfterFailure: lambda e: f"Seller asked the carrier to {e.decision}",
    Shipment.CodCollected: lambda e: f"Carrier collected {vnd(e.amount)} cash on delivery",
    Shipment.CodRemitted: lambda e: f"Carrier remitted {vnd(e.amount)} (ref {e.reference})",
    Invoice.Requested: lambda e: f"{e.purpose.capitalize()} {e.kind.replace('_', ' ')} requested",
    Invoice.Issued: lambda e: f"Invoice {e.series}-{e.number} issued",
    Invoice.Replaced: lambda e: f"Invoice replaced by {short(e.by)}: {e.reason}",
    Invoice.Adjusted: lambda e: f"Invoice adjusted by {short(e.by)}",
    Return.Received: lambda e: (
        f"Goods returned: {units(e.lines)}" + (f" ({e.reason})" if e.reason else "")
    ),
    Return.Refunded: lambda e: f"Return refunded {vnd(e.amount)}",
    Return.InvoiceCorrected: lambda e: f"Invoice corrected by {short(e.invoice_id)}",
    Return.Exchanged: lambda e: f"Exchanged for order {short(e.order_id)} (credit {vnd(e.credit)})",
    StockItem.Opened: lambda e: f"Stock of {e.sku} in {e.warehouse} opened",
    StockItem.Received: lambda e: f"Received {e.quantity} ({e.reason.replace('_', ' ')})",
    StockItem.Reserved: lambda e: f"Reserved {e.quantity} for order {short(e.order_id)}",
    StockItem.Released: lambda e: f"Released {e.quantity} held for order {short(e.order_id)}",
    StockItem.Shipped: lambda e: f"Shipped {e.quantity} for order {short(e.order_id)}",
    StockItem.Restocked: lambda e: f"Restocked {e.quantity} returned units",
    StockItem.WrittenOff: lambda e: f"Wrote off {e.quantity}: {e.reason}",
    StockItem.Counted: lambda e: (
        f"Counted {e.counted} (system {e.expected}, difference {e.difference:+d})"
    ),
    StockItem.TransferredOut: lambda e: f"Moved {e.quantity} to {e.to_warehouse}",
    StockItem.TransferredIn: lambda e: f"Moved {e.quantity} in from {e.from_warehouse}",
    PurchaseOrder.Drafted: lambda e: (
        f"Purchase order drafted for {e.supplier} into {e.warehouse}: {units(e.lines)}"
    ),
    PurchaseOrder.Confirmed: lambda e: "Purchase order sent to the supplier",
    PurchaseOrder.GoodsReceived: lambda e: (
        f"Goods receipt {e.number}: " + ", ".join(f"{q} x {sku}" for sku, q in e.quantities.items())
    ),
    PurchaseOrder.RemainderCancelled: lambda e: f"Rest of the purchase order cancelled: {e.reason}",
    ReorderPoint.Set: lambda e: f"Reorder point of {e.sku} in {e.warehouse} set to {e.level}",
    ReorderPoint.Changed: lambda e: f"Reorder point changed to {e.level}",
}


def describe(event: Event) -> str:
    """One line a seller or an auditor can read."""
    words = WORDS.get(type(event))
    if words is not None:
        return words(event)
    data = ", ".join(
        f"{k}={v}" for k, v in fields(event).items() if isinstance(v, str | int | Decimal)
    )
    return f"{event_name(event)}" + (f": {data}" if data else "")
