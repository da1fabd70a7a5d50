"""Points in time as commands accept them and events store them."""

from __future__ import annotations

from datetime import UTC, datetime

from orderflow.errors import InvalidInputError


def instant(
    value: datetime | str | None, field: str = "at", *, default: datetime | None = None
) -> datetime:
    """A timezone-aware datetime in UTC; naive means UTC, None means `default` (or now)."""
    if value is None or value == "":
        return (default or datetime.now(UTC)).astimezone(UTC)
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError(field, f"{value!r} is not an ISO date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(value: datetime | str | None, field: str = "at", *, default: datetime | None = None) -> str:
    """`instant()` as an ISO string, the form aggregates keep in their history."""
    return instant(value, field, default=default).isoformat()
