"""Order: what a buyer ordered on one channel, where its stock is held, and the money received.

Seller-facing `status`: new -> processing -> completed, or cancelled. `new` lasts until the order
is packed (it can still be edited); `processing` from packing to completion.
`fulfilment` is the detail underneath: awaiting_stock / reserved -> packed -> shipped ->
delivered (or delivery_failed -> re-attempt / returning -> returned); `cancelled` when an order is
cancelled before it was handed to a carrier.

Facts that arrive twice (a carrier reporting "delivered" again, the same payment reference) are
accepted and change nothing; commands that contradict the current state raise InvalidStateError
naming the order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, Final
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow import values
from orderflow.errors import InvalidInputError, InvalidStateError
from orderflow.values import named_id

CHANNELS: Final = ("web", "shopee", "lazada", "tiktok", "phone", "facebook", "other")
PAYMENT_METHODS: Final = ("cod", "prepaid")
PAYMENT_KINDS: Final = ("payment", "cod_collected", "cod_remitted")
ADDRESS_FIELDS: Final = (
    "street",
    "ward",
    "ward_code",
    "district",
    "district_code",
    "province",
    "province_code",
)
REQUIRED_ADDRESS_FIELDS: Final = ("street", "ward", "province")
EDITABLE: Final = ("awaiting_stock", "reserved")  # fulfilment states in which edits are allowed
MAX_LINES: Final = 200


# checks of the parts of an order ----------------------------------------------------------
def channel(value: object) -> str:
    """One of the sales channels."""
    return values.choice(value, "channel", CHANNELS)


def external_id(value: object) -> str:
    """The channel's own order number."""
    return values.text(value, "external_id", max_length=100)


def payment_method(value: object) -> str:
    """cod (cash on delivery) or prepaid."""
    return values.choice(value, "payment_method", PAYMENT_METHODS)


def buyer(given: Mapping[str, object]) -> dict[str, str]:
    """Name and phone are needed to deliver; e-mail is optional."""
    _no_unknown_keys(given, ("name", "phone", "email"), "buyer")
    return {
        "name": values.text(given.get("name"), "buyer.name"),
        "phone": values.phone(given.get("phone"), "buyer.phone", required=True),
        "email": values.email(given.get("email"), "buyer.email"),
    }


def address(given: Mapping[str, object]) -> dict[str, str]:
    """A Vietnamese address: street, ward, (district,) province, with optional codes.

    The district may be empty: the two-level province / ward form in use since July 2025.
    """
    _no_unknown_keys(given, ADDRESS_FIELDS, "address")
    checked = {}
    for name in ADDRESS_FIELDS:
        required = name in REQUIRED_ADDRESS_FIELDS
        limit = 300 if name == "street" else 100
        checked[name] = values.text(
            given.get(name), f"address.{name}", max_length=limit, required=required
        )
    if checked["district_code"] and not checked["district"]:
        raise InvalidInputError("address.district", "give the district's name with its code")
    return checked


def line(given: Mapping[str, object], index: int = 0) -> dict[str, Any]:
    """One order line: SKU, name, quantity, VAT-inclusive unit price, VAT rate."""
    where = f"lines[{index}]"
    _no_unknown_keys(given, ("sku", "name", "quantity", "unit_price", "vat_rate"), where)
    return {
        "sku": values.code(given.get("sku"), f"{where}.sku"),
        "name": values.text(given.get("name"), f"{where}.name", max_length=300),
        "quantity": values.quantity(given.get("quantity"), f"{where}.quantity"),
        "unit_price": values.money(given.get("unit_price"), f"{where}.unit_price"),
        "vat_rate": values.VatRate.parse(given.get("vat_rate"), f"{where}.vat_rate").value,
    }


def lines(given: Sequence[Mapping[str, object]]) -> list[dict[str, Any]]:
    """At least one line, one line per SKU."""
    if not given:
        raise InvalidInputError("lines", "an order needs at least one line")
    if len(given) > MAX_LINES:
        raise InvalidInputError("lines", f"at most {MAX_LINES} lines, got {len(given)}")
    checked = [line(item, i) for i, item in enumerate(given)]
    seen: set[str] = set()
    for item in checked:
        if item["sku"] in seen:
            raise InvalidInputError("lines", f"{item['sku']} appears twice; give one line per SKU")
        seen.add(item["sku"])
    return checked


