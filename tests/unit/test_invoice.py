"""Invoice: buyer checks, VAT per line and per rate, issuing, replacing, adjusting."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given as for_all
from hypothesis import strategies as st

from orderflow import values
from orderflow.errors import InvalidInputError, InvalidStateError
from orderflow.invoice import Invoice, invoice_buyer, priced_lines
from tests.unit.gwt import given, then

COMPANY = {
    "name": "Tran Thi B",
    "company": "Cong ty TNHH ABC",
    "tax_code": "0100109106",
    "address": "Ha Noi",
}
PERSON = {"name": "Nguyen Van A"}
T1 = "2026-01-05T03:00:00+00:00"


def item(
    sku: str, quantity: int, unit_price: int, rate: str = "10", sign: int = 1
) -> dict[str, Any]:
    price = Decimal(unit_price)
    return {
        "sku": sku,
        "name": sku,
        "quantity": quantity,
        "unit_price": price,
        "vat_rate": rate,
        "gross": sign * quantity * price,
    }


ITEMS = [item("TS-RED", 2, 199_000), item("BOOK", 1, 85_000, "5"), item("SHIPPING", 1, 30_000)]


def new_invoice(**changes: Any) -> Invoice:
    fields: dict[str, Any] = dict(
        order_id="o-1",
        order_reference="web/W1",
        invoice_kind="vat",
        buyer=COMPANY,
        items=ITEMS,
        payment_method="cod",
        at=T1,
    )
    return Invoice.request(**(fields | changes))


def invoice(*history: Callable[[Invoice], object]) -> Invoice:
    return given(new_invoice(), *history)


def issued(i: Invoice) -> object:
    return i.record_issued("00000001", "C26TAA", "1/001", "M1-26-X", "R1", T1)


# buyers ------------------------------------------------------------------------------------------
def test_a_company_buyer_keeps_its_checked_tax_code() -> None:
    assert invoice_buyer({**COMPANY, "tax_code": "0100109106-505"})["tax_code"] == "0100109106-505"


@pytest.mark.parametrize(
    ("buyer", "field"),
    [
        ({**COMPANY, "tax_code": "0100109107"}, "buyer.tax_code"),  # wrong check digit
        ({**COMPANY, "tax_code": ""}, "buyer.tax_code"),
        (
            {**COMPANY, "tax_code": "001234567890"},
            "buyer.tax_code",
        ),  # a personal ID is no company code
        ({**COMPANY, "address": ""}, "buyer.address"),
        ({"email": "a@b.vn"}, "buyer.name"),
        ({**PERSON, "fax": "1"}, "buyer"),
    ],
)
def test_a_buyer_that_cannot_be_invoiced_is_refused_naming_the_field(
    buyer: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        invoice_buyer(buyer)
    assert refused.value.field == field


def test_an_individual_may_give_a_12_digit_personal_id_as_tax_code() -> None:
    assert invoice_buyer({**PERSON, "tax_code": "001234567890"})["tax_code"] == "001234567890"


# amounts -----------------------------------------------------------------------------------------
def test_the_vat_per_rate_is_the_orders_vat_breakdown() -> None:
    i = new_invoice()
    expected = values.vat_breakdown([(x["gross"], values.VatRate(x["vat_rate"])) for x in ITEMS])
    assert i.taxes == [
        {
            "vat_rate": "5",
            "net": expected[values.VatRate.FIVE][0],
            "vat": expected[values.VatRate.FIVE][1],
        },
        {
            "vat_rate": "10",
            "net": expected[values.VatRate.TEN][0],
            "vat": expected[values.VatRate.TEN][1],
        },
    ]
    assert (i.total, i.total_net + i.total_vat) == (Decimal(513_000), Decimal(513_000))


gross_items = st.lists(
    st.tuples(
        st.integers(1, 50),
        st.integers(1, 5_000_000),
        st.sampled_from([r.value for r in values.VatRate]),
    ),
    min_size=1,
    max_size=8,
)


@for_all(gross_items)
def test_line_amounts_always_add_up_to_the_vat_breakdown_of_each_rate(
    raw: list[tuple[int, int, str]],
) -> None:
    items = [item(f"S{n}", q, p, rate) for n, (q, p, rate) in enumerate(raw)]
    lines, taxes = priced_lines(items, "vat")
    for tax in taxes:
        of_rate = [line for line in lines if line["vat_rate"] == tax["vat_rate"]]
        assert sum(line["net"] for line in of_rate) == tax["net"]
        assert sum(line["vat"] for line in of_rate) == tax["vat"]
    assert all(line["net"] + line["vat"] == line["gross"] for line in lines)


def test_non_taxable_categories_carry_no_vat() -> None:
    i = new_invoice(items=[item("SVC", 1, 100_000, "KCT"), item("FEE", 1, 50_000, "KKKNT")])
    assert i.total_vat == 0 and [t["vat_rate"] for t in i.taxes] == ["KCT", "KKKNT"]


def test_a_sales_invoice_has_no_vat_lines() -> None:
    i = new_invoice(invoice_kind="sales")
    assert i.taxes == [] and i.total_vat == 0 and i.total_net == i.total


def test_an_invoice_without_lines_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="lines"):
        new_invoice(items=[])


def test_a_replacement_needs_a_reason() -> None:
    with pytest.raises(InvalidInputError, match="reason"):
        new_invoice(purpose="replacement", refers_to="old")


# issuing ---------------------------------------------------------------------------------------
def test_issuing_records_number_series_and_tax_authority_code() -> None:
    i = invoice()
    issued(i)
    [(name, fields)] = then(i)
    assert (
        name == "Issued"
        and fields["number"] == "00000001"
        and fields["tax_authority_code"] == "M1-26-X"
    )
    assert i.status == "issued"


def test_the_same_number_reported_again_records_nothing_and_another_is_refused() -> None:
    i = invoice(issued)
    assert i.record_issued("00000001", "C26TAA") is False
    with pytest.raises(InvalidStateError, match="already issued as C26TAA-00000001"):
        i.record_issued("00000002", "C26TAA")
    assert then(i) == []


# replacing and adjusting -------------------------------------------------------------------------
def test_an_issued_invoice_is_marked_replaced_once() -> None:
    i = invoice(issued)
    i.mark_replaced("new-1", "wrong address")
    assert then(i) == [("Replaced", {"by": "new-1", "reason": "wrong address"})]
    assert not i.is_current
    with pytest.raises(InvalidStateError, match="already replaced by invoice new-1"):
        i.mark_replaced("new-2", "again")


def test_an_invoice_not_yet_issued_cannot_be_replaced_or_adjusted() -> None:
    i = invoice()
    with pytest.raises(InvalidStateError, match="not issued yet"):
        i.mark_replaced("new-1", "x")
    with pytest.raises(InvalidStateError, match="not issued yet"):
        i.mark_adjusted("adj-1")


def test_an_adjustment_invoice_is_itself_never_replaced_or_adjusted() -> None:
    adjustment = given(
        new_invoice(
            purpose="adjustment",
            adjustment_kind="money",
            refers_to="orig",
            reason="price",
            items=[item("TS-RED", 1, 10_000, sign=-1)],
        ),
        issued,
    )
    assert adjustment.total == Decimal(-10_000) and not adjustment.is_current
    with pytest.raises(InvalidStateError, match="adjustment invoice"):
        adjustment.mark_adjusted("x")


def test_an_information_adjustment_has_no_lines() -> None:
    i = new_invoice(
        purpose="adjustment",
        adjustment_kind="information",
        refers_to="orig",
        reason="company name",
        items=[],
    )
    assert i.lines == [] and i.adjusts == "orig"
