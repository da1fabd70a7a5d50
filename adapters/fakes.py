"""In-process FAKE carriers and a FAKE e-invoice provider, for tests and the demo.

They are not GHN, Viettel Post, S-Invoice or MISA: nothing leaves the process. They behave like
the real services where the engine can tell (idempotent per shipment / transaction id,
deterministic numbers, refusals as ExternalServiceError) and record every call, so a test can
check what the engine asked for. The S-Invoice payload the fake e-invoice provider builds is the
real one (adapters/einvoice_payloads.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from orderflow.adapters.einvoice_payloads import SellerInfo, sinvoice_payload

from orderflow.errors import ExternalServiceError
from orderflow.ports import CarrierBooking, EInvoiceRequest, IssuedInvoice, ShipmentRequest

FAKE_EPOCH = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Call:
    """One call a fake received."""

    method: str
    argument: Any


@dataclass
class FixedClock:
    """A clock that only moves when told to (`advance`)."""

    at: datetime = FAKE_EPOCH

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


@dataclass
class FakeCarrier:
    """A FAKE carrier: books parcels with predictable tracking numbers and a simple fee table."""

    name: str  # ghn | viettelpost
    prefix: str = ""
    base_fee: Decimal = Decimal(22_000)
    fee_per_kg: Decimal = Decimal(5_000)
    express_surcharge: Decimal = Decimal(15_000)
    days: int = 3
    refuse_next: str = ""  # a reason: the next booking or cancellation is refused with it
    calls: list[Call] = field(default_factory=list)
    bookings: dict[str, CarrierBooking] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)

    def book(self, request: ShipmentRequest) -> CarrierBooking:
        """Book a parcel; the same shipment id again returns the same booking."""
        self.calls.append(Call("book", request))
        if request.shipment_id in self.bookings:
            return self.bookings[request.shipment_id]
        self._refuse_if_asked()
        number = f"{self.prefix or self.name[:3].upper()}{len(self.bookings) + 1:08d}"
        booking = CarrierBooking(
            tracking_number=number,
            fee=self._fee(request),
            expected_delivery=FAKE_EPOCH
            + timedelta(days=self.days if request.service == "economy" else 1),
            label=f"fake-label://{self.name}/{number}",
        )
        self.bookings[request.shipment_id] = booking
        return booking

    def _fee(self, request: ShipmentRequest) -> Decimal:
        kg = Decimal(max(request.weight_grams, 1) + 999) // 1000
        surcharge = self.express_surcharge if request.service == "express" else Decimal(0)
        return self.base_fee + self.fee_per_kg * max(kg - 1, Decimal(0)) + surcharge

    def cancel(self, tracking_number: str) -> None:
        self.calls.append(Call("cancel", tracking_number))
        self._refuse_if_asked()
        self.cancelled.add(tracking_number)

    def _refuse_if_asked(self) -> None:
        if self.refuse_next:
            reason, self.refuse_next = self.refuse_next, ""
            raise ExternalServiceError(f"FAKE {self.name}", reason)

    def redeliver(self, tracking_number: str) -> None:
        self.calls.append(Call("redeliver", tracking_number))

    def return_to_sender(self, tracking_number: str) -> None:
        self.calls.append(Call("return_to_sender", tracking_number))


FAKE_SELLER = SellerInfo(
    legal_name="Cong ty TNHH Demo Orderflow (FAKE)",
    tax_code="0100109106",
    address="12 Pham Van Dong, Cau Giay, Ha Noi",
    phone="02438261234",
    email="invoice@example.vn",
)


@dataclass
class FakeEInvoiceProvider:
    """A FAKE e-invoice provider shaped like S-Invoice: numbers per series, coded invoices."""

    name: str = "FAKE S-Invoice"
    seller: SellerInfo = FAKE_SELLER
    vat_series: str = "C26TAA"
    sales_series: str = "C26TBB"
    clock: Any = None  # anything with now(); FAKE_EPOCH when None
    refuse_next: str = ""
    calls: list[Call] = field(default_factory=list)
    issued: dict[str, IssuedInvoice] = field(default_factory=dict)
    payloads: dict[str, dict[str, Any]] = field(default_factory=dict)
    _numbers: dict[str, int] = field(default_factory=dict)

    def issue(self, request: EInvoiceRequest) -> IssuedInvoice:
        """Issue an invoice; the same transaction id again returns the same invoice."""
        self.calls.append(Call("issue", request))
        if request.transaction_id in self.issued:
            return self.issued[request.transaction_id]
        if self.refuse_next:
            reason, self.refuse_next = self.refuse_next, ""
            raise ExternalServiceError(self.name, reason)
        series = self.vat_series if request.kind == "vat" else self.sales_series
        template = "1/001" if request.kind == "vat" else "2/001"
        issued_at = self._next_issue_time()
        self.payloads[request.transaction_id] = sinvoice_payload(
            request, self.seller, template, series, issued_at
        )
        self._numbers[series] = self._numbers.get(series, 0) + 1
        number = self._numbers[series]
        invoice = IssuedInvoice(
            number=f"{number:08d}",
            series=series,
            template_code=template,
            issued_at=issued_at,
            tax_authority_code=f"M1-26-FAKE-{series}-{number:08d}",
            reservation_code=f"FAKE{number:06d}",
        )
        self.issued[request.transaction_id] = invoice
        return invoice

    def _next_issue_time(self) -> datetime:
        """Now, but always after the previous invoice (numbers follow issue times)."""
        now = self.clock.now() if self.clock else FAKE_EPOCH
        latest = max((i.issued_at for i in self.issued.values()), default=None)
        return max(now, latest + timedelta(seconds=1)) if latest else now

    def find(self, transaction_id: str) -> IssuedInvoice | None:
        self.calls.append(Call("find", transaction_id))
        return self.issued.get(transaction_id)


def fake_carriers() -> dict[str, FakeCarrier]:
    """A FAKE GHN and a FAKE Viettel Post, ready for `engine.connect(carriers=...)`."""
    return {
        "ghn": FakeCarrier("ghn", prefix="GHNFAKE"),
        "viettelpost": FakeCarrier(
            "viettelpost", prefix="VTPFAKE", base_fee=Decimal(25_000), days=4
        ),
    }
