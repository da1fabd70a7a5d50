"""Invoice: a VAT e-invoice (or sales invoice) of an order, issued through a provider.

requested -> issued (number, series, tax-authority code) -> replaced (by a replacement invoice).
An adjustment invoice refers to an issued one and changes its money or its information.
Amounts are whole VND; the VAT per rate comes from values.vat_breakdown, the one function the
order uses too, so an invoice of the whole order carries exactly the order's VAT.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Final

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow import values
from orderflow.errors import InvalidInputError, InvalidStateError
from orderflow.moments import iso

KINDS: Final = ("vat", "sales")
PURPOSES: Final = ("original", "replacement", "adjustment")
ADJUSTMENTS: Final = ("money", "information")
RATE_ORDER: Final = [rate.value for rate in values.VatRate]


def kind(value: object) -> str:
    """vat (VAT invoice, hoá đơn GTGT) or sales (sales invoice, hoá đơn bán hàng)."""
    return values.choice(value, "kind", KINDS)


def adjustment(value: object) -> str:
    """money (amounts change) or information (buyer details change)."""
    return values.choice(value, "adjustment", ADJUSTMENTS)


def buyer_tax_code(value: object, field: str) -> str:
    """An MST (check digit verified), or a 12-digit personal ID used as tax code since July 2025."""
    written = values.text(value, field, max_length=20, required=False).replace(" ", "")
    if len(written) == 12 and written.isdigit():
        return written  # a citizen ID (CCCD): no check digit to verify
    return values.tax_code(written, field) if written else ""


def invoice_buyer(given: Mapping[str, object]) -> dict[str, str]:
    """A company needs its legal name, a valid tax code and an address; a person needs a name."""
    known = ("name", "company", "tax_code", "address", "email", "phone")
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InvalidInputError("buyer", f"unknown field(s) {', '.join(unknown)}")
    checked = {
        "name": values.text(given.get("name"), "buyer.name", max_length=200, required=False),
        "company": values.text(
            given.get("company"), "buyer.company", max_length=400, required=False
        ),
        "tax_code": buyer_tax_code(given.get("tax_code"), "buyer.tax_code"),
        "address": values.text(
            given.get("address"), "buyer.address", max_length=400, required=False
        ),
        "email": values.email(given.get("email"), "buyer.email"),
        "phone": values.phone(given.get("phone"), "buyer.phone"),
    }
    if checked["company"]:
        if not checked["tax_code"] or len(checked["tax_code"]) == 12:
            raise InvalidInputError("buyer.tax_code", "a company buyer needs its tax code (MST)")
        if not checked["address"]:
            raise InvalidInputError("buyer.address", "a company buyer needs its registered address")
    elif not checked["name"]:
        raise InvalidInputError("buyer.name", "give the buyer's name (or a company)")
    return checked


def priced_lines(
    items: Sequence[Mapping[str, Any]], invoice_kind: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Lines with net / VAT per line and the VAT per rate; line nets add up to each rate's net.

    Each item: sku, name, quantity, unit_price (VAT-inclusive), vat_rate, gross (signed).
    Sales invoices carry no VAT: net = gross and no tax lines.
    """
    if invoice_kind == "sales":
        lines = [{**item, "net": item["gross"], "vat": Decimal(0)} for item in items]
        return lines, []
    rates = [values.VatRate(item["vat_rate"]) for item in items]
    breakdown = values.vat_breakdown(
        [(item["gross"], rate) for item, rate in zip(items, rates, strict=True)]
    )
    lines = [
        {**item, "net": values.net_of_vat(item["gross"], rate)}
        for item, rate in zip(items, rates, strict=True)
    ]
    for rate, (net, _vat) in breakdown.items():
        of_rate = [line for line in lines if line["vat_rate"] == rate.value]
        largest = max(of_rate, key=lambda line: abs(line["gross"]))
        largest["net"] += net - sum((line["net"] for line in of_rate), Decimal(0))
    for line in lines:
        line["vat"] = line["gross"] - line["net"]
    taxes = [
        {"vat_rate": rate.value, "net": net, "vat": vat}
        for rate, (net, vat) in sorted(
            breakdown.items(), key=lambda kv: RATE_ORDER.index(kv[0].value)
        )
    ]
    return lines, taxes