def moment(value: datetime | str | None, field: str = "at") -> str:
    """An ISO timestamp (now, in UTC, when not given)."""
    if value is None or value == "":
        return datetime.now(UTC).isoformat()
    if isinstance(value, datetime):
        return value.isoformat()
    try:
        return datetime.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise InvalidInputError(field, f"{value!r} is not an ISO date-time") from None


def _no_unknown_keys(given: Mapping[str, object], known: Sequence[str], where: str) -> None:
    if not isinstance(given, Mapping):
        raise InvalidInputError(where, f"expected an object with {', '.join(known)}")
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InvalidInputError(where, f"unknown field(s) {', '.join(map(str, unknown))}")


def _copy_lines(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(item) for item in items]


class Order(Aggregate):
    """An order from one channel, identified by (channel, external id)."""

    Placed: ClassVar[type[DomainEvent]]
    Allocated: ClassVar[type[Aggregate.Event]]  # triggered directly: see below

    @staticmethod
    def create_id(channel: str, external_id: str) -> UUID:
        return named_id(f"orderflow:order:{channel}:{external_id}")

    @classmethod
    def place(
        cls,
        channel: str,
        external_id: str,
        buyer: Mapping[str, object],
        address: Mapping[str, object],
        lines: Sequence[Mapping[str, object]],
        shipping_fee: object = 0,
        payment_method: str = "cod",
        note: str = "",
        shipping_vat_rate: object = "10",
        exchange_of: str = "",
    ) -> Order:
        """Check a new order and record it (no stock is held yet: see allocate / backorder)."""
        return cls(
            channel=_checked_channel(channel),
            external_id=_checked_external_id(external_id),
            buyer=_checked_buyer(buyer),
            address=_checked_address(address),
            lines=_checked_lines(lines),
            shipping_fee=values.money(shipping_fee, "shipping_fee"),
            shipping_vat_rate=values.VatRate.parse(shipping_vat_rate, "shipping_vat_rate").value,
            payment_method=_checked_payment_method(payment_method),
            note=values.text(note, "note", max_length=1000, required=False),
            exchange_of=values.text(exchange_of, "exchange_of", max_length=100, required=False),
        )

    @event("Placed")
    def __init__(
        self,
        channel: str,
        external_id: str,
        buyer: dict[str, str],
        address: dict[str, str],
        lines: list[dict[str, Any]],
        shipping_fee: Decimal,
        shipping_vat_rate: str,
        payment_method: str,
        note: str,
        exchange_of: str,
    ) -> None:
        self.channel = channel
        self.external_id = external_id
        self.buyer = dict(buyer)
        self.address = dict(address)
        self.lines = _copy_lines(lines)
        self.shipping_fee = shipping_fee
        self.shipping_vat_rate = shipping_vat_rate
        self.payment_method = payment_method
        self.note = note
        self.exchange_of = exchange_of
        self.status = "new"
        self.fulfilment = "awaiting_stock"
        self.allocations: dict[str, dict[str, int]] = {}
        self.backorders: dict[str, int] = {}
        self.transactions: list[dict[str, Any]] = []
        self.invoice_ids: list[str] = []
        self.shipment_ids: list[str] = []
        self.return_ids: list[str] = []
        self.cancel_reason = ""
        self.delivered_at = ""
        self.delivery_failures: list[str] = []

    # derived ------------------------------------------------------------------------------
    @property
    def reference(self) -> str:
        """`channel/external_id`, how people name an order."""
        return f"{self.channel}/{self.external_id}"

    @property
    def goods_total(self) -> Decimal:
        return sum((item["quantity"] * item["unit_price"] for item in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.goods_total + self.shipping_fee

    @property
    def paid(self) -> Decimal:
        kinds = ("payment", "cod_collected")
        return sum((t["amount"] for t in self.transactions if t["kind"] in kinds), Decimal(0))

    @property
    def refunded(self) -> Decimal:
        return sum((t["amount"] for t in self.transactions if t["kind"] == "refund"), Decimal(0))

    @property
    def cod_collected(self) -> Decimal:
        return sum(
            (t["amount"] for t in self.transactions if t["kind"] == "cod_collected"), Decimal(0)
        )

    @property
    def cod_remitted(self) -> Decimal:
        return sum(
            (t["amount"] for t in self.transactions if t["kind"] == "cod_remitted"), Decimal(0)
        )

    @property
    def outstanding(self) -> Decimal:
        """What the buyer still owes (0 when paid in full)."""
        return max(self.total - self.paid, Decimal(0))

    @property
    def is_paid(self) -> bool:
        return self.paid >= self.total

    @property
    def is_fully_reserved(self) -> bool:
        return all(self.allocated(item["sku"]) == item["quantity"] for item in self.lines)

    @property
    def is_editable(self) -> bool:
        return self.status == "new" and self.fulfilment in EDITABLE

    def vat_lines(self) -> list[tuple[Decimal, values.VatRate]]:
        """Each line's gross amount with its VAT rate, plus the shipping fee (for vat_breakdown)."""
        amounts = [
            (item["quantity"] * item["unit_price"], values.VatRate(item["vat_rate"]))
            for item in self.lines
        ]
        if self.shipping_fee > 0:
            amounts.append((self.shipping_fee, values.VatRate(self.shipping_vat_rate)))
        return amounts

    def line(self, sku: str) -> dict[str, Any] | None:
        """The line of a SKU, or None."""
        return next((item for item in self.lines if item["sku"] == sku), None)

    def ordered(self, sku: str) -> int:
        found = self.line(sku)
        return found["quantity"] if found else 0

    def allocated(self, sku: str, warehouse: str | None = None) -> int:
        """Units of a SKU reserved for this order (in one warehouse, or in all)."""
        per_warehouse = self.allocations.get(sku, {})
        return per_warehouse.get(warehouse, 0) if warehouse else sum(per_warehouse.values())

    def backordered(self, sku: str) -> int:
        return self.backorders.get(sku, 0)

    def unplanned(self, sku: str) -> int:
        """Units of a line neither reserved nor backordered yet."""
        return self.ordered(sku) - self.allocated(sku) - self.backordered(sku)

    def _refuse(self, reason: str) -> InvalidStateError:
        return InvalidStateError(f"order {self.reference}", reason)

    def _require_editable(self, what: str) -> None:
        if self.status == "cancelled":
            raise self._refuse(f"cannot {what}: the order is cancelled")
        if not self.is_editable:
            raise self._refuse(
                f"cannot {what}: the order is already {self.fulfilment}; "
                "edits are allowed until it is packed"
            )

    # allocation bookkeeping (the engine moves the stock items in the same transaction) -----
    def allocate(self, sku: str, warehouse: str, quantity: int) -> None:
        """Record units of a line reserved in a warehouse; they first fill the line's backorder."""
        self._require_editable(f"reserve {sku}")
        open_units = self.ordered(sku) - self.allocated(sku)
        if quantity <= 0 or quantity > open_units:
            raise self._refuse(
                f"cannot reserve {quantity} of {sku}: {open_units} of the line are not yet reserved"
            )
        # the event of _allocated, triggered directly (as StockItem.reserve does its own)
        self.trigger_event(self.Allocated, sku=sku, warehouse=warehouse, quantity=quantity)

    @event("Allocated")
    def _allocated(self, sku: str, warehouse: str, quantity: int) -> None:
        per_warehouse = self.allocations.setdefault(sku, {})
        per_warehouse[warehouse] = per_warehouse.get(warehouse, 0) + quantity
        # reserved units fill the unplanned part of the line first, then its backorder
        self._set_backorder(
            sku, min(self.backorders.get(sku, 0), self.ordered(sku) - self.allocated(sku))
        )
        self._refresh_fulfilment()

    def release_allocation(self, sku: str, warehouse: str, quantity: int) -> None:
        """Record units given back to a warehouse (a line was reduced or removed)."""
        self._require_editable(f"release {sku}")
        held = self.allocated(sku, warehouse)
        if quantity <= 0 or quantity > held:
            raise self._refuse(
                f"cannot release {quantity} of {sku} in {warehouse}: {held} reserved there"
            )
        self._allocation_released(sku=sku, warehouse=warehouse, quantity=quantity)

    @event("AllocationReleased")
    def _allocation_released(self, sku: str, warehouse: str, quantity: int) -> None:
        per_warehouse = self.allocations.get(sku, {})
        left = per_warehouse.get(warehouse, 0) - quantity
        if left > 0:
            per_warehouse[warehouse] = left
        else:
            per_warehouse.pop(warehouse, None)
        if not per_warehouse:
            self.allocations.pop(sku, None)
        self._refresh_fulfilment()

    def backorder(self, sku: str, quantity: int) -> None:
        """Record units no warehouse can supply now: a shortage that purchasing reacts to."""
        self._require_editable(f"backorder {sku}")
        if quantity <= 0 or quantity > self.unplanned(sku):
            raise self._refuse(
                f"cannot backorder {quantity} of {sku}: "
                f"{self.unplanned(sku)} of the line are unplanned"
            )
        self._backordered(sku=sku, quantity=quantity)

    @event("Backordered")
    def _backordered(self, sku: str, quantity: int) -> None:
        self._set_backorder(sku, self.backorders.get(sku, 0) + quantity)
        self._refresh_fulfilment()

    def reduce_backorder(self, sku: str, quantity: int) -> None:
        """Record that fewer units are waiting (the line was reduced or removed)."""
        self._require_editable(f"reduce the backorder of {sku}")
        if quantity <= 0 or quantity > self.backordered(sku):
            raise self._refuse(
                f"cannot reduce the backorder of {sku} by {quantity}: "
                f"{self.backordered(sku)} waiting"
            )
        self._backorder_reduced(sku=sku, quantity=quantity)

    @event("BackorderReduced")
    def _backorder_reduced(self, sku: str, quantity: int) -> None:
        self._set_backorder(sku, self.backorders.get(sku, 0) - quantity)
        self._refresh_fulfilment()

    def _set_backorder(self, sku: str, quantity: int) -> None:
        if quantity > 0:
            self.backorders[sku] = quantity
        else:
            self.backorders.pop(sku, None)

    def _refresh_fulfilment(self) -> None:
        if self.fulfilment in EDITABLE and self.status == "new":
            self.fulfilment = "reserved" if self.is_fully_reserved else "awaiting_stock"

    # edits until packed ---------------------------------------------------------------------
    def change_lines(self, new_lines: Sequence[Mapping[str, object]]) -> None:
        """Replace the lines (add, remove, change quantities); the engine moves the stock."""
        self._require_editable("change the lines")
        checked = _checked_lines(new_lines)
        if checked != self.lines:
            self._require_not_invoiced("change the lines")
            self._lines_changed(lines=checked)

    @event("LinesChanged")
    def _lines_changed(self, lines: list[dict[str, Any]]) -> None:
        self.lines = _copy_lines(lines)
        self._refresh_fulfilment()

    def change_buyer(self, new_buyer: Mapping[str, object]) -> None:
        """Correct the buyer's name, phone or e-mail."""
        self._require_editable("change the buyer")
        checked = _checked_buyer(new_buyer)
        if checked != self.buyer:
            self._buyer_changed(buyer=checked)

    @event("BuyerChanged")
    def _buyer_changed(self, buyer: dict[str, str]) -> None:
        self.buyer = dict(buyer)

    def change_address(self, new_address: Mapping[str, object]) -> None:
        """Change where the order is delivered."""
        self._require_editable("change the address")
        checked = _checked_address(new_address)
        if checked != self.address:
            self._address_changed(address=checked)

    @event("AddressChanged")
    def _address_changed(self, address: dict[str, str]) -> None:
        self.address = dict(address)

    def change_shipping_fee(self, fee: object) -> None:
        """Change the shipping fee charged to the buyer."""
        self._require_editable("change the shipping fee")
        amount = values.money(fee, "shipping_fee")
        if amount != self.shipping_fee:
            self._require_not_invoiced("change the shipping fee")
            self._shipping_fee_changed(shipping_fee=amount)

    def _require_not_invoiced(self, what: str) -> None:
        if self.invoice_ids:
            raise self._refuse(
                f"cannot {what}: the order is invoiced, and an invoice must show what was sold"
            )

    @event("ShippingFeeChanged")
    def _shipping_fee_changed(self, shipping_fee: Decimal) -> None:
        self.shipping_fee = shipping_fee

    def cancel(self, reason: str) -> None:
        """Cancel before hand-over (or once the parcel came back); the engine releases the stock."""
        why = values.text(reason, "reason", max_length=500)
        if self.status == "cancelled":
            raise self._refuse("is already cancelled")
        if self.status == "completed" or self.fulfilment in (
            "shipped",
            "delivered",
            "delivery_failed",
            "returning",
        ):
            raise self._refuse(
                f"cannot cancel: the order is already {self.fulfilment}; record a return instead"
            )
        self._cancelled(reason=why)

    @event("Cancelled")
    def _cancelled(self, reason: str) -> None:
        self.status = "cancelled"
        self.cancel_reason = reason
        self.backorders = {}
        if self.fulfilment in ("awaiting_stock", "reserved", "packed"):
            self.allocations = {}
            self.fulfilment = (
                "cancelled"  # nothing left to fulfil; a returned parcel stays "returned"
            )

    # fulfilment (called by the shipping side) ------------------------------------------------
    def _require_not_cancelled(self, what: str) -> None:
        if self.status == "cancelled":
            raise self._refuse(f"cannot {what}: the order is cancelled")

    def pack(self, shipment_id: UUID | str) -> None:
        """The goods are packed into a shipment; only a fully reserved order can be packed."""
        shipment = str(shipment_id)
        self._require_not_cancelled("pack")
        if self.fulfilment == "packed" and self.shipment_ids[-1:] == [shipment]:
            return
        if self.fulfilment != "reserved":
            waiting = (
                f" ({sum(self.backorders.values())} units waiting for stock)"
                if self.backorders
                else ""
            )
            raise self._refuse(
                f"cannot pack: the order is {self.fulfilment}{waiting}; "
                "only a fully reserved order can be packed"
            )
        self._packed(shipment_id=shipment)

    @event("Packed")
    def _packed(self, shipment_id: str) -> None:
        self.fulfilment = "packed"
        self.status = "processing"
        self.shipment_ids.append(shipment_id)

    def hand_over(self, shipment_id: UUID | str) -> None:
        """The packed shipment went to the carrier; the engine consumes the reservations."""
        shipment = str(shipment_id)
        self._require_not_cancelled("hand over")
        if shipment not in self.shipment_ids:
            raise self._refuse(
                f"cannot hand over shipment {shipment}: it is not this order's shipment"
            )
        if self.fulfilment in ("shipped", "delivered", "delivery_failed", "returning", "returned"):
            return  # already handed over: a repeated or late report
        if self.fulfilment != "packed":
            raise self._refuse(f"cannot hand over: the order is {self.fulfilment}, not packed")
        self._shipped(shipment_id=shipment)

    @event("Shipped")
    def _shipped(self, shipment_id: str) -> None:
        self.fulfilment = "shipped"

    def deliver(self, at: datetime | str | None = None) -> None:
        """The buyer received the goods; completes the order when it is also paid."""
        when = moment(at)
        self._require_not_cancelled("deliver")
        if self.fulfilment == "delivered":
            return
        if self.fulfilment not in ("shipped", "delivery_failed"):
            raise self._refuse(f"cannot deliver: the order is {self.fulfilment}, not shipped")
        self._delivered(at=when)
        self._complete_if_done()

    @event("Delivered")
    def _delivered(self, at: str) -> None:
        self.fulfilment = "delivered"
        self.delivered_at = at

    def fail_delivery(self, reason: str) -> None:
        """A delivery attempt failed; the carrier re-attempts or returns the parcel."""
        why = values.text(reason, "reason", max_length=500)
        self._require_not_cancelled("record a failed delivery")
        if self.fulfilment not in ("shipped", "delivery_failed"):
            raise self._refuse(
                f"cannot record a failed delivery: the order is {self.fulfilment}, "
                "not out for delivery"
            )
        self._delivery_failed(reason=why)

    @event("DeliveryFailed")
    def _delivery_failed(self, reason: str) -> None:
        self.fulfilment = "delivery_failed"
        self.delivery_failures.append(reason)

    def mark_returning(self) -> None:
        """The parcel is on its way back to the seller."""
        self._require_not_cancelled("return")
        if self.fulfilment in ("returning", "returned"):
            return
        if self.fulfilment not in ("shipped", "delivery_failed", "delivered"):
            raise self._refuse(f"cannot return: the order is {self.fulfilment}, not shipped")
        self._returning()

    @event("Returning")
    def _returning(self) -> None:
        self.fulfilment = "returning"

    def mark_returned(self) -> None:
        """The goods came back to the seller."""
        self._require_not_cancelled("return")
        if self.fulfilment == "returned":
            return
        if self.fulfilment not in ("shipped", "delivery_failed", "delivered", "returning"):
            raise self._refuse(f"cannot return: the order is {self.fulfilment}, not shipped")
        self._returned()

    @event("Returned")
    def _returned(self) -> None:
        self.fulfilment = "returned"

    def link_invoice(self, invoice_id: UUID | str) -> None:
        """Remember an invoice issued for this order."""
        if str(invoice_id) not in self.invoice_ids:
            self._invoice_linked(invoice_id=str(invoice_id))

    @event("InvoiceLinked")
    def _invoice_linked(self, invoice_id: str) -> None:
        self.invoice_ids.append(invoice_id)

    def link_return(self, return_id: UUID | str) -> None:
        """Remember a return of goods from this order."""
        if str(return_id) not in self.return_ids:
            self._return_linked(return_id=str(return_id))

    @event("ReturnLinked")
    def _return_linked(self, return_id: str) -> None:
        self.return_ids.append(return_id)

    # money ------------------------------------------------------------------------------------
    def _known_transaction(self, kind: str, amount: Decimal, reference: str) -> bool:
        """True when this reference was already recorded (a repeat); refuses a conflicting one."""
        if not reference:
            return False
        for t in self.transactions:
            if t["kind"] == kind and t["reference"] == reference:
                if t["amount"] != amount:
                    raise self._refuse(
                        f"{kind} {reference} was already recorded "
                        f"with {t['amount']} VND, not {amount}"
                    )
                return True
        return False

    def record_payment(
        self, kind: str, amount: object, reference: str = "", at: datetime | str | None = None
    ) -> None:
        """Money in: a prepayment, COD collected by the carrier, or COD remitted to the seller."""
        if kind not in PAYMENT_KINDS:
            raise InvalidInputError("kind", f"{kind!r} is not one of {', '.join(PAYMENT_KINDS)}")
        value = values.money(amount, "amount", allow_zero=False)
        ref = values.text(reference, "reference", max_length=100, required=False)
        when = moment(at)
        if self._known_transaction(kind, value, ref):
            return
        self._check_payment(kind, value)
        self._payment_recorded(kind=kind, amount=value, reference=ref, at=when)
        self._complete_if_done()

    def _check_payment(self, kind: str, amount: Decimal) -> None:
        if kind == "cod_remitted":
            left = self.cod_collected - self.cod_remitted
            if amount > left:
                raise self._refuse(
                    f"cannot record a COD remittance of {amount} VND: "
                    f"{left} VND collected and not yet remitted"
                )
            return
        self._require_not_cancelled(f"record a {kind.replace('_', ' ')}")
        if kind == "cod_collected":
            if self.payment_method != "cod":
                raise self._refuse("cannot record COD collected: the order is prepaid")
            if self.fulfilment != "delivered":
                raise self._refuse(
                    f"cannot record COD collected: the order is {self.fulfilment}, not delivered"
                )
        if amount > self.outstanding:
            raise self._refuse(
                f"cannot record {amount} VND: "
                f"only {self.outstanding} VND of {self.total} VND is outstanding"
            )

    @event("PaymentRecorded")
    def _payment_recorded(self, kind: str, amount: Decimal, reference: str, at: str) -> None:
        self.transactions.append({"kind": kind, "amount": amount, "reference": reference, "at": at})

    def record_refund(
        self, amount: object, reference: str = "", at: datetime | str | None = None
    ) -> None:
        """Money back to the buyer; never more than was paid and not yet refunded."""
        value = values.money(amount, "amount", allow_zero=False)
        ref = values.text(reference, "reference", max_length=100, required=False)
        when = moment(at)
        if self._known_transaction("refund", value, ref):
            return
        refundable = self.paid - self.refunded
        if value > refundable:
            raise self._refuse(
                f"cannot refund {value} VND: only {refundable} VND was paid and not yet refunded"
            )
        self._refund_recorded(amount=value, reference=ref, at=when)

    @event("RefundRecorded")
    def _refund_recorded(self, amount: Decimal, reference: str, at: str) -> None:
        self.transactions.append(
            {"kind": "refund", "amount": amount, "reference": reference, "at": at}
        )

    def _complete_if_done(self) -> None:
        if self.status == "processing" and self.fulfilment == "delivered" and self.is_paid:
            self._completed()

    @event("Completed")
    def _completed(self) -> None:
        self.status = "completed"

    # --- added for shipping (orderflow/shipping.py): a shipment cancelled before pick-up ------
    def unpack(self, shipment_id: UUID | str) -> None:
        """The parcel was cancelled before pick-up: the order is reserved (editable) again."""
        shipment = str(shipment_id)
        if self.status == "cancelled":
            return  # the order was cancelled while packed: nothing left to unpack
        if self.fulfilment != "packed" or self.shipment_ids[-1:] != [shipment]:
            raise self._refuse(
                f"cannot unpack shipment {shipment}: the order is {self.fulfilment}"
                + ("" if shipment in self.shipment_ids else " and it is not this order's shipment")
            )
        self._unpacked(shipment_id=shipment)

    @event("Unpacked")
    def _unpacked(self, shipment_id: str) -> None:
        self.fulfilment = "reserved"
        self.status = "new"


# the checks under the names the class body shadows with its parameters
_checked_channel = channel
_checked_external_id = external_id
_checked_buyer = buyer
_checked_address = address
_checked_lines = lines
_checked_payment_method = payment_method
