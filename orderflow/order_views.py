"""What order and purchasing queries return: plain dataclasses, never aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from orderflow.backlog import Backlog
from orderflow.order import Order
from orderflow.purchase_order import PurchaseOrder
from orderflow.values import vat_breakdown


@dataclass(frozen=True)
class OrderLine:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    vat_rate: str
    amount: Decimal
    reserved: dict[str, int]
    backordered: int


@dataclass(frozen=True)
class VatLine:
    rate: str
    net: Decimal
    vat: Decimal


@dataclass(frozen=True)
class Transaction:
    kind: str
    amount: Decimal
    reference: str
    at: str


@dataclass(frozen=True)
class OrderInfo:
    """An order as a seller reads it, with its totals, VAT, stock and money."""

    id: UUID
    reference: str
    channel: str
    external_id: str
    placed_at: str
    status: str
    fulfilment: str
    buyer: dict[str, str]
    address: dict[str, str]
    lines: list[OrderLine]
    shipping_fee: Decimal
    shipping_vat_rate: str
    goods_total: Decimal
    total: Decimal
    vat: list[VatLine]
    payment_method: str
    paid: Decimal
    refunded: Decimal
    outstanding: Decimal
    transactions: list[Transaction]
    note: str
    exchange_of: str
    shipment_ids: list[str]
    invoice_ids: list[str]
    return_ids: list[str]
    cancel_reason: str
    delivered_at: str
    delivery_failures: list[str]
    version: int

    @classmethod
    def of(cls, o: Order) -> OrderInfo:
        return cls(
            id=o.id,
            reference=o.reference,
            channel=o.channel,
            external_id=o.external_id,
            placed_at=o.created_on.isoformat(),
            status=o.status,
            fulfilment=o.fulfilment,
            buyer=dict(o.buyer),
            address=dict(o.address),
            lines=[_line(o, item) for item in o.lines],
            shipping_fee=o.shipping_fee,
            shipping_vat_rate=o.shipping_vat_rate,
            goods_total=o.goods_total,
            total=o.total,
            vat=[
                VatLine(rate.value, net, vat)
                for rate, (net, vat) in vat_breakdown(o.vat_lines()).items()
            ],
            payment_method=o.payment_method,
            paid=o.paid,
            refunded=o.refunded,
            outstanding=o.outstanding,
            transactions=[Transaction(**t) for t in o.transactions],
            note=o.note,
            exchange_of=o.exchange_of,
            shipment_ids=list(o.shipment_ids),
            invoice_ids=list(o.invoice_ids),
            return_ids=list(o.return_ids),
            cancel_reason=o.cancel_reason,
            delivered_at=o.delivered_at,
            delivery_failures=list(o.delivery_failures),
            version=o.version,
        )


def _line(o: Order, item: dict[str, object]) -> OrderLine:
    sku = str(item["sku"])
    quantity = int(str(item["quantity"]))
    unit_price = Decimal(str(item["unit_price"]))
    return OrderLine(
        sku=sku,
        name=str(item["name"]),
        quantity=quantity,
        unit_price=unit_price,
        vat_rate=str(item["vat_rate"]),
        amount=quantity * unit_price,
        reserved=dict(o.allocations.get(sku, {})),
        backordered=o.backordered(sku),
    )


@dataclass(frozen=True)
class OrderSummary:
    """One row of an order list."""

    id: UUID
    reference: str
    channel: str
    placed_at: str
    status: str
    fulfilment: str
    buyer: str
    total: Decimal
    paid: Decimal
    payment_method: str

    @classmethod
    def of(cls, o: Order) -> OrderSummary:
        return cls(
            o.id,
            o.reference,
            o.channel,
            o.created_on.isoformat(),
            o.status,
            o.fulfilment,
            o.buyer["name"],
            o.total,
            o.paid,
            o.payment_method,
        )


@dataclass(frozen=True)
class Fill:
    """Units reserved for a waiting order when stock arrived."""

    order_id: UUID
    reference: str
    sku: str
    warehouse: str
    quantity: int
    now: str  # the order's fulfilment afterwards


@dataclass(frozen=True)
class WaitingOrder:
    order_id: UUID
    quantity: int


@dataclass(frozen=True)
class Shortage:
    """Units of a SKU that orders wait for, what is already on order, and what is missing."""

    sku: str
    waiting: int
    orders: list[WaitingOrder]
    on_order: int
    available: int
    to_buy: int

    @classmethod
    def of(cls, backlog: Backlog, on_order: int, available: int) -> Shortage:
        orders = [WaitingOrder(UUID(i), backlog.waiting_for(i)) for i in backlog.order_ids()]
        to_buy = max(backlog.waiting - on_order - available, 0)
        return cls(backlog.sku, backlog.waiting, orders, on_order, available, to_buy)


@dataclass(frozen=True)
class PurchaseLine:
    sku: str
    quantity: int
    unit_cost: Decimal
    received: int
    remaining: int


@dataclass(frozen=True)
class Receipt:
    number: str
    quantities: dict[str, int]
    at: str


@dataclass(frozen=True)
class PurchaseOrderInfo:
    id: UUID
    number: str
    supplier: str
    warehouse: str
    status: str
    lines: list[PurchaseLine]
    total_cost: Decimal
    receipts: list[Receipt]
    note: str
    cancel_reason: str
    created_at: str

    @classmethod
    def of(cls, po: PurchaseOrder) -> PurchaseOrderInfo:
        lines = [
            PurchaseLine(
                line["sku"],
                line["quantity"],
                line["unit_cost"],
                line["received"],
                po.remaining(line["sku"]),
            )
            for line in po.lines
        ]
        receipts = [Receipt(r["number"], dict(r["quantities"]), r["at"]) for r in po.receipts]
        return cls(
            po.id,
            po.number,
            po.supplier,
            po.warehouse,
            po.status,
            lines,
            po.total_cost,
            receipts,
            po.note,
            po.cancel_reason,
            po.created_on.isoformat(),
        )


@dataclass(frozen=True)
class ReceiptResult:
    """A goods receipt: the purchase order afterwards and the waiting orders it filled."""

    purchase_order: PurchaseOrderInfo
    receipt_number: str
    received: dict[str, int]
    fills: list[Fill]
    recorded: bool  # False when this receipt number had already been recorded


@dataclass(frozen=True)
class Proposal:
    """Draft purchase orders proposed for shortages, and SKUs nobody is set to supply."""

    purchase_orders: list[PurchaseOrderInfo]
    unassigned: dict[str, int]
