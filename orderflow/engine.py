"""The engine: every command and query of orderflow on one event store."""

from __future__ import annotations

import sqlite3
import time
from typing import Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from orderflow import values
from orderflow.errors import StoreUnavailableError
from orderflow.inventory import InventoryCommands
from orderflow.purchasing import PurchasingCommands
from orderflow.reorder_point import ReorderPointCommands
from orderflow.returning import ReturnCommands
from orderflow.shipping import ShippingCommands
from orderflow.store import StoreConfig, check_reachable


class Engine(
    ReturnCommands, ShippingCommands, PurchasingCommands, ReorderPointCommands, InventoryCommands
):
    """orderflow's application service. Open it with `open_engine()`."""

    name = "orderflow"  # pinned on the final class: names the Postgres tables and tracking records

    def cancel_order(self, order: UUID | str, reason: str, *, tell_carrier: bool = True) -> None:
        """Cancel an order not yet handed to a carrier (see OrderCommands.cancel_order). A
        packed order's parcel is cancelled with it; with `tell_carrier`, one a carrier has
        booked is cancelled at the carrier first, and nothing is recorded if the carrier
        refuses (without: the seller did that, and this records it)."""
        values.text(reason, "reason", max_length=500)
        parcel = self._packed_parcel(self._order(order))
        if parcel is not None and tell_carrier:
            self._cancel_at_carrier(parcel)
        super().cancel_order(order, reason)


def open_engine(config: StoreConfig | str | None = None, **options: Any) -> Engine:
    """Open the engine on a store: a URL ('sqlite:///orderflow.db', 'postgresql://...') or a
    StoreConfig."""
    if config is None or isinstance(config, str):
        config = StoreConfig(url=config or StoreConfig.url, **options)
    env = config.env()  # validates the URL before anything is opened
    check_reachable(config)
    try:
        return _construct(env)
    except PersistenceError as error:
        lines = str(error).strip().splitlines()
        first_line = lines[0] if lines else type(error).__name__
        where = config.describe()
        raise StoreUnavailableError(f"database_url: cannot open {where}: {first_line}") from None


def _construct(env: dict[str, str], attempts: int = 20) -> Engine:
    """Build the engine; retry when several processes open a new store at once.

    Switching a brand-new SQLite file to WAL mode fails at once (unwrapped sqlite3 error) if
    another process is doing the same; once one has succeeded the mode persists in the file.
    """
    for attempt in range(1, attempts + 1):
        try:
            return Engine(env=env)
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts:
                reason = f"database_url: cannot open the SQLite file: {error}"
                raise StoreUnavailableError(reason) from None
        except PersistenceError as error:
            if not _creation_race(error) or attempt == attempts:
                raise
        time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


def _creation_race(error: PersistenceError) -> bool:
    """Another process creating the same PostgreSQL tables, types or functions at this moment.

    The library creates its composite type in a transaction of its own before the tables (our
    advisory lock only covers the tables and functions), so two processes opening a new
    database can collide there; everything is created IF NOT EXISTS, so trying again is safe.
    """
    message = str(error)
    return any(
        sign in message
        for sign in ("pg_type_typname_nsp_index", "tuple concurrently updated", "already exists")
    )