class Invoice(Aggregate):
    """An e-invoice of one order."""

    Requested: ClassVar[type[DomainEvent]]

    @classmethod
    def request(
        cls,
        order_id: str,
        order_reference: str,
        invoice_kind: object,
        buyer: Mapping[str, object],
        items: Sequence[Mapping[str, Any]],
        payment_method: str,
        *,
        purpose: str = "original",
        adjustment_kind: str = "",
        refers_to: str = "",
        reason: object = "",
        at: datetime | str | None = None,
    ) -> Invoice:
        """Check an invoice and record it as requested (the provider numbers it when issuing)."""
        checked_kind = kind(invoice_kind)
        if purpose not in PURPOSES:
            raise InvalidInputError("purpose", f"{purpose!r} is not one of {', '.join(PURPOSES)}")
        if not items and adjustment_kind != "information":
            raise InvalidInputError("lines", "an invoice needs at least one line")
        lines, taxes = priced_lines(items, checked_kind)
        return cls(
            order_id=str(order_id),
            order_reference=order_reference,
            kind=checked_kind,
            purpose=purpose,
            adjustment=adjustment_kind,
            refers_to=refers_to,
            buyer=invoice_buyer(buyer),
            lines=lines,
            taxes=taxes,
            payment_method=payment_method,
            reason=values.text(reason, "reason", max_length=255, required=purpose != "original"),
            requested_at=iso(at),
        )

    @event("Requested")
    def __init__(
        self,
        order_id: str,
        order_reference: str,
        kind: str,
        purpose: str,
        adjustment: str,
        refers_to: str,
        buyer: dict[str, str],
        lines: list[dict[str, Any]],
        taxes: list[dict[str, Any]],
        payment_method: str,
        reason: str,
        requested_at: str,
    ) -> None:
        self.order_id = order_id
        self.order_reference = order_reference
        self.kind = kind
        self.purpose = purpose
        self.adjustment = adjustment
        self.replaces = refers_to if purpose == "replacement" else ""
        self.adjusts = refers_to if purpose == "adjustment" else ""
        self.buyer = dict(buyer)
        self.lines = [dict(line) for line in lines]
        self.taxes = [dict(tax) for tax in taxes]
        self.payment_method = payment_method
        self.reason = reason
        self.requested_at = requested_at
        self.status = "requested"
        self.number = ""
        self.series = ""
        self.template_code = ""
        self.tax_authority_code = ""
        self.reservation_code = ""
        self.issued_at = ""
        self.replaced_by = ""
        self.adjusted_by: list[str] = []

    # derived ------------------------------------------------------------------------------
    @property
    def total(self) -> Decimal:
        return sum((line["gross"] for line in self.lines), Decimal(0))

    @property
    def total_net(self) -> Decimal:
        return sum((line["net"] for line in self.lines), Decimal(0))

    @property
    def total_vat(self) -> Decimal:
        return sum((line["vat"] for line in self.lines), Decimal(0))

    @property
    def is_current(self) -> bool:
        """An original or replacement invoice that nothing has replaced (issued or on its way)."""
        return self.purpose != "adjustment" and self.status != "replaced"

    @property
    def subject(self) -> str:
        name = f"{self.series}-{self.number}" if self.number else str(self.id)
        return f"invoice {name} of order {self.order_reference}"

    def _refuse(self, reason: str) -> InvalidStateError:
        return InvalidStateError(self.subject, reason)

    # commands -----------------------------------------------------------------------------
    def record_issued(
        self,
        number: object,
        series: object,
        template_code: object = "",
        tax_authority_code: object = "",
        reservation_code: object = "",
        issued_at: datetime | str | None = None,
    ) -> bool:
        """Record the provider's number; the same number again changes nothing (returns False)."""
        checked_number = values.text(number, "number", max_length=30)
        checked_series = values.text(series, "series", max_length=30)
        if self.number:
            if (self.number, self.series) == (checked_number, checked_series):
                return False
            raise self._refuse(f"is already issued as {self.series}-{self.number}")
        self._issued(
            number=checked_number,
            series=checked_series,
            template_code=values.text(
                template_code, "template_code", max_length=30, required=False
            ),
            tax_authority_code=values.text(
                tax_authority_code, "tax_authority_code", max_length=100, required=False
            ),
            reservation_code=values.text(
                reservation_code, "reservation_code", max_length=100, required=False
            ),
            issued_at=iso(issued_at, "issued_at"),
        )
        return True

    @event("Issued")
    def _issued(
        self,
        number: str,
        series: str,
        template_code: str,
        tax_authority_code: str,
        reservation_code: str,
        issued_at: str,
    ) -> None:
        self.number, self.series, self.template_code = number, series, template_code
        self.tax_authority_code, self.reservation_code = tax_authority_code, reservation_code
        self.issued_at = issued_at
        if self.status == "requested":
            self.status = "issued"

    def _require_issued(self, what: str) -> None:
        if self.purpose == "adjustment":
            raise self._refuse(
                f"cannot {what}: it is an adjustment invoice; refer to the invoice it adjusts"
            )
        if self.status == "replaced":
            raise self._refuse(
                f"cannot {what}: it was already replaced by invoice {self.replaced_by}"
            )
        if self.status != "issued":
            raise self._refuse(f"cannot {what}: it is not issued yet (status {self.status})")

    def mark_replaced(self, by: str, reason: str) -> None:
        """A replacement invoice supersedes this one."""
        self._require_issued("replace it")
        self._replaced(by=by, reason=reason)

    @event("Replaced")
    def _replaced(self, by: str, reason: str) -> None:
        self.status = "replaced"
        self.replaced_by = by

    def mark_adjusted(self, by: str) -> None:
        """An adjustment invoice changes this one."""
        self._require_issued("adjust it")
        self._adjusted(by=by)

    @event("Adjusted")
    def _adjusted(self, by: str) -> None:
        self.adjusted_by.append(by)
