"""Shipment: booking, carrier updates (twice, late, out of order), cancel, COD."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from orderflow.errors import InvalidInputError, InvalidStateError
from orderflow.shipment import Shipment
from tests.unit.gwt import given, state, then

ITEMS = [
    {
        "sku": "TS-RED",
        "name": "Tee",
        "warehouse": "HN",
        "quantity": 2,
        "unit_price": Decimal(150_000),
    }
]
T1, T2, T3, T4 = (f"2026-01-0{d}T03:00:00+00:00" for d in (5, 6, 7, 8))


def new_shipment(**changes: Any) -> Shipment:
    fields: dict[str, Any] = dict(
        order_id="o-1",
        order_reference="web/W1",
        carrier_name="GHN",
        service_name="express",
        cod_amount=330_000,
        weight="1.5",
        dimensions=(30, 20, 10),
        paid_by="seller",
        items=ITEMS,
        note="fragile",
        at=T1,
    )
    return Shipment.request(**(fields | changes))


def shipment(*history: Callable[[Shipment], object]) -> Shipment:
    return given(new_shipment(), *history)


def booked(s: Shipment) -> None:
    s.book("GHN1", 42_000, T3, "label-1")


def update(status: str, at: str, reason: str = "", raw: str = "") -> Callable[[Shipment], object]:
    return lambda s: s.record_update(status, at, raw, reason)


def names(s: Shipment) -> list[str]:
    return [name for name, _ in then(s)]


# requesting ---------------------------------------------------------------------------------
def test_a_requested_shipment_records_the_parcel_and_waits_for_a_booking() -> None:
    s = new_shipment()
    [(name, fields)] = then(s)
    assert name == "Requested"
    assert fields["carrier"] == "ghn" and fields["service"] == "express"
    assert fields["weight_kg"] == Decimal("1.500")
    assert fields["dimensions_cm"] == {"length": 30, "width": 20, "height": 10}
    assert (s.status, s.cod_amount, s.shipped("TS-RED")) == ("requested", Decimal(330_000), 2)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"carrier_name": "dhl"}, "carrier"),
        ({"service_name": "overnight"}, "service"),
        ({"weight": "0"}, "weight_kg"),
        ({"weight": "heavy"}, "weight_kg"),
        ({"dimensions": (30, 20)}, "dimensions_cm"),
        ({"dimensions": (30, 0, 10)}, "dimensions_cm.width"),
        ({"dimensions": (301, 20, 10)}, "dimensions_cm.length"),
        ({"paid_by": "carrier"}, "fee_payer"),
        ({"cod_amount": -1}, "cod_amount"),
        ({"items": []}, "items"),
    ],
)
def test_a_shipment_with_bad_parcel_details_is_refused_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        new_shipment(**change)
    assert refused.value.field == field


def test_viettel_post_is_accepted_under_its_common_names() -> None:
    assert new_shipment(carrier_name="Viettel Post").carrier == "viettelpost"
    assert new_shipment(carrier_name="vtp").carrier == "viettelpost"


# booking ------------------------------------------------------------------------------------
def test_a_booking_records_tracking_number_fee_expected_delivery_and_label() -> None:
    s = shipment()
    booked(s)
    assert then(s) == [
        (
            "Booked",
            {
                "tracking_number": "GHN1",
                "fee": Decimal(42_000),
                "expected_delivery": T3,
                "label": "label-1",
            },
        )
    ]
    assert s.status == "booked"


def test_the_same_booking_reported_again_records_nothing() -> None:
    s = shipment(booked)
    booked(s)
    assert then(s) == []


def test_a_second_different_tracking_number_is_refused() -> None:
    s = shipment(booked)
    with pytest.raises(InvalidStateError, match="already booked as GHN1"):
        s.book("GHN2", 1, None, "")
    assert then(s) == []


# carrier updates ------------------------------------------------------------------------------
def test_updates_move_the_shipment_from_pick_up_to_delivery() -> None:
    s = shipment(booked)
    for status, at in (("picked_up", T1), ("in_transit", T2), ("delivered", T3)):
        assert s.record_update(status, at) == "applied"
    assert names(s) == ["PickedUp", "InTransit", "Delivered"]
    assert (s.status, s.handed_over_at) == ("delivered", T1)


def test_an_update_that_arrives_twice_records_nothing_the_second_time() -> None:
    s = shipment(booked, update("in_transit", T2, raw="delivering"))
    before = state(s)
    assert s.record_update("in_transit", T2, "delivering") == "duplicate"
    assert then(s) == [] and state(s) == before


def test_a_late_in_transit_after_delivered_is_kept_in_the_history_without_moving_back() -> None:
    s = shipment(booked, update("delivered", T3))
    assert s.record_update("in_transit", T2, "transporting") == "noted"
    assert names(s) == ["UpdateNoted"]
    assert s.status == "delivered"
    assert s.history[-1] == {
        "status": "in_transit",
        "carrier_status": "transporting",
        "at": T2,
        "reason": "",
        "applied": "no",
    }


def test_an_update_older_than_the_last_applied_one_does_not_move_the_state() -> None:
    s = shipment(booked, update("in_transit", T3))
    assert s.record_update("delivery_failed", T2, reason="nobody home") == "noted"
    assert s.status == "in_transit"


def test_a_failed_delivery_is_re_attempted_and_then_delivered() -> None:
    s = shipment(booked, update("in_transit", T1), update("delivery_failed", T2, "customer absent"))
    assert s.record_update("in_transit", T3) == "applied"
    assert s.record_update("delivered", T4) == "applied"
    assert names(s) == ["InTransit", "Delivered"]


def test_a_failed_delivery_needs_a_reason() -> None:
    s = shipment(booked, update("in_transit", T1))
    with pytest.raises(InvalidInputError, match="reason"):
        s.record_update("delivery_failed", T2)
    assert then(s) == []


def test_a_parcel_on_its_way_back_cannot_be_delivered() -> None:
    s = shipment(booked, update("returning", T2))
    assert s.record_update("delivered", T3) == "noted"
    assert s.record_update("returned", T4) == "applied"
    assert s.status == "returned"


def test_a_first_update_after_pick_up_hands_the_parcel_over_even_without_picked_up() -> None:
    s = shipment(booked)
    assert not s.handed_over
    s.record_update("in_transit", T2)
    assert s.handed_over and s.handed_over_at == T2


def test_an_unknown_state_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="status"):
        shipment().record_update("lost_in_space", T1)


# cancelling -----------------------------------------------------------------------------------
def test_a_booked_parcel_can_be_cancelled_before_pick_up() -> None:
    s = shipment(booked)
    s.cancel("buyer changed their mind")
    assert names(s) == ["Cancelled"] and s.status == "cancelled"


def test_a_parcel_the_carrier_has_cannot_be_cancelled() -> None:
    s = shipment(booked, update("picked_up", T1))
    with pytest.raises(InvalidStateError, match="carrier already has it"):
        s.cancel("too late")
    assert then(s) == []


def test_a_cancelled_parcel_refuses_a_booking() -> None:
    s = shipment(lambda s: s.cancel("mistake"))
    with pytest.raises(InvalidStateError, match="cancelled"):
        booked(s)


# after a failed delivery ---------------------------------------------------------------------
def test_after_a_return_to_sender_was_requested_a_redelivery_is_refused() -> None:
    s = shipment(
        booked, update("delivery_failed", T2, "absent"), lambda s: s.decide_after_failure("return")
    )
    with pytest.raises(InvalidStateError, match="return to the sender was already requested"):
        s.decide_after_failure("redeliver")


def test_a_decision_is_only_taken_after_a_failed_delivery() -> None:
    with pytest.raises(InvalidStateError, match="not delivery_failed"):
        shipment(booked).decide_after_failure("redeliver")


# cash on delivery -----------------------------------------------------------------------------
def test_cod_is_collected_once_on_delivery() -> None:
    s = shipment(booked, update("delivered", T3))
    assert s.collect_cod() is True
    assert s.collect_cod() is False
    assert then(s) == [("CodCollected", {"amount": Decimal(330_000)})]


def test_cod_cannot_be_collected_before_delivery() -> None:
    with pytest.raises(InvalidStateError, match="COD collected"):
        shipment(booked).collect_cod()


def test_a_remittance_never_exceeds_what_was_collected_and_a_repeat_changes_nothing() -> None:
    s = shipment(booked, update("delivered", T3), lambda s: s.collect_cod())
    assert s.remit_cod(300_000, "GHN-CK-1", T4) is True
    assert s.remit_cod(300_000, "GHN-CK-1", T4) is False
    with pytest.raises(InvalidStateError, match="30000 VND collected and not remitted"):
        s.remit_cod(40_000, "GHN-CK-2", T4)
    with pytest.raises(InvalidStateError, match="was recorded with 300000"):
        s.remit_cod(1, "GHN-CK-1", T4)
    assert names(s) == ["CodRemitted"]
    assert s.cod_remitted == Decimal(300_000)
