"""ReorderPoint: the stock level of a SKU in a warehouse at which the seller wants to buy more.

The stock read model raises a low-stock alert when the available units fall to the level or
below; `reorder_quantity` (optional) is what the seller usually buys then.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from orderflow import values
from orderflow.catalogue import CatalogueCommands
from orderflow.engine_base import retry_on_conflict
from orderflow.values import named_id


class ReorderPoint(Aggregate):
    """When to reorder one SKU for one warehouse (level 0: no alert)."""

    @staticmethod
    def create_id(sku: str, warehouse: str) -> UUID:
        return named_id(f"orderflow:reorder-point:{sku}@{warehouse}")

    @event("Set")
    def __init__(self, sku: str, warehouse: str, level: int, reorder_quantity: int) -> None:
        self.sku = sku
        self.warehouse = warehouse
        self.level = level
        self.reorder_quantity = reorder_quantity

    def change(self, level: int, reorder_quantity: int) -> bool:
        """Record new figures; False (and no event) when they are the same."""
        if (level, reorder_quantity) == (self.level, self.reorder_quantity):
            return False
        self._changed(level=level, reorder_quantity=reorder_quantity)
        return True

    @event("Changed")
    def _changed(self, level: int, reorder_quantity: int) -> None:
        self.level = level
        self.reorder_quantity = reorder_quantity


class ReorderPointCommands(CatalogueCommands):
    """Reorder points per SKU and warehouse."""

    @retry_on_conflict
    def set_reorder_point(
        self, sku: str, warehouse: str, level: int, reorder_quantity: int = 0
    ) -> int:
        """Alert when a SKU runs low in a warehouse (available <= `level`); returns the position."""
        code = values.code(sku, "sku")
        self._product_of_sku(code)
        wh = self._warehouse(warehouse).code
        at = values.count(level, "level")
        qty = values.count(reorder_quantity, "reorder_quantity")
        point = self._load_or_none(ReorderPoint, ReorderPoint.create_id(code, wh))
        if point is None:
            point = ReorderPoint(sku=code, warehouse=wh, level=at, reorder_quantity=qty)
        elif not point.change(at, qty):
            return self.position()
        return self._save(point)
