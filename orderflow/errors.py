"""Errors the engine raises. Every rejection names what was wrong and why."""

from __future__ import annotations


class OrderflowError(Exception):
    """Base class of every error the engine raises on purpose."""


class InvalidInputError(OrderflowError, ValueError):
    """A value given to a command is not acceptable."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFoundError(OrderflowError, LookupError):
    """A referenced warehouse, product, SKU, order ... does not exist."""

    def __init__(self, field: str, value: object, what: str | None = None) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}: no {what or field.replace('_', ' ')} {value!r}")


class DuplicateError(OrderflowError):
    """Something with this identity already exists."""

    def __init__(self, field: str, value: object) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}: {value!r} already exists")


class InsufficientStockError(OrderflowError):
    """More was asked of a stock item than it holds."""

    def __init__(self, sku: str, warehouse: str, requested: int, available: int, what: str) -> None:
        self.sku = sku
        self.warehouse = warehouse
        self.requested = requested
        self.available = available
        super().__init__(
            f"quantity: {what} {requested} of {sku} in {warehouse}, only {available} available"
        )


class InvalidStateError(OrderflowError):
    """The command is not allowed in the aggregate's current state."""

    def __init__(self, subject: str, reason: str) -> None:
        self.subject = subject
        self.reason = reason
        super().__init__(f"{subject}: {reason}")


class ConcurrencyError(OrderflowError):
    """A command kept conflicting with concurrent writers and gave up."""


class StoreUnavailableError(OrderflowError):
    """The event store cannot be opened or reached."""


class ExternalServiceError(OrderflowError):
    """An outside system (carrier, e-invoice provider) refused a request or cannot be reached."""

    def __init__(self, service: str, reason: str) -> None:
        self.service = service
        self.reason = reason
        super().__init__(f"{service}: {reason}")
