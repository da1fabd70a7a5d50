"""Shortages become purchase orders; goods receipts fill waiting orders first come first served."""

from __future__ import annotations

import pytest

from orderflow import Engine
from orderflow.errors import InvalidInputError, InvalidStateError, NotFoundError
from tests.integration.ordering_setup import levels, place, seller


def short_of_rice_and_tee(engine: Engine) -> tuple[object, object, object]:
    """Three orders waiting: RICE 2 (oldest), TEE 2 + RICE 1, RICE 4."""
    seller(engine)
    first = place(engine, "1", RICE=2)
    second = place(engine, "2", TEE=15, RICE=1)
    third = place(engine, "3", RICE=4)
    return first, second, third


def test_proposals_group_backordered_units_by_supplier(engine: Engine) -> None:
    short_of_rice_and_tee(engine)
    engine.set_sourcing("RICE", "GOMSU", unit_cost=130_000)
    engine.set_sourcing("TEE", "DETMAY")
    proposal = engine.propose_purchase_orders()
    drafted = {
        (po.supplier, po.warehouse, po.status): [
            (line.sku, line.quantity, line.unit_cost) for line in po.lines
        ]
        for po in proposal.purchase_orders
    }
    assert drafted == {
        ("GOMSU", "HN", "draft"): [("RICE", 7, 130_000)],
        ("DETMAY", "HN", "draft"): [("TEE", 2, 80_000)],
    }
    assert proposal.unassigned == {}


def test_units_already_on_order_are_not_proposed_again(engine: Engine) -> None:
    short_of_rice_and_tee(engine)
    engine.propose_purchase_orders(supplier="GOMSU")
    again = engine.propose_purchase_orders(supplier="GOMSU")
    assert again.purchase_orders == [] and again.unassigned == {}
    assert {s.sku: (s.waiting, s.on_order, s.to_buy) for s in engine.shortages()} == {
        "RICE": (7, 7, 0),
        "TEE": (2, 2, 0),
    }


def test_skus_without_a_supplier_are_listed_as_unassigned(engine: Engine) -> None:
    short_of_rice_and_tee(engine)
    engine.set_sourcing("TEE", "DETMAY", warehouse="HCM")
    proposal = engine.propose_purchase_orders()
    assert [(po.supplier, po.warehouse) for po in proposal.purchase_orders] == [("DETMAY", "HCM")]
    assert proposal.unassigned == {"RICE": 7}


def test_a_goods_receipt_fills_waiting_orders_oldest_first(engine: Engine) -> None:
    first, second, third = short_of_rice_and_tee(engine)
    po = engine.draft_purchase_order("GOMSU", "HN", [{"sku": "RICE", "quantity": 10}])
    engine.confirm_purchase_order(po)
    result = engine.receive_purchase_order(po, "PN-100", {"RICE": 4})
    assert [(f.order_id, f.quantity, f.now) for f in result.fills] == [
        (first, 2, "reserved"),
        (second, 1, "awaiting_stock"),
        (third, 1, "awaiting_stock"),
    ]
    assert result.purchase_order.status == "partly_received"
    assert engine.order(third).lines[0].backordered == 3
    result = engine.receive_purchase_order(po, "PN-101", {"RICE": 6})
    assert [(f.order_id, f.quantity) for f in result.fills] == [(third, 3)]
    assert levels(engine, "RICE")["HN"] == (10, 7)
    assert result.purchase_order.status == "received"
    assert [s.sku for s in engine.shortages()] == ["TEE"]


def test_receiving_more_than_ordered_is_refused_unless_allowed(engine: Engine) -> None:
    seller(engine)
    po = engine.draft_purchase_order(
        "GOMSU", "HCM", [{"sku": "MUG", "quantity": 5, "unit_cost": 35_000}]
    )
    engine.confirm_purchase_order(po)
    position = engine.position()
    with pytest.raises(
        InvalidStateError, match="more than the 5 still expected; say allow_over_receipt"
    ):
        engine.receive_purchase_order(po, "PN-1", {"MUG": 6})
    assert engine.position() == position
    engine.receive_purchase_order(po, "PN-1", {"MUG": 6}, allow_over_receipt=True)
    assert levels(engine, "MUG")["HCM"] == (11, 0)


