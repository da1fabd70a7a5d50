"""What each carrier's own status codes mean for a shipment.

GHN reports words (`delivering`, `delivery_fail`, ...), Viettel Post numbers (`ORDER_STATUS` 501,
506, ...). Both map onto the few states a seller acts on; codes that change nothing for the
seller (a parcel sorted at a hub, an order waiting for pick-up) map to None and are only noted in
the shipment's history. Sources: reference/channels-carriers-einvoice.md sections 2.1 and 2.2.
"""

from __future__ import annotations

from typing import Final

from orderflow.errors import InvalidInputError

PICKED_UP: Final = "picked_up"
IN_TRANSIT: Final = "in_transit"
DELIVERY_FAILED: Final = "delivery_failed"
DELIVERED: Final = "delivered"
RETURNING: Final = "returning"
RETURNED: Final = "returned"
CANCELLED: Final = "cancelled"

CARRIER_STATES: Final = (PICKED_UP, IN_TRANSIT, DELIVERY_FAILED, DELIVERED, RETURNING, RETURNED)

GHN: Final[dict[str, str | None]] = {
    "ready_to_pick": None,
    "picking": None,
    "money_collect_picking": None,
    "cancel": CANCELLED,
    "picked": PICKED_UP,
    "storing": IN_TRANSIT,
    "transporting": IN_TRANSIT,
    "sorting": IN_TRANSIT,
    "delivering": IN_TRANSIT,
    "money_collect_delivering": IN_TRANSIT,
    "delivered": DELIVERED,
    "delivery_fail": DELIVERY_FAILED,
    "waiting_to_return": RETURNING,
    "return": RETURNING,
    "return_transporting": RETURNING,
    "return_sorting": RETURNING,
    "returning": RETURNING,
    "return_fail": RETURNING,
    "returned": RETURNED,
    "exception": None,  # needs a person: noted, the state stays
    "damage": None,
    "lost": None,
}

VIETTEL_POST: Final[dict[int, str | None]] = {
    -100: None,  # new order, not yet approved
    100: None,  # received / created
    101: CANCELLED,  # Viettel Post asks to cancel
    102: None,  # pending processing
    103: PICKED_UP,  # handed to the post office (drop-off)
    104: None,  # assigned to a pick-up postman
    105: PICKED_UP,  # postman picked up
    -108: PICKED_UP,  # sent at a post office
    106: None,  # partner asks for the goods back (before pick-up)
    107: CANCELLED,  # partner cancelled via API
    200: IN_TRANSIT,
    201: CANCELLED,  # waybill input cancelled
    202: None,  # waybill edited
    300: IN_TRANSIT,
    301: IN_TRANSIT,
    302: IN_TRANSIT,
    303: IN_TRANSIT,
    400: IN_TRANSIT,
    401: IN_TRANSIT,
    402: IN_TRANSIT,
    403: IN_TRANSIT,
    500: IN_TRANSIT,  # out for delivery
    501: DELIVERED,
    502: RETURNING,  # back to the origin office
    503: RETURNING,  # cancelled at the customer's request: the parcel goes back
    504: RETURNED,  # returned to the sender
    505: RETURNING,  # notice of return to origin
    506: DELIVERY_FAILED,  # customer absent
    507: DELIVERY_FAILED,  # customer will pick up at the office
    508: IN_TRANSIT,  # re-delivery
    509: IN_TRANSIT,  # forwarded to another office
    510: None,  # delivery assignment cancelled
    515: RETURNING,  # return approved by the delivering office
    550: IN_TRANSIT,  # customer asks for re-delivery
}

CARRIERS: Final = ("ghn", "viettelpost")


def carrier(value: object) -> str:
    """ghn or viettelpost ('GHN', 'Viettel Post', 'vtp' read alike)."""
    name = str(value or "").strip().lower().replace(" ", "").replace("_", "").replace("-", "")
    name = {"vtp": "viettelpost", "giaohangnhanh": "ghn"}.get(name, name)
    if name not in CARRIERS:
        raise InvalidInputError("carrier", f"{value!r} is not one of {', '.join(CARRIERS)}")
    return name


def our_state(carrier_name: str, carrier_status: object) -> str | None:
    """The shipment state a carrier's status code means, or None when it means no change.

    Our own state names are accepted too, so a seller can type `delivered` for any carrier.
    Unknown codes are refused, naming the carrier, so a new code is noticed, not swallowed.
    """
    written = str(carrier_status).strip()
    if written.lower() in (*CARRIER_STATES, CANCELLED):
        return written.lower()
    if carrier_name == "ghn" and written.lower() in GHN:
        return GHN[written.lower()]
    if (
        carrier_name == "viettelpost"
        and written.lstrip("-").isdigit()
        and int(written) in VIETTEL_POST
    ):
        return VIETTEL_POST[int(written)]
    raise InvalidInputError(
        "carrier_status", f"{written!r} is not a status {carrier_name} is known to report"
    )
