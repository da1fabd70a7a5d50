"""Returns and exchanges on SQLite and PostgreSQL: restock, write-off, refund, invoice, exchange."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderflow import Engine
from orderflow.errors import InvalidStateError
from orderflow.stock_item import StockItem
from tests.integration.fulfilment_setup import COMPANY, connected, delivered, shipped
from tests.integration.ordering_setup import levels, place


def stock_events(engine: Engine, sku: str, warehouse: str) -> list[str]:
    item_id = StockItem.create_id(sku, warehouse)
    return [type(e).__name__ for e in engine.events.get(item_id)]


def test_resellable_goods_go_back_to_stock_and_damaged_ones_are_written_off_with_a_refund(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id, _ = delivered(world, "1", TEE=3)
    assert levels(engine, "TEE")["HN"] == (7, 0)
    return_id = engine.receive_return(
        order_id,
        [
            {"sku": "TEE", "quantity": 2, "condition": "resellable"},
            {"sku": "TEE", "quantity": 1, "condition": "damaged"},
        ],
        reason="wrong size",
        refund="goods",
        reference="CK-0108",
    )
    assert levels(engine, "TEE")["HN"] == (9, 0)
    assert stock_events(engine, "TEE", "HN")[-3:] == ["Restocked", "Received", "WrittenOff"]
    ret = engine.return_info(return_id)
    assert ret.goods_value == ret.refunded == Decimal(3 * 199_000)
    order = engine.order(order_id)
    assert order.refunded == Decimal(3 * 199_000) and order.fulfilment == "returned"
    assert order.return_ids == [str(return_id)]


def test_returning_more_than_was_shipped_is_refused_and_writes_nothing(engine: Engine) -> None:
    world = connected(engine)
    order_id, _ = delivered(world, "1", TEE=2)
    engine.receive_return(order_id, [{"sku": "TEE", "quantity": 1}])
    position = engine.position()
    with pytest.raises(
        InvalidStateError,
        match="order shopee/1: cannot return 2 of TEE: 2 shipped, 1 already returned",
    ):
        engine.receive_return(order_id, [{"sku": "TEE", "quantity": 2}])
    with pytest.raises(InvalidStateError, match="cannot return 1 of MUG: 0 shipped"):
        engine.receive_return(order_id, [{"sku": "MUG", "quantity": 1}])
    assert engine.position() == position


def test_goods_not_yet_handed_to_a_carrier_cannot_be_returned(engine: Engine) -> None:
    connected(engine)
    order_id = place(engine, "1", TEE=1)
    with pytest.raises(InvalidStateError, match="cannot return 1 of TEE: 0 shipped"):
        engine.receive_return(order_id, [{"sku": "TEE", "quantity": 1}])


def test_refunding_more_than_was_paid_is_refused_and_writes_nothing(engine: Engine) -> None:
    world = connected(engine)
    order_id, shipment = shipped(world, "1", TEE=1)
    engine.record_carrier_update(
        shipment.id, "delivery_fail", world.clock.advance(days=1), "absent"
    )
    engine.record_carrier_update(shipment.id, "returned", world.clock.advance(days=3))
    position = engine.position()
    with pytest.raises(InvalidStateError, match="cannot refund 199000 VND: only 0 VND was paid"):
        engine.receive_return(order_id, [{"sku": "TEE", "quantity": 1}], refund=199_000)
    assert engine.position() == position and levels(engine, "TEE")["HN"] == (9, 0)
    engine.receive_return(order_id, [{"sku": "TEE", "quantity": 1}], reason="undeliverable")
    assert levels(engine, "TEE")["HN"] == (10, 0)


def test_a_later_refund_of_a_return_defaults_to_its_goods_value_and_never_twice(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id, _ = delivered(world, "1", TEE=2)
    return_id = engine.receive_return(order_id, [{"sku": "TEE", "quantity": 1}])
    engine.refund_return(return_id, reference="MOMO-77")
    assert engine.return_info(return_id).refunded == 199_000
    with pytest.raises(InvalidStateError, match="has nothing left to refund"):
        engine.refund_return(return_id)


def test_an_issued_invoice_is_replaced_by_one_without_the_returned_goods(engine: Engine) -> None:
    world = connected(engine)
    order_id, _ = delivered(world, "1", TEE=2, MUG=1)
    original = engine.issue_invoice(order_id, COMPANY)
    return_id = engine.receive_return(order_id, [{"sku": "MUG", "quantity": 1}], refund="goods")
    replacement_id = engine.replace_invoice_after_return(return_id)
    assert replacement_id is not None
    replacement = engine.invoice(replacement_id)
    assert replacement.total == original.total - 99_000
    assert [line["sku"] for line in replacement.lines] == ["TEE", "SHIPPING"]
    assert (replacement.replaces, replacement.buyer["company"]) == (
        str(original.id),
        COMPANY["company"],
    )
    assert engine.invoice(original.id).status == "replaced"
    assert engine.replace_invoice_after_return(return_id) == replacement_id  # once
    assert engine.return_info(return_id).invoice_id == str(replacement_id)
    assert len(world.provider.issued) == 2


def test_when_everything_comes_back_the_replacement_keeps_only_the_shipping_fee(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id, _ = delivered(world, "1", TEE=1)
    engine.issue_invoice(order_id)
    return_id = engine.receive_return(order_id, [{"sku": "TEE", "quantity": 1}], refund="goods")
    replacement = engine.invoice(engine.replace_invoice_after_return(return_id) or "")
    assert [(line["sku"], line["gross"]) for line in replacement.lines] == [("SHIPPING", 30_000)]
    assert engine.order(order_id).paid - engine.order(order_id).refunded == replacement.total


def test_after_a_money_adjustment_a_return_takes_exactly_the_returned_goods_off(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id, _ = delivered(world, "1", TEE=2)
    original = engine.issue_invoice(order_id, COMPANY)
    discount = [{"name": "discount", "quantity": 1, "unit_price": 19_000, "vat_rate": "8"}]
    engine.adjust_invoice(original.id, "loyalty discount", lines=discount)
    return_id = engine.receive_return(order_id, [{"sku": "TEE", "quantity": 1}])
    correction = engine.invoice(engine.replace_invoice_after_return(return_id) or "")
    assert (correction.purpose, correction.adjustment, correction.total) == (
        "adjustment",
        "money",
        Decimal(-199_000),
    )
    assert correction.buyer["company"] == COMPANY["company"]
    assert world.provider.payloads[str(correction.id)]["itemInfo"][0]["isIncreaseItem"] is False
    assert engine.invoice(original.id).status == "issued"


def test_an_order_without_an_invoice_needs_no_correction(engine: Engine) -> None:
    world = connected(engine)
    order_id, _ = delivered(world, "1", TEE=1)
    return_id = engine.receive_return(order_id, [{"sku": "TEE", "quantity": 1}])
    assert engine.replace_invoice_after_return(return_id) is None


def test_an_exchange_places_a_linked_order_paid_by_the_returned_goods(engine: Engine) -> None:
    world = connected(engine)
    order_id, _ = delivered(world, "1", TEE=1)
    return_id = engine.receive_return(order_id, [{"sku": "TEE", "quantity": 1}], reason="colour")
    new_id = engine.exchange_return(return_id, [{"sku": "MUG", "quantity": 2}])
    assert engine.exchange_return(return_id, [{"sku": "MUG", "quantity": 2}]) == new_id
    new, original = engine.order(new_id), engine.order(order_id)
    assert (new.channel, new.external_id, new.exchange_of) == ("shopee", "1-EX1", str(order_id))
    assert new.paid == new.total == Decimal(2 * 99_000)  # no shipping fee on the exchange
    assert original.refunded == new.total  # the credit moved from the original to the exchange
    assert engine.return_info(return_id).exchange_credit == new.total
    assert levels(engine, "MUG")["HCM"] == (5, 2)
    shipment = engine.book_shipment(new_id, "ghn", weight_kg=1)
    assert shipment.cod_amount == 0  # nothing left to collect
    with pytest.raises(InvalidStateError, match="exchange order"):
        engine.refund_return(return_id, 1)
