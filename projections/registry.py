"""Every read model of orderflow, and the easy ways to run them in-process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from eventsourcing.application import Application
from orderflow.projections.event_times import EventTimes
from orderflow.projections.invoices import InvoiceRegister
from orderflow.projections.orders import OrderBoard, OrderTimeline
from orderflow.projections.purchasing import PurchasingView
from orderflow.projections.runner import BATCH, Runner
from orderflow.projections.sales import SalesView
from orderflow.projections.shipments import ShipmentsView
from orderflow.projections.stock import StockView
from orderflow.projections.tracking import DEFAULT_PREFIX, open_store
from orderflow.projections.view import View

from orderflow.errors import InvalidInputError

V = TypeVar("V", bound=View)

VIEWS: tuple[type[View], ...] = (
    EventTimes,
    StockView,
    OrderBoard,
    OrderTimeline,
    ShipmentsView,
    PurchasingView,
    InvoiceRegister,
    SalesView,
)


def view_classes(names: Iterable[str] | None = None) -> list[type[View]]:
    """The view classes with these names (all when None); InvalidInputError names an unknown one."""
    if names is None:
        return list(VIEWS)
    known = {cls.name: cls for cls in VIEWS}
    chosen = []
    for name in names:
        if name not in known:
            raise InvalidInputError("view", f"unknown view {name!r} (known: {', '.join(known)})")
        chosen.append(known[name])
    return chosen


def open_views(
    engine: Application[Any],
    names: Iterable[str] | None = None,
    prefix: str = DEFAULT_PREFIX,
    create: bool = True,
) -> list[View]:
    """The views, each with its store in the engine's database (tables created when missing)."""
    return [
        cls(
            open_store(engine, cls.name, cls.tables, prefix=prefix, create=create),
            engine.repository,
        )
        for cls in view_classes(names)
    ]


class ReadModels(Runner):
    """A runner over the views that also answers their queries: `read_models.stock.levels()`."""

    def get(self, cls: type[V]) -> V:
        """The view of this class."""
        for view in self.views:
            if isinstance(view, cls):
                return view
        raise InvalidInputError("view", f"{cls.name} is not among the views of this runner")

    @property
    def event_times(self) -> EventTimes:
        return self.get(EventTimes)

    @property
    def stock(self) -> StockView:
        return self.get(StockView)

    @property
    def orders(self) -> OrderBoard:
        return self.get(OrderBoard)

    @property
    def timeline(self) -> OrderTimeline:
        return self.get(OrderTimeline)

    @property
    def shipments(self) -> ShipmentsView:
        return self.get(ShipmentsView)

    @property
    def purchasing(self) -> PurchasingView:
        return self.get(PurchasingView)

    @property
    def invoices(self) -> InvoiceRegister:
        return self.get(InvoiceRegister)

    @property
    def sales(self) -> SalesView:
        return self.get(SalesView)


def open_read_models(
    engine: Application[Any], names: Iterable[str] | None = None, batch: int = BATCH
) -> ReadModels:
    """Read models over the engine's database, not yet caught up (see `catch_up`, `start`)."""
    return ReadModels(engine, open_views(engine, names), batch=batch)


def catch_up(engine: Application[Any], names: Iterable[str] | None = None) -> ReadModels:
    """Apply whatever is new to the views, in this thread, and return them for queries."""
    models = open_read_models(engine, names)
    models.catch_up()
    return models


@contextlib.contextmanager
def run_projections(
    engine: Application[Any], names: Iterable[str] | None = None
) -> Iterator[ReadModels]:
    """Keep the views up to date in a background thread for the duration of the block."""
    models = open_read_models(engine, names)
    with models:
        yield models
