"""Engine commands for shipments: pack, book with a carrier, follow the carrier's updates, COD.

Two ways to book, both ending in the same events:
- `request_shipment` records the parcel (and packs the order); a subscriber on
  `Shipment.Requested` calls the carrier and reports back with `record_carrier_booking`;
- `book_shipment` does both at once through the connected carrier (embedded use, the demo).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from orderflow import values
from orderflow.carrier_status import carrier as carrier_name
from orderflow.carrier_status import our_state
from orderflow.connections import Connections, _uuid
from orderflow.engine_base import retry_on_conflict
from orderflow.errors import DuplicateError, InvalidInputError, InvalidStateError, NotFoundError
from orderflow.moments import instant
from orderflow.order import Order
from orderflow.ports import ParcelItem, ShipmentRequest
from orderflow.shipment import Shipment
from orderflow.stock_item import StockItem
from orderflow.tracking_number import TrackingNumber

DEFAULT_DIMENSIONS_CM = (30, 20, 10)


@dataclass(frozen=True)
class ShipmentInfo:
    """A shipment as plain data."""

    id: UUID
    order_id: str
    order_reference: str
    carrier: str
    service: str
    status: str
    cod_amount: Decimal
    weight_kg: Decimal
    dimensions_cm: dict[str, int]
    fee_payer: str
    tracking_number: str
    fee: Decimal
    expected_delivery: str
    label: str
    items: list[dict[str, Any]]
    history: list[dict[str, str]]
    cod_collected: Decimal
    cod_remitted: Decimal
    decision: str

    @classmethod
    def of(cls, s: Shipment) -> ShipmentInfo:
        return cls(
            s.id,
            s.order_id,
            s.order_reference,
            s.carrier,
            s.service,
            s.status,
            s.cod_amount,
            s.weight_kg,
            dict(s.dimensions_cm),
            s.fee_payer,
            s.tracking_number,
            s.fee,
            s.expected_delivery,
            s.label,
            [dict(i) for i in s.items],
            [dict(h) for h in s.history],
            s.cod_collected,
            s.cod_remitted,
            s.decision,
        )


class ShippingCommands(Connections):
    """Shipments with carriers (GHN, Viettel Post)."""

    # packing and booking --------------------------------------------------------------------
    @retry_on_conflict
    def request_shipment(
        self,
        order_id: UUID | str,
        carrier: str,
        service: str = "economy",
        *,
        weight_kg: object,
        dimensions_cm: Sequence[object] | Mapping[str, object] = DEFAULT_DIMENSIONS_CM,
        fee_payer: str = "seller",
        cod_amount: object = None,
        note: str = "",
    ) -> UUID:
        """Pack a fully reserved order into a new shipment; returns the shipment id.

        COD defaults to what a COD buyer still owes (goods + shipping fee), 0 for prepaid orders.
        """
        order = self._order_of(order_id)
        cod = self._cod_amount(order, cod_amount)
        shipment_id = uuid4()
        order.pack(shipment_id)  # refuses a cancelled or not fully reserved order first
        shipment = Shipment.request(
            str(order.id),
            order.reference,
            carrier,
            service,
            cod,
            weight_kg,
            dimensions_cm,
            fee_payer,
            _parcel_items(order),
            note,
            self._now(),
            shipment_id,
        )
        self._save(shipment, order)
        return shipment.id

    @staticmethod
    def _cod_amount(order: Order, given: object) -> Decimal:
        if given is None:
            return order.outstanding if order.payment_method == "cod" else Decimal(0)
        amount = values.money(given, "cod_amount")
        if amount > order.outstanding:
            raise InvalidInputError(
                "cod_amount",
                f"{amount} VND is more than the {order.outstanding} VND "
                f"order {order.reference} still owes",
            )
        return amount

    @retry_on_conflict
    def record_carrier_booking(
        self,
        shipment_id: UUID | str,
        tracking_number: str,
        fee: object,
        expected_delivery: datetime | str | None = None,
        label: str = "",
    ) -> None:
        """Record the carrier's tracking number, fee, expected delivery and label reference."""
        shipment = self._shipment(shipment_id)
        shipment.book(tracking_number, fee, expected_delivery, label)
        claim = self._claim_tracking_number(shipment)
        self._save(shipment, claim)

    def _claim_tracking_number(self, shipment: Shipment) -> TrackingNumber | None:
        claim_id = TrackingNumber.create_id(shipment.carrier, shipment.tracking_number)
        claim = self._load_or_none(TrackingNumber, claim_id)
        if claim is None:
            return TrackingNumber(
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
                shipment_id=str(shipment.id),
            )
        if claim.shipment_id != str(shipment.id):
            raise DuplicateError(
                "tracking_number", f"{shipment.carrier} {shipment.tracking_number}"
            )
        return None

    def book_with_carrier(self, shipment_id: UUID | str) -> ShipmentInfo:
        """Send a requested shipment to its (connected) carrier and record the booking."""
        shipment = self._shipment(shipment_id)
        if shipment.tracking_number:
            return ShipmentInfo.of(shipment)
        if shipment.status == "cancelled":
            raise InvalidStateError(shipment.subject, "cannot book: the shipment is cancelled")
        booking = self._carrier(shipment.carrier).book(self.carrier_request(shipment.id))
        self.record_carrier_booking(
            shipment.id,
            booking.tracking_number,
            booking.fee,
            booking.expected_delivery,
            booking.label,
        )
        return self.shipment(shipment.id)

    def book_shipment(
        self,
        order_id: UUID | str,
        carrier: str,
        service: str = "economy",
        *,
        weight_kg: object,
        dimensions_cm: Sequence[object] | Mapping[str, object] = DEFAULT_DIMENSIONS_CM,
        fee_payer: str = "seller",
        cod_amount: object = None,
        note: str = "",
    ) -> ShipmentInfo:
        """Pack the order and book the parcel with the connected carrier in one call."""
        self._carrier(carrier_name(carrier))  # refuse before anything is written
        shipment_id = self.request_shipment(
            order_id,
            carrier,
            service,
            weight_kg=weight_kg,
            dimensions_cm=dimensions_cm,
            fee_payer=fee_payer,
            cod_amount=cod_amount,
            note=note,
        )
        return self.book_with_carrier(shipment_id)

    def carrier_request(self, shipment_id: UUID | str) -> ShipmentRequest:
        """What the carrier is sent to book this shipment."""
        shipment = self._shipment(shipment_id)
        order = self._order_of(shipment.order_id)
        dims = shipment.dimensions_cm
        items = tuple(
            ParcelItem(i["sku"], i["name"], i["quantity"], i["unit_price"]) for i in shipment.items
        )
        return ShipmentRequest(
            shipment_id=str(shipment.id),
            order_reference=order.reference,
            carrier=shipment.carrier,
            service=shipment.service,
            recipient_name=order.buyer["name"],
            recipient_phone=order.buyer["phone"],
            address=dict(order.address),
            items=items,
            cod_amount=shipment.cod_amount,
            declared_value=order.goods_total,
            weight_grams=int(shipment.weight_kg * 1000),
            length_cm=dims["length"],
            width_cm=dims["width"],
            height_cm=dims["height"],
            fee_payer=shipment.fee_payer,
            note=shipment.note,
        )

    @retry_on_conflict
    def _cancel_shipment(self, shipment_id: UUID | str, reason: str) -> None:
        shipment = self._shipment(shipment_id)
        order = self._order_of(shipment.order_id)
        shipment.cancel(reason)
        order.unpack(shipment.id)
        self._save(shipment, order)

    def cancel_shipment(
        self, shipment_id: UUID | str, reason: str, *, tell_carrier: bool = True
    ) -> None:
        """Cancel a parcel before pick-up; the order is reserved again and can be re-packed.

        With `tell_carrier` a booked parcel is cancelled at the carrier first (nothing is
        recorded if the carrier refuses).
        """
        shipment = self._shipment(shipment_id)
        values.text(reason, "reason", max_length=500)
        if tell_carrier:
            self._cancel_at_carrier(shipment)
        self._cancel_shipment(shipment.id, reason)

    def _cancel_at_carrier(self, shipment: Shipment) -> None:
        """Cancel a parcel the carrier has booked and not picked up (its refusal raises)."""
        if shipment.tracking_number and shipment.status == "booked":
            self._carrier(shipment.carrier).cancel(shipment.tracking_number)

    def _packed_parcel(self, order: Order) -> Shipment | None:
        """The shipment a packed order is packed in (None when it is not packed)."""
        if order.fulfilment != "packed" or not order.shipment_ids:
            return None
        return self._shipment(order.shipment_ids[-1])

    def _cancel_parcels(self, order: Order, reason: str) -> list[Any]:
        """An order cancelled while packed takes its parcel with it (OrderCommands.cancel_order
        saves both in one transaction); the carrier was told first, by Engine.cancel_order."""
        parcel = self._packed_parcel(order)
        if parcel is None:
            return []
        parcel.cancel(reason)
        return [parcel]

    # carrier updates ------------------------------------------------------------------------
    @retry_on_conflict
    def record_carrier_update(
        self,
        shipment_id: UUID | str,
        status: str,
        at: datetime | str | None = None,
        reason: str = "",
    ) -> str:
        """Apply a carrier status: ours (picked_up, in_transit, delivered, delivery_failed,
        returning, returned) or the carrier's own code (GHN `delivering`, Viettel Post `501`).

        Returns "applied", "noted" (kept in the history; the state does not go back) or
        "duplicate" (already known: nothing written). Pick-up consumes the order's
        reservations; delivery completes the order's delivery and records COD collected.
        """
        shipment = self._shipment(shipment_id)
        order = self._order_of(shipment.order_id)
        raw = values.text(status, "status", max_length=50)
        state = our_state(shipment.carrier, raw) or ""
        carrier_status = "" if raw.lower() == state else raw
        when = instant(at, default=self._now())
        was_handed_over = shipment.handed_over
        outcome = shipment.record_update(state, when, carrier_status, reason)
        if outcome != "applied":
            self._save(shipment)
            return outcome
        stock = (
            self._hand_over(shipment, order) if shipment.handed_over and not was_handed_over else []
        )
        self._follow(shipment, order, when, reason)
        self._save(shipment, order, *stock)
        return outcome

    def hand_over_shipment(self, shipment_id: UUID | str, at: datetime | str | None = None) -> str:
        """The carrier picked the parcel up: the reserved stock leaves the warehouses."""
        return self.record_carrier_update(shipment_id, "picked_up", at)

    def _hand_over(self, shipment: Shipment, order: Order) -> list[StockItem]:
        reference = f"shipment {shipment.tracking_number or shipment.id}"
        items = []
        for item in shipment.items:
            stock_id = StockItem.create_id(item["sku"], item["warehouse"])
            stock = self._load(StockItem, stock_id, "sku", item["sku"], "stock item")
            stock.ship(order.id, item["quantity"], reference)
            items.append(stock)
        order.hand_over(shipment.id)
        return items

    def _follow(self, shipment: Shipment, order: Order, at: datetime, reason: str) -> None:
        """What the shipment's new state means for the order."""
        if shipment.status == "delivered":
            order.deliver(at)
            self._collect_cod(shipment, order, at)
        elif shipment.status == "delivery_failed":
            order.fail_delivery(reason)
        elif shipment.status == "returning":
            order.mark_returning()
        elif shipment.status == "returned":
            order.mark_returned()
        elif shipment.status == "cancelled":
            order.unpack(shipment.id)

    @staticmethod
    def _collect_cod(shipment: Shipment, order: Order, at: datetime) -> None:
        if not shipment.collect_cod():
            return
        owed = min(shipment.cod_amount, order.outstanding)
        if owed > 0:
            reference = f"COD {shipment.carrier} {shipment.tracking_number or shipment.id}"
            order.record_payment("cod_collected", owed, reference, at)

    def record_carrier_status(
        self,
        carrier: str,
        tracking_number: str,
        status: str,
        at: datetime | str | None = None,
        reason: str = "",
    ) -> str:
        """`record_carrier_update` for a webhook, which names the parcel by tracking number."""
        return self.record_carrier_update(
            self.find_shipment(carrier, tracking_number), status, at, reason
        )

    # after a failed delivery ----------------------------------------------------------------
    def redeliver_shipment(self, shipment_id: UUID | str, *, tell_carrier: bool = True) -> None:
        """After a failed delivery, ask the carrier to try again."""
        self._decide(shipment_id, "redeliver", tell_carrier)

    def return_shipment_to_sender(
        self, shipment_id: UUID | str, *, tell_carrier: bool = True
    ) -> None:
        """After a failed delivery, ask the carrier to bring the parcel back."""
        self._decide(shipment_id, "return", tell_carrier)

    def _decide(self, shipment_id: UUID | str, decision: str, tell_carrier: bool) -> None:
        shipment = self._shipment(shipment_id)
        shipment.decide_after_failure(decision)  # checked on a copy before the carrier is told
        if tell_carrier and shipment.tracking_number:
            port = self._carrier(shipment.carrier)
            if decision == "redeliver":
                port.redeliver(shipment.tracking_number)
            else:
                port.return_to_sender(shipment.tracking_number)
        self._record_decision(shipment.id, decision)

    @retry_on_conflict
    def _record_decision(self, shipment_id: UUID, decision: str) -> None:
        shipment = self._shipment(shipment_id)
        shipment.decide_after_failure(decision)
        self._save(shipment)

    # cash on delivery -----------------------------------------------------------------------
    @retry_on_conflict
    def record_cod_remittance(
        self,
        shipment_id: UUID | str,
        reference: str,
        amount: object = None,
        at: datetime | str | None = None,
    ) -> None:
        """The carrier paid the collected COD out to the seller (all of it unless `amount`)."""
        shipment = self._shipment(shipment_id)
        order = self._order_of(shipment.order_id)
        when = instant(at, default=self._now())
        if shipment.remit_cod(amount, reference, when):
            order.record_payment(
                "cod_remitted", shipment.remittances[-1]["amount"], reference, when
            )
        self._save(shipment, order)

    # queries --------------------------------------------------------------------------------
    def shipment(self, shipment_id: UUID | str) -> ShipmentInfo:
        """One shipment by id."""
        return ShipmentInfo.of(self._shipment(shipment_id))

    def shipments_of_order(self, order_id: UUID | str) -> list[ShipmentInfo]:
        """An order's shipments, oldest first."""
        order = self._order_of(order_id)
        return [self.shipment(i) for i in order.shipment_ids]

    def find_shipment(self, carrier: str, tracking_number: str) -> UUID:
        """The shipment a carrier's tracking number belongs to."""
        name = carrier_name(carrier)
        number = values.text(tracking_number, "tracking_number", max_length=50)
        claim = self._load_or_none(TrackingNumber, TrackingNumber.create_id(name, number))
        if claim is None:
            raise NotFoundError(
                "tracking_number", f"{name} {number}", "shipment with tracking number"
            )
        return UUID(claim.shipment_id)

    def _shipment(self, shipment_id: UUID | str) -> Shipment:
        return self._load(
            Shipment, _uuid(shipment_id, "shipment_id"), "shipment_id", str(shipment_id), "shipment"
        )


def _parcel_items(order: Order) -> list[dict[str, Any]]:
    """What goes in the parcel: every reserved unit, per SKU and warehouse."""
    items = []
    for line in order.lines:
        for warehouse, quantity in sorted(order.allocations.get(line["sku"], {}).items()):
            items.append(
                {
                    "sku": line["sku"],
                    "name": line["name"],
                    "warehouse": warehouse,
                    "quantity": quantity,
                    "unit_price": line["unit_price"],
                }
            )
    return items
