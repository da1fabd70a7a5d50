"""StockItem: every command and every refusal, Given events / When command / Then events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from orderflow.errors import InsufficientStockError, InvalidInputError, InvalidStateError
from orderflow.stock_item import ReceiptReason, StockItem
from tests.unit.gwt import given, state, then


def stock(*history: Callable[[StockItem], object]) -> StockItem:
    return given(StockItem(sku="TS-RED", warehouse="HN"), *history)


def on_hand(quantity: int) -> Callable[[StockItem], object]:
    return lambda s: s.receive(quantity, ReceiptReason.INITIAL)


def reserved(order_id: str, quantity: int) -> Callable[[StockItem], object]:
    return lambda s: s.reserve(order_id, quantity)


def levels(item: StockItem) -> tuple[int, int, int]:
    return item.on_hand, item.reserved, item.available


# opening --------------------------------------------------------------------------------------
def test_a_new_stock_item_is_opened_empty() -> None:
    item = StockItem(sku="TS-RED", warehouse="HN")
    assert then(item) == [("Opened", {"sku": "TS-RED", "warehouse": "HN"})]
    assert levels(item) == (0, 0, 0)


def test_a_stock_item_id_is_the_same_for_the_same_sku_and_warehouse() -> None:
    assert StockItem.create_id("TS-RED", "HN") == StockItem.create_id("TS-RED", "HN")
    assert StockItem.create_id("TS-RED", "HN") != StockItem.create_id("TS-RED", "HCM")


# receipts ---------------------------------------------------------------------------------------
def test_receiving_goods_records_the_quantity_reason_and_reference() -> None:
    item = stock()
    item.receive(12, "purchase receipt", "PN-1")
    assert then(item) == [
        ("Received", {"quantity": 12, "reason": "purchase_receipt", "reference": "PN-1"})
    ]
    assert levels(item) == (12, 0, 12)


@pytest.mark.parametrize("reason", ["initial", "purchase_receipt", "return", "correction"])
def test_every_receipt_reason_is_accepted(reason: str) -> None:
    item = stock()
    item.receive(1, reason)
    assert then(item)[0][1]["reason"] == reason


def test_an_unknown_receipt_reason_is_refused_naming_the_allowed_ones() -> None:
    item = stock()
    with pytest.raises(InvalidInputError, match=r"^reason: unknown reason 'gift'.*correction"):
        item.receive(1, "gift")
    assert then(item) == []


def test_restocking_a_return_adds_to_on_hand() -> None:
    item = stock(on_hand(3))
    item.restock(2, "RT-1")
    assert then(item) == [("Restocked", {"quantity": 2, "reference": "RT-1"})]
    assert levels(item) == (5, 0, 5)


# reservations -----------------------------------------------------------------------------------
def test_reserving_holds_units_for_the_order() -> None:
    item = stock(on_hand(10))
    item.reserve("web-1", 4)
    assert then(item) == [("Reserved", {"order_id": "web-1", "quantity": 4})]
    assert levels(item) == (10, 4, 6)
    assert item.reserved_for("web-1") == 4


def test_reserving_twice_for_one_order_adds_up() -> None:
    item = stock(on_hand(10), reserved("web-1", 4))
    item.reserve("web-1", 2)
    assert item.reserved_for("web-1") == 6


def test_reserving_the_last_available_unit_is_allowed() -> None:
    item = stock(on_hand(5), reserved("web-1", 4))
    item.reserve("web-2", 1)
    assert levels(item) == (5, 5, 0)


def test_reserving_more_than_available_is_refused_with_what_is_available() -> None:
    item = stock(on_hand(5), reserved("web-1", 4))
    before = state(item)
    with pytest.raises(InsufficientStockError) as refused:
        item.reserve("web-2", 2)
    assert (refused.value.requested, refused.value.available) == (2, 1)
    assert str(refused.value).startswith("quantity: cannot reserve 2 of TS-RED in HN")
    assert then(item) == [] and state(item) == before


def test_releasing_gives_units_back() -> None:
    item = stock(on_hand(10), reserved("web-1", 4))
    assert item.release("web-1", 3, "customer changed mind") == 3
    assert then(item) == [
        ("Released", {"order_id": "web-1", "quantity": 3, "reason": "customer changed mind"})
    ]
    assert levels(item) == (10, 1, 9)


def test_releasing_without_a_quantity_releases_everything_held_for_the_order() -> None:
    item = stock(on_hand(10), reserved("web-1", 4), reserved("web-2", 1))
    assert item.release("web-1") == 4
    assert item.reservations == {"web-2": 1}


def test_releasing_everything_for_an_order_with_nothing_held_records_nothing() -> None:
    item = stock(on_hand(10))
    assert item.release("web-9") == 0
    assert then(item) == []


def test_releasing_more_than_reserved_is_refused() -> None:
    item = stock(on_hand(10), reserved("web-1", 2))
    before = state(item)
    with pytest.raises(InvalidInputError, match=r"^quantity: cannot release 3 .* only 2 reserved"):
        item.release("web-1", 3)
    assert then(item) == [] and state(item) == before


def test_shipping_consumes_the_reservation_and_the_units() -> None:
    item = stock(on_hand(10), reserved("web-1", 4))
    item.ship("web-1", 4, "GHN-123")
    assert then(item) == [("Shipped", {"order_id": "web-1", "quantity": 4, "reference": "GHN-123"})]
    assert levels(item) == (6, 0, 6)
    assert item.reservations == {}


def test_shipping_part_of_a_reservation_keeps_the_rest_held() -> None:
    item = stock(on_hand(10), reserved("web-1", 4))
    item.ship("web-1", 1)
    assert item.reserved_for("web-1") == 3 and item.on_hand == 9


def test_shipping_more_than_reserved_for_the_order_is_refused() -> None:
    item = stock(on_hand(10), reserved("web-1", 2), reserved("web-2", 5))
    before = state(item)
    with pytest.raises(InvalidInputError, match=r"^quantity: cannot ship 3 .* only 2 reserved"):
        item.ship("web-1", 3)
    assert then(item) == [] and state(item) == before


def test_shipping_for_an_order_without_a_reservation_is_refused() -> None:
    item = stock(on_hand(10))
    with pytest.raises(InvalidInputError, match=r"only 0 reserved"):
        item.ship("web-1", 1)
    assert then(item) == []


# write-offs, counts, transfers -----------------------------------------------------------------
def test_writing_off_damaged_units_removes_them() -> None:
    item = stock(on_hand(10))
    item.write_off(2, "broken", "HUY-1")
    assert then(item) == [("WrittenOff", {"quantity": 2, "reason": "broken", "reference": "HUY-1"})]
    assert levels(item) == (8, 0, 8)


def test_writing_off_reserved_units_is_refused() -> None:
    item = stock(on_hand(10), reserved("web-1", 9))
    with pytest.raises(InsufficientStockError, match=r"cannot write off 2"):
        item.write_off(2, "broken")
    assert then(item) == []


def test_a_write_off_needs_a_reason() -> None:
    item = stock(on_hand(10))
    with pytest.raises(InvalidInputError, match=r"^reason: must not be empty"):
        item.write_off(1, "  ")
    assert then(item) == []


def test_a_count_records_the_difference_as_an_adjustment() -> None:
    item = stock(on_hand(10))
    assert item.count(8, "Lan", "KK-1") == -2
    assert then(item) == [
        (
            "Counted",
            {
                "counted": 8,
                "expected": 10,
                "difference": -2,
                "counted_by": "Lan",
                "reference": "KK-1",
            },
        )
    ]
    assert item.on_hand == 8


def test_a_count_that_finds_more_raises_on_hand() -> None:
    item = stock(on_hand(10))
    assert item.count(13) == 3
    assert item.on_hand == 13


def test_a_count_that_matches_is_still_recorded_with_no_difference() -> None:
    item = stock(on_hand(10))
    assert item.count(10) == 0
    assert [name for name, _ in then(item)] == ["Counted"]


def test_a_count_of_zero_empties_the_shelf() -> None:
    item = stock(on_hand(10))
    item.count(0)
    assert levels(item) == (0, 0, 0)


def test_a_count_below_the_reserved_units_is_refused() -> None:
    item = stock(on_hand(10), reserved("web-1", 6))
    before = state(item)
    with pytest.raises(InvalidStateError, match=r"counted 5 is below the 6 units reserved"):
        item.count(5)
    assert then(item) == [] and state(item) == before


def test_a_negative_count_is_refused() -> None:
    item = stock(on_hand(10))
    with pytest.raises(InvalidInputError, match=r"^counted: must be a whole number of at least 0"):
        item.count(-1)
    assert then(item) == []


def test_transferring_out_takes_available_units() -> None:
    item = stock(on_hand(10))
    item.transfer_out(4, "HCM", "CK-1")
    assert then(item) == [
        ("TransferredOut", {"quantity": 4, "to_warehouse": "HCM", "reference": "CK-1"})
    ]
    assert item.on_hand == 6


def test_transferring_out_reserved_units_is_refused() -> None:
    item = stock(on_hand(10), reserved("web-1", 8))
    with pytest.raises(InsufficientStockError, match=r"cannot transfer 3 .* only 2 available"):
        item.transfer_out(3, "HCM")
    assert then(item) == []


def test_transferring_in_adds_units() -> None:
    item = stock()
    item.transfer_in(4, "HN", "CK-1")
    assert then(item) == [
        ("TransferredIn", {"quantity": 4, "from_warehouse": "HN", "reference": "CK-1"})
    ]
    assert item.on_hand == 4


# every quantity is checked by the aggregate itself ---------------------------------------------
COMMANDS: dict[str, Callable[[StockItem, Any], object]] = {
    "receive": lambda s, q: s.receive(q, "initial"),
    "restock": lambda s, q: s.restock(q),
    "reserve": lambda s, q: s.reserve("web-1", q),
    "release": lambda s, q: s.release("web-1", q),
    "ship": lambda s, q: s.ship("web-1", q),
    "write_off": lambda s, q: s.write_off(q, "broken"),
    "transfer_out": lambda s, q: s.transfer_out(q, "HCM"),
    "transfer_in": lambda s, q: s.transfer_in(q, "HCM"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("bad", [0, -3, "two", 1.5, True])
def test_a_quantity_that_is_not_a_positive_whole_number_is_refused(command: str, bad: Any) -> None:
    item = stock(on_hand(10), reserved("web-1", 5))
    before = state(item)
    with pytest.raises(InvalidInputError, match=r"^quantity: "):
        COMMANDS[command](item, bad)
    assert then(item) == [] and state(item) == before


def test_an_empty_order_id_is_refused() -> None:
    item = stock(on_hand(10))
    with pytest.raises(InvalidInputError, match=r"^order_id: must not be empty"):
        item.reserve(" ", 1)


# replay ----------------------------------------------------------------------------------------
def test_replaying_the_events_rebuilds_the_same_state() -> None:
    item = StockItem(sku="TS-RED", warehouse="HN")
    item.receive(10, "initial")
    item.reserve("web-1", 4)
    item.ship("web-1", 3)
    item.count(6)
    item.transfer_out(1, "HCM")
    rebuilt = given(item)
    assert levels(rebuilt) == levels(item) == (5, 1, 4)
    assert rebuilt.reservations == {"web-1": 1}
    assert rebuilt.version == item.version == 6
