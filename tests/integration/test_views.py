"""Every read model over one seller's day, on SQLite and PostgreSQL alike.

The scenario: orders from two channels, one delivered and paid by COD (then partly returned),
one whose delivery failed, one cancelled, one waiting for stock that a purchase order brings,
an invoice replaced, a reorder point crossed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from orderflow.projections import ReadModels, catch_up
from orderflow.projections.admin import verify

from orderflow import Engine
from tests.integration.fulfilment_setup import COMPANY, World, connected, delivered, shipped
from tests.integration.ordering_setup import place


@dataclass
class Day:
    world: World
    delivered: UUID
    failed: UUID
    cancelled: UUID
    waiting: UUID
    purchase_order: UUID
    tracking_number: str
    invoice: UUID
    replacement: UUID


def a_sellers_day(engine: Engine) -> Day:
    """Run the scenario; returns the ids the assertions talk about."""
    world = connected(engine)
    engine.set_reorder_point("TEE", "HN", 9, 20)
    first, shipment = delivered(world, "1", TEE=3)  # COD 3 x 199,000 + 30,000 shipping
    engine.record_cod_remittance(shipment.id, "GHN-CK-1")
    invoice = engine.request_invoice(first, COMPANY, issue=True)
    engine.receive_return(
        first, [{"sku": "TEE", "quantity": 1, "condition": "resellable"}], reason="size"
    )
    replacement = engine.replace_invoice(invoice, "one shirt came back")
    failed, second = shipped(world, "2", MUG=1)
    engine.record_carrier_update(
        second.id, "delivery_failed", world.clock.advance(days=1), "buyer absent"
    )
    cancelled = engine.place_order(
        "lazada",
        "LZ-9",
        {"name": "Le Van Cuong", "phone": "+84 912 000 111"},
        {"street": "1 Hang Bai", "ward": "Hang Bai", "province": "Ha Noi"},
        [{"sku": "MUG", "quantity": 1}],
    )
    engine.cancel_order(cancelled, "buyer changed their mind")
    waiting = place(engine, "3", RICE=4)
    engine.set_sourcing("RICE", "GOMSU", unit_cost=130_000)
    (po,) = engine.propose_purchase_orders().purchase_orders
    engine.confirm_purchase_order(po.id)
    engine.receive_purchase_order(po.id, "PN-1", {"RICE": 1})
    return Day(
        world,
        first,
        failed,
        cancelled,
        waiting,
        po.id,
        shipment.tracking_number,
        invoice,
        replacement,
    )


def test_the_stock_view_shows_on_hand_reserved_incoming_and_low_stock(engine: Engine) -> None:
    a_sellers_day(engine)
    views = catch_up(engine)
    tee = {row.warehouse: row for row in views.stock.levels(sku="TEE")}
    assert (tee["HN"].on_hand, tee["HN"].reserved, tee["HN"].available) == (8, 0, 8)
    assert [(r.sku, r.warehouse) for r in views.stock.low_stock()] == [("TEE", "HN")]
    (rice,) = views.stock.levels(sku="RICE", warehouse="HN")
    assert (rice.on_hand, rice.reserved, rice.incoming) == (1, 1, 3)
    engine_levels = {
        (s.sku, s.warehouse): (s.on_hand, s.reserved) for s in engine.stock_of_sku("MUG")
    }
    view_levels = {
        (r.sku, r.warehouse): (r.on_hand, r.reserved) for r in views.stock.levels(sku="MUG")
    }
    assert view_levels == {k: v for k, v in engine_levels.items() if k in view_levels}


def test_the_order_board_filters_by_status_channel_and_day_and_finds_orders(engine: Engine) -> None:
    day = a_sellers_day(engine)
    views = catch_up(engine)
    assert {r.id for r in views.orders.board(status="cancelled")} == {day.cancelled}
    assert {r.id for r in views.orders.board(channel="shopee")} == {
        day.delivered,
        day.failed,
        day.waiting,
    }
    (failed,) = views.orders.board(fulfilment="delivery_failed")
    assert failed.id == day.failed
    today = views.orders.order(day.delivered)
    assert today is not None and today.status == "completed" and today.paid == today.total
    assert {r.id for r in views.orders.board(day=today.day)} == {
        day.delivered,
        day.failed,
        day.cancelled,
        day.waiting,
    }
    assert [r.id for r in views.orders.search("LZ-9")] == [day.cancelled]
    assert [r.id for r in views.orders.search("0912000111")] == [day.cancelled]
    assert [r.id for r in views.orders.search(day.tracking_number)] == [day.delivered]
    assert sum(c.orders for c in views.orders.counts()) == 4


def test_an_orders_timeline_tells_what_happened_in_words(engine: Engine) -> None:
    day = a_sellers_day(engine)
    views = catch_up(engine)
    words = [entry.text for entry in views.timeline.of(day.delivered)]
    assert words[0].startswith("Placed on shopee as 1 by Tran Thi Binh")
    assert "Reserved 3 x TEE in HN" in words
    assert any(w.startswith("Booked with tracking number") for w in words)
    assert "Carrier: delivered" in words
    assert any("Cash on delivery collected" in w for w in words)
    positions = [entry.position for entry in views.timeline.of(day.delivered)]
    assert positions == sorted(positions)


def test_shipments_show_failed_deliveries_and_cod_per_carrier(engine: Engine) -> None:
    day = a_sellers_day(engine)
    views = catch_up(engine)
    (failed,) = views.shipments.failed_deliveries()
    assert failed.order_id == str(day.failed) and failed.last_failure == "buyer absent"
    (ghn,) = views.shipments.cod_by_carrier()
    assert (ghn.carrier, ghn.collected, ghn.remitted, ghn.owed) == (
        "ghn",
        Decimal(627_000),
        Decimal(627_000),
        0,
    )
    statuses = {(c.carrier, c.status): c.shipments for c in views.shipments.by_carrier_and_status()}
    assert statuses == {("ghn", "delivered"): 1, ("ghn", "delivery_failed"): 1}


def test_the_purchase_order_backlog_lists_what_is_still_expected(engine: Engine) -> None:
    day = a_sellers_day(engine)
    views = catch_up(engine)
    (line,) = views.purchasing.backlog()
    assert (line.po_id, line.sku, line.ordered, line.received, line.expected) == (
        day.purchase_order,
        "RICE",
        4,
        1,
        3,
    )
    assert views.purchasing.backlog(supplier="DETMAY") == []
    (po,) = views.purchasing.purchase_orders()
    assert po.status == "partly_received"


def test_the_invoice_register_links_replacements_and_totals_vat_per_rate(engine: Engine) -> None:
    day = a_sellers_day(engine)
    views = catch_up(engine)
    original, replacement = views.invoices.register()
    assert (original.id, original.status, replacement.id) == (
        day.invoice,
        "replaced",
        day.replacement,
    )
    assert original.replaced_by == f"{replacement.series}-{replacement.number}"
    assert replacement.replaces == f"{original.series}-{original.number}"
    period = replacement.issued_at.strftime("%Y-%m")
    totals = {t.vat_rate: t for t in views.invoices.vat_totals(period)}
    assert sum(t.gross for t in totals.values()) == replacement.total
    assert totals["8"].invoices == 1


def test_sales_and_margin_per_sku_day_and_channel(engine: Engine) -> None:
    a_sellers_day(engine)
    views = catch_up(engine)
    by_sku = {row.sku: row for row in views.sales.sales(by=["sku"])}
    assert by_sku["TEE"].quantity == 3 - 1  # one came back
    assert by_sku["TEE"].revenue == Decimal(2 * 199_000)
    assert by_sku["TEE"].cost == Decimal(2 * 80_000)
    assert by_sku["MUG"].quantity == 1  # the cancelled lazada order does not count
    channels = {row.channel for row in views.sales.sales(by=["channel"])}
    assert channels == {"shopee"}


def test_a_view_caught_up_in_steps_equals_a_replay_from_zero(engine: Engine) -> None:
    views: ReadModels | None = None
    world = connected(engine)
    for n in range(6):
        delivered(world, str(n), TEE=1)
        views = catch_up(engine)
    assert views is not None
    assert all(result.ok for result in verify(engine))
