"""Sales and margin per SKU, per day and per channel.

A sale counts on the day (Vietnam time) its order was placed, at the order's prices; a
cancelled order drops out; edits to the lines replace its figures. Returned goods count
against the day they came back: revenue and VAT go back, and their cost too when they were
resellable (damaged goods keep their cost: that is the loss). Cost is the SKU's cost price
when the order was placed. Margin = revenue net of VAT - cost.
"""

# Event classes made by @event("Name") exist only at run time: mypy cannot see them.
# mypy: disable-error-code="attr-defined"

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orderflow.projections.sql import Table
from orderflow.projections.view import Batch, Event, View, local_day, on

from orderflow import values
from orderflow.order import Order
from orderflow.product import Product
from orderflow.returns import Return

GROUPS = ("day", "sku", "channel")


@dataclass(frozen=True)
class SalesRow:
    """Units, revenue (VAT included), VAT, cost and margin of a group; "" where not grouped."""

    day: str
    sku: str
    channel: str
    quantity: int
    revenue: Decimal
    vat: Decimal
    cost: Decimal

    @property
    def net(self) -> Decimal:
        return self.revenue - self.vat

    @property
    def margin(self) -> Decimal:
        return self.net - self.cost


class SalesView(View):
    """What each order (and each return) adds to the sales of a SKU on a day on a channel."""

    name = "sales"
    title = "sales and margin per SKU per day and per channel"
    tables = (
        Table(
            "lines",
            "source_id text, sku text, day text, channel text, quantity int, revenue int, vat"
            " int, cost int",
            key="source_id, sku",
            indexes=("day", "sku, day", "channel, day"),
        ),
        Table("costs", "sku text, cost int", key="sku"),
    )

    follows = (Order, Product, Return)
    costs: dict[str, int]

    def forget(self) -> None:
        self.costs = {}

    @on(Product.Registered, Product.PriceChanged)
    def prices_changed(self, batch: Batch, event: Event) -> None:
        product = batch.state(event)
        for sku, variant in product.variants.items():
            batch.put("costs", sku=sku, cost=Decimal(variant["cost_price"]))
            self.costs[sku] = int(variant["cost_price"])

    def _cost(self, batch: Batch, sku: str) -> int:
        if sku not in self.costs:
            row = batch.get("costs", sku=sku)
            self.costs[sku] = int(row["cost"]) if row else 0
        return self.costs[sku]

    @on(Order.Placed, Order.LinesChanged, Order.Cancelled)
    def order_changed(self, batch: Batch, event: Event) -> None:
        order = batch.state(event)
        costs = {line["sku"]: self._cost(batch, line["sku"]) for line in order.lines}  # as of now
        batch.later(order.id, lambda: self._put_order(batch, order, costs))

    @staticmethod
    def _put_order(batch: Batch, order: Any, costs: dict[str, int]) -> None:
        if order.id not in batch.created:  # lines of an order placed in an earlier batch go first
            batch.delete_where("lines", source_id=order.id)
        if order.status == "cancelled":
            return
        day = local_day(order.created_on)
        for line in order.lines:
            quantity, gross = int(line["quantity"]), line["quantity"] * Decimal(line["unit_price"])
            net = values.net_of_vat(gross, values.VatRate(line["vat_rate"]))
            batch.put(
                "lines",
                source_id=order.id,
                sku=line["sku"],
                day=day,
                channel=order.channel,
                quantity=quantity,
                revenue=gross,
                vat=gross - net,
                cost=quantity * costs[line["sku"]],
            )

    @on(Return.Received)
    def goods_returned(self, batch: Batch, event: Event) -> None:
        returned = batch.state(event)
        costs = {line["sku"]: self._cost(batch, line["sku"]) for line in returned.lines}
        day = local_day(event.timestamp)
        batch.later(returned.id, lambda: self._put_return(batch, returned, costs, day))

    @staticmethod
    def _put_return(batch: Batch, returned: Any, costs: dict[str, int], day: str) -> None:
        channel = returned.order_reference.split("/")[0]
        per_sku: dict[str, dict[str, Any]] = {}
        for line in returned.lines:
            quantity, gross = int(line["quantity"]), line["quantity"] * Decimal(line["unit_price"])
            sold = batch.get("lines", source_id=returned.order_id, sku=line["sku"])
            share = (
                Decimal(sold["vat"]) / Decimal(sold["revenue"])
                if sold and sold["revenue"]
                else Decimal(0)
            )
            cost = quantity * costs[line["sku"]] if line.get("condition") == "resellable" else 0
            sums = per_sku.setdefault(
                line["sku"], {"quantity": 0, "revenue": 0, "vat": 0, "cost": 0}
            )
            vat = values.round_vnd(gross * share)
            for key, value in (
                ("quantity", quantity),
                ("revenue", gross),
                ("vat", vat),
                ("cost", cost),
            ):
                sums[key] -= value
        for sku, sums in per_sku.items():
            batch.put("lines", source_id=returned.id, sku=sku, day=day, channel=channel, **sums)

    # queries ------------------------------------------------------------------------------
    def sales(
        self,
        by: Sequence[str] = GROUPS,
        since: str | None = None,
        until: str | None = None,
        sku: str | None = None,
        channel: str | None = None,
    ) -> list[SalesRow]:
        """Sales grouped by any of day, sku, channel; days are YYYY-MM-DD, `until` included."""
        groups = [g for g in GROUPS if g in by]
        if len(groups) != len(set(by)):
            raise ValueError(f"group by any of {GROUPS}, got {list(by)}")
        where, params = [], []
        for clause, value in (
            ("day >= ?", since),
            ("day <= ?", until),
            ("sku = ?", sku and sku.upper()),
            ("channel = ?", channel and channel.lower()),
        ):
            if value:
                where.append(clause)
                params.append(value)
        columns = ", ".join(groups) + ", " if groups else ""
        rows = self.query(
            f"SELECT {columns}SUM(quantity), SUM(revenue), SUM(vat), SUM(cost) FROM {{lines}}"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + (f" GROUP BY {', '.join(groups)} ORDER BY {', '.join(groups)}" if groups else ""),
            params,
        )
        result = []
        for row in rows:
            named = dict(zip(groups, row, strict=False))
            quantity, revenue, vat, cost = row[len(groups) :]
            if quantity is None:
                continue
            result.append(
                SalesRow(
                    named.get("day", ""),
                    named.get("sku", ""),
                    named.get("channel", ""),
                    int(quantity),
                    Decimal(revenue),
                    Decimal(vat),
                    Decimal(cost),
                )
            )
        return result
