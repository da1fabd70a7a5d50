"""Value checks: tax codes (MST), VAT rates, money, quantities, codes."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderflow import values
from orderflow.errors import InvalidInputError
from orderflow.values import VatRate


# tax codes (MST) -------------------------------------------------------------------------------
@pytest.mark.parametrize("valid", ["0100233488", "0314409058", "0100109106", "0100047516"])
def test_ten_digit_tax_codes_with_the_right_check_digit_are_accepted(valid: str) -> None:
    assert values.tax_code(valid) == valid


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("0100109106-505", "0100109106-505"),
        ("0100109106505", "0100109106-505"),
        (" 0100109106 - 505 ", "0100109106-505"),
    ],
)
def test_a_branch_tax_code_has_13_digits_and_is_stored_with_a_dash(
    written: str, stored: str
) -> None:
    assert values.tax_code(written) == stored


@pytest.mark.parametrize("wrong_digit", ["0100233487", "0314409059", "0100109100"])
def test_a_tax_code_with_the_wrong_check_digit_is_refused(wrong_digit: str) -> None:
    with pytest.raises(
        InvalidInputError, match=rf"^tax_code: '{wrong_digit}' fails the check digit"
    ):
        values.tax_code(wrong_digit)


def test_the_check_digit_of_the_worked_examples() -> None:
    assert values.mst_check_digit("010023348") == 8
    assert values.mst_check_digit("031440905") == 8
    assert values.mst_check_digit("010010910") == 6


def test_a_tax_code_whose_weighted_sum_leaves_no_remainder_has_no_valid_check_digit() -> None:
    # the first nine digits whose weighted sum is a multiple of 11: 10 - 0 is not a digit
    first_nine = next(
        f"{n:09d}"
        for n in range(10_000_000, 99_999_999)
        if values.mst_check_digit(f"{n:09d}") is None
    )
    assert values.mst_check_digit(first_nine) is None
    for last in "0123456789":
        with pytest.raises(InvalidInputError, match=r"fails the check digit"):
            values.tax_code(first_nine + last)


def test_province_code_00_is_refused() -> None:
    digit = values.mst_check_digit("001234567")
    with pytest.raises(InvalidInputError, match=r"no valid province code"):
        values.tax_code(f"001234567{digit}")


def test_branch_suffix_000_is_refused() -> None:
    with pytest.raises(
        InvalidInputError, match=r"^tax_code: '0100109106-000' has branch suffix 000"
    ):
        values.tax_code("0100109106-000")


@pytest.mark.parametrize(
    "malformed", ["010010910", "01001091066", "0100109106-50", "010010910A", "01001-09106", "MST"]
)
def test_a_tax_code_of_the_wrong_shape_is_refused(malformed: str) -> None:
    with pytest.raises(InvalidInputError, match=r"must be 10 digits, or 13 with a branch suffix"):
        values.tax_code(malformed)


def test_a_tax_code_error_names_the_field_it_was_given_for() -> None:
    with pytest.raises(InvalidInputError, match=r"^buyer.tax_code: "):
        values.tax_code("123", "buyer.tax_code")


# VAT rates -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "rate"),
    [
        ("10", VatRate.TEN),
        ("10%", VatRate.TEN),
        (10, VatRate.TEN),
        (" 8 ", VatRate.EIGHT),
        ("5", VatRate.FIVE),
        (0, VatRate.ZERO),
        ("kct", VatRate.KCT),
        ("KKKNT", VatRate.KKKNT),
        (VatRate.FIVE, VatRate.FIVE),
    ],
)
def test_vat_rates_parse_from_what_people_write(written: Any, rate: VatRate) -> None:
    assert VatRate.parse(written) is rate


@pytest.mark.parametrize("unknown", ["12", "7%", "ten", "", None, "8.5"])
def test_an_unknown_vat_rate_is_refused_naming_the_allowed_rates(unknown: Any) -> None:
    with pytest.raises(
        InvalidInputError, match=r"^vat_rate: unknown VAT rate .*0, 5, 8, 10, KCT, KKKNT"
    ):
        VatRate.parse(unknown)


def test_non_taxable_categories_count_as_zero_percent() -> None:
    assert VatRate.KCT.percent == VatRate.KKKNT.percent == VatRate.ZERO.percent == 0
    assert VatRate.EIGHT.percent == Decimal(8)


# money -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "amount"),
    [
        ("199000", 199000),
        (199000, 199000),
        ("1,250,000", 1250000),
        ("1_250_000", 1250000),
        (Decimal("85000.00"), 85000),
        ("0", 0),
    ],
)
def test_money_is_whole_dong(written: Any, amount: int) -> None:
    assert values.money(written, "price") == Decimal(amount)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("-1", "^price: must be at least 0, got -1"),
        ("12.5", "^price: VND has no minor unit"),
        ("abc", "^price: 'abc' is not an amount of money"),
        ("NaN", "is not an amount of money"),
        ("Infinity", "is not an amount of money"),
        (True, "is not an amount of money"),
        ("199.000", r"^price: '199.000' is ambiguous: write whole dong, e.g. 199000"),
        ("1.250.000", "is ambiguous"),
    ],
)
def test_money_that_is_not_a_whole_non_negative_amount_is_refused(
    written: Any, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        values.money(written, "price")


def test_money_can_be_required_to_be_more_than_zero() -> None:
    with pytest.raises(InvalidInputError, match=r"^sale_price: must be more than 0"):
        values.money(0, "sale_price", allow_zero=False)


def test_net_of_vat_rounds_half_up_to_whole_dong() -> None:
    assert values.net_of_vat(Decimal(199000), VatRate.EIGHT) == Decimal(184259)
    assert values.net_of_vat(Decimal(105), VatRate.FIVE) == Decimal(100)
    assert values.net_of_vat(Decimal(100), VatRate.KCT) == Decimal(100)
    assert values.round_vnd(Decimal("0.5")) == 1


def test_a_vat_breakdown_rounds_once_per_rate_and_adds_up_to_the_gross() -> None:
    lines = [(Decimal(199000), VatRate.EIGHT)] * 3 + [(Decimal(590000), VatRate.TEN)]
    breakdown = values.vat_breakdown(lines)
    assert breakdown[VatRate.EIGHT] == (Decimal(552778), Decimal(44222))
    assert sum(net + vat for net, vat in breakdown.values()) == 3 * 199000 + 590000


# quantities, counts, text, codes ---------------------------------------------------------------
@pytest.mark.parametrize("good", [1, "3", " 12 ", 10**6])
def test_a_quantity_is_a_whole_number_above_zero(good: Any) -> None:
    assert values.quantity(good) == int(str(good).strip())


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (0, "must be more than 0, got 0"),
        (-2, "must be more than 0, got -2"),
        ("1.5", "is not a whole number"),
        (2.5, "is not a whole number"),
        (True, "is not a whole number"),
        ("", "is not a whole number"),
    ],
)
def test_a_quantity_that_is_not_a_positive_whole_number_is_refused(bad: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=rf"^quantity: .*{message}"):
        values.quantity(bad)


def test_a_count_may_be_zero_but_not_negative() -> None:
    assert values.count(0) == values.count("0") == 0
    assert values.count("7") == 7
    for bad in (-1, "x", False):
        with pytest.raises(
            InvalidInputError, match=r"^counted: must be a whole number of at least 0"
        ):
            values.count(bad)


def test_codes_are_upper_cased_and_limited_to_safe_characters() -> None:
    assert values.code(" aothun-den.l_2 ", "sku") == "AOTHUN-DEN.L_2"
    for bad in ("", "a b", "-lead", "x" * 65, "ao/thun"):
        with pytest.raises(InvalidInputError, match=r"^sku: "):
            values.code(bad, "sku")


def test_text_is_trimmed_required_and_bounded() -> None:
    assert values.text("  Kho  ", "name") == "Kho"
    assert values.text(None, "note", required=False) == ""
    with pytest.raises(InvalidInputError, match=r"^name: must not be empty"):
        values.text("  ", "name")
    with pytest.raises(InvalidInputError, match=r"^name: must be at most 3 characters, got 4"):
        values.text("abcd", "name", max_length=3)


def test_phones_and_emails_are_checked_when_given() -> None:
    assert values.phone("+84 912 345 678") == "+84 912 345 678"
    assert values.phone("") == values.email("") == ""
    with pytest.raises(InvalidInputError, match=r"^phone: 'call me' is not a phone number"):
        values.phone("call me")
    with pytest.raises(InvalidInputError, match=r"^email: 'bao@' is not an e-mail address"):
        values.email("bao@")


@given(st.uuids(), st.text(max_size=80))
def test_name_based_ids_are_uuid5(namespace: uuid.UUID, name: str) -> None:
    assert values.name_based_id(namespace, name) == uuid.uuid5(namespace, name)


@pytest.mark.parametrize("amount", [Decimal("-1"), Decimal("0.5"), Decimal("NaN"), Decimal("-Inf")])
def test_decimal_amounts_are_checked_as_text_amounts_are(amount: Decimal) -> None:
    with pytest.raises(InvalidInputError):
        values.money(amount, "amount")
    assert values.money(Decimal("1.00"), "amount") == Decimal(1)
    with pytest.raises(InvalidInputError, match="more than 0"):
        values.money(Decimal(0), "amount", allow_zero=False)
