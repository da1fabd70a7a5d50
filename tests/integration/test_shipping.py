"""Shipments with carriers on SQLite and PostgreSQL: pack, book, hand over, deliver, fail, COD."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderflow import Engine
from orderflow.errors import ExternalServiceError, InvalidStateError
from tests.integration.fulfilment_setup import connected, delivered, shipped
from tests.integration.ordering_setup import levels, place


def test_booking_a_shipment_packs_the_order_and_records_the_carriers_tracking_number(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=2)
    shipment = engine.book_shipment(
        order_id, "ghn", "express", weight_kg="0.8", dimensions_cm=(25, 20, 5)
    )
    order = engine.order(order_id)
    assert (order.status, order.fulfilment) == ("processing", "packed")
    assert shipment.status == "booked" and shipment.tracking_number == "GHNFAKE00000001"
    assert shipment.cod_amount == order.total == Decimal(2 * 199_000 + 30_000)
    [call] = world.ghn.calls
    sent = call.argument
    assert (sent.shipment_id, sent.weight_grams, sent.cod_amount) == (
        str(shipment.id),
        800,
        order.total,
    )
    assert sent.recipient_phone == "0903 123 456" and sent.address["province_code"] == "79"
    assert engine.find_shipment("GHN", "GHNFAKE00000001") == shipment.id
    assert levels(engine, "TEE")["HN"] == (10, 2)  # still reserved, not yet gone


def test_pick_up_consumes_the_reservations_together_with_the_shipment_and_the_order(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id, shipment = shipped(world, "1", TEE=2)
    assert levels(engine, "TEE")["HN"] == (8, 0)
    assert engine.order(order_id).fulfilment == "shipped"
    assert engine.shipment(shipment.id).status == "picked_up"


def test_delivery_records_cod_collected_completes_the_order_and_remittance_is_recorded(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id, shipment = shipped(world, "1", TEE=1)
    outcome = engine.record_carrier_status("ghn", shipment.tracking_number, "delivered")
    order = engine.order(order_id)
    assert outcome == "applied"
    assert (order.status, order.fulfilment, order.paid) == ("completed", "delivered", order.total)
    engine.record_cod_remittance(shipment.id, "GHN-CK-0107")
    engine.record_cod_remittance(shipment.id, "GHN-CK-0107")  # the statement read twice
    kinds = [(t.kind, t.amount) for t in engine.order_transactions(order_id)]
    assert kinds == [("cod_collected", order.total), ("cod_remitted", order.total)]
    assert engine.shipment(shipment.id).cod_remitted == order.total


def test_a_viettel_post_webhook_code_moves_a_viettel_post_parcel(engine: Engine) -> None:
    world = connected(engine)
    order_id, shipment = shipped(world, "1", carrier="viettelpost", MUG=1)
    assert shipment.tracking_number.startswith("VTPFAKE")
    engine.record_carrier_status("viettelpost", shipment.tracking_number, "501")
    assert engine.order(order_id).fulfilment == "delivered"
    assert engine.shipment(shipment.id).history[-1]["carrier_status"] == "501"


def test_a_carrier_update_that_arrives_twice_or_late_changes_nothing_wrongly(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id, shipment = delivered(world, "1", TEE=1)
    delivered_at = engine.shipment(shipment.id).history[-1]["at"]
    position = engine.position()
    assert engine.record_carrier_update(shipment.id, "delivered", delivered_at) == "duplicate"
    assert engine.position() == position  # nothing written
    late = engine.record_carrier_update(shipment.id, "transporting", "2026-01-05T02:30:00Z")
    assert late == "noted"
    assert engine.shipment(shipment.id).status == "delivered"
    order = engine.order(order_id)
    assert (order.fulfilment, order.paid, len(order.transactions)) == ("delivered", order.total, 1)
    assert levels(engine, "TEE")["HN"] == (9, 0)  # stock consumed once


def test_a_failed_delivery_returned_to_the_sender_ends_with_the_order_returned(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id, shipment = shipped(world, "1", TEE=1)
    engine.record_carrier_update(
        shipment.id, "delivery_fail", world.clock.advance(days=1), reason="customer absent"
    )
    assert engine.order(order_id).fulfilment == "delivery_failed"
    engine.return_shipment_to_sender(shipment.id)
    assert world.ghn.calls[-1].method == "return_to_sender"
    engine.record_carrier_update(shipment.id, "returning", world.clock.advance(days=1))
    engine.record_carrier_update(shipment.id, "returned", world.clock.advance(days=2))
    order = engine.order(order_id)
    assert (order.fulfilment, order.paid) == ("returned", Decimal(0))
    assert engine.shipment(shipment.id).decision == ""


def test_a_failed_delivery_re_attempted_is_delivered_the_next_day(engine: Engine) -> None:
    world = connected(engine)
    order_id, shipment = shipped(world, "1", TEE=1)
    engine.record_carrier_update(
        shipment.id, "delivery_failed", world.clock.advance(days=1), "absent"
    )
    engine.redeliver_shipment(shipment.id)
    assert world.ghn.calls[-1].method == "redeliver"
    engine.record_carrier_update(shipment.id, "delivering", world.clock.advance(days=1))
    engine.record_carrier_update(shipment.id, "delivered", world.clock.advance(hours=3))
    assert engine.order(order_id).status == "completed"


def test_shipping_a_cancelled_order_is_refused_and_writes_nothing(engine: Engine) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=1)
    engine.cancel_order(order_id, "buyer cancelled")
    position = engine.position()
    with pytest.raises(
        InvalidStateError, match="order shopee/1: cannot pack: the order is cancelled"
    ):
        engine.book_shipment(order_id, "ghn", weight_kg=1)
    assert engine.position() == position and world.ghn.calls == []


def test_an_order_still_waiting_for_stock_cannot_be_packed(engine: Engine) -> None:
    connected(engine)
    order_id = place(engine, "1", RICE=1)
    with pytest.raises(InvalidStateError, match=r"awaiting_stock .*only a fully reserved order"):
        engine.request_shipment(order_id, "ghn", weight_kg=5)


def test_a_booking_refused_by_the_carrier_leaves_the_shipment_requested_to_book_again(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=1)
    world.ghn.refuse_next = "to_ward_code is invalid"
    with pytest.raises(ExternalServiceError, match="FAKE ghn: to_ward_code is invalid"):
        engine.book_shipment(order_id, "ghn", weight_kg=1)
    [shipment] = engine.shipments_of_order(order_id)
    assert shipment.status == "requested" and engine.order(order_id).fulfilment == "packed"
    booked = engine.book_with_carrier(shipment.id)  # what a subscriber does
    assert booked.status == "booked"
    assert engine.book_with_carrier(shipment.id).tracking_number == booked.tracking_number
    assert [c.method for c in world.ghn.calls] == ["book", "book"]


def test_a_subscriber_can_record_the_booking_it_made_itself(engine: Engine) -> None:
    connected(engine)
    order_id = place(engine, "1", TEE=1)
    shipment_id = engine.request_shipment(order_id, "viettelpost", weight_kg=1, cod_amount=0)
    engine.record_carrier_booking(shipment_id, "VTP123", 25_000, "2026-01-09T10:00:00+07:00", "A5")
    engine.record_carrier_booking(shipment_id, "VTP123", 25_000, "2026-01-09T10:00:00+07:00", "A5")
    shipment = engine.shipment(shipment_id)
    assert (shipment.tracking_number, shipment.fee, shipment.cod_amount) == (
        "VTP123",
        Decimal(25_000),
        Decimal(0),
    )
    assert shipment.expected_delivery == "2026-01-09T03:00:00+00:00"


def test_without_a_connected_carrier_booking_is_refused_before_anything_is_written(
    engine: Engine,
) -> None:
    connected(engine)
    engine.connect(carriers={})
    order_id = place(engine, "1", TEE=1)
    position = engine.position()
    with pytest.raises(InvalidStateError, match="carrier ghn: is not connected"):
        engine.book_shipment(order_id, "ghn", weight_kg=1)
    assert engine.position() == position


def test_a_cod_amount_above_what_the_buyer_owes_is_refused(engine: Engine) -> None:
    connected(engine)
    order_id = place(engine, "1", TEE=1)
    with pytest.raises(Exception, match="cod_amount: 999999 VND is more than the 229000 VND"):
        engine.request_shipment(order_id, "ghn", weight_kg=1, cod_amount=999_999)


def test_a_cancelled_shipment_puts_the_order_back_to_reserved_to_pack_again(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=1)
    first = engine.book_shipment(order_id, "ghn", weight_kg=1)
    engine.cancel_shipment(first.id, "wrong carrier")
    assert world.ghn.cancelled == {first.tracking_number}
    assert engine.order(order_id).fulfilment == "reserved"
    second = engine.book_shipment(order_id, "viettelpost", weight_kg=1)
    assert [s.status for s in engine.shipments_of_order(order_id)] == ["cancelled", "booked"]
    engine.record_carrier_update(second.id, "105")
    assert levels(engine, "TEE")["HN"] == (9, 0)
    with pytest.raises(InvalidStateError, match="carrier already has it"):
        engine.cancel_shipment(second.id, "too late")


def test_cancelling_a_packed_order_cancels_its_parcel_at_the_carrier_and_here(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=2)
    parcel = engine.book_shipment(order_id, "ghn", weight_kg=1)
    before = engine.position()
    engine.cancel_order(order_id, "buyer changed their mind")
    assert world.ghn.cancelled == {parcel.tracking_number}
    assert [s.status for s in engine.shipments_of_order(order_id)] == ["cancelled"]
    assert engine.order(order_id).status == "cancelled"
    assert levels(engine, "TEE")["HN"] == (10, 0)
    saved = engine.recorder.select_notifications(before + 1, 100)
    assert saved[-1].id == engine.position()  # one transaction: the order, stock and parcel
    assert {"Order.Cancelled", "Shipment.Cancelled", "StockItem.Released"} <= {
        n.topic.rsplit(":", 1)[1] for n in saved
    }


def test_a_packed_order_not_yet_booked_is_cancelled_with_its_request(engine: Engine) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=1)
    engine.request_shipment(order_id, "ghn", weight_kg=1)  # the booking would come later
    engine.cancel_order(order_id, "out of stock after all")
    assert world.ghn.cancelled == set()  # nothing booked: nothing to tell the carrier
    assert [s.status for s in engine.shipments_of_order(order_id)] == ["cancelled"]


def test_when_the_carrier_refuses_to_cancel_nothing_is_recorded(engine: Engine) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=1)
    engine.book_shipment(order_id, "ghn", weight_kg=1)
    world.ghn.refuse_next = "already picked up"
    position = engine.position()
    with pytest.raises(ExternalServiceError, match="FAKE ghn: already picked up"):
        engine.cancel_order(order_id, "too late")
    assert engine.position() == position
    assert engine.order(order_id).fulfilment == "packed"


def test_a_cancel_the_seller_made_at_the_carrier_is_recorded_without_calling_it(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=1)
    engine.book_shipment(order_id, "ghn", weight_kg=1)
    calls = len(world.ghn.calls)
    engine.cancel_order(order_id, "cancelled on the GHN app", tell_carrier=False)
    assert len(world.ghn.calls) == calls and world.ghn.cancelled == set()
    assert [s.status for s in engine.shipments_of_order(order_id)] == ["cancelled"]
