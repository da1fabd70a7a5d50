"""`orderflow shipment / invoice / return` as a seller runs them on one SQLite file:
record a booking made at the carrier, follow its updates, invoice, take goods back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli_harness import Cli


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    cli = Cli(tmp_path / "shop.db")
    cli.ok("warehouse", "add", "HN", "Kho Ha Noi")
    cli.ok(
        "product",
        "add",
        "TEE",
        "Ao thun",
        "--price",
        "199000",
        "--vat",
        "8",
        "--stock",
        "TEE@HN=10",
    )
    cli.ok(
        "order", "place", "shopee", "1001", "--line", "TEE=2", "--name", "Tran Thi B",
        "--phone", "0903123456", "--street", "1 Le Loi", "--ward", "Ben Nghe",
        "--province", "TP. Ho Chi Minh", "--shipping-fee", "30000",
    )  # fmt: skip
    return cli


def test_a_parcel_booked_at_the_carrier_is_followed_to_delivery_and_its_cod_remitted(
    cli: Cli,
) -> None:
    assert "COD 428000" in cli.ok(
        "shipment", "create", "shopee/1001", "--carrier", "ghn", "--weight", "0.8"
    )
    [shipment] = cli.json("shipment", "list", "shopee/1001")
    cli.ok("shipment", "booked", shipment["id"], "GHN123", "--fee", "32000")
    update = ("shipment", "update", "GHN123", "--carrier", "ghn")
    assert "applied; now picked_up" in cli.ok(
        *update[:3], "picked", *update[3:], "--at", "2026-01-06T09:00:00+07:00"
    )
    assert "applied; now delivered" in cli.ok(
        *update[:3], "delivered", *update[3:], "--at", "2026-01-07T09:00:00+07:00"
    )
    assert "duplicate" in cli.ok(
        *update[:3], "delivered", *update[3:], "--at", "2026-01-07T09:00:00+07:00"
    )
    assert "noted; now delivered" in cli.ok(
        *update[:3], "sorting", *update[3:], "--at", "2026-01-06T12:00:00+07:00"
    )
    cli.ok("shipment", "remit", "GHN123", "CK-0108", "--carrier", "ghn")
    shown = cli.json("shipment", "show", "GHN123", "--carrier", "ghn")
    assert (shown["status"], shown["cod_collected"], shown["cod_remitted"]) == (
        "delivered",
        "428000",
        "428000",
    )
    assert cli.json("order", "show", "shopee/1001")["status"] == "completed"


def test_an_invoice_is_requested_recorded_as_issued_and_corrected_after_a_return(cli: Cli) -> None:
    cli.ok("shipment", "create", "shopee/1001", "--carrier", "viettelpost", "--weight", "1")
    [shipment] = cli.json("shipment", "list", "shopee/1001")
    cli.ok("shipment", "booked", shipment["id"], "VTP9", "--fee", "25000")
    cli.ok("shipment", "update", "VTP9", "501", "--carrier", "viettelpost")
    company = ("--company", "Cong ty ABC", "--tax-code", "0314409058", "--address", "TP. HCM")
    cli.ok("invoice", "request", "shopee/1001", *company)
    [invoice] = cli.json("invoice", "list", "shopee/1001")
    cli.ok(
        "invoice", "issued", invoice["id"], "00000012", "C26TAA", "--authority-code", "M1-26-ABC"
    )
    cli.ok(
        "return", "receive", "shopee/1001", "TEE=1:damaged", "--reason", "torn", "--refund", "goods"
    )
    [ret] = cli.json("return", "list", "shopee/1001")
    assert "requested" in cli.ok("return", "fix-invoice", ret["id"])
    original, replacement = cli.json("invoice", "list", "shopee/1001")
    assert (original["status"], replacement["purpose"], replacement["total"]) == (
        "replaced",
        "replacement",
        "229000",
    )
    stock = cli.json("stock", "show", "TEE")
    assert (stock[0]["on_hand"], stock[0]["reserved"]) == (
        8,
        0,
    )  # 2 shipped, 1 back and written off


def test_refused_commands_print_one_line_naming_the_reason(cli: Cli) -> None:
    assert "no order 'shopee/9'" in cli.fails(
        "shipment", "create", "shopee/9", "--carrier", "ghn", "--weight", "1"
    )
    assert "carrier" in cli.fails(
        "shipment", "create", "shopee/1001", "--carrier", "dhl", "--weight", "1"
    )
    assert "--dims" in cli.fails(
        "shipment", "create", "shopee/1001", "--carrier", "ghn", "--weight", "1", "--dims", "30x20"
    )
    assert "add --carrier" in cli.fails("shipment", "update", "GHN123", "delivered")
    assert "buyer.tax_code" in cli.fails(
        "invoice",
        "request",
        "shopee/1001",
        "--company",
        "X",
        "--tax-code",
        "0314409059",
        "--address",
        "A",
    )
    assert "cannot return 1 of TEE: 0 shipped" in cli.fails(
        "return", "receive", "shopee/1001", "TEE=1"
    )
