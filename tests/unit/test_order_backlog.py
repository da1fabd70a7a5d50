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


def test_taking_units_keeps_an_orders_oldest_place() -> None:
    b = given(
        Backlog(sku="A"),
        lambda b: b.add("o1", 2),
        lambda b: b.add("o2", 1),
        lambda b: b.add("o1", 3),
    )
    b.take("o1", 3, "order changed")
    assert b.queue == [["o1", 2], ["o2", 1]]
    b.take("o1", 2, "stock arrived")
    assert b.order_ids() == ["o2"]


def test_taking_more_than_an_order_waits_for_is_refused() -> None:
    b = given(Backlog(sku="A"), lambda b: b.add("o1", 2))
    with pytest.raises(InvalidStateError, match="order o1 waits for 2 units, not 3"):
        b.take("o1", 3, "stock arrived")
    assert then(b) == []
