"""Shipment: one parcel of an order with a carrier, from booking to delivery or return.

requested -> booked (tracking number) -> picked_up -> in_transit -> delivered, or
delivery_failed -> (re-attempt: in_transit ...) / returning -> returned; cancelled before pick-up.
Carrier updates that arrive twice are dropped; updates that arrive late or out of order are
kept in the history but never move the state backwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Final
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow import values
from orderflow.carrier_status import (
    CANCELLED,
    CARRIER_STATES,
    DELIVERED,
    DELIVERY_FAILED,
    IN_TRANSIT,
    RETURNED,
    RETURNING,
    carrier,
)
from orderflow.errors import InvalidInputError, InvalidStateError
from orderflow.moments import instant, iso

SERVICES: Final = ("express", "economy")
FEE_PAYERS: Final = ("seller", "buyer")
BEFORE_PICKUP: Final = ("requested", "booked")
NEXT: Final[dict[str, tuple[str, ...]]] = {
    "requested": (*CARRIER_STATES, CANCELLED),
    "booked": (*CARRIER_STATES, CANCELLED),
    "picked_up": (IN_TRANSIT, DELIVERY_FAILED, DELIVERED, RETURNING, RETURNED),
    "in_transit": (DELIVERY_FAILED, DELIVERED, RETURNING, RETURNED),
    "delivery_failed": (IN_TRANSIT, DELIVERY_FAILED, DELIVERED, RETURNING, RETURNED),
    "returning": (RETURNED,),
    "delivered": (),
    "returned": (),
    "cancelled": (),
}
MAX_WEIGHT_KG: Final = Decimal(1000)
MAX_SIDE_CM: Final = 300


def service(value: object) -> str:
    """express or economy."""
    return values.choice(value, "service", SERVICES)


def fee_payer(value: object) -> str:
    """Who pays the carrier's fee: seller or buyer."""
    return values.choice(value, "fee_payer", FEE_PAYERS)


def weight_kg(value: object) -> Decimal:
    """The parcel's weight in kg, more than 0 (grams are what carriers are sent)."""
    try:
        kg = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise InvalidInputError("weight_kg", f"{value!r} is not a weight in kg") from None
    if not kg.is_finite() or kg <= 0 or kg > MAX_WEIGHT_KG:
        raise InvalidInputError(
            "weight_kg", f"must be more than 0 and at most {MAX_WEIGHT_KG}, got {value}"
        )
    return kg.quantize(Decimal("0.001"))


def dimensions_cm(value: Sequence[object] | Mapping[str, object]) -> dict[str, int]:
    """Length, width and height in whole cm, each 1 to 300."""
    given = (
        [value.get(k) for k in ("length", "width", "height")]
        if isinstance(value, Mapping)
        else list(value)
    )
    if len(given) != 3:
        raise InvalidInputError("dimensions_cm", "give length, width and height in cm")
    checked = {}
    for name, side in zip(("length", "width", "height"), given, strict=True):
        cm = values.quantity(side, f"dimensions_cm.{name}")
        if cm > MAX_SIDE_CM:
            raise InvalidInputError(
                f"dimensions_cm.{name}", f"must be at most {MAX_SIDE_CM}, got {cm}"
            )
        checked[name] = cm
    return checked


