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


def test_a_snapshot_from_before_the_reserved_total_still_loads() -> None:
    """Snapshots stored before StockItem kept `reserved_total` lack it: it is counted once."""
    item = StockItem(sku="TEE", warehouse="HN")
    item.receive(10, "purchase_receipt", "PO-1")
    item.reserve(uuid4(), 3)
    item.reserve(uuid4(), 2)
    item.collect_events()
    snapshot = StockItem.Snapshot.take(item)
    del snapshot.state["reserved_total"]
    old = snapshot.mutate(None)
    assert "reserved_total" not in vars(old)
    assert old.reserved == 5 and old.available == 5
    old.reserve(uuid4(), 4)
    assert old.reserved == 9
