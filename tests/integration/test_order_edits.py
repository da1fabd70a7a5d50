"""Editing and cancelling orders moves their reservations in the same transaction."""

from __future__ import annotations

import pytest

from orderflow import Engine
from orderflow.errors import InvalidInputError, InvalidStateError
from tests.integration.ordering_setup import levels, place, seller, ship_and_deliver


def test_reducing_a_quantity_releases_units_back_to_stock(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=4)
    engine.set_order_quantities(order_id, {"TEE": 1})
    assert engine.order(order_id).lines[0].reserved == {"HN": 1}
    assert levels(engine, "TEE")["HN"] == (10, 1)


def test_raising_a_quantity_reserves_more_and_backorders_what_is_missing(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=4)
    engine.set_order_quantities(order_id, {"TEE": 15})
    line = engine.order(order_id).lines[0]
    assert (line.reserved, line.backordered) == ({"HN": 10, "HCM": 3}, 2)
    assert engine.order(order_id).fulfilment == "awaiting_stock"


def test_adding_and_removing_lines_follows_with_the_stock(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=1, RICE=3)
    engine.set_order_quantities(order_id, {"RICE": 0, "MUG": 2})
    info = engine.order(order_id)
    assert [(line.sku, line.reserved, line.backordered) for line in info.lines] == [
        ("TEE", {"HN": 1}, 0),
        ("MUG", {"HCM": 2}, 0),
    ]
    assert info.fulfilment == "reserved"
    assert engine.shortages() == []


def test_reducing_a_backordered_line_first_drops_the_backorder(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=15)
    engine.set_order_quantities(order_id, {"TEE": 12})
    line = engine.order(order_id).lines[0]
    assert (line.reserved, line.backordered) == ({"HN": 10, "HCM": 2}, 0)
    assert levels(engine, "TEE") == {"HN": (10, 10), "HCM": (3, 2)}


def test_changing_lines_keeps_the_orders_own_price_unless_a_new_one_is_given(
    engine: Engine,
) -> None:
    seller(engine)
    order_id = engine.place_order(
        "phone",
        "P-1",
        {"name": "Le Van C", "phone": "0988 111 222"},
        {"street": "1 Tran Phu", "ward": "Hai Chau I", "province": "Da Nang"},
        [{"sku": "TEE", "quantity": 1, "unit_price": 150_000}],
    )
    engine.change_order_lines(
        order_id,
        [{"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 1, "unit_price": 80_000}],
    )
    assert [(line.sku, line.unit_price) for line in engine.order(order_id).lines] == [
        ("TEE", 150_000),
        ("MUG", 80_000),
    ]


def test_buyer_address_and_shipping_fee_can_be_changed_until_packed(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=1)
    engine.change_order_buyer(order_id, phone="0911 000 111")
    engine.change_order_address(
        order_id, street="99 Hai Ba Trung", district="", ward="Phuong Sai Gon"
    )
    engine.change_shipping_fee(order_id, 0)
    info = engine.order(order_id)
    assert info.buyer["phone"] == "0911 000 111" and info.buyer["name"] == "Tran Thi Binh"
    assert (info.address["street"], info.address["district"]) == ("99 Hai Ba Trung", "")
    assert info.total == 199_000


def test_a_bad_edit_is_refused_and_writes_nothing(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=1)
    position = engine.position()
    with pytest.raises(InvalidInputError, match=r"buyer\.phone"):
        engine.change_order_buyer(order_id, phone="call me")
    with pytest.raises(InvalidInputError, match="lines: an order needs at least one line"):
        engine.set_order_quantities(order_id, {"TEE": 0})
    with pytest.raises(InvalidInputError, match=r"quantities\.MUG: is not on the order"):
        engine.set_order_quantities(order_id, {"MUG": 0})
    assert engine.position() == position


def test_edits_after_packing_are_refused_naming_the_order(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=1)
    ship_and_deliver(engine, order_id, deliver=False)
    position = engine.position()
    with pytest.raises(
        InvalidStateError,
        match="order shopee/1: cannot change the lines: the order is already shipped",
    ):
        engine.set_order_quantities(order_id, {"TEE": 2})
    with pytest.raises(InvalidStateError, match="order shopee/1: cannot cancel"):
        engine.cancel_order(order_id, "too late")
    assert engine.position() == position


def test_cancelling_releases_every_reservation_and_leaves_the_waiting_list(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=15, MUG=1, RICE=1)
    engine.cancel_order("shopee/1", "buyer changed their mind")
    info = engine.order(order_id)
    assert (info.status, info.cancel_reason) == ("cancelled", "buyer changed their mind")
    assert levels(engine, "TEE") == {"HN": (10, 0), "HCM": (3, 0)}
    assert levels(engine, "MUG")["HCM"] == (5, 0)
    assert engine.shortages() == []


def test_units_freed_by_a_cancelled_order_go_to_the_oldest_waiting_order(engine: Engine) -> None:
    seller(engine)
    holder = place(engine, "1", MUG=5)
    waiting_first = place(engine, "2", MUG=2)
    waiting_second = place(engine, "3", MUG=4)
    engine.cancel_order(holder, "paid by mistake")
    assert engine.order(waiting_first).fulfilment == "reserved"
    second = engine.order(waiting_second).lines[0]
    assert (second.reserved, second.backordered) == ({"HCM": 3}, 1)
    assert levels(engine, "MUG")["HCM"] == (5, 5)


def test_units_freed_by_a_smaller_order_go_to_waiting_orders(engine: Engine) -> None:
    seller(engine)
    holder = place(engine, "1", MUG=5)
    waiting = place(engine, "2", MUG=1)
    engine.set_order_quantities(holder, {"MUG": 4})
    assert engine.order(waiting).fulfilment == "reserved"
    assert engine.shortages() == []


def test_an_edit_of_several_things_is_one_transaction_and_all_or_nothing(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=1)
    position = engine.position()
    with pytest.raises(InvalidInputError, match=r"quantities\.MUG"):
        engine.edit_order(order_id, buyer={"name": "Pham D"}, quantities={"MUG": "many"})
    assert engine.position() == position
    engine.edit_order(
        order_id, buyer={"name": "Pham D"}, quantities={"MUG": 1}, shipping_fee=15_000
    )
    info = engine.order(order_id)
    assert (info.buyer["name"], [line.sku for line in info.lines], info.shipping_fee) == (
        "Pham D",
        ["TEE", "MUG"],
        15_000,
    )
