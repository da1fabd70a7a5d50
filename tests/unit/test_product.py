"""Product: variants from attribute combinations, prices, margins, discontinuing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from orderflow.errors import InvalidInputError, InvalidStateError, NotFoundError
from orderflow.product import Product, Variant, VariantSpec, default_variants, variant_sku
from orderflow.values import VatRate
from tests.unit.gwt import given, state, then


def register(**overrides: Any) -> Product:
    attributes = overrides.pop("attributes", {"Mau": ["Trang", "Den"], "Size": ["M", "L"]})
    fields: dict[str, Any] = {
        "base_sku": "aothun",
        "name": "Ao thun",
        "category": "Thoi trang",
        "brand": "VietCotton",
        "description": "100% cotton",
        "specs": {"material": "cotton"},
        "media": ["https://example.invalid/a.jpg"],
        "attributes": attributes,
        "variants": default_variants("AOTHUN", attributes, "85000", "199000", "8"),
    }
    fields.update(overrides)
    return Product.register(**fields)


def product(*history: Any) -> Product:
    return given(register(), *history)


# registering -----------------------------------------------------------------------------------
def test_every_combination_of_the_attribute_values_becomes_a_variant_sku() -> None:
    p = register()
    [(name, fields)] = then(p)
    assert name == "Registered"
    assert [v["sku"] for v in fields["variants"]] == [
        "AOTHUN-TRANG-M",
        "AOTHUN-TRANG-L",
        "AOTHUN-DEN-M",
        "AOTHUN-DEN-L",
    ]
    assert fields["variants"][1]["options"] == {"Mau": "Trang", "Size": "L"}
    assert fields["base_sku"] == "AOTHUN"
    assert fields["attributes"] == {"Mau": ["Trang", "Den"], "Size": ["M", "L"]}


def test_a_product_without_attributes_has_one_variant_with_the_base_sku() -> None:
    p = register(attributes={}, variants=default_variants("GAO", {}, 140000, 210000, "5"))
    assert list(p.variants) == ["GAO"]


def test_variant_skus_drop_spaces_and_accents_from_the_option_values() -> None:
    assert variant_sku("BINH", ["Nho xinh", "Xanh-lam"]) == "BINH-NHOXINH-XANHLAM"


def test_a_fourth_variant_attribute_is_refused() -> None:
    four = {"Mau": ["Do"], "Size": ["M"], "Chat lieu": ["Cotton"], "Kieu": ["Co tron"]}
    with pytest.raises(
        InvalidInputError, match=r"^attributes: at most 3 variant attributes, got 4"
    ):
        register(attributes=four, variants=default_variants("AOTHUN", four, 1, 2, "10"))


def test_three_variant_attributes_are_allowed() -> None:
    three = {"Mau": ["Do", "Xanh"], "Size": ["M", "L"], "Kieu": ["Tron", "Tim"]}
    p = register(attributes=three, variants=default_variants("AOTHUN", three, 1, 2, "10"))
    assert len(p.variants) == 8


def test_two_variants_with_the_same_sku_are_refused() -> None:
    attrs = {"Size": ["M", "L"]}
    twins = [
        VariantSpec("AOTHUN-X", {"Size": "M"}, 1, 2),
        VariantSpec("aothun-x", {"Size": "L"}, 1, 2),
    ]
    with pytest.raises(InvalidInputError, match=r"^variants.sku: variant SKUs must be distinct"):
        register(attributes=attrs, variants=twins)


def test_two_variants_with_the_same_options_are_refused() -> None:
    attrs = {"Size": ["M", "L"]}
    twins = [VariantSpec("A-1", {"Size": "M"}, 1, 2), VariantSpec("A-2", {"Size": "M"}, 1, 2)]
    with pytest.raises(InvalidInputError, match=r"^variants.options: two variants have the same"):
        register(attributes=attrs, variants=twins)


def test_a_variant_must_give_a_value_for_every_attribute() -> None:
    attrs = {"Size": ["M"], "Mau": ["Do"]}
    with pytest.raises(InvalidInputError, match=r"^variants\[A-1\].options: must give exactly"):
        register(attributes=attrs, variants=[VariantSpec("A-1", {"Size": "M"}, 1, 2)])


def test_a_variant_option_value_must_be_one_of_the_attribute_values() -> None:
    attrs = {"Size": ["M", "L"]}
    with pytest.raises(InvalidInputError, match=r"^variants\[A-1\].options.Size: 'XL' is not"):
        register(attributes=attrs, variants=[VariantSpec("A-1", {"Size": "XL"}, 1, 2)])


def test_repeated_attribute_values_are_refused() -> None:
    attrs = {"Size": ["M", "M"]}
    with pytest.raises(InvalidInputError, match=r"^attributes.Size: values must be distinct"):
        register(attributes=attrs, variants=[])


def test_a_product_needs_a_variant() -> None:
    with pytest.raises(InvalidInputError, match=r"^variants: a product needs at least one"):
        register(attributes={}, variants=[])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (VariantSpec("A-1", {}, -1, 2), r"^variants\[A-1\].cost_price: must be at least 0"),
        (VariantSpec("A-1", {}, 1, 0), r"^variants\[A-1\].sale_price: must be more than 0"),
        (VariantSpec("A-1", {}, 1, "12.5"), r"^variants\[A-1\].sale_price: VND has no minor"),
        (VariantSpec("A-1", {}, 1, 2, "12"), r"^variants\[A-1\].vat_rate: unknown VAT rate '12'"),
        (VariantSpec("A 1", {}, 1, 2), r"^variants.sku: 'A 1' may hold only"),
    ],
)
def test_a_variant_with_a_bad_price_rate_or_sku_is_refused(spec: VariantSpec, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        register(attributes={}, variants=[spec])


def test_a_product_needs_a_name() -> None:
    with pytest.raises(InvalidInputError, match=r"^name: must not be empty"):
        register(name=" ")


# prices and margins ----------------------------------------------------------------------------
def test_the_margin_is_the_sale_price_net_of_vat_minus_the_cost() -> None:
    variant = product().variant("AOTHUN-DEN-L")
    # 199,000 incl. 8 % VAT is 184,259 net (half-up); minus the 85,000 cost.
    assert variant.net_price == Decimal(184259)
    assert variant.margin == Decimal(99259)
    assert variant.margin_percent == Decimal("53.9")


def test_a_non_taxable_variant_keeps_its_whole_price_as_net() -> None:
    variant = Variant("X", {}, Decimal(70), Decimal(100), VatRate.KCT)
    assert (variant.net_price, variant.margin) == (Decimal(100), Decimal(30))
    assert variant.margin_percent == Decimal("30.0")


def test_a_variant_sold_below_cost_has_a_negative_margin() -> None:
    variant = Variant("X", {}, Decimal(120), Decimal(110), VatRate.TEN)
    assert variant.margin == Decimal(-20)


def test_changing_a_price_records_the_variant_s_new_prices() -> None:
    p = product()
    p.change_price("AOTHUN-DEN-L", sale_price="219000")
    assert then(p) == [
        (
            "PriceChanged",
            {
                "sku": "AOTHUN-DEN-L",
                "cost_price": Decimal(85000),
                "sale_price": Decimal(219000),
                "vat_rate": "8",
            },
        )
    ]
    assert p.variant("AOTHUN-DEN-L").sale_price == 219000
    assert p.variant("AOTHUN-DEN-M").sale_price == 199000


def test_changing_the_vat_rate_changes_the_margin() -> None:
    p = product()
    p.change_price("AOTHUN-DEN-L", vat_rate="10%")
    assert p.variant("AOTHUN-DEN-L").net_price == Decimal(180909)


def test_a_price_change_that_changes_nothing_is_refused() -> None:
    p = product()
    with pytest.raises(InvalidInputError, match=r"^price: nothing to change"):
        p.change_price("AOTHUN-DEN-L", sale_price=199000)
    assert then(p) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cost_price": -5}, "^cost_price: must be at least 0"),
        ({"sale_price": 0}, "^sale_price: must be more than 0"),
        ({"vat_rate": "7"}, "^vat_rate: unknown VAT rate '7'"),
    ],
)
def test_a_bad_new_price_is_refused(change: dict[str, Any], message: str) -> None:
    p = product()
    before = state(p)
    with pytest.raises(InvalidInputError, match=message):
        p.change_price("AOTHUN-DEN-L", **change)
    assert then(p) == [] and state(p) == before


def test_changing_the_price_of_an_unknown_variant_is_refused() -> None:
    with pytest.raises(NotFoundError, match=r"^sku: no variant 'NOPE'"):
        product().change_price("NOPE", sale_price=1)


# details and discontinuing ---------------------------------------------------------------------
def test_updating_the_details_records_the_new_ones() -> None:
    p = product()
    p.update_details("Ao thun co tron", "Thoi trang", "VietCotton", "", {"origin": "VN"}, [])
    [(name, fields)] = then(p)
    assert name == "DetailsUpdated"
    assert fields["name"] == "Ao thun co tron" and fields["specs"] == {"origin": "VN"}


def test_updating_the_details_to_the_same_values_records_nothing() -> None:
    p = product()
    p.update_details(p.name, p.category, p.brand, p.description, p.specs, p.media)
    assert then(p) == []


def test_discontinuing_stops_every_variant_from_being_active() -> None:
    p = product()
    p.discontinue("end of season")
    assert then(p) == [("Discontinued", {"reason": "end of season"})]
    assert not any(p.variant(sku).active for sku in p.variants)


def test_a_discontinued_product_cannot_be_discontinued_again_or_repriced() -> None:
    p = product(lambda p: p.discontinue(""))
    with pytest.raises(InvalidStateError, match=r"is already discontinued"):
        p.discontinue("again")
    with pytest.raises(InvalidStateError, match=r"is discontinued"):
        p.change_price("AOTHUN-DEN-L", sale_price=1)
    assert then(p) == []


def test_the_product_id_follows_from_the_base_sku() -> None:
    assert register().id == Product.create_id("AOTHUN")
