"""Warehouses, products and suppliers on SQLite and PostgreSQL: scenarios, and bad input that
is refused with the field named and nothing written."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from orderflow import (
    DuplicateError,
    Engine,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    OrderflowError,
    VariantSpec,
    open_engine,
)


def set_up(engine: Engine) -> None:
    engine.register_warehouse("HN", "Kho Ha Noi", manager="Nguyen Thi Lan")
    engine.register_warehouse("HCM", "Kho Sai Gon", kind="secondary")
    engine.register_warehouse("DN", "Kho Da Nang", kind="branch")
    engine.deactivate_warehouse("DN", "closed for the rainy season")
    engine.register_product(
        "AOTHUN",
        "Ao thun",
        attributes={"Mau": ["Trang", "Den"], "Size": ["M", "L"]},
        cost_price=85_000,
        sale_price=199_000,
        vat_rate="8",
        initial_stock={"AOTHUN-TRANG-M": {"HN": 40, "HCM": 25}},
    )
    engine.register_supplier("DETMAY", "Det May Viet", tax_code="0100109106", lead_time_days=5)


# scenarios -------------------------------------------------------------------------------------
def test_warehouses_are_listed_in_registration_order_with_their_state(engine: Engine) -> None:
    set_up(engine)
    listed = [(w.code, w.kind, w.active) for w in engine.warehouses()]
    assert listed == [("HN", "main", True), ("HCM", "secondary", True), ("DN", "branch", False)]
    assert [w.code for w in engine.warehouses(include_inactive=False)] == ["HN", "HCM"]
    assert engine.warehouse("hn").manager == "Nguyen Thi Lan"


def test_a_warehouse_can_be_updated_and_reactivated(engine: Engine) -> None:
    set_up(engine)
    engine.update_warehouse("HN", manager="Le Thu Ha", phone="0243 826 1234")
    engine.reactivate_warehouse("DN")
    hn = engine.warehouse("HN")
    assert (hn.name, hn.manager, hn.phone) == ("Kho Ha Noi", "Le Thu Ha", "0243 826 1234")
    assert engine.warehouse("DN").active


def test_a_product_s_variants_prices_margins_and_initial_stock_are_stored(engine: Engine) -> None:
    set_up(engine)
    product = engine.product("aothun")
    assert [v.sku for v in product.variants] == [
        "AOTHUN-TRANG-M",
        "AOTHUN-TRANG-L",
        "AOTHUN-DEN-M",
        "AOTHUN-DEN-L",
    ]
    variant = engine.variant("AOTHUN-DEN-L")
    prices = (variant.sale_price, variant.net_price, variant.margin)
    assert prices == (Decimal(199000), Decimal(184259), Decimal(99259))
    assert engine.stock_level("AOTHUN-TRANG-M", "HCM").on_hand == 25


def test_products_with_explicit_variants_keep_each_variant_s_own_prices(engine: Engine) -> None:
    set_up(engine)
    engine.register_product(
        "BINHGOM",
        "Binh gom",
        attributes={"Kich thuoc": ["Nho", "Lon"]},
        variants=[
            VariantSpec("BINHGOM-NHO", {"Kich thuoc": "Nho"}, 120_000, 290_000, "10"),
            VariantSpec("BINHGOM-LON", {"Kich thuoc": "Lon"}, 260_000, 590_000, "KCT"),
        ],
    )
    lon = engine.variant("BINHGOM-LON")
    assert (lon.cost_price, lon.sale_price, lon.margin) == (
        Decimal(260000),
        Decimal(590000),
        Decimal(330000),  # KCT: the whole price is net of VAT
    )
    assert lon.vat_rate.value == "KCT"
    assert [p.base_sku for p in engine.products()] == ["AOTHUN", "BINHGOM"]


def test_a_price_change_and_a_discontinued_product_survive_a_reopen(store_url: str) -> None:
    first = open_engine(store_url)
    set_up(first)
    first.change_price("AOTHUN-DEN-L", sale_price="219,000", vat_rate="10")
    first.discontinue_product("AOTHUN", "end of season")
    first.close()
    reopened = open_engine(store_url, cache_size=0)
    variant = reopened.variant("AOTHUN-DEN-L")
    assert (variant.sale_price, variant.vat_rate.value, variant.active) == (
        Decimal(219000),
        "10",
        False,
    )
    assert reopened.product("AOTHUN").discontinued
    reopened.close()


def test_suppliers_are_registered_listed_and_updated(engine: Engine) -> None:
    set_up(engine)
    engine.register_supplier("GOMSU", "Gom Su Bat Trang", tax_code="0100109106-505")
    engine.update_supplier("DETMAY", contact="Pham Quoc Bao", lead_time_days=0)
    assert [(s.code, s.tax_code) for s in engine.suppliers()] == [
        ("DETMAY", "0100109106"),
        ("GOMSU", "0100109106-505"),
    ]
    detmay = engine.supplier("detmay")
    assert (detmay.contact, detmay.lead_time_days) == ("Pham Quoc Bao", 0)


def test_an_update_that_changes_nothing_writes_nothing(engine: Engine) -> None:
    set_up(engine)
    before = engine.position()
    engine.update_warehouse("HN", manager="Nguyen Thi Lan")
    engine.update_supplier("DETMAY", lead_time_days=5)
    engine.update_product("AOTHUN", name="Ao thun")
    assert engine.position() == before


# bad input: the field is named, nothing is written ---------------------------------------------
Case = tuple[Callable[[Engine], Any], type[OrderflowError], str]

BAD_INPUT: dict[str, Case] = {
    "duplicate warehouse code": (
        lambda e: e.register_warehouse("hn", "Another"),
        DuplicateError,
        r"^code: 'HN' already exists",
    ),
    "warehouse code with spaces": (
        lambda e: e.register_warehouse("H N", "Kho"),
        InvalidInputError,
        r"^code: 'H N' may hold only",
    ),
    "unknown warehouse kind": (
        lambda e: e.register_warehouse("HP", "Kho Hai Phong", kind="depot"),
        InvalidInputError,
        r"^kind: 'depot' is not one of main, secondary, branch",
    ),
    "warehouse without a name": (
        lambda e: e.register_warehouse("HP", " "),
        InvalidInputError,
        r"^name: must not be empty",
    ),
    "deactivating an inactive warehouse": (
        lambda e: e.deactivate_warehouse("DN"),
        InvalidStateError,
        r"^warehouse DN: is already inactive",
    ),
    "updating an unknown warehouse": (
        lambda e: e.update_warehouse("XX", name="X"),
        NotFoundError,
        r"^warehouse: no warehouse 'XX'",
    ),
    "fourth variant attribute": (
        lambda e: e.register_product(
            "QUAN",
            "Quan",
            attributes={"Mau": ["Do"], "Size": ["M"], "Dang": ["Dai"], "Chat lieu": ["Jean"]},
            sale_price=300_000,
        ),
        InvalidInputError,
        r"^attributes: at most 3 variant attributes, got 4",
    ),
    "duplicate base SKU": (
        lambda e: e.register_product("aothun", "Ao thun 2", sale_price=1),
        DuplicateError,
        r"^base_sku: 'AOTHUN' already exists",
    ),
    "variant SKU claimed by another product": (
        lambda e: e.register_product(
            "AO2",
            "Ao 2",
            attributes={"Size": ["M"]},
            variants=[VariantSpec("AOTHUN-DEN-L", {"Size": "M"}, 1, 2)],
        ),
        DuplicateError,
        r"^sku: 'AOTHUN-DEN-L' already exists",
    ),
    "unknown VAT rate": (
        lambda e: e.register_product("NON", "Non la", sale_price=50_000, vat_rate="12"),
        InvalidInputError,
        r"^vat_rate: unknown VAT rate '12' \(allowed: 0, 5, 8, 10, KCT, KKKNT\)",
    ),
    "negative cost price": (
        lambda e: e.register_product("NON", "Non la", cost_price=-1, sale_price=50_000),
        InvalidInputError,
        r"^cost_price: must be at least 0, got -1",
    ),
    "zero sale price": (
        lambda e: e.register_product("NON", "Non la", sale_price=0),
        InvalidInputError,
        r"^sale_price: must be more than 0",
    ),
    "missing sale price": (
        lambda e: e.register_product("NON", "Non la"),
        InvalidInputError,
        r"^sale_price: give a sale price",
    ),
    "initial stock in an unknown warehouse": (
        lambda e: e.register_product(
            "NON", "Non la", sale_price=1, initial_stock={"NON": {"XX": 1}}
        ),
        NotFoundError,
        r"^initial_stock.warehouse: no warehouse 'XX'",
    ),
    "initial stock in an inactive warehouse": (
        lambda e: e.register_product(
            "NON", "Non la", sale_price=1, initial_stock={"NON": {"DN": 1}}
        ),
        InvalidInputError,
        r"^initial_stock.warehouse: warehouse DN is inactive",
    ),
    "negative initial stock": (
        lambda e: e.register_product(
            "NON", "Non la", sale_price=1, initial_stock={"NON": {"HN": 5, "HCM": -2}}
        ),
        InvalidInputError,
        r"^initial_stock.NON.HCM: must be more than 0, got -2",
    ),
    "initial stock of another product's SKU": (
        lambda e: e.register_product(
            "NON", "Non la", sale_price=1, initial_stock={"AOTHUN-DEN-L": {"HN": 1}}
        ),
        NotFoundError,
        r"^initial_stock.sku: no variant of this product 'AOTHUN-DEN-L'",
    ),
    "initial stock given twice for one warehouse": (
        lambda e: e.register_product(
            "NON", "Non la", sale_price=1, initial_stock={"NON": {"HN": 1, "hn": 2}}
        ),
        InvalidInputError,
        r"^initial_stock: NON in HN given twice",
    ),
    "price change of an unknown SKU": (
        lambda e: e.change_price("NOPE", sale_price=1),
        NotFoundError,
        r"^sku: no SKU 'NOPE'",
    ),
    "price change to an unknown VAT rate": (
        lambda e: e.change_price("AOTHUN-DEN-L", vat_rate="9"),
        InvalidInputError,
        r"^vat_rate: unknown VAT rate '9'",
    ),
    "price change that changes nothing": (
        lambda e: e.change_price("AOTHUN-DEN-L", sale_price=199_000),
        InvalidInputError,
        r"^price: nothing to change",
    ),
    "discontinuing an unknown product": (
        lambda e: e.discontinue_product("NOPE"),
        NotFoundError,
        r"^base_sku: no product 'NOPE'",
    ),
    "malformed tax code": (
        lambda e: e.register_supplier("GOMSU", "Gom Su", tax_code="01001-09106"),
        InvalidInputError,
        r"^tax_code: '01001-09106' must be 10 digits, or 13 with a branch suffix",
    ),
    "tax code failing its check digit": (
        lambda e: e.register_supplier("GOMSU", "Gom Su", tax_code="0100109107"),
        InvalidInputError,
        r"^tax_code: '0100109107' fails the check digit",
    ),
    "duplicate supplier code": (
        lambda e: e.register_supplier("DETMAY", "Det May 2"),
        DuplicateError,
        r"^code: 'DETMAY' already exists",
    ),
    "negative lead time": (
        lambda e: e.register_supplier("GOMSU", "Gom Su", lead_time_days=-3),
        InvalidInputError,
        r"^lead_time_days: must be a whole number of at least 0",
    ),
    "supplier e-mail without a domain": (
        lambda e: e.update_supplier("DETMAY", email="bao@"),
        InvalidInputError,
        r"^email: 'bao@' is not an e-mail address",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_catalogue_input_names_the_field_and_writes_nothing(engine: Engine, case: str) -> None:
    command, error, message = BAD_INPUT[case]
    set_up(engine)
    before = engine.position()
    with pytest.raises(error, match=message):
        command(engine)
    assert engine.position() == before
