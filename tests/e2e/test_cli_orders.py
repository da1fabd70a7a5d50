"""`orderflow order` and `orderflow purchase` as a seller runs them on one SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.cli_harness import Cli

BUYER = ["--name", "Nguyen Thi Lan", "--phone", "0912 345 678", "--street", "12 Ly Thuong Kiet",
         "--ward", "Phuong Cua Nam", "--province", "Ha Noi"]  # fmt: skip


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    c = Cli(tmp_path / "shop.db")
    c.ok("warehouse", "add", "HN", "Kho Ha Noi")
    c.ok("supplier", "add", "GOMSU", "Gom Su Bat Trang")
    c.ok(
        "product",
        "add",
        "TEE",
        "Ao thun",
        "--cost",
        "80000",
        "--price",
        "199000",
        "--vat",
        "8",
        "--stock",
        "TEE@HN=3",
    )
    c.ok(
        "product",
        "add",
        "MUG",
        "Coc su",
        "--cost",
        "40000",
        "--price",
        "99000",
        "--stock",
        "MUG@HN=10",
    )
    return c


def test_an_order_is_placed_shown_edited_paid_and_listed(cli: Cli) -> None:
    out = cli.ok(
        "order",
        "place",
        "shopee",
        "1001",
        "--line",
        "TEE=2",
        "--line",
        "MUG=1@90000",
        *BUYER,
        "--shipping-fee",
        "30000",
    )
    assert "order shopee/1001 new / reserved: total 518,000 VND" in out
    shown = cli.json("order", "show", "shopee/1001")
    assert [(line["sku"], line["reserved"]) for line in shown["lines"]] == [
        ("TEE", {"HN": 2}),
        ("MUG", {"HN": 1}),
    ]
    assert "Transactions" not in cli.ok("order", "show", "shopee/1001")
    cli.ok("order", "edit", "shopee/1001", "--set", "MUG=0", "--phone", "0987 654 321")
    shown = cli.json("order", "show", shown["id"])
    assert ([line["sku"] for line in shown["lines"]], shown["buyer"]["phone"]) == (
        ["TEE"],
        "0987 654 321",
    )
    assert "paid 100,000 of 428,000 VND" in cli.ok(
        "order", "pay", "shopee/1001", "100000", "--reference", "BANK-1"
    )
    assert [o["reference"] for o in cli.json("order", "list")] == ["shopee/1001"]


def test_placing_the_same_channel_order_again_changes_nothing(cli: Cli) -> None:
    cli.ok("order", "place", "lazada", "L-1", "--line", "TEE=1", *BUYER)
    again = cli.json("order", "place", "lazada", "L-1", "--line", "MUG=5", *BUYER)
    assert [line["sku"] for line in again["lines"]] == ["TEE"]


def test_a_full_order_is_placed_from_a_json_file(cli: Cli, tmp_path: Path) -> None:
    order = {
        "channel": "web", "external_id": "W-7", "payment_method": "prepaid", "paid": 199000,
        "payment_reference": "VNPAY-1",
        "buyer": {"name": "Pham Quoc Bao", "phone": "0243 826 1234", "email": "bao@example.vn"},
        "address": {
            "street": "5 Le Loi", "ward": "Phuong Sai Gon", "ward_code": "26734",
            "province": "TP. Ho Chi Minh", "province_code": "79",
        },
        "lines": [{"sku": "TEE", "quantity": 1}],
    }  # fmt: skip
    (tmp_path / "order.json").write_text(json.dumps(order), encoding="utf-8")
    placed = cli.json("order", "place", "--from-file", str(tmp_path / "order.json"))
    assert (placed["reference"], placed["paid"], placed["address"]["district"]) == (
        "web/W-7",
        "199000",
        "",
    )


def test_a_shortage_becomes_a_purchase_order_whose_receipt_fills_the_order(cli: Cli) -> None:
    cli.ok("order", "place", "tiktok", "T-1", "--line", "TEE=5", *BUYER)
    assert cli.json("purchase", "shortages")[0]["to_buy"] == 2
    cli.ok("purchase", "source", "TEE", "GOMSU", "--unit-cost", "75000")
    proposal = cli.json("purchase", "propose")
    number = proposal["purchase_orders"][0]["number"]
    cli.ok("purchase", "confirm", number)
    out = cli.ok("purchase", "receive", number, "PN-1")
    assert "reserved" in out and "tiktok/T-1" in out
    assert cli.json("order", "show", "tiktok/T-1")["fulfilment"] == "reserved"
    assert cli.json("purchase", "show", number)["status"] == "received"
    assert "already recorded; nothing changed" in cli.ok("purchase", "receive", number, "PN-1")


def test_cancelling_releases_the_stock(cli: Cli) -> None:
    cli.ok("order", "place", "phone", "P-1", "--line", "TEE=3", *BUYER)
    cli.ok("order", "cancel", "phone/P-1", "--reason", "wrong colour")
    assert cli.json("stock", "show", "TEE")[0]["available"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["order", "place", "web", "1", "--line", "TEE=2"], "buyer.name: must not be empty"),
        (
            ["order", "place", "web", "1", "--line", "TEE=two", *BUYER],
            "--line TEE: 'two' is not a whole number",
        ),
        (["order", "place", "web", "1", "--line", "NOPE=1", *BUYER], "lines[0].sku: no SKU 'NOPE'"),
        (
            ["order", "place", "amazon", "1", "--line", "TEE=1", *BUYER],
            "channel: 'amazon' is not one of",
        ),
        (
            ["order", "place", "--from-file", "missing.json"],
            "--from-file: cannot read missing.json",
        ),
        (["order", "show", "web/404"], "order: no order 'web/404'"),
        (["order", "edit", "web/404", "--set", "TEE=1"], "order: no order 'web/404'"),
        (["purchase", "confirm", "PO-00000000"], "purchase_order: no purchase order 'PO-00000000'"),
    ],
)
def test_bad_input_is_one_error_line_and_writes_nothing(
    cli: Cli, args: list[str], message: str
) -> None:
    assert message in cli.fails(*args)
    assert cli.json("order", "list") == []


def test_refused_commands_name_the_order_and_the_reason(cli: Cli) -> None:
    cli.ok("order", "place", "facebook", "F-1", "--line", "TEE=1", *BUYER)
    assert "order facebook/F-1: cannot refund 10 VND: only 0 VND was paid" in cli.fails(
        "order", "refund", "facebook/F-1", "10"
    )
    cli.ok("order", "cancel", "facebook/F-1", "--reason", "spam")
    assert "order facebook/F-1: cannot change the lines: the order is cancelled" in cli.fails(
        "order", "edit", "facebook/F-1", "--set", "TEE=2"
    )
