"""private_copy copies flat aggregates one level deep; the classes that skip the check must
really keep flat state, and a copy must never share what the command changes."""

from __future__ import annotations

from uuid import uuid4

from orderflow.backlog import Backlog
from orderflow.ordering import _flat, private_copy
from orderflow.stock_item import StockItem


def test_declared_flat_classes_keep_flat_state() -> None:
    item = StockItem(sku="TEE", warehouse="HN")
    item.receive(10, "purchase_receipt", "PO-1")
    item.reserve(uuid4(), 3)
    backlog = Backlog(sku="TEE")
    backlog.add(uuid4(), 2)
    for aggregate in (item, backlog):
        aggregate.collect_events()  # as cached: nothing pending
        assert type(aggregate).flat_state
        assert all(_flat(value) for value in vars(aggregate).values())


def test_a_copy_shares_nothing_the_command_changes() -> None:
    item = StockItem(sku="TEE", warehouse="HN")
    item.receive(10, "purchase_receipt", "PO-1")
    first = uuid4()
    item.reserve(first, 3)
    copy = private_copy(item)
    copy.reserve(uuid4(), 4)
    assert item.reserved == 3 and copy.reserved == 7
    assert item.version + 1 == copy.version
    assert list(item.reservations) == [str(first)]
