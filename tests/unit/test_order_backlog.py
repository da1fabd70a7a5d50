"""Backlog: the first-come first-served queue of orders waiting for a SKU."""

from __future__ import annotations

import pytest

from orderflow.backlog import Backlog
from orderflow.errors import InvalidStateError
from tests.unit.gwt import given, then


def test_orders_wait_in_the_order_they_came() -> None:
    b = given(Backlog(sku="A"), lambda b: b.add("o1", 2), lambda b: b.add("o2", 1))
    b.add("o3", 4)
    assert then(b) == [("Added", {"order_id": "o3", "quantity": 4})]
    assert b.order_ids() == ["o1", "o2", "o3"] and b.waiting == 7


def test_an_order_waiting_for_more_keeps_its_place_and_leaves_when_filled() -> None:
    b = given(
        Backlog(sku="A"),
        lambda b: b.add("o1", 2),
        lambda b: b.add("o2", 1),
        lambda b: b.add("o1", 3),
    )
    assert b.queue == {"o1": 5, "o2": 1}
    b.take("o1", 3, "order changed")
    assert b.order_ids() == ["o1", "o2"]
    b.take("o1", 2, "stock arrived")
    assert b.order_ids() == ["o2"]


def test_offering_stock_is_recorded_for_concurrent_backorders_to_conflict_with() -> None:
    b = given(Backlog(sku="A"))
    b.offer(5, "goods receipt PN-1")
    assert then(b) == [("StockOffered", {"quantity": 5, "reason": "goods receipt PN-1"})]


def test_taking_more_than_an_order_waits_for_is_refused() -> None:
    b = given(Backlog(sku="A"), lambda b: b.add("o1", 2))
    with pytest.raises(InvalidStateError, match="order o1 waits for 2 units, not 3"):
        b.take("o1", 3, "stock arrived")
    assert then(b) == []
