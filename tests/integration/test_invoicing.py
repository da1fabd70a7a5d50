"""VAT e-invoices on SQLite and PostgreSQL: issue, refuse twice, auto threshold, replace, adjust."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderflow import Engine
from orderflow.errors import ExternalServiceError, InvalidInputError, InvalidStateError
from orderflow.values import VatRate, vat_breakdown
from tests.integration.fulfilment_setup import COMPANY, connected
from tests.integration.ordering_setup import place


def test_an_invoice_for_a_company_carries_the_orders_vat_and_the_providers_number(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=2, MUG=1)
    invoice = engine.issue_invoice(order_id, COMPANY)
    order = engine._order(order_id)
    expected = vat_breakdown(order.vat_lines())
    assert {VatRate(t["vat_rate"]): (t["net"], t["vat"]) for t in invoice.taxes} == expected
    assert invoice.total == order.total and invoice.total_vat == sum(
        v for _, v in expected.values()
    )
    assert (invoice.status, invoice.number, invoice.series) == ("issued", "00000001", "C26TAA")
    assert invoice.tax_authority_code.startswith("M1-26-FAKE")
    assert invoice.buyer["tax_code"] == "0314409058"
    assert engine.order(order_id).invoice_ids == [str(invoice.id)]
    payload = world.provider.payloads[str(invoice.id)]
    assert payload["buyerInfo"]["buyerLegalName"] == COMPANY["company"]
    assert payload["summarizeInfo"]["totalAmountWithTax"] == int(order.total)


def test_invoicing_an_order_twice_is_refused_and_writes_nothing(engine: Engine) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=1)
    first = engine.issue_invoice(order_id)
    position = engine.position()
    with pytest.raises(
        InvalidStateError, match=r"order shopee/1: is already invoiced: invoice C26TAA"
    ):
        engine.issue_invoice(order_id, COMPANY)
    assert engine.position() == position and len(world.provider.issued) == 1
    assert first.buyer["name"] == "Tran Thi Binh" and first.buyer["company"] == ""


def test_a_bad_tax_code_is_refused_naming_the_field_and_writes_nothing(engine: Engine) -> None:
    connected(engine)
    order_id = place(engine, "1", TEE=1)
    position = engine.position()
    with pytest.raises(
        InvalidInputError, match=r"buyer\.tax_code: '0314409059' fails the check digit"
    ):
        engine.issue_invoice(order_id, {**COMPANY, "tax_code": "0314409059"})
    assert engine.position() == position


def test_an_invoice_is_issued_automatically_once_the_order_total_reaches_the_threshold(
    engine: Engine,
) -> None:
    world = connected(engine, invoice_threshold=500_000)
    small = place(engine, "1", TEE=1)  # 229,000
    large = place(engine, "2", TEE=3)  # 627,000
    assert engine.issue_invoice_if_due(small) is None
    invoice_id = engine.issue_invoice_if_due(large)
    assert invoice_id is not None and engine.invoice(invoice_id).status == "issued"
    assert engine.issue_invoice_if_due(large) is None  # already invoiced
    assert len(world.provider.issued) == 1


def test_without_a_provider_invoices_wait_as_requested_for_a_subscriber_to_issue(
    engine: Engine,
) -> None:
    connected(engine, invoice_threshold=100_000, provider=False)
    order_id = place(engine, "1", TEE=1)
    with pytest.raises(InvalidStateError, match="e-invoice provider: none is connected"):
        engine.issue_invoice(order_id)
    invoice_id = engine.issue_invoice_if_due(order_id)
    assert invoice_id is not None and engine.invoice(invoice_id).status == "requested"
    engine.record_invoice_issued(invoice_id, "00000042", "C26TAA", "1/001", "M1-26-REAL")
    issued = engine.invoice(invoice_id)
    assert (issued.status, issued.number, issued.tax_authority_code) == (
        "issued",
        "00000042",
        "M1-26-REAL",
    )


def test_a_provider_refusal_leaves_the_invoice_requested_and_a_retry_issues_it_once(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=1)
    world.provider.refuse_next = "buyerTaxCode is not registered"
    with pytest.raises(ExternalServiceError, match="buyerTaxCode is not registered"):
        engine.issue_invoice(order_id, COMPANY)
    [invoice] = engine.invoices_of_order(order_id)
    assert invoice.status == "requested"
    assert engine.issue_requested_invoice(invoice.id).status == "issued"
    assert engine.issue_requested_invoice(invoice.id).number == "00000001"
    assert len(world.provider.issued) == 1


def test_a_replacement_invoice_supersedes_the_issued_one_and_refers_to_it(engine: Engine) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=1)
    old = engine.issue_invoice(order_id)
    new_id = engine.replace_invoice(old.id, "buyer asked for a company invoice", buyer=COMPANY)
    old_now, new = engine.invoice(old.id), engine.invoice(new_id)
    assert (old_now.status, old_now.replaced_by) == ("replaced", str(new_id))
    assert (new.purpose, new.replaces, new.status, new.total) == (
        "replacement",
        str(old.id),
        "issued",
        old.total,
    )
    general = world.provider.payloads[str(new_id)]["generalInvoiceInfo"]
    assert general["adjustmentType"] == "3" and general["originalInvoiceId"] == "C26TAA00000001"
    with pytest.raises(InvalidStateError, match=f"already replaced by invoice {new_id}"):
        engine.replace_invoice(old.id, "again")
    with pytest.raises(InvalidStateError, match="is already invoiced"):
        engine.issue_invoice(order_id)


def test_an_invoice_with_a_money_adjustment_is_not_replaced_from_the_order(
    engine: Engine,
) -> None:
    connected(engine)
    order_id = place(engine, "1", TEE=2)
    original = engine.issue_invoice(order_id, COMPANY)
    line = {"sku": "TEE", "name": "Ao thun", "quantity": 1, "unit_price": 19_000, "vat_rate": "8"}
    engine.adjust_invoice(original.id, "loyalty discount", lines=[line])
    position = engine.position()
    with pytest.raises(InvalidStateError, match="cannot replace: its amounts were adjusted"):
        engine.replace_invoice(original.id, "wrong tax code", buyer=COMPANY)
    assert engine.position() == position
    renamed = engine.adjust_invoice(original.id, "wrong tax code", buyer=COMPANY)
    assert engine.invoice(renamed).adjustment == "information"


def test_money_and_information_adjustments_refer_to_the_original_which_stays_valid(
    engine: Engine,
) -> None:
    world = connected(engine)
    order_id = place(engine, "1", TEE=2)
    original = engine.issue_invoice(order_id, COMPANY)
    discount = engine.adjust_invoice(
        original.id,
        "loyalty discount",
        lines=[
            {"sku": "TEE", "name": "Ao thun", "quantity": 1, "unit_price": 19_000, "vat_rate": "8"}
        ],
    )
    renamed = engine.adjust_invoice(
        original.id, "company renamed", buyer={**COMPANY, "company": "Cong ty Binh An Moi"}
    )
    money, info = engine.invoice(discount), engine.invoice(renamed)
    assert (money.adjustment, money.total, money.adjusts) == (
        "money",
        Decimal(-19_000),
        str(original.id),
    )
    assert (info.adjustment, info.lines, info.buyer["company"]) == (
        "information",
        [],
        "Cong ty Binh An Moi",
    )
    assert engine.invoice(original.id).status == "issued"
    assert engine.invoice(original.id).adjusted_by == [str(discount), str(renamed)]
    assert (
        world.provider.payloads[str(discount)]["generalInvoiceInfo"]["adjustmentInvoiceType"] == "1"
    )
    with pytest.raises(InvalidInputError, match="lines: give either lines"):
        engine.adjust_invoice(original.id, "both", lines=[], buyer=None)


def test_a_cancelled_order_cannot_be_invoiced(engine: Engine) -> None:
    connected(engine)
    order_id = place(engine, "1", TEE=1)
    engine.cancel_order(order_id, "out of stock")
    with pytest.raises(
        InvalidStateError, match="order shopee/1: cannot invoice: the order is cancelled"
    ):
        engine.issue_invoice(order_id)
