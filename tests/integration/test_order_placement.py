"""Placing orders from every channel reserves stock atomically, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderflow import Engine
from orderflow.errors import InvalidInputError, InvalidStateError, NotFoundError
from tests.integration.ordering_setup import ADDRESS, BUYER, levels, place, seller


@pytest.mark.parametrize(
    "channel", ["web", "shopee", "lazada", "tiktok", "phone", "facebook", "other"]
)
def test_an_order_from_every_channel_is_placed_and_reserved(
    memory_engine: Engine, channel: str
) -> None:
    seller(memory_engine)
    order_id = place(memory_engine, "A-1", channel, TEE=2)
    info = memory_engine.order(f"{channel}/A-1")
    assert (info.id, info.channel, info.status, info.fulfilment) == (
        order_id,
        channel,
        "new",
        "reserved",
    )


def test_placing_reserves_from_one_warehouse_and_prices_from_the_catalogue(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1001", TEE=2, MUG=1)
    info = engine.order(order_id)
    assert info.fulfilment == "reserved"
    assert [(line.sku, line.reserved, line.unit_price) for line in info.lines] == [
        ("TEE", {"HCM": 2}, Decimal(199_000)),
        ("MUG", {"HCM": 1}, Decimal(99_000)),
    ]
    assert info.total == 2 * 199_000 + 99_000 + 30_000
    assert sum(v.net + v.vat for v in info.vat) == info.total
    assert levels(engine, "TEE") == {"HN": (10, 0), "HCM": (3, 2)}


def test_placing_the_same_channel_order_twice_returns_it_and_writes_nothing(engine: Engine) -> None:
    seller(engine)
    first = place(engine, "1001", TEE=2)
    position = engine.position()
    again = engine.place_order("shopee", " 1001 ", BUYER, ADDRESS, [{"sku": "MUG", "quantity": 5}])
    assert again == first and engine.position() == position
    assert levels(engine, "TEE")["HN"] == (10, 2)


def test_the_channels_preferred_warehouse_is_used_first(engine: Engine) -> None:
    seller(engine)
    engine.set_preferred_warehouse("tiktok", "HCM")
    place(engine, "T-1", "tiktok", TEE=1)
    place(engine, "S-1", "shopee", TEE=1)
    assert levels(engine, "TEE") == {"HN": (10, 1), "HCM": (3, 1)}
    assert engine.preferred_warehouses()["tiktok"] == "HCM"


def test_an_order_no_warehouse_can_fill_alone_is_split_by_line(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1002", TEE=5, MUG=2)
    assert {line.sku: line.reserved for line in engine.order(order_id).lines} == {
        "TEE": {"HN": 5},
        "MUG": {"HCM": 2},
    }


def test_what_exists_is_reserved_and_the_rest_backordered_as_a_shortage(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1003", TEE=15, RICE=2)
    info = engine.order(order_id)
    assert info.fulfilment == "awaiting_stock"
    assert [(line.sku, line.reserved, line.backordered) for line in info.lines] == [
        ("TEE", {"HN": 10, "HCM": 3}, 2),
        ("RICE", {}, 2),
    ]
    shortages = {s.sku: (s.waiting, [w.order_id for w in s.orders]) for s in engine.shortages()}
    assert shortages == {"TEE": (2, [order_id]), "RICE": (2, [order_id])}


def test_an_inactive_warehouse_is_not_reserved_from(engine: Engine) -> None:
    seller(engine)
    engine.deactivate_warehouse("HCM", "moving")
    order_id = place(engine, "1004", MUG=1)
    assert engine.order(order_id).lines[0].backordered == 1
    assert levels(engine, "MUG")["HCM"] == (5, 0)


def test_a_warehouse_registered_after_the_first_order_is_used(engine: Engine) -> None:
    seller(engine)
    place(engine, "1005", TEE=1)
    engine.register_warehouse("DN", "Kho Da Nang")
    engine.receive_stock("RICE", "DN", 4)
    order_id = place(engine, "1006", RICE=4)
    assert engine.order(order_id).lines[0].reserved == {"DN": 4}


def test_a_prepayment_is_recorded_with_the_order(engine: Engine) -> None:
    seller(engine)
    order_id = engine.place_order(
        "web",
        "W-9",
        BUYER,
        ADDRESS,
        [{"sku": "TEE", "quantity": 1, "unit_price": 150_000}],
        shipping_fee=0,
        payment_method="prepaid",
        paid=150_000,
        payment_reference="VNPAY-77",
    )
    info = engine.order(order_id)
    assert (info.paid, info.outstanding, info.lines[0].unit_price) == (150_000, 0, 150_000)
    assert [(t.kind, t.reference) for t in engine.order_transactions(order_id)] == [
        ("payment", "VNPAY-77")
    ]


@pytest.mark.parametrize(
    ("lines", "error", "field"),
    [
        ([{"sku": "NOPE", "quantity": 1}], NotFoundError, "lines[0].sku"),
        (
            [{"sku": "TEE", "quantity": 1}, {"sku": "MUG", "quantity": -1}],
            InvalidInputError,
            "lines[1].quantity",
        ),
        ([{"sku": "TEE", "quantity": 1, "colour": "red"}], InvalidInputError, "lines[0]"),
        ([], InvalidInputError, "lines"),
    ],
)
def test_a_bad_order_is_refused_naming_the_field_and_writes_nothing(
    engine: Engine, lines: list[dict[str, object]], error: type[Exception], field: str
) -> None:
    seller(engine)
    position = engine.position()
    with pytest.raises(error) as raised:
        engine.place_order("web", "BAD", BUYER, ADDRESS, lines)
    assert getattr(raised.value, "field", None) == field
    assert engine.position() == position


def test_a_discontinued_product_cannot_be_ordered(engine: Engine) -> None:
    seller(engine)
    engine.discontinue_product("MUG", "no longer made")
    with pytest.raises(InvalidInputError, match="MUG is no longer sold"):
        place(engine, "1007", MUG=1)


def test_orders_are_found_by_id_or_channel_and_external_id_and_listed(engine: Engine) -> None:
    seller(engine)
    a = place(engine, "1", "lazada", TEE=1)
    b = place(engine, "2", "web", MUG=1)
    assert engine.order("lazada/1").id == a == engine.order_id("lazada", "1")
    assert engine.order(str(b)).reference == "web/2"
    assert [o.reference for o in engine.orders()] == ["lazada/1", "web/2"]
    assert [o.reference for o in engine.orders(channel="web")] == ["web/2"]
    with pytest.raises(NotFoundError, match="order: no order 'web/3'"):
        engine.order("web/3")
    with pytest.raises(InvalidInputError, match="neither an order id nor CHANNEL/EXTERNAL_ID"):
        engine.order("nonsense")


def test_setting_a_preferred_warehouse_that_is_inactive_is_refused(engine: Engine) -> None:
    seller(engine)
    engine.deactivate_warehouse("HCM")
    with pytest.raises(InvalidInputError, match="inactive"):
        engine.set_preferred_warehouse("web", "HCM")


def test_cancelling_twice_is_refused_naming_the_order(engine: Engine) -> None:
    seller(engine)
    place(engine, "1", TEE=1)
    engine.cancel_order("shopee/1", "duplicate")
    with pytest.raises(InvalidStateError, match="order shopee/1: is already cancelled"):
        engine.cancel_order("shopee/1", "again")
