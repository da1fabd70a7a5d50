"""Engine commands and queries for orders: placement with reservation, edits, cancel, money.

Every command saves the order together with every stock item and backlog it touches, in one
transaction, so reservations can never disagree with orders and no SKU is ever oversold.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import lru_cache
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID

from eventsourcing.domain import Aggregate, MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from orderflow import order as checks
from orderflow import values
from orderflow.allocation import AllocationPlan, plan_allocation
from orderflow.backlog import Backlog
from orderflow.engine_base import retry_on_conflict
from orderflow.errors import InvalidInputError, NotFoundError, OrderflowError
from orderflow.event_log import read_log
from orderflow.inventory import InventoryCommands
from orderflow.loading import select_events_after
from orderflow.order import Order
from orderflow.order_views import Fill, OrderInfo, OrderSummary, Transaction
from orderflow.product import Product
from orderflow.sales_channel import SalesChannel
from orderflow.sku import Sku
from orderflow.stock_item import StockItem
from orderflow.warehouse import Warehouse

A = TypeVar("A", bound=Aggregate)
WAREHOUSE_LIST_TTL = 1.0  # seconds a process trusts its list of registered warehouses
ABSENT_TTL = 1.0  # seconds a process trusts that a stock item or channel setting does not exist


@dataclass
class _Work:
    """The aggregates one command changes, saved together at the end."""

    items: dict[tuple[str, str], StockItem] = field(default_factory=dict)
    views: dict[tuple[str, str], StockItem] = field(default_factory=dict)  # shared: never change
    backlog_views: dict[str, Backlog] = field(default_factory=dict)  # shared: never change
    backlogs: dict[str, Backlog] = field(default_factory=dict)
    orders: dict[UUID, Order] = field(default_factory=dict)

    def aggregates(self) -> list[Aggregate]:
        return [*self.orders.values(), *self.items.values(), *self.backlogs.values()]

    def read_set(self, asked: Iterable[UUID], loaded: Mapping[UUID, Aggregate]) -> dict[UUID, int]:
        """Versions of the aggregates the command decided on without changing them; 0 for the
        ones it asked for and took as not existing (creating one is a change too)."""
        seen = [*loaded.values(), *self.views.values(), *self.backlog_views.values()]
        changed = {a.id for a in self.aggregates()}
        versions = dict.fromkeys(asked, 0) | {a.id: a.version for a in seen}
        return {i: v for i, v in versions.items() if i not in changed}


class OrderCommands(InventoryCommands):
    """Orders from every channel: place, reserve, edit, cancel, payments, refunds, queries."""

    snapshotting_intervals: ClassVar[dict[type[MutableOrImmutableAggregate[UUID]], int]] = {
        **InventoryCommands.snapshotting_intervals,
        Backlog: 100,
    }
    decided_from_cache: ClassVar[tuple[type[Aggregate], ...] | None] = (
        Product,
        SalesChannel,
        Warehouse,
        StockItem,
    )
    """What place_order reads from the cache without reading first (see _place)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._product_ids: dict[str, UUID] = {}  # SKU -> product; a SKU claim never changes
        self._warehouse_list: list[str] = []
        self._warehouses_seen_at = 0  # log position up to which registrations were read
        self._warehouses_checked = float("-inf")  # monotonic time of the last read

    def register_warehouse(self, *args: Any, **kwargs: Any) -> UUID:
        """Register a warehouse (see CatalogueCommands); this process allocates from it at once."""
        warehouse_id = super().register_warehouse(*args, **kwargs)
        self._warehouses_checked = float("-inf")
        return warehouse_id

    # channel settings -----------------------------------------------------------------------
    @retry_on_conflict
    def set_preferred_warehouse(self, channel: str, warehouse: str | None) -> None:
        """Allocate a channel's orders from this warehouse first (None: no preference)."""
        name = checks.channel(channel)
        code = self._active_warehouse(warehouse).code if warehouse else ""
        settings = self._load_or_none(SalesChannel, SalesChannel.create_id(name))
        settings = settings or SalesChannel(name=name)
        settings.prefer_warehouse(code)
        self._save(settings)
        self._absent.pop(settings.id, None)

    def preferred_warehouses(self) -> dict[str, str]:
        """Each channel's preferred warehouse ("" when none is set)."""
        found = {}
        for name in checks.CHANNELS:
            settings = self._load_or_none(SalesChannel, SalesChannel.create_id(name))
            found[name] = settings.preferred_warehouse if settings else ""
        return found

    # placement ------------------------------------------------------------------------------
    @retry_on_conflict
    def place_order(
        self,
        channel: str,
        external_id: str,
        buyer: Mapping[str, object],
        address: Mapping[str, object],
        lines: Sequence[Mapping[str, object]],
        shipping_fee: object = 0,
        payment_method: str = "cod",
        note: str = "",
        *,
        shipping_vat_rate: object = "10",
        paid: object = None,
        payment_reference: str = "",
        exchange_of: str = "",
    ) -> UUID:
        """Place an order and reserve its stock atomically; the same (channel, external id) again
        returns the existing order's id and changes nothing.

        A line gives `sku` and `quantity`; `unit_price` (VAT-inclusive), `name` and `vat_rate`
        default to the catalogue's. `paid` records a prepayment with the order.
        """
        name, number = checks.channel(channel), checks.external_id(external_id)
        order_id = Order.create_id(name, number)
        trusted = self.trusts_cache()
        try:
            return self._place(
                trusted,
                name,
                number,
                buyer,
                address,
                lines,
                shipping_fee,
                payment_method,
                note,
                shipping_vat_rate,
                paid,
                payment_reference,
                exchange_of,
            )
        except (IntegrityError, OrderflowError) as error:
            if self._exists(order_id):  # placed before (or just now, by someone else)
                return order_id
            if trusted and isinstance(error, OrderflowError):
                # refused on cached state: check again on fresh state before the caller hears it
                raise IntegrityError(f"re-check on fresh state: {error}") from error
            raise

    def _place(
        self,
        trust_cache: bool,
        channel: str,
        external_id: str,
        buyer: Mapping[str, object],
        address: Mapping[str, object],
        lines: Sequence[Mapping[str, object]],
        shipping_fee: object,
        payment_method: str,
        note: str,
        shipping_vat_rate: object,
        paid: object,
        payment_reference: str,
        exchange_of: str,
    ) -> UUID:
        requested = _requested(lines)
        skus = [str(line["sku"]) for line in requested]
        warehouses = self._warehouse_codes()
        asked = [
            *self._product_ids_of(skus, "lines"),
            SalesChannel.create_id(channel),
            *(Warehouse.create_id(code) for code in warehouses),
            *(_stock_id(sku, code) for sku in skus for code in warehouses),
        ]
        if self.attempt() > 1:  # retrying: perhaps something taken as missing was created
            for aggregate_id in asked:
                self._absent.pop(aggregate_id, None)
        head = self.known_head() if trust_cache else None  # taken before reading: see there
        loaded = self._read(asked, trust_cache)
        order = Order.place(
            channel,
            external_id,
            buyer,
            address,
            self._priced(requested, loaded, "lines"),
            shipping_fee,
            payment_method,
            note,
            shipping_vat_rate,
            exchange_of,
        )
        settings = loaded.get(SalesChannel.create_id(channel))
        preferred = settings.preferred_warehouse if isinstance(settings, SalesChannel) else None
        work = _Work(orders={order.id: order})
        active = [c for c in warehouses if _is_active(loaded.get(Warehouse.create_id(c)))]
        work.views.update(_items(loaded))
        wanted = {line["sku"]: line["quantity"] for line in order.lines}
        plan = plan_allocation(wanted, _available(work, active), active, preferred)
        if plan.backorder:  # read the waiting lists, then the stock again: see Backlog.offer
            self._reread(plan.backorder, active, work)
            plan = plan_allocation(wanted, _available(work, active), active, preferred)
        self._apply(order, plan, work)
        if paid not in (None, "", 0):
            order.record_payment("payment", paid, payment_reference)
        self._save(
            *work.aggregates(),
            expect=work.read_set(asked, loaded) if trust_cache else None,
            known_head=head,
        )
        self._remember(*work.aggregates())
        return order.id

    def _reread(self, skus: Iterable[str], warehouses: Sequence[str], work: _Work) -> None:
        """Read the SKUs' backlogs, then their stock items afresh (nothing changed in them yet).

        In this order, a receipt or release committed after the stock was read conflicts with
        the backorder this command is about to add to the backlog (see Backlog.offer).
        """
        skus = [sku for sku in skus if sku not in work.backlogs]
        for sku in skus:
            self._absent.pop(Backlog.create_id(sku), None)
        for backlog in self._read(Backlog.create_id(sku) for sku in skus).values():
            if isinstance(backlog, Backlog):
                work.backlog_views[backlog.sku] = backlog
        keys = [(sku, code) for sku in skus for code in warehouses]
        for key in keys:
            work.views.pop(key, None)
            work.items.pop(key, None)
            self._absent.pop(_stock_id(*key), None)
        work.views.update(_items(self._read(_stock_id(*key) for key in keys)))

    def _apply(self, order: Order, plan: AllocationPlan, work: _Work) -> None:
        """Reserve the planned units and backorder the rest, on the order and the stock."""
        for sku, warehouse, qty in plan.reservations():
            self._item(sku, warehouse, work).reserve(order.id, qty)
            order.allocate(sku, warehouse, qty)
        for sku, qty in plan.backorder.items():
            order.backorder(sku, qty)
            self._backlog(sku, work).add(order.id, qty)

    # edits --------------------------------------------------------------------------------
    @retry_on_conflict
    def edit_order(
        self,
        order: UUID | str,
        *,
        quantities: Mapping[str, object] | None = None,
        buyer: Mapping[str, str] | None = None,
        address: Mapping[str, str] | None = None,
        shipping_fee: object = None,
    ) -> None:
        """Change several things of an order in one transaction, until it is packed.

        `quantities` maps SKU -> new quantity (0 removes the line, a new SKU is added at the
        catalogue price); `buyer` and `address` give only the fields that change.
        """
        o = self._order(order)
        if buyer:
            o.change_buyer({**o.buyer, **buyer})
        if address:
            o.change_address({**o.address, **address})
        if shipping_fee is not None:
            o.change_shipping_fee(shipping_fee)
        work = _Work(orders={o.id: o})
        if quantities:
            self._change_lines(o, _lines_with(o, quantities), work)
        self._save(*work.aggregates())

    @retry_on_conflict
    def change_order_lines(self, order: UUID | str, lines: Sequence[Mapping[str, object]]) -> None:
        """Replace an order's lines until it is packed; reservations follow in the same save.

        A SKU already on the order keeps its price, name and VAT rate unless given.
        """
        o = self._order(order)
        work = _Work(orders={o.id: o})
        self._change_lines(o, lines, work)
        self._save(*work.aggregates())

    def set_order_quantities(self, order: UUID | str, quantities: Mapping[str, object]) -> None:
        """Add SKUs, change quantities, or remove a SKU with quantity 0, until packed."""
        self.edit_order(order, quantities=quantities)

    def change_order_buyer(self, order: UUID | str, **changes: str) -> None:
        """Change the buyer's name, phone or e-mail until the order is packed."""
        self.edit_order(order, buyer=changes)

    def change_order_address(self, order: UUID | str, **changes: str) -> None:
        """Change the delivery address (any of its fields) until the order is packed."""
        self.edit_order(order, address=changes)

    def change_shipping_fee(self, order: UUID | str, shipping_fee: object) -> None:
        """Change the shipping fee charged to the buyer until the order is packed."""
        self.edit_order(order, shipping_fee=shipping_fee)

    def _change_lines(self, o: Order, lines: Sequence[Mapping[str, object]], work: _Work) -> None:
        requested = _requested(lines)
        skus = [str(line["sku"]) for line in requested]
        new_skus = [sku for sku in skus if o.line(sku) is None]
        loaded = self._load_all(self._product_ids_of(new_skus, "lines"))
        priced = self._priced(requested, loaded, "lines", current=o)
        before = {item["sku"] for item in o.lines}
        o.change_lines(priced)
        for sku in sorted(before | set(skus)):
            self._rebalance(o, sku, work)

    def _rebalance(self, order: Order, sku: str, work: _Work) -> None:
        """Make reserved + backordered units of a SKU equal what the order now wants."""
        excess = order.allocated(sku) + order.backordered(sku) - order.ordered(sku)
        if excess > 0:
            self._shrink(order, sku, excess, work)
        elif excess < 0:
            warehouses = self._active_codes()
            self._reread([sku], warehouses, work)
            plan = plan_allocation(
                {sku: -excess}, _available(work, warehouses), warehouses, _main_warehouse(order)
            )
            self._apply(order, plan, work)

    def _shrink(self, order: Order, sku: str, excess: int, work: _Work) -> None:
        from_backorder = min(order.backordered(sku), excess)
        if from_backorder:
            order.reduce_backorder(sku, from_backorder)
            self._backlog(sku, work).take(order.id, from_backorder, "order changed")
        left = excess - from_backorder
        for warehouse, held in sorted(order.allocations.get(sku, {}).items(), key=lambda x: x[1]):
            give_back = min(held, left)
            if give_back:
                item = self._item(sku, warehouse, work)
                item.release(order.id, give_back, "order changed")
                order.release_allocation(sku, warehouse, give_back)
                self._fill_waiting(sku, [item], work, "released by an order change")
                left -= give_back

    @retry_on_conflict
    def cancel_order(self, order: UUID | str, reason: str) -> None:
        """Cancel an order not yet handed to a carrier; its reservations and backorders go."""
        o = self._order(order)
        held = (
            [(sku, wh, qty) for sku, per in o.allocations.items() for wh, qty in per.items()]
            if o.fulfilment in ("awaiting_stock", "reserved", "packed")
            else []
        )
        waiting = dict(o.backorders)
        parcels = self._cancel_parcels(o, reason)
        o.cancel(reason)
        work = _Work(orders={o.id: o})
        for sku, qty in waiting.items():
            self._backlog(sku, work).take(o.id, qty, "order cancelled")
        for sku, warehouse, _ in held:
            item = self._item(sku, warehouse, work)
            item.release(o.id, None, "order cancelled")
            self._fill_waiting(sku, [item], work, "released by a cancelled order")
        self._save(*work.aggregates(), *parcels)

    def _cancel_parcels(self, order: Order, reason: str) -> list[Aggregate]:
        """The parcels of an order being cancelled, cancelled with it in the same transaction
        (see ShippingCommands); none here."""
        return []

    # stock for waiting orders ---------------------------------------------------------------
    def _save_stock(
        self, *aggregates: Aggregate, arrived: Sequence[StockItem] = (), reason: str = ""
    ) -> int:
        """Save a command's aggregates, after giving the units that `arrived` in stock items
        (a receipt, a transfer in, a restocked return, a count that found more) to the orders
        waiting for their SKUs, oldest first: in the same transaction, as a goods receipt does."""
        work = _Work()
        active = self._active_codes() if arrived else []
        active += [a.code for a in aggregates if isinstance(a, Warehouse) and a.active]
        for item in arrived:
            if item.warehouse in active:
                work.items[(item.sku, item.warehouse)] = item
        for sku in dict.fromkeys(sku for sku, _ in work.items):
            items = [item for (code, _), item in work.items.items() if code == sku]
            self._fill_waiting(sku, items, work, reason)
        changed = {id(a): a for a in [*aggregates, *work.aggregates()]}
        return self._save(*changed.values())

    @retry_on_conflict
    def reactivate_warehouse(self, code: str) -> None:
        """Use a deactivated warehouse again; its available units go to the orders waiting for
        them, oldest first, in the same transaction."""
        warehouse = self._warehouse(code)
        warehouse.reactivate()
        ids = [_stock_id(sku, warehouse.code) for sku in self._backlog_skus()]
        items = [item for item in self._load_all(ids).values() if isinstance(item, StockItem)]
        reason = f"warehouse {warehouse.code} reactivated"
        self._save_stock(warehouse, arrived=items, reason=reason)

    @retry_on_conflict
    def allocate_waiting(self, sku: str | None = None) -> list[Fill]:
        """Reserve available stock for orders waiting for it, first come first served.

        Every command that makes units available does this by itself, in its own transaction
        (goods receipts, manual receipts, transfers, restocked returns, counts that found more,
        a reactivated warehouse, cancelled or reduced orders); this catches up on a log written
        by an orderflow that did not.
        """
        skus = [self._require_sku(sku)] if sku else self._backlog_skus()
        work = _Work()
        fills: list[Fill] = []
        warehouses = self._active_codes()
        for code in skus:
            items = [self._item(code, wh, work) for wh in warehouses]
            fills += self._fill_waiting(code, items, work, "allocate waiting orders")
        self._save(*work.aggregates())
        return fills

    def _fill_waiting(
        self, sku: str, items: list[StockItem], work: _Work, reason: str
    ) -> list[Fill]:
        """Give these stock items' available units to the SKU's waiting orders, oldest first."""
        offered = sum(item.available for item in items)
        if offered <= 0:
            return []
        backlog = self._backlog(sku, work)
        backlog.offer(offered, reason)
        self._read_orders(_first_served(backlog, offered), work)
        fills: list[Fill] = []
        for order_id in backlog.order_ids():
            if not any(item.available for item in items):
                break
            order = work.orders.get(UUID(order_id)) or self._load(
                Order, UUID(order_id), "order", order_id
            )
            work.orders[order.id] = order
            fills += self._fill_order(order, sku, items, backlog)
        return fills

    def _read_orders(self, order_ids: Iterable[str], work: _Work) -> None:
        """Private copies of these orders in the work, read together (not one query each)."""
        missing = [UUID(i) for i in order_ids if UUID(i) not in work.orders]
        for order in self._read(missing).values():
            if isinstance(order, Order):
                work.orders[order.id] = private_copy(order)

    def _fill_order(
        self, order: Order, sku: str, items: list[StockItem], backlog: Backlog
    ) -> list[Fill]:
        need = min(backlog.waiting_for(order.id), order.backordered(sku))
        fills = []
        for item in items:
            take = min(need, item.available)
            if take <= 0:
                continue
            item.reserve(order.id, take)
            order.allocate(sku, item.warehouse, take)
            backlog.take(order.id, take, "stock arrived")
            need -= take
            fills.append(
                Fill(order.id, order.reference, sku, item.warehouse, take, order.fulfilment)
            )
        return fills

    def _backlog_skus(self) -> list[str]:
        ids = list(self._ids_of(Backlog.Opened))
        return [b.sku for b in self._load_all(ids).values() if isinstance(b, Backlog) and b.queue]

    # money ----------------------------------------------------------------------------------
    @retry_on_conflict
    def record_payment(
        self,
        order: UUID | str,
        amount: object,
        kind: str = "payment",
        reference: str = "",
        at: datetime | str | None = None,
    ) -> None:
        """Record money in: a prepayment, COD collected by the carrier, or COD remitted by it.

        Completes a delivered order once it is paid in full.
        """
        o = self._order(order)
        o.record_payment(kind, amount, reference, at)
        self._save(o)

    @retry_on_conflict
    def record_refund(
        self,
        order: UUID | str,
        amount: object,
        reference: str = "",
        at: datetime | str | None = None,
    ) -> None:
        """Record money paid back to the buyer (never more than was paid and not yet refunded)."""
        o = self._order(order)
        o.record_refund(amount, reference, at)
        self._save(o)

    # queries --------------------------------------------------------------------------------
    def order(self, order: UUID | str) -> OrderInfo:
        """One order by id or CHANNEL/EXTERNAL_ID, with totals, VAT, stock and money."""
        return OrderInfo.of(self._order(order))

    def order_id(self, channel: str, external_id: str) -> UUID:
        """The id an order from this channel with this external id has (placed or not)."""
        return Order.create_id(checks.channel(channel), checks.external_id(external_id))

    def orders(self, status: str | None = None, channel: str | None = None) -> list[OrderSummary]:
        """Every order, oldest first (reads the log; a projection will serve large lists)."""
        found, ids = [], list(self._ids_of(Order.Placed))
        for start in range(0, len(ids), 500):
            for o in self._read(ids[start : start + 500]).values():
                if (
                    isinstance(o, Order)
                    and status in (None, o.status)
                    and channel in (None, o.channel)
                ):
                    found.append(OrderSummary.of(o))
        return found

    def order_transactions(self, order: UUID | str) -> list[Transaction]:
        """An order's money history: payments, COD collected and remitted, refunds."""
        return [Transaction(**t) for t in self._order(order).transactions]

    # loading --------------------------------------------------------------------------------
    def _order(self, ref: UUID | str) -> Order:
        """An order by its id, or by 'channel/external_id'."""
        order_id = _order_id(ref)
        return self._load(Order, order_id, "order", str(ref))

    def _load_all(self, ids: Iterable[UUID]) -> dict[UUID, Aggregate]:
        """The aggregates that exist among these ids."""
        found = {}
        for aggregate_id in dict.fromkeys(ids):
            aggregate = self._load_or_none(Aggregate, aggregate_id)
            if aggregate is not None:
                found[aggregate_id] = aggregate
        return found

    def _product_ids_of(self, skus: Sequence[str], field: str) -> list[UUID]:
        """The products of these SKUs (each SKU's claim is read once per process)."""
        unknown = [sku for sku in skus if sku not in self._product_ids]
        if not unknown:  # the usual case: every SKU seen before
            return [self._product_ids[sku] for sku in skus]
        claims = self._load_all(Sku.create_id(sku) for sku in unknown)
        for i, sku in enumerate(skus):
            claim = claims.get(Sku.create_id(sku))
            if isinstance(claim, Sku):
                self._product_ids[sku] = claim.product_id
            elif sku not in self._product_ids:
                raise NotFoundError(f"{field}[{i}].sku", sku, "SKU")
        return [self._product_ids[sku] for sku in skus]

    def _priced(
        self,
        requested: list[dict[str, object]],
        loaded: Mapping[UUID, Aggregate],
        field: str,
        current: Order | None = None,
    ) -> list[dict[str, object]]:
        """Lines with the catalogue's (or the order's own) name, price and VAT rate filled in."""
        priced = []
        for i, line in enumerate(requested):
            sku = str(line["sku"])
            existing = current.line(sku) if current else None
            if existing:
                defaults = {k: existing[k] for k in ("name", "unit_price", "vat_rate")}
            else:
                defaults = _catalogue_defaults(
                    loaded, self._product_ids[sku], sku, f"{field}[{i}].sku"
                )
            priced.append({**defaults, **line})
        return priced

    def _warehouse_codes(self) -> list[str]:
        """Codes of every registered warehouse; new registrations are read at most once per TTL."""
        now = time.monotonic()
        if now - self._warehouses_checked > WAREHOUSE_LIST_TTL:
            end = self.position()
            topics = [get_topic(Warehouse.Registered)]
            for n in read_log(self.recorder, self._warehouses_seen_at, end, topics):
                self._warehouse_list.append(self.mapper.to_domain_event(n).code)  # type: ignore[attr-defined]
            self._warehouses_seen_at, self._warehouses_checked = end, now
        return list(self._warehouse_list)

    def _active_codes(self) -> list[str]:
        """Codes of the active warehouses, in the order they were registered."""
        codes = self._warehouse_codes()
        loaded = self._load_all(Warehouse.create_id(c) for c in codes)
        return [c for c in codes if _is_active(loaded.get(Warehouse.create_id(c)))]

    def _item(self, sku: str, warehouse: str, work: _Work) -> StockItem:
        """A stock item this command may change (a private copy of the current state)."""
        key = (sku, warehouse)
        if key not in work.items:
            view = work.views.get(key)
            item = (
                private_copy(view)
                if view
                else self._load_or_none(StockItem, _stock_id(sku, warehouse))
            )
            work.items[key] = item or StockItem(sku=sku, warehouse=warehouse)
        return work.items[key]

    def _read(self, ids: Iterable[UUID], trust_cache: bool = False) -> dict[UUID, Aggregate]:
        """The current state of these aggregates SHARED with the cache: only read it.

        Cached aggregates are brought up to date with one query for all of them, unless
        `trust_cache` (then the command must pass what it read as the save's `expect`, so a
        stale copy fails the save and the retry reads). Ids found missing are not asked for
        again for ABSENT_TTL seconds (a stock item never opened in a warehouse) — or at all
        with `trust_cache`, where the save checks they still do not exist; a command that would
        backorder because of them, or is retrying, reads again first.
        """
        now = time.monotonic()
        wanted = [
            i
            for i in dict.fromkeys(ids)
            if i not in self._absent or (not trust_cache and self._absent[i] <= now)
        ]
        unsure = [i for i in wanted if i in self._unsure]  # before reading: see known_head()
        cached = self._cached(wanted)
        behind = cached if not trust_cache else {i: cached[i] for i in unsure if i in cached}
        new_events = (
            select_events_after(self.recorder, {i: a.version for i, a in behind.items()})
            if behind
            else {}
        )
        loaded = self._load_many([i for i in wanted if i not in cached])
        self._remember(*loaded.values())
        found: dict[UUID, Aggregate] = {}
        for aggregate_id in wanted:
            if aggregate_id in cached:
                stored = new_events.get(aggregate_id, [])
                found[aggregate_id] = self._fast_forward(cached[aggregate_id], stored)
                if aggregate_id in behind:
                    self._refreshed(found[aggregate_id])  # read just now: current
            elif aggregate_id in loaded:
                found[aggregate_id] = loaded[aggregate_id]
            else:
                self._absent[aggregate_id] = now + ABSENT_TTL
        return found

    def _cached(self, ids: Iterable[UUID]) -> dict[UUID, Aggregate]:
        cache, found = self.repository.cache, {}
        for aggregate_id in ids if cache else ():
            try:  # noqa: SIM105 (suppress() is a context manager per id, on every order)
                found[aggregate_id] = cast(Aggregate, cache.get(aggregate_id))  # type: ignore[union-attr]
            except KeyError:
                pass
        return found

    def _fast_forward(self, aggregate: Aggregate, stored: list[Any]) -> Aggregate:
        """The cached aggregate with these newer events applied, as a new cached copy."""
        if not stored:
            return aggregate
        current: Any = private_copy(aggregate)  # the shared copy is never changed in place
        for event in stored:
            current = cast(Any, self.mapper.to_domain_event(event)).mutate(current)
        self._remember(current)
        return cast(Aggregate, current)

    def _remember(self, *aggregates: Aggregate) -> None:
        """Cache aggregates as just saved or read; fast-forwarding corrects any overtaken."""
        if self.repository.cache:
            for aggregate in aggregates:
                self.repository.cache.put(aggregate.id, aggregate)
                self._refreshed(aggregate)  # after the put: see known_head()

    def _backlog(self, sku: str, work: _Work) -> Backlog:
        """The SKU's backlog to change (opened when first needed)."""
        if sku not in work.backlogs:
            view = work.backlog_views.get(sku)
            backlog = (
                private_copy(view) if view else self._load_or_none(Backlog, Backlog.create_id(sku))
            )
            work.backlogs[sku] = backlog or Backlog(sku=sku)
        return work.backlogs[sku]


