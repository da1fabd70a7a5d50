"""PurchaseOrder: draft, confirm, goods receipts, cancelling the remainder."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from orderflow.errors import InvalidInputError, InvalidStateError
from orderflow.purchase_order import PurchaseOrder
from tests.unit.gwt import given, state, then

LINES = [
    {"sku": "A", "quantity": 10, "unit_cost": 50_000},
    {"sku": "B", "quantity": 4, "unit_cost": 120_000},
]


def po(*history: Callable[[PurchaseOrder], object]) -> PurchaseOrder:
    return given(PurchaseOrder.draft("DETMAY", "HN", LINES), *history)


def confirmed(p: PurchaseOrder) -> None:
    p.confirm()


def test_a_draft_has_lines_a_total_cost_and_a_number() -> None:
    p = PurchaseOrder.draft("DETMAY", "HN", LINES, note="weekly")
    assert then(p)[0][0] == "Drafted"
    assert (p.status, p.total_cost) == ("draft", 10 * 50_000 + 4 * 120_000)
    assert p.number.startswith("PO-") and len(p.number) == 11


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([], "lines"),
        ([{"sku": "A", "quantity": 0, "unit_cost": 1}], "lines[0].quantity"),
        ([{"sku": "A", "quantity": 1, "unit_cost": -1}], "lines[0].unit_cost"),
        ([{"sku": "A", "quantity": 1}, {"sku": "A", "quantity": 2}], "lines"),
        ([{"sku": "A", "quantity": 1, "price": 1}], "lines[0]"),
    ],
)
def test_bad_lines_are_refused_naming_the_field(lines: list[dict[str, object]], field: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        PurchaseOrder.draft("DETMAY", "HN", lines)
    assert raised.value.field == field


def test_only_a_draft_can_change_its_lines_or_be_confirmed() -> None:
    p = po(confirmed)
    with pytest.raises(InvalidStateError, match="not a draft"):
        p.change_lines(LINES[:1])
    with pytest.raises(InvalidStateError, match="not a draft"):
        p.confirm()


def test_goods_cannot_be_received_against_a_draft() -> None:
    with pytest.raises(InvalidStateError, match="it is draft, not confirmed"):
        po().receive("PN-1", {"A": 1})


def test_partial_receipts_add_up_until_everything_is_received() -> None:
    p = po(confirmed)
    assert p.receive("PN-1", {"A": 6}, at="2026-02-01T09:00:00+07:00")
    assert then(p) == [
        (
            "GoodsReceived",
            {"number": "PN-1", "quantities": {"A": 6}, "at": "2026-02-01T09:00:00+07:00"},
        )
    ]
    assert (p.status, p.remaining("A"), p.remaining("B")) == ("partly_received", 4, 4)
    p.receive("PN-2", {"A": 4, "B": 4})
    assert (p.status, p.remaining("A")) == ("received", 0)


def test_receiving_more_than_ordered_is_refused_unless_allowed() -> None:
    p = po(confirmed, lambda p: p.receive("PN-1", {"A": 8}))
    before = state(p)
    with pytest.raises(
        InvalidStateError, match="more than the 2 still expected; say allow_over_receipt"
    ):
        p.receive("PN-2", {"A": 3})
    assert state(p) == before
    p.receive("PN-2", {"A": 3}, allow_over_receipt=True)
    assert p.line("A") == {"sku": "A", "quantity": 10, "unit_cost": 50_000, "received": 11}


def test_the_same_receipt_number_again_changes_nothing_and_other_quantities_are_refused() -> None:
    p = po(confirmed, lambda p: p.receive("PN-1", {"A": 2}))
    assert p.receive("PN-1", {"A": 2}) is False
    assert p.receive("pn-1", {}) is False
    with pytest.raises(InvalidStateError, match="already recorded with other quantities"):
        p.receive("PN-1", {"A": 3})
    assert then(p) == []


def test_a_sku_not_on_the_order_cannot_be_received() -> None:
    with pytest.raises(InvalidStateError, match="C is not on this purchase order"):
        po(confirmed).receive("PN-1", {"C": 1})


def test_cancelling_the_remainder_closes_a_partly_received_order() -> None:
    p = po(confirmed, lambda p: p.receive("PN-1", {"A": 5}))
    p.cancel_remainder("supplier out of stock")
    assert (p.status, p.remaining("A"), p.remaining("B")) == ("closed", 0, 0)
    with pytest.raises(InvalidStateError, match="cannot receive goods: it is closed"):
        p.receive("PN-2", {"A": 1})


def test_cancelling_an_order_with_nothing_received_cancels_it() -> None:
    p = po()
    p.cancel_remainder("not needed")
    assert p.status == "cancelled"
    with pytest.raises(InvalidStateError, match="already cancelled"):
        p.cancel_remainder("again")
