"""Payments, COD, remittance, refunds and completion, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from orderflow import Engine
from orderflow.errors import InvalidStateError
from tests.integration.ordering_setup import ADDRESS, BUYER, place, seller, ship_and_deliver


def test_a_delivered_cod_order_completes_once_the_cod_is_collected_and_remittance_is_recorded(
    engine: Engine,
) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=1)
    ship_and_deliver(engine, order_id)
    total = engine.order(order_id).total
    engine.record_payment(order_id, total, "cod_collected", "GHN-COD-1")
    assert engine.order(order_id).status == "completed"
    engine.record_payment(order_id, total, "cod_remitted", "GHN-REMIT-0301")
    kinds = [(t.kind, t.amount) for t in engine.order_transactions(order_id)]
    assert kinds == [("cod_collected", total), ("cod_remitted", total)]


def test_a_prepaid_order_is_completed_by_its_delivery(engine: Engine) -> None:
    seller(engine)
    order_id = engine.place_order(
        "web",
        "W-1",
        BUYER,
        ADDRESS,
        [{"sku": "MUG", "quantity": 2}],
        shipping_fee=20_000,
        payment_method="prepaid",
    )
    engine.record_payment(order_id, 218_000, reference="MOMO-1")
    assert engine.order(order_id).status == "new"
    ship_and_deliver(engine, order_id)
    assert engine.order(order_id).status == "completed"


def test_refunding_more_than_was_paid_is_refused_and_writes_nothing(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=1)
    engine.record_payment(order_id, 100_000, reference="BANK-1")
    engine.record_refund(order_id, 60_000, "RF-1")
    position = engine.position()
    with pytest.raises(
        InvalidStateError, match="order shopee/1: cannot refund 50000 VND: only 40000 VND"
    ):
        engine.record_refund(order_id, 50_000, "RF-2")
    assert engine.position() == position
    assert engine.order(order_id).refunded == 60_000


def test_collecting_cod_before_delivery_is_refused(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=1)
    with pytest.raises(InvalidStateError, match="not delivered"):
        engine.record_payment(order_id, 1000, "cod_collected")


def test_a_repeated_payment_notification_is_recorded_once(engine: Engine) -> None:
    seller(engine)
    order_id = place(engine, "1", TEE=1)
    engine.record_payment(order_id, 50_000, reference="VNPAY-5")
    position = engine.position()
    engine.record_payment(order_id, 50_000, reference="VNPAY-5")
    assert engine.position() == position and engine.order(order_id).paid == 50_000
