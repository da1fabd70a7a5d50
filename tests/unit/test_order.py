"""Order: placement, allocation bookkeeping, edits, fulfilment and money — Given / When / Then."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from orderflow.errors import InvalidInputError, InvalidStateError
from orderflow.order import Order
from orderflow.values import VatRate, vat_breakdown
from tests.unit.gwt import given, state, then

BUYER = {"name": "Nguyen Van An", "phone": "0912 345 678", "email": "an@example.vn"}
ADDRESS = {
    "street": "12 Ly Thuong Kiet",
    "ward": "Phuong Tran Hung Dao",
    "ward_code": "00076",
    "district": "Hoan Kiem",
    "district_code": "002",
    "province": "Ha Noi",
    "province_code": "01",
}
TWO_LEVEL_ADDRESS = {"street": "5 Le Loi", "ward": "Phuong Sai Gon", "province": "TP. Ho Chi Minh"}


def shirt(quantity: int = 2, price: int = 199_000) -> dict[str, Any]:
    return {
        "sku": "TS-RED",
        "name": "Tee red",
        "quantity": quantity,
        "unit_price": price,
        "vat_rate": "8",
    }


def vase(quantity: int = 1) -> dict[str, Any]:
    return {
        "sku": "VASE",
        "name": "Vase",
        "quantity": quantity,
        "unit_price": 290_000,
        "vat_rate": "10",
    }


def placed(**overrides: Any) -> Order:
    fields: dict[str, Any] = {
        "channel": "shopee",
        "external_id": "240101ABC",
        "buyer": BUYER,
        "address": ADDRESS,
        "lines": [shirt(), vase()],
        "shipping_fee": 30_000,
        "payment_method": "cod",
    }
    return Order.place(**{**fields, **overrides})


def order(*history: Callable[[Order], object], **overrides: Any) -> Order:
    return given(placed(**overrides), *history)


def reserved_fully(o: Order) -> None:
    o.allocate("TS-RED", "HN", 2)
    o.allocate("VASE", "HN", 1)


def shipped(o: Order) -> None:
    reserved_fully(o)
    o.pack("ship-1")
    o.hand_over("ship-1")


def delivered(o: Order) -> None:
    shipped(o)
    o.deliver("2026-01-05T10:00:00+07:00")


# placing ------------------------------------------------------------------------------------
def test_a_placed_order_is_new_awaiting_stock_with_its_totals() -> None:
    o = placed()
    assert then(o)[0][0] == "Placed"
    assert (o.status, o.fulfilment) == ("new", "awaiting_stock")
    assert o.goods_total == Decimal(2 * 199_000 + 290_000)
    assert o.total == o.goods_total + 30_000
    assert o.reference == "shopee/240101ABC"


def test_an_order_id_is_the_same_for_the_same_channel_and_external_id() -> None:
    assert placed().id == Order.create_id("shopee", "240101ABC")
    assert placed().id != Order.create_id("lazada", "240101ABC")


def test_the_two_level_address_without_a_district_is_accepted() -> None:
    o = placed(address=TWO_LEVEL_ADDRESS)
    assert o.address["district"] == "" and o.address["ward"] == "Phuong Sai Gon"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"channel": "amazon"}, "channel"),
        ({"external_id": " "}, "external_id"),
        ({"buyer": {"name": "An"}}, "buyer.phone"),
        ({"buyer": {**BUYER, "phone": "abc"}}, "buyer.phone"),
        ({"buyer": {**BUYER, "email": "not-mail"}}, "buyer.email"),
        ({"address": {"street": "1 A", "province": "Ha Noi"}}, "address.ward"),
        ({"address": {**ADDRESS, "zip": "100000"}}, "address"),
        ({"lines": []}, "lines"),
        ({"lines": [shirt(), shirt()]}, "lines"),
        ({"lines": [shirt(quantity=0)]}, "lines[0].quantity"),
        ({"lines": [{**shirt(), "unit_price": "12.5"}]}, "lines[0].unit_price"),
        ({"lines": [{**shirt(), "vat_rate": "7"}]}, "lines[0].vat_rate"),
        ({"shipping_fee": -1}, "shipping_fee"),
        ({"payment_method": "card"}, "payment_method"),
    ],
)
def test_bad_input_is_refused_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        placed(**overrides)
    assert raised.value.field == field


def test_vat_lines_give_each_line_and_the_shipping_fee_with_its_rate() -> None:
    o = placed()
    assert o.vat_lines() == [
        (Decimal(398_000), VatRate.EIGHT),
        (Decimal(290_000), VatRate.TEN),
        (Decimal(30_000), VatRate.TEN),
    ]
    breakdown = vat_breakdown(o.vat_lines())
    assert sum(net + vat for net, vat in breakdown.values()) == o.total


def test_free_shipping_adds_no_vat_line() -> None:
    assert len(placed(shipping_fee=0).vat_lines()) == 2


# allocation ---------------------------------------------------------------------------------
def test_allocating_every_line_makes_the_order_reserved() -> None:
    o = order()
    o.allocate("TS-RED", "HN", 2)
    o.allocate("VASE", "HCM", 1)
    assert then(o) == [
        ("Allocated", {"sku": "TS-RED", "warehouse": "HN", "quantity": 2}),
        ("Allocated", {"sku": "VASE", "warehouse": "HCM", "quantity": 1}),
    ]
    assert o.fulfilment == "reserved"
    assert o.allocations == {"TS-RED": {"HN": 2}, "VASE": {"HCM": 1}}


def test_a_backorder_keeps_the_order_awaiting_stock_until_stock_arrives() -> None:
    o = order(lambda o: o.allocate("TS-RED", "HN", 1), lambda o: o.allocate("VASE", "HN", 1))
    o.backorder("TS-RED", 1)
    assert (o.fulfilment, o.backorders) == ("awaiting_stock", {"TS-RED": 1})
    o.allocate("TS-RED", "HCM", 1)
    assert (o.fulfilment, o.backorders) == ("reserved", {})


def test_allocating_more_than_the_line_still_needs_is_refused() -> None:
    o = order(lambda o: o.allocate("TS-RED", "HN", 2))
    before = state(o)
    with pytest.raises(InvalidStateError, match="order shopee/240101ABC"):
        o.allocate("TS-RED", "HN", 1)
    assert state(o) == before and then(o) == []


def test_backordering_more_than_is_unplanned_is_refused() -> None:
    o = order(lambda o: o.allocate("TS-RED", "HN", 1))
    with pytest.raises(InvalidStateError, match="1 of the line are unplanned"):
        o.backorder("TS-RED", 2)


def test_releasing_and_reducing_follow_the_units_held() -> None:
    o = order(reserved_fully)
    o.release_allocation("TS-RED", "HN", 2)
    assert o.allocations == {"VASE": {"HN": 1}} and o.fulfilment == "awaiting_stock"
    with pytest.raises(InvalidStateError):
        o.release_allocation("VASE", "HN", 2)
    with pytest.raises(InvalidStateError):
        o.reduce_backorder("VASE", 1)


# edits ------------------------------------------------------------------------------------
def test_changing_lines_records_the_new_lines() -> None:
    o = order(reserved_fully)
    o.change_lines([shirt(quantity=3)])
    assert then(o)[0][0] == "LinesChanged"
    assert [line["quantity"] for line in o.lines] == [3]
    assert o.fulfilment == "awaiting_stock"  # the engine now moves the stock


def test_changing_the_buyer_and_the_address_is_recorded_and_a_no_change_is_not() -> None:
    o = order()
    o.change_buyer({**BUYER, "phone": "0987 654 321"})
    o.change_address(TWO_LEVEL_ADDRESS)
    o.change_buyer({**BUYER, "phone": "0987 654 321"})
    assert [name for name, _ in then(o)] == ["BuyerChanged", "AddressChanged"]


def test_edits_after_packing_are_refused_with_a_clear_reason() -> None:
    o = order(reserved_fully, lambda o: o.pack("ship-1"))
    for edit in (
        lambda: o.change_lines([shirt(quantity=1)]),
        lambda: o.change_buyer({**BUYER, "name": "Other"}),
        lambda: o.change_address(TWO_LEVEL_ADDRESS),
        lambda: o.change_shipping_fee(0),
    ):
        with pytest.raises(
            InvalidStateError, match="already packed; edits are allowed until it is packed"
        ):
            edit()
    assert then(o) == []


def test_cancelling_clears_reservations_and_backorders() -> None:
    o = order(lambda o: o.allocate("TS-RED", "HN", 2), lambda o: o.backorder("VASE", 1))
    o.cancel("buyer asked")
    assert then(o) == [("Cancelled", {"reason": "buyer asked"})]
    assert (o.status, o.fulfilment, o.allocations, o.backorders) == (
        "cancelled",
        "cancelled",
        {},
        {},
    )


def test_a_cancelled_order_cannot_be_cancelled_edited_packed_or_paid() -> None:
    o = order(reserved_fully, lambda o: o.cancel("duplicate"))
    for command in (
        lambda: o.cancel("again"),
        lambda: o.change_lines([shirt()]),
        lambda: o.pack("ship-1"),
        lambda: o.record_payment("payment", 1000),
    ):
        with pytest.raises(InvalidStateError, match="cancelled"):
            command()
    assert then(o) == []


def test_a_shipped_order_cannot_be_cancelled() -> None:
    o = order(shipped)
    with pytest.raises(InvalidStateError, match="already shipped; record a return instead"):
        o.cancel("too late")


# fulfilment -------------------------------------------------------------------------------
def test_only_a_fully_reserved_order_can_be_packed() -> None:
    o = order(lambda o: o.allocate("TS-RED", "HN", 2), lambda o: o.backorder("VASE", 1))
    with pytest.raises(InvalidStateError, match="1 units waiting for stock"):
        o.pack("ship-1")


def test_packing_shipping_and_delivering_move_the_order_along() -> None:
    o = order(reserved_fully)
    o.pack("ship-1")
    assert (o.status, o.fulfilment) == ("processing", "packed")
    o.hand_over("ship-1")
    o.deliver("2026-01-05T10:00:00+07:00")
    assert [name for name, _ in then(o)] == ["Packed", "Shipped", "Delivered"]
    assert (o.status, o.fulfilment, o.delivered_at) == (
        "processing",
        "delivered",
        "2026-01-05T10:00:00+07:00",
    )


def test_a_repeated_delivery_report_changes_nothing() -> None:
    o = order(delivered)
    before = state(o)
    o.deliver("2026-01-06T10:00:00+07:00")
    o.hand_over("ship-1")
    assert then(o) == [] and state(o) == before


def test_delivering_an_order_that_was_not_shipped_is_refused() -> None:
    o = order(reserved_fully)
    with pytest.raises(InvalidStateError, match="not shipped"):
        o.deliver()


def test_a_failed_delivery_can_be_reattempted_or_returned() -> None:
    o = order(shipped)
    o.fail_delivery("buyer not at home")
    o.fail_delivery("phone switched off")
    assert o.delivery_failures == ["buyer not at home", "phone switched off"]
    o.mark_returning()
    o.mark_returning()
    o.mark_returned()
    assert [name for name, _ in then(o)] == [
        "DeliveryFailed",
        "DeliveryFailed",
        "Returning",
        "Returned",
    ]
    assert o.fulfilment == "returned"
    o.cancel("returned to sender")
    assert (o.status, o.fulfilment) == ("cancelled", "returned")


def test_handing_over_a_shipment_of_another_order_is_refused() -> None:
    o = order(reserved_fully, lambda o: o.pack("ship-1"))
    with pytest.raises(InvalidStateError, match="not this order's shipment"):
        o.hand_over("ship-2")


def test_invoices_and_returns_are_linked_once() -> None:
    o = order()
    o.link_invoice("inv-1")
    o.link_invoice("inv-1")
    o.link_return("ret-1")
    assert (o.invoice_ids, o.return_ids) == (["inv-1"], ["ret-1"])
    assert len(then(o)) == 2


# money -------------------------------------------------------------------------------------
def test_a_delivered_cod_order_completes_when_the_cod_is_collected() -> None:
    o = order(delivered)
    o.record_payment("cod_collected", o.total, "GHN-COD-1", "2026-01-05T18:00:00+07:00")
    assert [name for name, _ in then(o)] == ["PaymentRecorded", "Completed"]
    assert (o.status, o.paid, o.outstanding) == ("completed", o.total, 0)


def test_a_prepaid_order_completes_when_it_is_delivered() -> None:
    o = order(
        lambda o: o.record_payment("payment", o.total, "VNPAY-1"), shipped, payment_method="prepaid"
    )
    assert o.status == "processing"
    o.deliver()
    assert [name for name, _ in then(o)] == ["Delivered", "Completed"]


def test_a_partly_paid_delivered_order_is_not_completed() -> None:
    o = order(delivered)
    o.record_payment("cod_collected", 100_000, "C1")
    assert o.status == "processing" and o.outstanding == o.total - 100_000


def test_cod_cannot_be_collected_before_delivery_or_on_a_prepaid_order() -> None:
    with pytest.raises(InvalidStateError, match="not delivered"):
        order(shipped).record_payment("cod_collected", 1000)
    with pytest.raises(InvalidStateError, match="prepaid"):
        order(delivered, payment_method="prepaid").record_payment("cod_collected", 1000)


def test_paying_more_than_is_outstanding_is_refused() -> None:
    o = order()
    with pytest.raises(InvalidStateError, match="is outstanding"):
        o.record_payment("payment", o.total + 1)


def test_the_same_payment_reference_twice_is_recorded_once_and_a_different_amount_is_refused() -> (
    None
):
    o = order()
    o.record_payment("payment", 100_000, "VNPAY-1")
    o.record_payment("payment", 100_000, "VNPAY-1")
    assert len(o.transactions) == 1
    with pytest.raises(InvalidStateError, match="already recorded"):
        o.record_payment("payment", 90_000, "VNPAY-1")


def test_cod_remitted_never_exceeds_cod_collected() -> None:
    o = order(delivered, lambda o: o.record_payment("cod_collected", o.total, "C1"))
    o.record_payment("cod_remitted", o.total - 5_000, "REMIT-1")
    with pytest.raises(InvalidStateError, match="collected and not yet remitted"):
        o.record_payment("cod_remitted", 5_001, "REMIT-2")
    assert o.cod_remitted == o.total - 5_000 and o.paid == o.total


def test_refunds_never_exceed_what_was_paid() -> None:
    o = order(lambda o: o.record_payment("payment", 300_000, "P1"), payment_method="prepaid")
    o.record_refund(200_000, "R1")
    with pytest.raises(InvalidStateError, match="only 100000 VND was paid and not yet refunded"):
        o.record_refund(100_001, "R2")
    o.record_refund(100_000, "R3")
    assert (o.paid, o.refunded) == (300_000, 300_000)
    assert [t["kind"] for t in o.transactions] == ["payment", "refund", "refund"]


def test_a_cancelled_prepaid_order_can_still_be_refunded() -> None:
    o = order(
        lambda o: o.record_payment("payment", 100_000, "P1"), lambda o: o.cancel("out of stock")
    )
    o.record_refund(100_000, "R1")
    assert o.refunded == 100_000


@pytest.mark.parametrize(
    ("kind", "amount", "field"),
    [("tip", 1000, "kind"), ("payment", 0, "amount"), ("payment", "x", "amount")],
)
def test_bad_payments_are_refused_naming_the_field(kind: str, amount: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        order().record_payment(kind, amount)
    assert raised.value.field == field


def test_a_bad_timestamp_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="at: 'yesterday' is not an ISO date-time"):
        order().record_payment("payment", 1000, "P1", "yesterday")


def test_an_invoiced_order_keeps_its_lines_and_shipping_fee() -> None:
    o = order(lambda o: o.link_invoice("inv-1"))
    with pytest.raises(InvalidStateError, match="the order is invoiced"):
        o.change_lines([shirt(quantity=5)])
    with pytest.raises(InvalidStateError, match="the order is invoiced"):
        o.change_shipping_fee(0)
    o.change_address(TWO_LEVEL_ADDRESS)  # the delivery address may still change
    assert [name for name, _ in then(o)] == ["AddressChanged"]
