"""Where an order's units are reserved: a pure policy over the stock available per warehouse.

1. One warehouse that can fill the whole order (the channel's preferred warehouse first, then
   the others in their given order).
2. Otherwise each line from one warehouse that can fill it, preferring warehouses that can fill
   more of the order's lines (fewer parcels).
3. Otherwise what exists, line by line from the warehouses with the most available first; the
   rest is backordered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AllocationPlan:
    """Units to reserve per SKU per warehouse, and units nobody has (to backorder)."""

    reserve: dict[str, dict[str, int]] = field(default_factory=dict)
    backorder: dict[str, int] = field(default_factory=dict)

    def reservations(self) -> list[tuple[str, str, int]]:
        """(sku, warehouse, quantity) for every reservation, in a stable order."""
        return [(sku, wh, qty) for sku, per in self.reserve.items() for wh, qty in per.items()]


def plan_allocation(
    wanted: Mapping[str, int],
    available: Mapping[str, Mapping[str, int]],
    warehouses: Sequence[str],
    preferred: str | None = None,
) -> AllocationPlan:
    """Reserve `wanted` (SKU -> units) from `available` (SKU -> warehouse -> units).

    `warehouses` are the warehouses that may be used, in order of preference; `preferred`
    (when it is one of them) goes first.
    """
    order = _ranked(warehouses, preferred)
    wanted = {sku: qty for sku, qty in wanted.items() if qty > 0}
    if not wanted:
        return AllocationPlan()
    whole = _one_warehouse_for_all(wanted, available, order)
    if whole:
        return AllocationPlan(reserve={sku: {whole: qty} for sku, qty in wanted.items()})
    return _line_by_line(wanted, available, order)


def _ranked(warehouses: Sequence[str], preferred: str | None) -> list[str]:
    if preferred in warehouses:
        return [preferred, *(w for w in warehouses if w != preferred)]  # type: ignore[list-item]
    return list(warehouses)


def _has(available: Mapping[str, Mapping[str, int]], sku: str, warehouse: str) -> int:
    return max(available.get(sku, {}).get(warehouse, 0), 0)


def _one_warehouse_for_all(
    wanted: Mapping[str, int], available: Mapping[str, Mapping[str, int]], order: list[str]
) -> str | None:
    for warehouse in order:
        if all(_has(available, sku, warehouse) >= qty for sku, qty in wanted.items()):
            return warehouse
    return None


def _line_by_line(
    wanted: Mapping[str, int], available: Mapping[str, Mapping[str, int]], order: list[str]
) -> AllocationPlan:
    def lines_filled(warehouse: str) -> int:
        return sum(_has(available, sku, warehouse) >= qty for sku, qty in wanted.items())

    by_coverage = sorted(order, key=lines_filled, reverse=True)  # stable: ties keep preference
    reserve: dict[str, dict[str, int]] = {}
    backorder: dict[str, int] = {}
    for sku, qty in wanted.items():
        single = next((w for w in by_coverage if _has(available, sku, w) >= qty), None)
        if single:
            reserve[sku] = {single: qty}
            continue
        taken = _take_what_exists(sku, qty, available, order)
        if taken:
            reserve[sku] = taken
        missing = qty - sum(taken.values())
        if missing:
            backorder[sku] = missing
    return AllocationPlan(reserve=reserve, backorder=backorder)


def _take_what_exists(
    sku: str, qty: int, available: Mapping[str, Mapping[str, int]], order: list[str]
) -> dict[str, int]:
    most_first = sorted(order, key=lambda w: _has(available, sku, w), reverse=True)
    taken: dict[str, int] = {}
    for warehouse in most_first:
        take = min(qty - sum(taken.values()), _has(available, sku, warehouse))
        if take > 0:
            taken[warehouse] = take
    return taken
