"""Events in human words, and the small parsers of the audit CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from orderflow.projections.audit import event_topics, parse_moment, topics_for
from orderflow.projections.orders import phone_digits
from orderflow.projections.view import LOCAL_TIME, from_micros, local_day, micros
from orderflow.projections.words import describe

from orderflow.errors import InvalidInputError
from orderflow.order import Order
from orderflow.stock_item import ReceiptReason, StockItem

BUYER = {"name": "Nguyen Van An", "phone": "0901 234 567"}
ADDRESS = {"street": "12 Ly Thuong Kiet", "ward": "Hang Bai", "province": "Ha Noi"}


def test_a_placed_order_reads_as_who_ordered_what_and_how_they_pay() -> None:
    order = Order.place(
        "shopee",
        "SP-1",
        BUYER,
        ADDRESS,
        [{"sku": "TEE", "name": "Tee", "quantity": 2, "unit_price": 199_000, "vat_rate": "8"}],
        shipping_fee=30_000,
    )
    (placed,) = order.collect_events()
    assert describe(placed) == (
        "Placed on shopee as SP-1 by Nguyen Van An (0901 234 567): 2 x TEE; "
        "goods 398,000 VND, shipping 30,000 VND, cash on delivery"
    )


def test_stock_movements_read_as_what_moved_and_why() -> None:
    item = StockItem(sku="TEE", warehouse="HN")
    item.receive(5, ReceiptReason.PURCHASE_RECEIPT, "PN-1")
    order_id = uuid4()
    item.reserve(order_id, 2)
    opened, received, reserved = item.collect_events()
    assert describe(opened) == "Stock of TEE in HN opened"
    assert describe(received) == "Received 5 (purchase receipt)"
    assert describe(reserved) == f"Reserved 2 for order {order_id.hex[:8]}"


def test_event_types_are_found_by_full_name_by_event_name_or_by_aggregate() -> None:
    placed = event_topics()["Order.Placed"]
    assert topics_for(["Order.Placed"]) == [placed]
    assert placed in topics_for(["placed"])
    assert set(topics_for(["Order"])) >= {placed, event_topics()["Order.Cancelled"]}
    with pytest.raises(InvalidInputError, match="type: no event is called 'Nope'"):
        topics_for(["Nope"])


def test_a_time_without_a_zone_is_vietnam_time_and_a_bad_one_names_the_option() -> None:
    assert parse_moment("2026-03-01T08:00", "since") == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    assert parse_moment("2026-03-01", "since").tzinfo == LOCAL_TIME
    assert parse_moment("2026-03-01T08:00Z", "since") == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(InvalidInputError, match="before: 'yesterday' is not a date"):
        parse_moment("yesterday", "before")


def test_stored_times_keep_microseconds_and_days_are_counted_in_vietnam() -> None:
    moment = datetime(2026, 3, 1, 17, 30, 0, 123456, tzinfo=UTC)
    assert from_micros(micros(moment)) == moment
    assert local_day(moment) == "2026-03-02"  # 00:30 the next morning in Ha Noi
    assert local_day(moment - timedelta(hours=1)) == "2026-03-01"


def test_phone_numbers_are_searched_in_one_form() -> None:
    assert phone_digits("+84 901 234 567") == phone_digits("0901.234.567") == "0901234567"