FLAT_TYPE_SET = frozenset((int, str, bool, float, Decimal, UUID, datetime, type(None)))


def private_copy(aggregate: A) -> A:
    """A copy to change: as deepcopy, but much faster. Flat state (a stock item's reservations:
    order id -> units) is copied one level deep; classes that declare `flat_state = True` skip
    the check (it walks every entry: thousands on a hot SKU). Nested dicts and lists (an
    order's lines) are copied all the way down by _copy_plain."""
    state = vars(aggregate)
    clone = object.__new__(type(aggregate))  # what copy() does, without its generic protocol
    cloned = vars(clone)
    if getattr(aggregate, "flat_state", False) or all(map(_flat, state.values())):
        cloned.update(state)
        for name, value in state.items():
            if isinstance(value, dict | list):
                cloned[name] = value.copy()
    else:  # nested lists and dicts (an order's lines): copied all the way down
        cloned.update((name, _copy_plain(value)) for name, value in state.items())
    return clone


def _copy_plain(value: Any) -> Any:
    """deepcopy for state made of dicts, lists and immutable values (what events carry),
    without deepcopy's memo and protocol lookups (an order: 0.27 ms -> a few us); anything
    else is deep-copied."""
    kind = type(value)
    if kind in FLAT_TYPE_SET or isinstance(value, Enum):
        return value
    if kind is dict:
        return {k: _copy_plain(v) for k, v in value.items()}
    if kind is list:
        return [_copy_plain(v) for v in value]
    return deepcopy(value)


