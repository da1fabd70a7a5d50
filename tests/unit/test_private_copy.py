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


def test_an_order_copy_equals_a_deep_copy_and_shares_no_container() -> None:
    from copy import deepcopy

    from orderflow.order import Order

    order = Order.place(
        "web",
        "A-1",
        {"name": "An", "phone": "0912345678"},
        {"street": "1 Le Loi", "ward": "Ben Nghe", "province": "HCM"},
        [{"sku": "TEE", "name": "Ao", "quantity": 2, "unit_price": 199_000, "vat_rate": "8"}],
        shipping_fee=30_000,
    )
    order.allocate("TEE", "HN", 2)
    order.record_payment("payment", 100_000, "VCB-1")
    order.collect_events()
    copy, reference = private_copy(order), deepcopy(order)
    assert vars(copy) == vars(reference)

    def containers(value: object) -> list[int]:
        if isinstance(value, dict):
            return [id(value), *(i for v in value.values() for i in containers(v))]
        if isinstance(value, list):
            return [id(value), *(i for v in value for i in containers(v))]
        return []

    mine = {i for v in vars(order).values() for i in containers(v)}
    theirs = {i for v in vars(copy).values() for i in containers(v)}
    assert mine and not mine & theirs
