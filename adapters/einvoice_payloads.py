"""The JSON body Viettel S-Invoice's `createInvoice` expects, built from an EInvoiceRequest.

A pure function, so a real S-Invoice client can send exactly this and tests can check it. Shape
and codes as documented in reference/channels-carriers-einvoice.md section 2.3 (Odoo's
l10n_vn_edi_viettel): one endpoint for originals (adjustmentType 1), replacements (3) and
adjustments (5, with adjustmentInvoiceType 1 = money, 2 = information); taxPercentage -2 for
KCT and -1 for KKKNT; dates in milliseconds since the epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from orderflow.ports import EInvoiceRequest, InvoiceLine, TaxLine

INVOICE_TYPE: Final = {"vat": "1", "sales": "2"}
ADJUSTMENT_TYPE: Final = {"original": "1", "replacement": "3", "adjustment": "5"}
ADJUSTMENT_INVOICE_TYPE: Final = {"money": "1", "information": "2"}
TAX_PERCENTAGE: Final = {"KCT": -2, "KKKNT": -1}
PAYMENT_METHOD_NAME: Final = {"prepaid": "CK", "cod": "TM/CK"}  # TM cash, CK transfer


@dataclass(frozen=True)
class SellerInfo:
    """The seller as registered with the provider."""

    legal_name: str
    tax_code: str
    address: str
    phone: str = ""
    email: str = ""
    bank_name: str = ""
    bank_account: str = ""


def milliseconds(moment: datetime) -> int:
    """S-Invoice dates: milliseconds since the epoch."""
    return int(moment.timestamp()) * 1000


def tax_percentage(vat_rate: str) -> int:
    """10 -> 10; KCT -> -2 (not subject to VAT); KKKNT -> -1 (not declared)."""
    return TAX_PERCENTAGE.get(vat_rate, 0) if not vat_rate.isdigit() else int(vat_rate)


def sinvoice_payload(
    request: EInvoiceRequest,
    seller: SellerInfo,
    template_code: str,
    series: str,
    issued_at: datetime,
) -> dict[str, Any]:
    """The createInvoice body for an original, replacement or adjustment invoice."""
    payload: dict[str, Any] = {
        "generalInvoiceInfo": _general(request, template_code, series, issued_at),
        "buyerInfo": _buyer(request),
        "sellerInfo": _seller(seller),
        "payments": [
            {"paymentMethodName": PAYMENT_METHOD_NAME.get(request.payment_method, "TM/CK")}
        ],
        "itemInfo": [_item(i, line, request) for i, line in enumerate(request.lines, start=1)],
        "taxBreakdowns": [_tax(tax) for tax in request.taxes] if request.kind == "vat" else [],
        "summarizeInfo": _summary(request),
    }
    return payload


def _general(
    request: EInvoiceRequest, template_code: str, series: str, issued_at: datetime
) -> dict[str, Any]:
    info: dict[str, Any] = {
        "transactionUuid": request.transaction_id,
        "invoiceType": INVOICE_TYPE[request.kind],
        "templateCode": template_code,
        "invoiceSeries": series,
        "invoiceIssuedDate": milliseconds(issued_at),
        "currencyCode": "VND",
        "adjustmentType": ADJUSTMENT_TYPE[request.purpose],
        "paymentStatus": request.payment_method == "prepaid",
        "cusGetInvoiceRight": True,
        "validation": 1,
    }
    if request.original is not None:
        original = request.original
        info |= {
            "originalInvoiceId": f"{original.series}{original.number}",
            "originalInvoiceIssueDate": milliseconds(original.issued_at),
            "originalTemplateCode": original.template_code,
            "additionalReferenceDesc": request.reason[:255],
            "additionalReferenceDate": milliseconds(issued_at),
            "adjustedNote": request.reason[:255],
        }
    if request.purpose == "adjustment":
        info["adjustmentInvoiceType"] = ADJUSTMENT_INVOICE_TYPE[request.adjustment]
    return info


def _buyer(request: EInvoiceRequest) -> dict[str, Any]:
    buyer = request.buyer
    return {
        "buyerName": buyer.name,
        "buyerLegalName": buyer.company,
        "buyerTaxCode": buyer.tax_code,
        "buyerAddressLine": buyer.address,
        "buyerPhoneNumber": buyer.phone,
        "buyerEmail": buyer.email,
        "buyerCountryCode": "VN",
        "buyerNotGetInvoice": 0,
    }


def _seller(seller: SellerInfo) -> dict[str, Any]:
    return {
        "sellerLegalName": seller.legal_name,
        "sellerTaxCode": seller.tax_code,
        "sellerAddressLine": seller.address,
        "sellerPhoneNumber": seller.phone,
        "sellerEmail": seller.email,
        "sellerCountryCode": "VN",
        "sellerBankName": seller.bank_name,
        "sellerBankAccount": seller.bank_account,
    }


def _item(number: int, line: InvoiceLine, request: EInvoiceRequest) -> dict[str, Any]:
    """A goods line; in an adjustment a decrease is sent as positive amounts with
    isIncreaseItem false."""
    net, vat, gross = abs(line.net), abs(line.vat), abs(line.gross)
    unit_net = (net / line.quantity).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    item: dict[str, Any] = {
        "lineNumber": number,
        "selection": 1,
        "itemCode": line.sku,
        "itemName": line.name,
        "unitName": "Cái",
        "unitPrice": float(unit_net),
        "quantity": line.quantity,
        "itemTotalAmountWithoutTax": int(net),
        "discount": 0,
        "itemTotalAmountAfterDiscount": int(net),
        "itemTotalAmountWithTax": int(gross),
    }
    if request.kind == "vat":
        item |= {"taxPercentage": tax_percentage(line.vat_rate), "taxAmount": int(vat)}
    if request.purpose == "adjustment":
        item["isIncreaseItem"] = line.gross >= 0
    return item


def _tax(tax: TaxLine) -> dict[str, Any]:
    return {
        "taxPercentage": tax_percentage(tax.vat_rate),
        "taxableAmount": int(abs(tax.net)),
        "taxAmount": int(abs(tax.vat)),
        "taxableAmountPos": tax.net >= 0,
        "taxAmountPos": tax.vat >= 0,
    }


def _summary(request: EInvoiceRequest) -> dict[str, Any]:
    return {
        "sumOfTotalLineAmountWithoutTax": int(abs(request.total_net)),
        "totalAmountWithoutTax": int(abs(request.total_net)),
        "totalTaxAmount": int(abs(request.total_vat)),
        "totalAmountWithTax": int(abs(request.total)),
        "discountAmount": 0,
        "isTotalAmountPos": request.total >= 0,
        "isTotalTaxAmountPos": request.total_vat >= 0,
        "isTotalAmtWithoutTaxPos": request.total_net >= 0,
        "isDiscountAmtPos": True,
    }
