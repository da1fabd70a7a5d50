"""What GHN's and Viettel Post's status codes mean for a shipment."""

from __future__ import annotations

import pytest

from orderflow.carrier_status import GHN, VIETTEL_POST, carrier, our_state
from orderflow.errors import InvalidInputError


@pytest.mark.parametrize(
    ("code", "state"),
    [
        ("ready_to_pick", None),
        ("picked", "picked_up"),
        ("transporting", "in_transit"),
        ("delivering", "in_transit"),
        ("delivered", "delivered"),
        ("delivery_fail", "delivery_failed"),
        ("waiting_to_return", "returning"),
        ("return_transporting", "returning"),
        ("returned", "returned"),
        ("cancel", "cancelled"),
        ("lost", None),
    ],
)
def test_ghn_statuses_map_to_shipment_states(code: str, state: str | None) -> None:
    assert our_state("ghn", code) == state


@pytest.mark.parametrize(
    ("code", "state"),
    [
        ("100", None),
        ("105", "picked_up"),
        ("107", "cancelled"),
        ("200", "in_transit"),
        ("500", "in_transit"),
        ("501", "delivered"),
        ("506", "delivery_failed"),
        ("502", "returning"),
        ("504", "returned"),
        ("-108", "picked_up"),
    ],
)
def test_viettel_post_order_status_codes_map_to_shipment_states(
    code: str, state: str | None
) -> None:
    assert our_state("viettelpost", code) == state


def test_our_own_state_names_are_accepted_for_every_carrier() -> None:
    assert our_state("viettelpost", "Delivered") == "delivered"
    assert our_state("ghn", "in_transit") == "in_transit"


def test_a_code_the_carrier_is_not_known_to_report_is_refused_naming_the_carrier() -> None:
    with pytest.raises(InvalidInputError, match="not a status viettelpost"):
        our_state("viettelpost", "delivering")  # a GHN word
    with pytest.raises(InvalidInputError, match="carrier_status"):
        our_state("ghn", "501")  # a Viettel Post number


def test_every_mapped_code_means_a_known_state() -> None:
    known = {
        None,
        "picked_up",
        "in_transit",
        "delivery_failed",
        "delivered",
        "returning",
        "returned",
        "cancelled",
    }
    assert set(GHN.values()) <= known and set(VIETTEL_POST.values()) <= known


def test_an_unknown_carrier_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="carrier"):
        carrier("J&T")
