"""The S-Invoice createInvoice body built from an invoice request (einvoice_payloads)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from orderflow.adapters.einvoice_payloads import SellerInfo, sinvoice_payload, tax_percentage

from orderflow.invoice import Invoice
from orderflow.ports import EInvoiceRequest, InvoiceBuyer, InvoiceLine, OriginalInvoice, TaxLine

SELLER = SellerInfo("Cong ty Demo", "0100233488", "Ha Noi", "0243", "a@b.vn")
ISSUED = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
BUYER = {"name": "Tran Thi B", "company": "Cong ty ABC", "tax_code": "0314409058", "address": "HCM"}


def request_of(invoice: Invoice, original: OriginalInvoice | None = None) -> EInvoiceRequest:
    fields = InvoiceLine.__dataclass_fields__
    return EInvoiceRequest(
        transaction_id="tx-1",
        order_reference=invoice.order_reference,
        kind=invoice.kind,
        purpose=invoice.purpose,
        adjustment=invoice.adjustment,
        buyer=InvoiceBuyer(**invoice.buyer),
        lines=tuple(InvoiceLine(**{k: line[k] for k in fields}) for line in invoice.lines),
        taxes=tuple(TaxLine(**tax) for tax in invoice.taxes),
        total_net=invoice.total_net,
        total_vat=invoice.total_vat,
        total=invoice.total,
        payment_method=invoice.payment_method,
        original=original,
        reason=invoice.reason,
    )


def item(sku: str, quantity: int, price: int, rate: str, sign: int = 1) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": sku,
        "quantity": quantity,
        "unit_price": Decimal(price),
        "vat_rate": rate,
        "gross": sign * quantity * Decimal(price),
    }


def invoice(kind: str = "vat", **more: Any) -> Invoice:
    items = more.pop("items", [item("TS", 2, 110_000, "10"), item("BOOK", 1, 105_000, "5")])
    return Invoice.request("o-1", "web/W1", kind, BUYER, items, "prepaid", at=ISSUED, **more)


def payload(inv: Invoice, original: OriginalInvoice | None = None) -> dict[str, Any]:
    return sinvoice_payload(request_of(inv, original), SELLER, "1/001", "C26TAA", ISSUED)


def test_an_original_vat_invoice_has_the_documented_general_info() -> None:
    general = payload(invoice())["generalInvoiceInfo"]
    assert general == {
        "transactionUuid": "tx-1",
        "invoiceType": "1",
        "templateCode": "1/001",
        "invoiceSeries": "C26TAA",
        "invoiceIssuedDate": 1_767_582_000_000,
        "currencyCode": "VND",
        "adjustmentType": "1",
        "paymentStatus": True,
        "cusGetInvoiceRight": True,
        "validation": 1,
    }


def test_buyer_lines_and_tax_breakdown_carry_the_invoice_amounts() -> None:
    body = payload(invoice())
    assert body["buyerInfo"]["buyerLegalName"] == "Cong ty ABC"
    assert body["buyerInfo"]["buyerTaxCode"] == "0314409058"
    assert body["sellerInfo"]["sellerTaxCode"] == "0100233488"
    first = body["itemInfo"][0]
    assert (
        first["quantity"],
        first["itemTotalAmountWithoutTax"],
        first["taxPercentage"],
        first["taxAmount"],
    ) == (2, 200_000, 10, 20_000)
    assert first["unitPrice"] == 100_000.0 and first["itemTotalAmountWithTax"] == 220_000
    assert body["taxBreakdowns"] == [
        {
            "taxPercentage": 5,
            "taxableAmount": 100_000,
            "taxAmount": 5_000,
            "taxableAmountPos": True,
            "taxAmountPos": True,
        },
        {
            "taxPercentage": 10,
            "taxableAmount": 200_000,
            "taxAmount": 20_000,
            "taxableAmountPos": True,
            "taxAmountPos": True,
        },
    ]
    assert body["summarizeInfo"]["totalAmountWithTax"] == 325_000
    assert body["payments"] == [{"paymentMethodName": "CK"}]


def test_non_taxable_categories_use_the_negative_codes() -> None:
    assert (tax_percentage("KCT"), tax_percentage("KKKNT"), tax_percentage("8")) == (-2, -1, 8)
    body = payload(invoice(items=[item("SVC", 1, 50_000, "KCT")]))
    assert (
        body["itemInfo"][0]["taxPercentage"] == -2
        and body["taxBreakdowns"][0]["taxPercentage"] == -2
    )


def test_a_replacement_refers_to_the_original_number_and_date() -> None:
    original = OriginalInvoice("00000007", "C26TAA", "1/001", datetime(2026, 1, 2, tzinfo=UTC))
    general = payload(
        invoice(purpose="replacement", refers_to="x", reason="wrong tax code"), original
    )["generalInvoiceInfo"]
    assert general["adjustmentType"] == "3"
    assert general["originalInvoiceId"] == "C26TAA00000007"
    assert general["originalInvoiceIssueDate"] == 1_767_312_000_000
    assert general["additionalReferenceDesc"] == "wrong tax code"
    assert "adjustmentInvoiceType" not in general


def test_a_money_adjustment_that_decreases_sends_positive_amounts_marked_as_decreases() -> None:
    original = OriginalInvoice("00000007", "C26TAA", "1/001", ISSUED)
    adjustment = invoice(
        purpose="adjustment",
        adjustment_kind="money",
        refers_to="x",
        reason="returned",
        items=[item("TS", 1, 110_000, "10", sign=-1)],
    )
    body = payload(adjustment, original)
    assert body["generalInvoiceInfo"]["adjustmentType"] == "5"
    assert body["generalInvoiceInfo"]["adjustmentInvoiceType"] == "1"
    line = body["itemInfo"][0]
    assert (line["isIncreaseItem"], line["itemTotalAmountWithoutTax"], line["taxAmount"]) == (
        False,
        100_000,
        10_000,
    )
    assert body["taxBreakdowns"][0]["taxableAmountPos"] is False
    assert body["summarizeInfo"]["isTotalAmountPos"] is False


def test_a_sales_invoice_is_type_2_without_vat() -> None:
    body = sinvoice_payload(request_of(invoice("sales")), SELLER, "2/001", "C26TBB", ISSUED)
    assert body["generalInvoiceInfo"]["invoiceType"] == "2"
    assert body["taxBreakdowns"] == [] and "taxPercentage" not in body["itemInfo"][0]