def _flat(value: object) -> bool:
    if isinstance(value, dict):
        return {*map(type, value), *map(type, value.values())} <= FLAT_TYPE_SET
    if isinstance(value, list):
        return set(map(type, value)) <= FLAT_TYPE_SET
    return type(value) in FLAT_TYPE_SET


@lru_cache(maxsize=100_000)
def _stock_id(sku: str, warehouse: str) -> UUID:
    return StockItem.create_id(sku, warehouse)


def _order_id(ref: UUID | str) -> UUID:
    if isinstance(ref, UUID):
        return ref
    text = values.text(ref, "order", max_length=200)
    try:
        return UUID(text)
    except ValueError:
        pass
    channel, slash, number = text.partition("/")
    if not slash:
        raise InvalidInputError("order", f"{text!r} is neither an order id nor CHANNEL/EXTERNAL_ID")
    return Order.create_id(checks.channel(channel), checks.external_id(number))


def _lines_with(order: Order, quantities: Mapping[str, object]) -> list[dict[str, object]]:
    """The order's lines with these SKUs' quantities changed, added (new SKU) or removed (0)."""
    lines: dict[str, dict[str, object]] = {item["sku"]: dict(item) for item in order.lines}
    for sku, qty in quantities.items():
        code = values.code(sku, "quantities.sku")
        number = values.count(qty, f"quantities.{code}")
        if number == 0:
            if code not in lines:
                raise InvalidInputError(f"quantities.{code}", "is not on the order")
            lines.pop(code)
        else:
            lines.setdefault(code, {"sku": code})["quantity"] = number
    return list(lines.values())


