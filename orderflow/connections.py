"""The outside systems an engine talks to: carriers, an e-invoice provider, a clock.

They are connected after the engine is opened (`engine.connect(...)`), because the engine's
constructor belongs to the event store. Commands that need a system that is not connected
refuse with a clear error before they write anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from orderflow import order as order_checks
from orderflow import values
from orderflow.carrier_status import carrier
from orderflow.engine_base import EngineBase
from orderflow.errors import InvalidInputError, InvalidStateError
from orderflow.order import Order
from orderflow.ports import CarrierPort, Clock, EInvoicePort


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class Connections(EngineBase):
    """Ports and policies shared by the shipping, invoicing and returns commands."""

    _carriers: Mapping[str, CarrierPort] = {}  # replaced, never changed in place
    _einvoice: EInvoicePort | None = None
    _clock: Clock = SystemClock()
    _invoice_threshold: Decimal | None = None

    def connect(
        self,
        *,
        carriers: Mapping[str, CarrierPort] | None = None,
        einvoice: EInvoicePort | None = None,
        clock: Clock | None = None,
        invoice_threshold: object = None,
    ) -> None:
        """Connect carriers ({"ghn": ..., "viettelpost": ...}), an e-invoice provider, a clock,
        and the order total from which an invoice is issued automatically (None: never)."""
        if carriers is not None:
            self._carriers = {carrier(name): port for name, port in carriers.items()}
        if einvoice is not None:
            self._einvoice = einvoice
        if clock is not None:
            self._clock = clock
        if invoice_threshold is not None:
            self._invoice_threshold = values.money(
                invoice_threshold, "invoice_threshold", allow_zero=False
            )

    def _carrier(self, name: str) -> CarrierPort:
        port = self._carriers.get(name)
        if port is None:
            connected = ", ".join(self._carriers) or "none"
            raise InvalidStateError(
                f"carrier {name}",
                f"is not connected to this engine (connected: {connected}); "
                "call engine.connect(carriers=...)",
            )
        return port

    def _provider(self) -> EInvoicePort:
        if self._einvoice is None:
            raise InvalidStateError(
                "e-invoice provider",
                "none is connected to this engine; call engine.connect(einvoice=...)",
            )
        return self._einvoice

    def _now(self) -> datetime:
        return self._clock.now()

    def _order_of(self, order: UUID | str) -> Order:
        """The order by its id or 'channel/external_id', or NotFoundError naming it."""
        return self._load(Order, order_ref(order), "order", str(order))


def order_ref(ref: UUID | str) -> UUID:
    """An order's id from its id or from 'channel/external_id' (as people name orders)."""
    text = ref if isinstance(ref, UUID) else values.text(ref, "order", max_length=200)
    if isinstance(text, UUID):
        return text
    try:
        return UUID(text)
    except ValueError:
        pass
    channel, slash, number = text.partition("/")
    if not slash:
        raise InvalidInputError("order", f"{text!r} is neither an order id nor CHANNEL/EXTERNAL_ID")
    return Order.create_id(order_checks.channel(channel), order_checks.external_id(number))


def _uuid(value: UUID | str, field: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value).strip())
    except ValueError:
        raise InvalidInputError(field, f"{value!r} is not an id") from None