class Shipment(Aggregate):
    """A parcel of one order with one carrier."""

    Requested: ClassVar[type[DomainEvent]]

    @classmethod
    def request(
        cls,
        order_id: str,
        order_reference: str,
        carrier_name: object,
        service_name: object,
        cod_amount: object,
        weight: object,
        dimensions: Sequence[object] | Mapping[str, object],
        paid_by: object,
        items: Sequence[Mapping[str, Any]],
        note: object = "",
        at: datetime | str | None = None,
        shipment_id: UUID | None = None,
    ) -> Shipment:
        """Check a new parcel and record it; the engine packs the order with it."""
        if not items:
            raise InvalidInputError("items", "a shipment carries at least one item")
        return cls(
            id=shipment_id or uuid4(),
            order_id=str(order_id),
            order_reference=order_reference,
            carrier=carrier(carrier_name),
            service=service(service_name),
            cod_amount=values.money(cod_amount, "cod_amount"),
            weight_kg=weight_kg(weight),
            dimensions_cm=dimensions_cm(dimensions),
            fee_payer=fee_payer(paid_by),
            items=[dict(item) for item in items],
            note=values.text(note, "note", max_length=500, required=False),
            requested_at=iso(at),
        )

    @event("Requested")
    def __init__(
        self,
        order_id: str,
        order_reference: str,
        carrier: str,
        service: str,
        cod_amount: Decimal,
        weight_kg: Decimal,
        dimensions_cm: dict[str, int],
        fee_payer: str,
        items: list[dict[str, Any]],
        note: str,
        requested_at: str,
        id: UUID,  # the aggregate id (not stored in the event): the order is packed with it first
    ) -> None:
        self.order_id = order_id
        self.order_reference = order_reference
        self.carrier = carrier
        self.service = service
        self.cod_amount = cod_amount
        self.weight_kg = weight_kg
        self.dimensions_cm = dict(dimensions_cm)
        self.fee_payer = fee_payer
        self.items = [dict(item) for item in items]
        self.note = note
        self.requested_at = requested_at
        self.status = "requested"
        self.tracking_number = ""
        self.fee = Decimal(0)
        self.expected_delivery = ""
        self.label = ""
        self.history: list[dict[str, str]] = []
        self.last_update_at = ""
        self.handed_over_at = ""
        self.cod_collected = Decimal(0)
        self.remittances: list[dict[str, Any]] = []
        self.decision = ""  # after a failed delivery: redeliver | return
        self.cancel_reason = ""

    # derived ------------------------------------------------------------------------------
    @property
    def subject(self) -> str:
        label = self.tracking_number or str(self.id)
        return f"shipment {label} of order {self.order_reference}"

    @property
    def handed_over(self) -> bool:
        """True once the carrier has the parcel (the stock left the warehouse)."""
        return bool(self.handed_over_at)

    @property
    def cod_remitted(self) -> Decimal:
        return sum((r["amount"] for r in self.remittances), Decimal(0))

    def shipped(self, sku: str) -> int:
        """Units of a SKU in this parcel."""
        return sum(item["quantity"] for item in self.items if item["sku"] == sku)

    def _refuse(self, reason: str) -> InvalidStateError:
        return InvalidStateError(self.subject, reason)

    # booking ------------------------------------------------------------------------------
    def book(
        self,
        tracking_number: object,
        fee: object,
        expected_delivery: datetime | str | None,
        label: object,
    ) -> None:
        """Record the carrier's booking; the same tracking number again changes nothing."""
        number = values.text(tracking_number, "tracking_number", max_length=50)
        if self.tracking_number == number:
            return
        if self.tracking_number:
            raise self._refuse(f"is already booked as {self.tracking_number}, not {number}")
        if self.status == "cancelled":
            raise self._refuse("cannot record a booking: the shipment is cancelled")
        self._booked(
            tracking_number=number,
            fee=values.money(fee, "fee"),
            expected_delivery=iso(expected_delivery, "expected_delivery")
            if expected_delivery
            else "",
            label=values.text(label, "label", max_length=500, required=False),
        )

    @event("Booked")
    def _booked(
        self, tracking_number: str, fee: Decimal, expected_delivery: str, label: str
    ) -> None:
        self.tracking_number = tracking_number
        self.fee = fee
        self.expected_delivery = expected_delivery
        self.label = label
        if self.status == "requested":
            self.status = "booked"

    def cancel(self, reason: object) -> None:
        """Cancel the parcel before the carrier picked it up."""
        why = values.text(reason, "reason", max_length=500)
        if self.status == "cancelled":
            raise self._refuse("is already cancelled")
        if self.status not in BEFORE_PICKUP:
            raise self._refuse(f"cannot cancel: the carrier already has it ({self.status})")
        self._cancelled(reason=why, at=iso(None))

    @event("Cancelled")
    def _cancelled(self, reason: str, at: str) -> None:
        self.status = "cancelled"
        self.cancel_reason = reason

    # carrier updates ----------------------------------------------------------------------
    def record_update(
        self, status: str, at: datetime | str | None, carrier_status: str = "", reason: str = ""
    ) -> str:
        """Apply a carrier update: 'applied' (state moved), 'noted' (history) or 'duplicate'."""
        if status not in (*CARRIER_STATES, CANCELLED, ""):
            raise InvalidInputError("status", f"{status!r} is not a shipment state")
        when = iso(at)
        raw = values.text(carrier_status, "carrier_status", max_length=50, required=False)
        why = values.text(reason, "reason", max_length=500, required=False)
        if any(
            (h["status"], h["carrier_status"], h["at"]) == (status, raw, when) for h in self.history
        ):
            return "duplicate"
        if not self._moves_to(status, when):
            self._update_noted(status=status, carrier_status=raw, at=when, reason=why)
            return "noted"
        if status == DELIVERY_FAILED and not why:
            raise InvalidInputError("reason", "say why the delivery failed")
        self._moved(status, dict(carrier_status=raw, at=when, reason=why))
        return "applied"

    def _moves_to(self, status: str, when: str) -> bool:
        in_order = not self.last_update_at or instant(when) >= instant(self.last_update_at)
        return bool(status) and status in NEXT[self.status] and in_order

    def _moved(self, status: str, update: dict[str, str]) -> None:
        {
            "picked_up": self._picked_up,
            "in_transit": self._in_transit,
            "delivery_failed": self._delivery_failed,
            "delivered": self._delivered,
            "returning": self._returning,
            "returned": self._returned,
            "cancelled": self._cancelled_by_carrier,
        }[status](**update)

    def _apply(self, status: str, carrier_status: str, at: str, reason: str) -> None:
        self.history.append(
            {
                "status": status,
                "carrier_status": carrier_status,
                "at": at,
                "reason": reason,
                "applied": "yes",
            }
        )
        if status != CANCELLED and not self.handed_over_at:
            self.handed_over_at = at
        self.status = status
        self.last_update_at = at
        self.decision = ""

    @event("PickedUp")
    def _picked_up(self, carrier_status: str, at: str, reason: str) -> None:
        self._apply("picked_up", carrier_status, at, reason)

    @event("InTransit")
    def _in_transit(self, carrier_status: str, at: str, reason: str) -> None:
        self._apply("in_transit", carrier_status, at, reason)

    @event("DeliveryFailed")
    def _delivery_failed(self, carrier_status: str, at: str, reason: str) -> None:
        self._apply("delivery_failed", carrier_status, at, reason)

    @event("Delivered")
    def _delivered(self, carrier_status: str, at: str, reason: str) -> None:
        self._apply("delivered", carrier_status, at, reason)

    @event("Returning")
    def _returning(self, carrier_status: str, at: str, reason: str) -> None:
        self._apply("returning", carrier_status, at, reason)

    @event("Returned")
    def _returned(self, carrier_status: str, at: str, reason: str) -> None:
        self._apply("returned", carrier_status, at, reason)

    @event("CancelledByCarrier")
    def _cancelled_by_carrier(self, carrier_status: str, at: str, reason: str) -> None:
        self._apply("cancelled", carrier_status, at, reason)
        self.cancel_reason = reason or f"cancelled by {self.carrier}"

    @event("UpdateNoted")
    def _update_noted(self, status: str, carrier_status: str, at: str, reason: str) -> None:
        self.history.append(
            {
                "status": status,
                "carrier_status": carrier_status,
                "at": at,
                "reason": reason,
                "applied": "no",
            }
        )

    # after a failed delivery --------------------------------------------------------------
    def decide_after_failure(self, decision: str) -> None:
        """The seller asks the carrier to try again (redeliver) or to bring it back (return)."""
        if decision not in ("redeliver", "return"):
            raise InvalidInputError("decision", f"{decision!r} is not one of redeliver, return")
        if self.status != DELIVERY_FAILED:
            raise self._refuse(
                f"cannot ask to {decision}: the shipment is {self.status}, not delivery_failed"
            )
        if self.decision == decision:
            return
        if self.decision == "return":
            raise self._refuse(
                "cannot ask to redeliver: a return to the sender was already requested"
            )
        self._decided(decision=decision, at=iso(None))

    @event("DecidedAfterFailure")
    def _decided(self, decision: str, at: str) -> None:
        self.decision = decision

    # cash on delivery ---------------------------------------------------------------------
    def collect_cod(self) -> bool:
        """The carrier collected the COD amount on delivery; True the first time."""
        if self.cod_amount == 0 or self.cod_collected:
            return False
        if self.status != DELIVERED:
            raise self._refuse(f"cannot record COD collected: the shipment is {self.status}")
        self._cod_collected(amount=self.cod_amount)
        return True

    @event("CodCollected")
    def _cod_collected(self, amount: Decimal) -> None:
        self.cod_collected = amount

    def remit_cod(
        self, amount: object, reference: object, at: datetime | str | None = None
    ) -> bool:
        """The carrier paid COD out to the seller (all still held when `amount` is None);
        a repeated reference changes nothing."""
        ref = values.text(reference, "reference", max_length=100)
        known_amount = next((r["amount"] for r in self.remittances if r["reference"] == ref), None)
        default = (
            known_amount if known_amount is not None else self.cod_collected - self.cod_remitted
        )
        value = values.money(default if amount is None else amount, "amount", allow_zero=False)
        for known in self.remittances:
            if known["reference"] == ref:
                if known["amount"] != value:
                    raise self._refuse(
                        f"remittance {ref} was recorded with {known['amount']} VND, not {value}"
                    )
                return False
        left = self.cod_collected - self.cod_remitted
        if value > left:
            raise self._refuse(
                f"cannot record a COD remittance of {value} VND: "
                f"{left} VND collected and not remitted"
            )
        self._cod_remitted(amount=value, reference=ref, at=iso(at))
        return True

    @event("CodRemitted")
    def _cod_remitted(self, amount: Decimal, reference: str, at: str) -> None:
        self.remittances.append({"amount": amount, "reference": reference, "at": at})