def _requested(lines: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """Lines with their SKU codes checked (the rest is checked once prices are filled in)."""
    if not isinstance(lines, Sequence) or isinstance(lines, str):
        raise InvalidInputError("lines", "give a list of lines")
    if not lines:
        raise InvalidInputError("lines", "an order needs at least one line")
    requested = []
    for i, line in enumerate(lines):
        if not isinstance(line, Mapping):
            raise InvalidInputError(f"lines[{i}]", "expected an object with sku and quantity")
        given = {k: v for k, v in line.items() if v is not None}
        given["sku"] = values.code(line.get("sku"), f"lines[{i}].sku")
        requested.append(given)
    return requested


def _catalogue_defaults(
    loaded: Mapping[UUID, Aggregate], product_id: UUID, sku: str, field: str
) -> dict[str, object]:
    product = loaded.get(product_id)
    if not isinstance(product, Product):
        raise NotFoundError(field, sku, "SKU")
    name, sale_price, vat_rate, active = product.sale_terms(sku)
    if not active:
        raise InvalidInputError(field, f"{sku} is no longer sold (discontinued)")
    return {"name": name, "unit_price": sale_price, "vat_rate": vat_rate}


def _first_served(backlog: Backlog, units: int) -> list[str]:
    """The waiting orders that `units` newly available units can reach, oldest first."""
    served, covered = [], 0
    for order_id, waiting in backlog.queue.items():
        if covered >= units:
            break
        served.append(order_id)
        covered += waiting
    return served


def _is_active(warehouse: Aggregate | None) -> bool:
    return isinstance(warehouse, Warehouse) and warehouse.active


def _items(loaded: Mapping[UUID, Aggregate]) -> dict[tuple[str, str], StockItem]:
    return {(a.sku, a.warehouse): a for a in loaded.values() if isinstance(a, StockItem)}


def _available(work: _Work, warehouses: Sequence[str]) -> dict[str, dict[str, int]]:
    available: dict[str, dict[str, int]] = {}
    for (sku, warehouse), item in {**work.views, **work.items}.items():
        if warehouse in warehouses:
            available.setdefault(sku, {})[warehouse] = item.available
    return available


def _main_warehouse(order: Order) -> str | None:
    """The warehouse holding most of an order's units (extra units go there first)."""
    totals: dict[str, int] = {}
    for per in order.allocations.values():
        for warehouse, qty in per.items():
            totals[warehouse] = totals.get(warehouse, 0) + qty
    return max(totals, key=lambda w: totals[w]) if totals else None
