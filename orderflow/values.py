"""Value types and checks shared by the aggregates: money, quantities, VAT rates, tax codes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from hashlib import sha1
from typing import Final
from uuid import NAMESPACE_URL, UUID

from orderflow.errors import InvalidInputError

VND_STEP: Final = Decimal(1)


class VatRate(StrEnum):
    """Vietnamese VAT rates; KCT / KKKNT are the non-taxable invoice categories."""

    ZERO = "0"
    FIVE = "5"
    EIGHT = "8"
    TEN = "10"
    KCT = "KCT"  # not subject to VAT
    KKKNT = "KKKNT"  # not required to declare or pay VAT

    @property
    def percent(self) -> Decimal:
        """The rate as a percentage; 0 for the non-taxable categories."""
        return Decimal(self.value) if self.value.isdigit() else Decimal(0)

    @classmethod
    def parse(cls, value: object, field: str = "vat_rate") -> VatRate:
        """Accept '10', '10%', 10, 'kct' ...; anything else names the allowed rates."""
        if type(value) is str and value in cls._value2member_map_:  # the stored form, as is
            return cls._value2member_map_[value]  # type: ignore[return-value]
        text = str(value).strip().upper().removesuffix("%")
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(rate.value for rate in cls)
            reason = f"unknown VAT rate {value!r} (allowed: {allowed})"
            raise InvalidInputError(field, reason) from None


# '199.000' is 199,000 dong to a Vietnamese reader but 199 to Decimal: refuse rather than guess.
DOTTED_THOUSANDS: Final = re.compile(r"^[0-9]{1,3}(\.[0-9]{3})+$")


def money(value: object, field: str, *, allow_zero: bool = True) -> Decimal:
    """A non-negative whole amount of VND ('1,250,000', '1_250_000' and 1250000 all read alike)."""
    if (  # a catalogue price as is
        type(value) is Decimal
        and value.is_finite()
        and value == value.to_integral_value()
        and (value > 0 or (value == 0 and allow_zero))
    ):
        return value.quantize(VND_STEP)
    if isinstance(value, bool):
        raise InvalidInputError(field, f"{value!r} is not an amount of money")
    written = str(value).strip()
    if DOTTED_THOUSANDS.match(written):
        plain = written.replace(".", "")
        raise InvalidInputError(field, f"{written!r} is ambiguous: write whole dong, e.g. {plain}")
    try:
        amount = Decimal(written.replace(",", "").replace("_", ""))
    except (InvalidOperation, ValueError):
        raise InvalidInputError(field, f"{value!r} is not an amount of money") from None
    if not amount.is_finite():
        raise InvalidInputError(field, f"{value!r} is not an amount of money")
    if amount < 0 or (amount == 0 and not allow_zero):
        least = "at least 0" if allow_zero else "more than 0"
        raise InvalidInputError(field, f"must be {least}, got {amount}")
    if amount != amount.to_integral_value():
        raise InvalidInputError(field, f"VND has no minor unit, got {amount}")
    return amount.quantize(VND_STEP)


def round_vnd(amount: Decimal) -> Decimal:
    """Round to whole dong, half up, as invoices do."""
    return amount.quantize(VND_STEP, rounding=ROUND_HALF_UP)


def net_of_vat(gross: Decimal, rate: VatRate) -> Decimal:
    """The part of a VAT-inclusive amount that is not VAT."""
    return round_vnd(gross * 100 / (100 + rate.percent))


def quantity(value: object, field: str = "quantity") -> int:
    """A whole number of units, more than zero."""
    if isinstance(value, bool):
        raise InvalidInputError(field, f"{value!r} is not a whole number")
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise InvalidInputError(field, f"{value!r} is not a whole number") from None
    if number <= 0:
        raise InvalidInputError(field, f"must be more than 0, got {number}")
    return number


def count(value: object, field: str = "counted") -> int:
    """A whole number of units, zero or more (a stock count may find nothing)."""
    if not isinstance(value, bool) and (value == 0 or str(value).strip() == "0"):
        return 0
    try:
        return quantity(value, field)
    except InvalidInputError:
        reason = f"must be a whole number of at least 0, got {value!r}"
        raise InvalidInputError(field, reason) from None


def text(value: object, field: str, *, max_length: int = 200, required: bool = True) -> str:
    """Trimmed text; required text must not be blank."""
    result = "" if value is None else str(value).strip()
    if required and not result:
        raise InvalidInputError(field, "must not be empty")
    if len(result) > max_length:
        raise InvalidInputError(
            field, f"must be at most {max_length} characters, got {len(result)}"
        )
    return result


CODE_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def code(value: object, field: str) -> str:
    """An identifier such as a warehouse code or SKU: letters, digits, '.', '_', '-'."""
    result = text(value, field, max_length=64)
    if not CODE_PATTERN.match(result):
        raise InvalidInputError(
            field, f"{result!r} may hold only letters, digits, '.', '_' and '-' (at most 64)"
        )
    return result.upper()


MST_WEIGHTS: Final = (31, 29, 23, 19, 17, 13, 7, 5, 3)
TAX_CODE_PATTERN: Final = re.compile(r"^[0-9]{10}(-?[0-9]{3})?$")


def mst_check_digit(first_nine: str) -> int | None:
    """The check digit of a Vietnamese tax code, or None when no digit can be valid."""
    remainder = sum(w * int(d) for w, d in zip(MST_WEIGHTS, first_nine, strict=True)) % 11
    return None if remainder == 0 else 10 - remainder


def tax_code(value: object, field: str = "tax_code") -> str:
    """A Vietnamese tax code (MST): 10 digits, or 13 with a branch suffix ('0100109106-505')."""
    raw = text(value, field, max_length=20)
    if not TAX_CODE_PATTERN.match(raw.replace(" ", "")):
        raise InvalidInputError(
            field, f"{raw!r} must be 10 digits, or 13 with a branch suffix (0100109106-505)"
        )
    digits = raw.replace("-", "").replace(" ", "")
    if digits[:2] == "00":
        raise InvalidInputError(field, f"{raw!r} has no valid province code")
    if digits[2:9] == "0000000":
        raise InvalidInputError(field, f"{raw!r} has no valid sequence number")
    if len(digits) == 13 and digits[10:] == "000":
        raise InvalidInputError(field, f"{raw!r} has branch suffix 000")
    if mst_check_digit(digits[:9]) != int(digits[9]):
        raise InvalidInputError(field, f"{raw!r} fails the check digit")
    return digits if len(digits) == 10 else f"{digits[:10]}-{digits[10:]}"


PHONE_PATTERN: Final = re.compile(r"^\+?[0-9][0-9 .-]{6,18}[0-9]$")


def phone(value: object, field: str = "phone", *, required: bool = False) -> str:
    """A phone number (digits, spaces, dots, dashes, optional leading +)."""
    result = text(value, field, max_length=24, required=required)
    if result and not PHONE_PATTERN.match(result):
        raise InvalidInputError(field, f"{result!r} is not a phone number")
    return result


def email(value: object, field: str = "email") -> str:
    """An e-mail address, or empty."""
    result = text(value, field, max_length=254, required=False)
    if result and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", result):
        raise InvalidInputError(field, f"{result!r} is not an e-mail address")
    return result


def vat_breakdown(amounts: list[tuple[Decimal, VatRate]]) -> dict[VatRate, tuple[Decimal, Decimal]]:
    """VAT-inclusive amounts grouped by rate -> (net, VAT) per rate, rounded once per rate.

    Orders and invoices both use this, so an invoice's VAT always equals its order's.
    """
    gross_per_rate: dict[VatRate, Decimal] = {}
    for gross, rate in amounts:
        gross_per_rate[rate] = gross_per_rate.get(rate, Decimal(0)) + gross
    result = {}
    for rate, gross in gross_per_rate.items():
        net = net_of_vat(gross, rate)
        result[rate] = (net, gross - net)
    return result


def choice(value: object, field: str, allowed: Sequence[str]) -> str:
    """One of a few lower-case words (a channel, a service ...); anything else names them all."""
    name = text(value, field, max_length=20).lower()
    if name not in allowed:
        raise InvalidInputError(field, f"{name!r} is not one of {', '.join(allowed)}")
    return name


@lru_cache(maxsize=16_384)
def named_id(name: str) -> UUID:
    """The id of the aggregate with this unique name ("orderflow:sku:TEE-RED"): uuid5 in the
    URL namespace, remembered (a command asks for the same few ids over and over)."""
    return name_based_id(NAMESPACE_URL, name)


def name_based_id(namespace: UUID, name: str) -> UUID:
    """uuid.uuid5(namespace, name), computed the same way (SHA-1 of the namespace's bytes and
    the name) in half the time: the standard one checks and converts its arguments first."""
    digest = sha1(namespace.bytes + name.encode(), usedforsecurity=False).digest()
    return UUID(bytes=digest[:16], version=5)
