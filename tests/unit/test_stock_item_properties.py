"""StockItem under random sequences of commands: the stock invariants always hold.

Two stock items of one SKU (two warehouses) get random receipts, reservations, releases,
shipments, restocks, write-offs, counts and transfers between them, including bad quantities
and requests for more than there is. After every step:
- on hand >= reserved >= 0, and every reservation is positive;
- on hand equals receipts - shipments + restocks - write-offs + count adjustments
  + transfers in - transfers out, summed from the recorded events alone;
- reserved equals reservations - releases - shipments, from the recorded events;
- a refused command recorded nothing and changed nothing;
- the events, stored and read back through the JSON mapper, rebuild the same state, and so does
  a stored snapshot plus the events after it.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    UUIDAsHex,
)
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from orderflow.errors import OrderflowError
from orderflow.stock_item import StockItem
from tests.unit.gwt import replay, state

WAREHOUSES = ("HN", "HCM")
ORDERS = st.sampled_from(["web-1", "shopee-2", "lazada-3"])
WAREHOUSE = st.sampled_from(WAREHOUSES)
# mostly sensible quantities, sometimes zero, negative or silly ones
QUANTITY = st.one_of(st.integers(1, 12), st.integers(-3, 0), st.sampled_from([100, "2", "x"]))

# How each event moves on hand (and reserved), read from the event's fields only.
ON_HAND_SIGN = {
    "Received": 1,
    "Restocked": 1,
    "TransferredIn": 1,
    "Shipped": -1,
    "WrittenOff": -1,
    "TransferredOut": -1,
}
RESERVED_SIGN = {"Reserved": 1, "Released": -1, "Shipped": -1}


def mapper() -> Mapper[Any]:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


class StockMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.mapper = mapper()
        self.items = {w: StockItem(sku="TS-RED", warehouse=w) for w in WAREHOUSES}
        self.history: dict[str, list[DomainEventProtocol[Any]]] = {w: [] for w in WAREHOUSES}
        self.snapshots: dict[str, tuple[Any, int]] = {}
        for w in WAREHOUSES:
            self.record(w)

    def record(self, warehouse: str) -> None:
        """Keep the new events as the store would: through the JSON mapper and back."""
        for event in self.items[warehouse].collect_events():
            stored = self.mapper.to_stored_event(event)
            self.history[warehouse].append(self.mapper.to_domain_event(stored))

    def attempt(self, *warehouses: str, command: Any) -> None:
        """Run a command; if it is refused, nothing may have changed or been recorded."""
        before = {w: state(self.items[w]) for w in warehouses}
        try:
            command()
        except OrderflowError:
            for w in warehouses:
                assert self.items[w].collect_events() == []
                assert state(self.items[w]) == before[w]
            return
        for w in warehouses:
            self.record(w)

    # commands ----------------------------------------------------------------------------------
    @rule(w=WAREHOUSE, qty=QUANTITY, reason=st.sampled_from(["initial", "return", "nonsense"]))
    def receive(self, w: str, qty: Any, reason: str) -> None:
        self.attempt(w, command=lambda: self.items[w].receive(qty, reason))

    @rule(w=WAREHOUSE, order=ORDERS, qty=QUANTITY)
    def reserve(self, w: str, order: str, qty: Any) -> None:
        self.attempt(w, command=lambda: self.items[w].reserve(order, qty))

    @rule(w=WAREHOUSE, order=ORDERS, qty=st.one_of(st.none(), QUANTITY))
    def release(self, w: str, order: str, qty: Any) -> None:
        self.attempt(w, command=lambda: self.items[w].release(order, qty))

    @rule(w=WAREHOUSE, order=ORDERS, qty=QUANTITY)
    def ship(self, w: str, order: str, qty: Any) -> None:
        self.attempt(w, command=lambda: self.items[w].ship(order, qty))

    @rule(w=WAREHOUSE, qty=QUANTITY)
    def restock(self, w: str, qty: Any) -> None:
        self.attempt(w, command=lambda: self.items[w].restock(qty))

    @rule(w=WAREHOUSE, qty=QUANTITY)
    def write_off(self, w: str, qty: Any) -> None:
        self.attempt(w, command=lambda: self.items[w].write_off(qty, "damaged"))

    @rule(w=WAREHOUSE, counted=st.integers(-2, 40))
    def count(self, w: str, counted: int) -> None:
        self.attempt(w, command=lambda: self.items[w].count(counted))

    @rule(source=WAREHOUSE, qty=QUANTITY)
    def transfer(self, source: str, qty: Any) -> None:
        target = next(w for w in WAREHOUSES if w != source)

        def both() -> None:  # as the engine does: out of one, into the other, saved together
            self.items[source].transfer_out(qty, target)
            self.items[target].transfer_in(qty, source)

        self.attempt(source, target, command=both)

    @rule(w=WAREHOUSE)
    def snapshot(self, w: str) -> None:
        taken = type(self.items[w]).Snapshot.take(self.items[w])
        self.snapshots[w] = (self.mapper.to_stored_event(taken), len(self.history[w]))

    # invariants --------------------------------------------------------------------------------
    @invariant()
    def on_hand_covers_reserved_and_nothing_is_negative(self) -> None:
        for item in self.items.values():
            assert item.on_hand >= item.reserved >= 0
            assert item.available >= 0
            assert all(q > 0 for q in item.reservations.values())
            assert item.reserved == sum(item.reservations.values())  # the kept total

    @invariant()
    def on_hand_is_the_sum_of_the_recorded_movements(self) -> None:
        for w, item in self.items.items():
            on_hand = reserved = 0
            for event in self.history[w]:
                name, fields = type(event).__name__, vars(event)
                if name == "Counted":
                    on_hand += fields["difference"]
                    assert fields["counted"] == fields["expected"] + fields["difference"]
                on_hand += ON_HAND_SIGN.get(name, 0) * fields.get("quantity", 0)
                reserved += RESERVED_SIGN.get(name, 0) * fields.get("quantity", 0)
            assert item.on_hand == on_hand
            assert item.reserved == reserved

    @invariant()
    def transfers_move_units_without_making_or_losing_any(self) -> None:
        moved = {
            name: sum(
                vars(e)["quantity"]
                for w in WAREHOUSES
                for e in self.history[w]
                if type(e).__name__ == name
            )
            for name in ("TransferredIn", "TransferredOut")
        }
        assert moved["TransferredIn"] == moved["TransferredOut"]

    @invariant()
    def replaying_the_stored_events_rebuilds_the_same_state(self) -> None:
        for w, item in self.items.items():
            assert state(replay(self.history[w])) == state(item)

    @precondition(lambda self: bool(self.snapshots))
    @invariant()
    def a_snapshot_plus_later_events_rebuilds_the_same_state(self) -> None:
        for w, (stored, taken_at) in self.snapshots.items():
            snapshot = self.mapper.to_domain_event(stored)  # read afresh, as a load does
            rebuilt = replay([snapshot, *self.history[w][taken_at:]])
            assert state(rebuilt) == state(self.items[w])


StockMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_stock_item_invariants_hold_under_random_commands = StockMachine.TestCase
