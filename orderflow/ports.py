"""Ports: what the engine needs from the outside world, as Protocols. Adapters implement them.

Each outside system (carrier, e-invoice provider, marketplace, clock) is one Protocol here, with
the plain request / response dataclasses it exchanges. Tests use small fakes that record calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol


class Clock(Protocol):
    """The current time (UTC, timezone-aware). Injected so tests control it."""

    def now(self) -> datetime: ...


# --- carriers (GHN, Viettel Post) -------------------------------------------------------------
@dataclass(frozen=True)
class ParcelItem:
    """One kind of goods in a parcel (carriers list them on the waybill)."""

    sku: str
    name: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class ShipmentRequest:
    """What a carrier needs to book a parcel. `shipment_id` is the idempotency key
    (GHN `client_order_code`, Viettel Post `ORDER_NUMBER`): booking it twice books one parcel."""

    shipment_id: str
    order_reference: str
    carrier: str
    service: str  # express | economy
    recipient_name: str
    recipient_phone: str
    address: dict[str, str]  # street, ward(_code), district(_code) (may be ""), province(_code)
    items: tuple[ParcelItem, ...]
    cod_amount: Decimal
    declared_value: Decimal
    weight_grams: int
    length_cm: int
    width_cm: int
    height_cm: int
    fee_payer: str  # seller | buyer
    note: str = ""


@dataclass(frozen=True)
class CarrierBooking:
    """The carrier's answer to a booking."""

    tracking_number: str
    fee: Decimal
    expected_delivery: datetime | None = None
    label: str = ""  # a label reference: a print URL / token / document id


class CarrierPort(Protocol):
    """A parcel carrier (GHN, Viettel Post). Raises ExternalServiceError when it refuses."""

    def book(self, request: ShipmentRequest) -> CarrierBooking:
        """Create the parcel (idempotent per shipment_id) and return its tracking number."""
        ...

    def cancel(self, tracking_number: str) -> None:
        """Cancel a parcel not yet picked up."""
        ...

    def redeliver(self, tracking_number: str) -> None:
        """Ask for another delivery attempt after a failed one."""
        ...

    def return_to_sender(self, tracking_number: str) -> None:
        """Ask the carrier to bring a parcel that could not be delivered back."""
        ...


# --- e-invoice providers (Viettel S-Invoice, MISA meInvoice) --------------------------------------
@dataclass(frozen=True)
class InvoiceBuyer:
    """Who the invoice is made out to: a company (legal name + tax code) or a person."""

    name: str  # the person buying (buyerName)
    company: str = ""  # legal name (buyerLegalName); empty for individuals
    tax_code: str = ""  # MST (10 / 13 digits) or a 12-digit personal ID; individuals may leave it
    address: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class InvoiceLine:
    """One invoice line. Amounts are whole VND; `gross` = net + vat; negative in a decrease."""

    sku: str
    name: str
    quantity: int
    unit_price: Decimal  # VAT-inclusive, as the order states it
    vat_rate: str  # a VatRate value: 0, 5, 8, 10, KCT, KKKNT
    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class TaxLine:
    """The VAT of one rate, from values.vat_breakdown (so it equals the order's)."""

    vat_rate: str
    net: Decimal
    vat: Decimal


@dataclass(frozen=True)
class OriginalInvoice:
    """The invoice a replacement or an adjustment refers to."""

    number: str
    series: str
    template_code: str
    issued_at: datetime


@dataclass(frozen=True)
class EInvoiceRequest:
    """An invoice for the provider to issue. `transaction_id` (the invoice id) is the idempotency
    key (S-Invoice `transactionUuid`, MISA `RefID`): issuing it twice issues one invoice."""

    transaction_id: str
    order_reference: str
    kind: str  # vat (GTGT, template 1) | sales (bán hàng, template 2)
    purpose: str  # original | replacement | adjustment
    adjustment: str  # "" | money | information
    buyer: InvoiceBuyer
    lines: tuple[InvoiceLine, ...]
    taxes: tuple[TaxLine, ...]
    total_net: Decimal
    total_vat: Decimal
    total: Decimal
    payment_method: str  # cod | prepaid (the order's)
    original: OriginalInvoice | None = None
    reason: str = ""


@dataclass(frozen=True)
class IssuedInvoice:
    """The provider's answer: number, series and (for coded invoices) the tax authority's code."""

    number: str
    series: str
    template_code: str
    issued_at: datetime
    tax_authority_code: str = ""
    reservation_code: str = ""  # the buyer's lookup secret


class EInvoicePort(Protocol):
    """An e-invoice provider (S-Invoice, MISA). Raises ExternalServiceError when it refuses."""

    name: str

    def issue(self, request: EInvoiceRequest) -> IssuedInvoice:
        """Issue (sign and send) an invoice; idempotent per transaction_id."""
        ...

    def find(self, transaction_id: str) -> IssuedInvoice | None:
        """The invoice issued for this transaction, if any (after a timeout, before retrying)."""
        ...
