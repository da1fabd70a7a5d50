"""Ports: what the engine needs from the outside world, as Protocols. Adapters implement them.

Each outside system (carrier, e-invoice provider, marketplace, clock) is one Protocol here, with
the plain request / response dataclasses it exchanges. Tests use small fakes that record calls.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """The current time (UTC, timezone-aware). Injected so tests control it."""

    def now(self) -> datetime: ...


# --- carriers (GHN, Viettel Post) -------------------------------------------------------------


# --- e-invoice providers (Viettel S-Invoice, MISA meInvoice) --------------------------------------