def test_the_same_receipt_twice_adds_stock_once(engine: Engine) -> None:
    seller(engine)
    po = engine.draft_purchase_order("GOMSU", "HN", [{"sku": "RICE", "quantity": 5}])
    engine.confirm_purchase_order(po)
    engine.receive_purchase_order(po, "PN-7", {"RICE": 2})
    again = engine.receive_purchase_order(po, "PN-7", {"RICE": 2})
    assert not again.recorded
    assert levels(engine, "RICE")["HN"] == (2, 0)


def test_receiving_everything_expected_and_cancelling_the_remainder(engine: Engine) -> None:
    seller(engine)
    po = engine.draft_purchase_order(
        "GOMSU", "HN", [{"sku": "RICE", "quantity": 5}, {"sku": "MUG", "quantity": 3}]
    )
    number = engine.purchase_order(po).number
    engine.confirm_purchase_order(number)
    engine.receive_purchase_order(number, "PN-1", {"MUG": 3})
    engine.cancel_purchase_order(number, "rice harvest late")
    info = engine.purchase_order(po)
    assert (info.status, [line.remaining for line in info.lines]) == ("closed", [0, 0])
    with pytest.raises(
        InvalidStateError, match=f"purchase order {number}: cannot receive goods: it is closed"
    ):
        engine.receive_purchase_order(po, "PN-2")
    assert [p.status for p in engine.purchase_orders()] == ["closed"]


def test_a_receipt_into_a_deactivated_warehouse_is_refused(engine: Engine) -> None:
    seller(engine)
    po = engine.draft_purchase_order("GOMSU", "HCM", [{"sku": "MUG", "quantity": 5}])
    engine.confirm_purchase_order(po)
    engine.deactivate_warehouse("HCM", "flooded")
    position = engine.position()
    with pytest.raises(InvalidInputError, match="warehouse: warehouse HCM is inactive"):
        engine.receive_purchase_order(po, "PN-1")
    assert engine.position() == position


def test_stock_received_another_way_is_given_to_waiting_orders_at_once(engine: Engine) -> None:
    first, _, _ = short_of_rice_and_tee(engine)
    engine.receive_stock("RICE", "HCM", 2, "correction", "found in the back room")
    assert engine.order(first).fulfilment == "reserved"
    assert levels(engine, "RICE")["HCM"] == (2, 2)
    assert engine.allocate_waiting("RICE") == []  # nothing left to catch up on


def test_a_cancelled_waiting_order_gets_nothing_from_a_receipt(engine: Engine) -> None:
    first, second, _ = short_of_rice_and_tee(engine)
    engine.cancel_order(first, "buyer cancelled")
    po = engine.draft_purchase_order("GOMSU", "HN", [{"sku": "RICE", "quantity": 1}])
    engine.confirm_purchase_order(po)
    fills = engine.receive_purchase_order(po, "PN-1").fills
    assert [f.order_id for f in fills] == [second]


def test_bad_purchase_orders_are_refused_naming_the_field(engine: Engine) -> None:
    seller(engine)
    with pytest.raises(NotFoundError, match="supplier"):
        engine.draft_purchase_order("NOBODY", "HN", [{"sku": "RICE", "quantity": 1}])
    with pytest.raises(NotFoundError, match="sku"):
        engine.draft_purchase_order("GOMSU", "HN", [{"sku": "NOPE", "quantity": 1}])
    with pytest.raises(InvalidInputError, match="lines"):
        engine.draft_purchase_order("GOMSU", "HN", [])
    with pytest.raises(NotFoundError, match="purchase_order"):
        engine.purchase_order("PO-DEADBEEF")
