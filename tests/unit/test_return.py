"""Return: line checks, refunds, the corrected invoice, exchanges. Given / When / Then."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from orderflow.errors import InvalidInputError, InvalidStateError
from orderflow.returns import Return, return_lines
from tests.unit.gwt import given, then

LINES = [
    {
        "sku": "TS-RED",
        "name": "Tee",
        "quantity": 2,
        "condition": "resellable",
        "unit_price": Decimal(150_000),
        "warehouse": "HN",
    },
    {
        "sku": "TS-RED",
        "name": "Tee",
        "quantity": 1,
        "condition": "damaged",
        "unit_price": Decimal(150_000),
        "warehouse": "HN",
    },
]
T1 = "2026-01-05T03:00:00+00:00"


def a_return(*history: Callable[[Return], object]) -> Return:
    return given(Return.receive("o-1", "web/W1", LINES, "wrong size", T1), *history)


def test_a_received_return_records_its_lines_and_their_value() -> None:
    r = Return.receive("o-1", "web/W1", LINES, " wrong size ", T1)
    [(name, fields)] = then(r)
    assert name == "Received" and fields["reason"] == "wrong size" and fields["received_at"] == T1
    assert r.goods_value == Decimal(450_000) and r.returned("TS-RED") == 3


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([], "lines"),
        ([{"sku": "TS-RED", "quantity": 0}], "lines[0].quantity"),
        ([{"sku": "TS-RED", "quantity": 1, "condition": "lost"}], "lines[0].condition"),
        ([{"sku": "TS-RED", "quantity": 1, "colour": "red"}], "lines[0]"),
        ([{"sku": "TS-RED", "quantity": 1}, {"sku": "ts-red", "quantity": 2}], "lines"),
    ],
)
def test_bad_return_lines_are_refused_naming_the_field(
    lines: list[dict[str, Any]], field: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        return_lines(lines)
    assert refused.value.field == field


def test_a_line_without_condition_is_resellable() -> None:
    assert return_lines([{"sku": "ts-red", "quantity": 1}]) == [
        {"sku": "TS-RED", "quantity": 1, "condition": "resellable"}
    ]


def test_refunds_are_recorded_on_the_return() -> None:
    r = a_return()
    r.record_refund(Decimal(100_000), "CK-1", T1)
    assert then(r) == [("Refunded", {"amount": Decimal(100_000), "reference": "CK-1", "at": T1})]
    assert r.refunded == Decimal(100_000)


def test_an_exchanged_return_refuses_a_refund_and_a_refunded_one_refuses_an_exchange() -> None:
    exchanged = a_return(lambda r: r.record_exchange("o-2", Decimal(300_000)))
    with pytest.raises(InvalidStateError, match="exchange order o-2"):
        exchanged.record_refund(Decimal(1), "x")
    refunded = a_return(lambda r: r.record_refund(Decimal(1), "x"))
    with pytest.raises(InvalidStateError, match="already refunded"):
        refunded.record_exchange("o-2", Decimal(0))


def test_the_same_exchange_again_records_nothing_and_another_is_refused() -> None:
    r = a_return(lambda r: r.record_exchange("o-2", Decimal(300_000)))
    r.record_exchange("o-2", Decimal(300_000))
    assert then(r) == []
    with pytest.raises(InvalidStateError, match="already exchanged for order o-2"):
        r.record_exchange("o-3", Decimal(0))


def test_the_corrected_invoice_is_recorded_once() -> None:
    r = a_return(lambda r: r.record_invoice("inv-2"))
    r.record_invoice("inv-2")
    assert then(r) == []
    with pytest.raises(InvalidStateError, match="already corrected by invoice inv-2"):
        r.record_invoice("inv-3")
