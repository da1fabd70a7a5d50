"""The demo's order procedure: orders from every channel to the money being in, on FAKE partners.

Carriers and the e-invoice provider are the in-process FAKES of `orderflow.adapters.fakes`:
nothing leaves the machine, and the output says so.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from orderflow.adapters.fakes import FakeEInvoiceProvider, fake_carriers

from orderflow.engine import Engine
from orderflow.order import CHANNELS

Say = Callable[[str], None]

HANOI = {
    "street": "12 Ly Thuong Kiet",
    "ward": "Phuong Cua Nam",
    "province": "Ha Noi",
    "province_code": "01",
}
SAIGON = {
    "street": "88 Nguyen Thi Thap",
    "ward": "Phuong Tan Phu",
    "ward_code": "27487",
    "district": "Quan 7",
    "district_code": "778",
    "province": "TP. Ho Chi Minh",
    "province_code": "79",
}
DANANG = {
    "street": "5 Nguyen Van Linh",
    "ward": "Phuong Hai Chau",
    "province": "Da Nang",
    "province_code": "48",
}
COMPANY = {
    "name": "Pham Quoc Bao",
    "company": "Cong ty TNHH Det May Viet",
    "tax_code": "0100109106",
    "address": "12 Pham Van Dong, Cau Giay, Ha Noi",
    "email": "ketoan@detmay.example.vn",
}
SKUS = (
    "AOTHUN-TRANG-M",
    "AOTHUN-TRANG-L",
    "AOTHUN-DEN-M",
    "AOTHUN-DEN-L",
    "BINHGOM-NHO",
    "BINHGOM-LON",
    "GAOST25",
)


def buyer(name: str, phone: str, email: str = "") -> dict[str, str]:
    return {"name": name, "phone": phone, "email": email}


@dataclass
class OrdersReport:
    """What the order part of the demo did, for the summary."""

    orders: dict[str, UUID] = field(default_factory=dict)  # demo label -> order id
    purchase_orders: list[str] = field(default_factory=list)
    receipts: int = 0
    filled_from_receipts: int = 0
    shipments: int = 0
    invoices: int = 0
    returns: int = 0
    bulk_orders: int = 0
    bulk_seconds: float = 0.0
    bulk_statuses: Counter[str] = field(default_factory=Counter)


def run_orders(engine: Engine, say: Say, bulk: int = 0) -> OrdersReport:
    """The procedure on a catalogue set up by `set_up_catalogue`, then `bulk` more orders."""
    report = OrdersReport()
    carriers, einvoice = fake_carriers(), FakeEInvoiceProvider()
    engine.connect(carriers=carriers, einvoice=einvoice, invoice_threshold=2_000_000)
    say(
        "partners: FAKE GHN and FAKE Viettel Post carriers "
        "(in-process, no real GHN / Viettel Post call), "
        "FAKE S-Invoice e-invoice provider (in-process, nothing sent to the tax authority)"
    )
    place_from_every_channel(engine, say, report)
    edit_and_cancel(engine, say, report)
    buy_what_is_missing(engine, say, report)
    ship_and_deliver(engine, say, report)
    invoice_and_return(engine, say, report)
    if bulk:
        place_in_bulk(engine, say, report, bulk)
    return report


# 1. orders arrive --------------------------------------------------------------------------------
def place_from_every_channel(engine: Engine, say: Say, report: OrdersReport) -> None:
    engine.set_preferred_warehouse("tiktok", "HCM")
    engine.set_sourcing("BINHGOM-LON", "GOMSU", unit_cost=250_000, warehouse="HCM")
    for sku in SKUS[:4]:
        engine.set_sourcing(sku, "DETMAY")
    say(
        "settings: TikTok Shop orders prefer warehouse HCM; "
        "BINHGOM-LON is bought from GOMSU, AOTHUN-* from DETMAY"
    )
    specs = [
        (
            "web",
            "web",
            "W-10001",
            buyer("Pham Quoc Bao", "0243 826 1234", "bao@detmay.example.vn"),
            HANOI,
            [("AOTHUN-TRANG-M", 6), ("GAOST25", 8)],
            0,
            "prepaid",
        ),
        (
            "shopee",
            "shopee",
            "2411SHP0001",
            buyer("Nguyen Thi Lan", "0912 345 678"),
            HANOI,
            [("BINHGOM-NHO", 1), ("GAOST25", 2)],
            32_000,
            "cod",
        ),
        (
            "lazada",
            "lazada",
            "LZD-88901",
            buyer("Tran Van Minh", "0903 111 222"),
            SAIGON,
            [("AOTHUN-DEN-L", 3)],
            25_000,
            "cod",
        ),
        (
            "tiktok",
            "tiktok",
            "TT-552100",
            buyer("Le Thu Ha", "0935 777 888"),
            DANANG,
            [("AOTHUN-TRANG-M", 1)],
            18_000,
            "cod",
        ),
        (
            "phone",
            "phone",
            "PH-0007",
            buyer("Vu Thi Mai", "0988 123 456"),
            DANANG,
            [("GAOST25", 4)],
            30_000,
            "cod",
        ),
        (
            "facebook",
            "facebook",
            "FB-3300",
            buyer("Do Minh Khoa", "0977 000 111"),
            SAIGON,
            [("BINHGOM-LON", 6)],
            40_000,
            "cod",
        ),
        (
            "other",
            "other",
            "ZALO-12",
            buyer("Hoang Anh", "0966 555 444"),
            HANOI,
            [("BINHGOM-NHO", 2)],
            30_000,
            "cod",
        ),
    ]
    for label, channel, number, who, where, lines, fee, method in specs:
        items = [{"sku": sku, "quantity": qty} for sku, qty in lines]
        paid = None
        if method == "prepaid":
            paid = sum(Decimal(engine.variant(sku).sale_price) * qty for sku, qty in lines) + fee
        order_id = engine.place_order(
            channel,
            number,
            who,
            where,
            items,
            fee,
            method,
            paid=paid,
            payment_reference="VNPAY-240117-001" if paid else "",
        )
        report.orders[label] = order_id
        say(describe(engine, order_id))
    again = engine.place_order(
        "shopee",
        "2411SHP0001",
        buyer("Nguyen Thi Lan", "0912 345 678"),
        HANOI,
        [{"sku": "GAOST25", "quantity": 9}],
    )
    say(
        f"Shopee re-sent order 2411SHP0001: same order {again == report.orders['shopee']}, "
        "nothing written twice"
    )


def describe(engine: Engine, order_id: UUID) -> str:
    info = engine.order(order_id)
    lines = ", ".join(
        f"{line.quantity} x {line.sku} ({_where(line.reserved)} reserved"
        + (f", {line.backordered} backordered)" if line.backordered else ")")
        for line in info.lines
    )
    money = f"{info.payment_method}, {info.total:,.0f} VND"
    return f"order {info.reference} ({money}): {info.fulfilment} - {lines}"


def _where(reserved: dict[str, int]) -> str:
    return "/".join(f"{w} {q}" for w, q in reserved.items()) or "none"


# 2. edits ----------------------------------------------------------------------------------------
def edit_and_cancel(engine: Engine, say: Say, report: OrdersReport) -> None:
    phone_order = report.orders["phone"]
    engine.edit_order(
        phone_order, quantities={"GAOST25": 3, "BINHGOM-NHO": 1}, address={"street": "27 Bach Dang"}
    )
    say(
        "edit by phone: PH-0007 now 3 x GAOST25 + 1 x BINHGOM-NHO, new street; "
        + describe(engine, phone_order)
    )
    engine.cancel_order(report.orders["other"], "buyer ordered twice by Zalo")
    say(
        "cancel: other/ZALO-12 cancelled (buyer ordered twice); "
        "its 2 x BINHGOM-NHO went back to stock"
    )


# 3. purchasing -----------------------------------------------------------------------------------
def buy_what_is_missing(engine: Engine, say: Say, report: OrdersReport) -> None:
    for shortage in engine.shortages():
        say(
            f"shortage: {shortage.waiting} x {shortage.sku} "
            f"waited for by {len(shortage.orders)} order(s)"
        )
    proposal = engine.propose_purchase_orders()
    for po in proposal.purchase_orders:
        report.purchase_orders.append(po.number)
        lines = ", ".join(
            f"{line.quantity} x {line.sku} at {line.unit_cost:,.0f}" for line in po.lines
        )
        say(f"purchase order {po.number} drafted for {po.supplier} into {po.warehouse}: {lines}")
        engine.confirm_purchase_order(po.id)
        receive_in_two_parts(engine, say, report, po.id)


def receive_in_two_parts(engine: Engine, say: Say, report: OrdersReport, po_id: UUID) -> None:
    po = engine.purchase_order(po_id)
    first = {line.sku: max(line.quantity // 2, 1) for line in po.lines}
    for number, quantities in ((f"PN-{po.number[3:7]}-1", first), (f"PN-{po.number[3:7]}-2", None)):
        result = engine.receive_purchase_order(po_id, number, quantities)
        report.receipts += 1
        report.filled_from_receipts += len(result.fills)
        filled = (
            ", ".join(f"{f.quantity} for {f.reference} (now {f.now})" for f in result.fills)
            or "no one waiting"
        )
        received = ", ".join(f"{q} x {s}" for s, q in result.received.items())
        say(
            f"goods receipt {number}: {received} -> {result.purchase_order.status}; "
            f"reserved {filled}"
        )


# 4. shipping -------------------------------------------------------------------------------------
def ship_and_deliver(engine: Engine, say: Say, report: OrdersReport) -> None:
    plan = [
        ("web", "ghn", "express"),
        ("shopee", "ghn", "economy"),
        ("lazada", "viettelpost", "economy"),
        ("tiktok", "ghn", "economy"),
        ("phone", "viettelpost", "express"),
        ("facebook", "ghn", "economy"),
    ]
    shipments = {}
    for label, carrier, service in plan:
        info = engine.book_shipment(report.orders[label], carrier, service, weight_kg="1.2")
        shipments[label] = info.id
        report.shipments += 1
        say(
            f"shipment for {info.order_reference}: FAKE {carrier} {service}, "
            f"tracking {info.tracking_number}, fee {info.fee:,.0f}, COD {info.cod_amount:,.0f} "
            f"(fake carrier, in-process, no real {carrier} call)"
        )
        engine.hand_over_shipment(info.id)
        engine.record_carrier_update(info.id, "in_transit")
    for label in ("web", "shopee", "tiktok", "facebook"):
        engine.record_carrier_update(shipments[label], "delivered")
        say(f"delivered: {status_line(engine, report.orders[label])}")
    engine.record_carrier_update(shipments["phone"], "delivery_failed", reason="buyer not at home")
    say("delivery failed: phone/PH-0007 - buyer not at home; re-attempt requested")
    engine.redeliver_shipment(shipments["phone"])
    engine.record_carrier_update(shipments["phone"], "delivered")
    say(f"re-delivery: {status_line(engine, report.orders['phone'])}")
    engine.record_carrier_update(shipments["lazada"], "delivery_failed", reason="address not found")
    engine.return_shipment_to_sender(shipments["lazada"])
    engine.record_carrier_update(shipments["lazada"], "returning")
    engine.record_carrier_update(shipments["lazada"], "returned")
    engine.receive_return(
        report.orders["lazada"],
        [{"sku": "AOTHUN-DEN-L", "quantity": 3}],
        reason="returned to sender",
    )
    engine.cancel_order(report.orders["lazada"], "undeliverable: address not found")
    say(
        "delivery failed (address not found), parcel returned to sender, "
        "3 x AOTHUN-DEN-L back in stock, "
        f"order cancelled: {status_line(engine, report.orders['lazada'])}"
    )
    for label in ("shopee", "tiktok"):
        engine.record_cod_remittance(
            shipments[label], reference=f"GHN-COD-20260110-{label.upper()}"
        )
    say(
        "COD remittance: FAKE GHN paid the COD of shopee/2411SHP0001 and tiktok/TT-552100 "
        "to the seller"
    )


def status_line(engine: Engine, order_id: UUID) -> str:
    info = engine.order(order_id)
    paid = f"paid {info.paid:,.0f} of {info.total:,.0f}"
    return f"{info.reference} {info.status} / {info.fulfilment}, {paid}"


# 5. invoices and a return ------------------------------------------------------------------------
def invoice_and_return(engine: Engine, say: Say, report: OrdersReport) -> None:
    web = report.orders["web"]
    invoice = engine.issue_invoice(web, COMPANY)
    report.invoices += 1
    say(
        f"VAT invoice {invoice.series}-{invoice.number} for web/W-10001 to "
        f"{COMPANY['company']} (MST {COMPANY['tax_code']}): {invoice.total:,.0f} VND incl. "
        f"VAT {invoice.total_vat:,.0f}; code {invoice.tax_authority_code} (FAKE S-Invoice)"
    )
    for label, order_id in report.orders.items():
        if label != "web" and engine.issue_invoice_if_due(order_id):
            report.invoices += 1
            say(
                f"automatic invoice for {engine.order(order_id).reference} "
                "(total over 2,000,000 VND)"
            )
    returned = engine.receive_return(
        web,
        [
            {"sku": "AOTHUN-TRANG-M", "quantity": 2, "condition": "resellable"},
            {"sku": "GAOST25", "quantity": 1, "condition": "damaged"},
        ],
        reason="wrong size; one bag torn",
        refund="goods",
        reference="VNPAY-REFUND-0001",
    )
    report.returns += 1
    replacement = engine.replace_invoice_after_return(returned)
    report.invoices += 1 if replacement else 0
    info = engine.order(web)
    say(
        "return on web/W-10001: 2 x AOTHUN-TRANG-M back to stock, "
        "1 x GAOST25 damaged and written off; "
        f"refunded {info.refunded:,.0f} VND; replacement invoice issued for what was kept"
    )


# 6. many more orders -----------------------------------------------------------------------------
def place_in_bulk(engine: Engine, say: Say, report: OrdersReport, count: int) -> None:
    """`count` orders from random channels; shortages bought and received every 2,000 orders."""
    rng = random.Random(2026)
    for code in ("HN", "HCM", "DN"):
        for sku in SKUS:
            engine.receive_stock(
                sku, code, max(count // 12, 5), "purchase_receipt", reference="PN-BULK-0"
            )
    started = time.perf_counter()
    for i in range(count):
        picked = rng.sample(SKUS, rng.choice((1, 1, 2, 3)))
        lines = [{"sku": sku, "quantity": rng.choice((1, 1, 1, 2, 3))} for sku in picked]
        channel = rng.choice(CHANNELS)
        where = rng.choice((HANOI, SAIGON, DANANG))
        engine.place_order(
            channel,
            f"BULK-{i:06d}",
            buyer(f"Khach hang {i}", f"09{i:08d}"[:10]),
            where,
            lines,
            30_000,
        )
        if (i + 1) % 2000 == 0 or i + 1 == count:
            restock(engine, report)
    report.bulk_seconds = time.perf_counter() - started
    report.bulk_orders = count
    report.bulk_statuses = Counter(
        o.fulfilment for o in engine.orders() if o.reference.split("/")[1].startswith("BULK-")
    )
    say(
        f"{count:,} more orders placed from every channel in {report.bulk_seconds:.1f}s "
        f"({count / report.bulk_seconds:,.0f} orders/s, each reserved atomically); "
        + ", ".join(f"{n:,} {state}" for state, n in report.bulk_statuses.most_common())
    )


def restock(engine: Engine, report: OrdersReport) -> None:
    """Buy what waiting orders lack and receive it at once (their backorders fill FCFS)."""
    proposal = engine.propose_purchase_orders(supplier="DETMAY")
    for po in proposal.purchase_orders:
        engine.confirm_purchase_order(po.id)
        result = engine.receive_purchase_order(po.id, f"PN-BULK-{len(report.purchase_orders) + 1}")
        report.purchase_orders.append(po.number)
        report.receipts += 1
        report.filled_from_receipts += len(result.fills)


# the summary -------------------------------------------------------------------------------------
ORDER_COLUMNS = ["order", "channel", "status", "fulfilment", "total", "paid", "refunded"]


def order_rows(engine: Engine, report: OrdersReport) -> list[tuple[object, ...]]:
    """One row per order of the story (not the bulk ones)."""
    rows: list[tuple[object, ...]] = []
    for order_id in report.orders.values():
        o = engine.order(order_id)
        rows.append((o.reference, o.channel, o.status, o.fulfilment, o.total, o.paid, o.refunded))
    return rows


def summary(report: OrdersReport) -> str:
    """One sentence of counts."""
    text = (
        f"{len(report.orders)} story orders from {len(CHANNELS)} channels, "
        f"{len(report.purchase_orders)} purchase orders, {report.receipts} goods receipts "
        f"({report.filled_from_receipts} backorders filled), "
        f"{report.shipments} shipments with FAKE carriers, "
        f"{report.invoices} invoices from the FAKE S-Invoice, {report.returns} return"
    )
    if report.bulk_orders:
        text += f"; {report.bulk_orders:,} bulk orders in {report.bulk_seconds:.1f}s"
    return text
