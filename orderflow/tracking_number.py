"""TrackingNumber: which shipment a carrier's tracking number belongs to.

Carrier webhooks name the parcel by tracking number only. This small claim, keyed by
(carrier, tracking number), is saved with the booking, so the number finds its shipment in one
read and can never be claimed by two shipments.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from orderflow.values import named_id


class TrackingNumber(Aggregate):
    """A carrier's tracking number, claimed by one shipment."""

    @staticmethod
    def create_id(carrier: str, tracking_number: str) -> UUID:
        return named_id(f"orderflow:tracking:{carrier}:{tracking_number}")

    @event("Claimed")
    def __init__(self, carrier: str, tracking_number: str, shipment_id: str) -> None:
        self.carrier = carrier
        self.tracking_number = tracking_number
        self.shipment_id = shipment_id
