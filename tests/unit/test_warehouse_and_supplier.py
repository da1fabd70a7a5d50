"""Warehouse and Supplier aggregates: Given events / When command / Then events."""

from __future__ import annotations

import pytest

from orderflow.errors import InvalidStateError
from orderflow.supplier import Supplier
from orderflow.warehouse import Warehouse
from tests.unit.gwt import given, then


def warehouse(*history: object) -> Warehouse:
    registered = Warehouse(
        code="HN",
        name="Kho Ha Noi",
        address="12 Pham Van Dong",
        manager="Nguyen Thi Lan",
        phone="0243 826 1234",
        kind="main",
    )
    return given(registered, *history)  # type: ignore[arg-type]


def supplier(*history: object) -> Supplier:
    registered = Supplier(
        code="DETMAY",
        name="Det May Viet",
        contact="Pham Quoc Bao",
        phone="0912 345 678",
        email="bao@example.invalid",
        tax_code="0100109106",
        address="Ha Noi",
        lead_time_days=5,
    )
    return given(registered, *history)  # type: ignore[arg-type]


# warehouses ------------------------------------------------------------------------------------
def test_registering_a_warehouse_records_its_details_and_it_starts_active() -> None:
    w = Warehouse(code="HN", name="Kho Ha Noi", address="", manager="Lan", phone="", kind="main")
    assert then(w) == [
        (
            "Registered",
            {
                "code": "HN",
                "name": "Kho Ha Noi",
                "address": "",
                "manager": "Lan",
                "phone": "",
                "kind": "main",
            },
        )
    ]
    assert w.active and w.id == Warehouse.create_id("HN")


def test_updating_a_warehouse_records_the_new_details() -> None:
    w = warehouse()
    w.update("Kho Ha Noi 2", "1 Tran Duy Hung", "Le Thu Ha", "")
    assert then(w) == [
        (
            "Updated",
            {
                "name": "Kho Ha Noi 2",
                "address": "1 Tran Duy Hung",
                "manager": "Le Thu Ha",
                "phone": "",
            },
        )
    ]
    assert w.manager == "Le Thu Ha"


def test_updating_a_warehouse_with_the_same_details_records_nothing() -> None:
    w = warehouse()
    w.update(w.name, w.address, w.manager, w.phone)
    assert then(w) == []


def test_deactivating_a_warehouse_records_why() -> None:
    w = warehouse()
    w.deactivate("moved to Long Bien")
    assert then(w) == [("Deactivated", {"reason": "moved to Long Bien"})]
    assert not w.active


def test_an_inactive_warehouse_cannot_be_deactivated_again() -> None:
    w = warehouse(lambda w: w.deactivate(""))
    with pytest.raises(InvalidStateError, match=r"^warehouse HN: is already inactive"):
        w.deactivate("again")
    assert then(w) == []


def test_a_deactivated_warehouse_can_be_reactivated_once() -> None:
    w = warehouse(lambda w: w.deactivate(""))
    w.reactivate()
    assert then(w) == [("Reactivated", {})]
    assert w.active
    with pytest.raises(InvalidStateError, match=r"is already active"):
        w.reactivate()


# suppliers -------------------------------------------------------------------------------------
def test_registering_a_supplier_records_contact_tax_code_and_lead_time() -> None:
    s = supplier()
    assert (s.code, s.tax_code, s.lead_time_days) == ("DETMAY", "0100109106", 5)
    assert s.id == Supplier.create_id("DETMAY")


def test_updating_a_supplier_records_the_new_contact_and_lead_time() -> None:
    s = supplier()
    s.update("Vu Thi Mai", "0912 000 111", "mai@example.invalid", "Ha Noi", 3)
    assert then(s) == [
        (
            "Updated",
            {
                "contact": "Vu Thi Mai",
                "phone": "0912 000 111",
                "email": "mai@example.invalid",
                "address": "Ha Noi",
                "lead_time_days": 3,
            },
        )
    ]
    assert s.lead_time_days == 3


def test_updating_a_supplier_with_the_same_details_records_nothing() -> None:
    s = supplier()
    s.update(s.contact, s.phone, s.email, s.address, s.lead_time_days)
    assert then(s) == []
