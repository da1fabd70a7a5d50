"""Random sequences of the whole procedure keep stock, orders, invoices and money consistent.

A hypothesis state machine places, edits and cancels orders, buys and receives stock, ships,
delivers, fails deliveries, returns parcels and goods, takes payments, refunds and invoices, in any
order. After every step: no stock item is oversold and each one's ledger balances; reservations
agree with the orders; every order's total is its lines plus shipping; an invoice of a whole order
carries exactly its amounts and VAT; refunds never exceed payments. A refusal writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from tempfile import TemporaryDirectory
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from orderflow.adapters.fakes import FakeEInvoiceProvider, fake_carriers

from orderflow import Engine, open_engine
from orderflow.backlog import Backlog
from orderflow.errors import OrderflowError
from orderflow.order import CHANNELS, Order
from orderflow.stock_item import StockItem
from orderflow.values import vat_breakdown

SKUS = ("A", "B", "C")
WAREHOUSES = ("HN", "HCM")
BUYER = {"name": "Khach", "phone": "0912 000 111"}
ADDRESS = {"street": "1 Le Loi", "ward": "Ben Nghe", "province": "TP. Ho Chi Minh"}
INCOMING = ("Received", "Restocked", "TransferredIn")
OUTGOING = ("Shipped", "WrittenOff", "TransferredOut")


class Procedure(RuleBasedStateMachine):
    """The seller's procedure driven at random against one engine."""

    orders = Bundle("orders")
    shipments = Bundle("shipments")

    def __init__(self) -> None:
        super().__init__()
        self.engine: Engine = open_engine(self.store_url())
        self.engine.connect(carriers=fake_carriers(), einvoice=FakeEInvoiceProvider())
        for code in WAREHOUSES:
            self.engine.register_warehouse(code, f"Kho {code}")
        self.engine.register_supplier("S", "Supplier")
        for i, sku in enumerate(SKUS):
            stock = {sku: {"HN": 3, "HCM": 2}} if sku != "C" else None
            price = 25_000 + i * 10_000
            vat = ("8", "10", "5")[i]
            self.engine.register_product(
                sku, sku, cost_price=10_000, sale_price=price, vat_rate=vat, initial_stock=stock
            )
            self.engine.set_sourcing(sku, "S")
        self.placed = 0

    def store_url(self) -> str:
        return "memory://"

    def teardown(self) -> None:
        self.engine.close()

    def attempt(self, command: Callable[[], Any]) -> Any:
        """Run a command; a refusal must write nothing."""
        before = self.engine.position()
        try:
            return command()
        except OrderflowError:
            assert self.engine.position() == before
            return None

    # orders --------------------------------------------------------------------------------
    @rule(
        target=orders,
        lines=st.dictionaries(st.sampled_from(SKUS), st.integers(1, 4), min_size=1, max_size=3),
        channel=st.sampled_from(CHANNELS),
        prepaid=st.booleans(),
        fee=st.sampled_from([0, 15_000, 32_000]),
    )
    def place(self, lines: dict[str, int], channel: str, prepaid: bool, fee: int) -> UUID:
        self.placed += 1
        items = [{"sku": s, "quantity": q} for s, q in lines.items()]
        method = "prepaid" if prepaid else "cod"
        number = f"N{self.placed}"
        return self.engine.place_order(
            channel, number, BUYER, ADDRESS, items, shipping_fee=fee, payment_method=method
        )

    @rule(order=orders, sku=st.sampled_from(SKUS), quantity=st.integers(0, 5))
    def edit(self, order: UUID, sku: str, quantity: int) -> None:
        self.attempt(lambda: self.engine.set_order_quantities(order, {sku: quantity}))

    @rule(order=orders)
    def cancel(self, order: UUID) -> None:
        self.attempt(lambda: self.engine.cancel_order(order, "random cancel"))

    @rule(order=orders, share=st.sampled_from([Decimal(1), Decimal("0.5")]))
    def pay(self, order: UUID, share: Decimal) -> None:
        owed = self.engine.order(order).outstanding
        self.attempt(
            lambda: self.engine.record_payment(
                order, (owed * share).quantize(Decimal(1)), reference=f"P{self.placed}"
            )
        )

    @rule(order=orders, amount=st.integers(1, 200_000))
    def refund(self, order: UUID, amount: int) -> None:
        self.attempt(lambda: self.engine.record_refund(order, amount))

    @rule(order=orders)
    def invoice(self, order: UUID) -> None:
        self.attempt(lambda: self.engine.issue_invoice(order))

    # stock and purchasing ----------------------------------------------------------------------
    @rule(
        sku=st.sampled_from(SKUS), warehouse=st.sampled_from(WAREHOUSES), quantity=st.integers(1, 4)
    )
    def receive(self, sku: str, warehouse: str, quantity: int) -> None:
        self.engine.receive_stock(sku, warehouse, quantity, "correction")  # fills waiting orders

    @rule(part=st.sampled_from(["all", "half"]))
    def buy_what_is_missing(self, part: str) -> None:
        for po in self.engine.propose_purchase_orders().purchase_orders:
            self.engine.confirm_purchase_order(po.id)
            wanted = (
                {line.sku: max(line.quantity // 2, 1) for line in po.lines}
                if part == "half"
                else None
            )
            self.engine.receive_purchase_order(po.id, f"PN-{po.number}", wanted)

    # shipping -------------------------------------------------------------------------------------
    @rule(target=shipments, order=orders, carrier=st.sampled_from(["ghn", "viettelpost"]))
    def ship(self, order: UUID, carrier: str) -> UUID | None:
        info = self.attempt(lambda: self.engine.book_shipment(order, carrier, weight_kg="0.5"))
        if info is None:
            return None
        self.engine.hand_over_shipment(info.id)
        return info.id  # type: ignore[no-any-return]

    @rule(
        shipment=shipments,
        status=st.sampled_from(["delivered", "delivery_failed", "returning", "returned"]),
    )
    def carrier_update(self, shipment: UUID | None, status: str) -> None:
        if shipment is not None:
            self.attempt(
                lambda: self.engine.record_carrier_update(shipment, status, reason="no one home")
            )

    @rule(order=orders, sku=st.sampled_from(SKUS), damaged=st.booleans(), refund=st.booleans())
    def take_back(self, order: UUID, sku: str, damaged: bool, refund: bool) -> None:
        line = {"sku": sku, "quantity": 1, "condition": "damaged" if damaged else "resellable"}
        self.attempt(
            lambda: self.engine.receive_return(order, [line], refund="goods" if refund else None)
        )

    # invariants -----------------------------------------------------------------------------------
    def all_orders(self) -> list[Order]:
        return [self.engine._order(i) for i in self.engine._ids_of(Order.Placed)]

    @invariant()
    def stock_is_never_oversold_and_every_ledger_balances(self) -> None:
        for sku in SKUS:
            for code in WAREHOUSES:
                item = self.engine._load_or_none(StockItem, StockItem.create_id(sku, code))
                if item is None:
                    continue
                assert 0 <= item.reserved <= item.on_hand
                moves: dict[str, int] = {}
                for event in self.engine.repository.event_store.get(item.id):
                    name = type(event).__name__
                    moves[name] = moves.get(name, 0) + getattr(
                        event, "quantity", getattr(event, "difference", 0)
                    )
                incoming = sum(moves.get(n, 0) for n in INCOMING) + moves.get("Counted", 0)
                assert item.on_hand == incoming - sum(moves.get(n, 0) for n in OUTGOING)

    @invariant()
    def no_order_waits_for_units_that_are_available(self) -> None:
        for sku in SKUS:
            backlog = self.engine._load_or_none(Backlog, Backlog.create_id(sku))
            if backlog and backlog.waiting:
                assert all(level.available == 0 for level in self.engine.stock_of_sku(sku))

    @invariant()
    def reservations_and_waiting_lists_agree_with_the_orders(self) -> None:
        orders = self.all_orders()
        for sku in SKUS:
            for code in WAREHOUSES:
                item = self.engine._load_or_none(StockItem, StockItem.create_id(sku, code))
                held = {
                    str(o.id): o.allocated(sku, code)
                    for o in orders
                    if o.fulfilment in ("awaiting_stock", "reserved", "packed")
                    and o.allocated(sku, code)
                }
                assert (item.reservations if item else {}) == held
            backlog = self.engine._load_or_none(Backlog, Backlog.create_id(sku))
            assert (backlog.waiting if backlog else 0) == sum(o.backordered(sku) for o in orders)
        for o in orders:
            if o.fulfilment in ("awaiting_stock", "reserved"):
                for line in o.lines:
                    assert o.allocated(line["sku"]) + o.backordered(line["sku"]) == line["quantity"]

    @invariant()
    def totals_invoices_and_money_add_up(self) -> None:
        for o in self.all_orders():
            lines = sum((line["quantity"] * line["unit_price"] for line in o.lines), Decimal(0))
            assert o.total == lines + o.shipping_fee
            assert 0 <= o.refunded <= o.paid
            for invoice in self.engine.invoices_of_order(o.id):
                if (
                    invoice.purpose == "original"
                    and invoice.status != "replaced"
                    and not o.return_ids
                ):
                    vat = vat_breakdown(o.vat_lines())
                    assert invoice.total == o.total
                    assert invoice.total_vat == sum(v for _, v in vat.values())


class ProcedureOnMemory(Procedure):
    pass


ProcedureOnMemory.TestCase.settings = settings(
    max_examples=25, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)  # fmt: skip
TestProcedureOnMemory = ProcedureOnMemory.TestCase


class ProcedureOnSqlite(Procedure):
    """The same machine on a SQLite file (fewer, shorter runs: each one opens a new file)."""

    def store_url(self) -> str:
        self.folder = TemporaryDirectory(prefix="orderflow-procedure-")
        return f"sqlite:///{self.folder.name}/procedure.db"

    def teardown(self) -> None:
        super().teardown()
        self.folder.cleanup()


ProcedureOnSqlite.TestCase.settings = settings(
    max_examples=4,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestProcedureOnSqlite = ProcedureOnSqlite.TestCase
