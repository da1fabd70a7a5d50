"""Product: a catalogue entry whose variants are the SKUs that are stocked and sold."""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, DomainEvent, event

from orderflow import values
from orderflow.errors import InvalidInputError, InvalidStateError, NotFoundError
from orderflow.values import named_id

MAX_ATTRIBUTES = 3


@dataclass(frozen=True)
class VariantSpec:
    """One variant as given to `register_product`: its SKU, attribute values and prices."""

    sku: str
    options: Mapping[str, str]
    cost_price: Decimal | int | str
    sale_price: Decimal | int | str
    vat_rate: values.VatRate | str | int = values.VatRate.TEN


@dataclass(frozen=True)
class Variant:
    """A sellable SKU of a product. Sale price includes VAT; margin is net of VAT minus cost."""

    sku: str
    options: dict[str, str]
    cost_price: Decimal
    sale_price: Decimal
    vat_rate: values.VatRate
    active: bool = True
    net_price: Decimal = field(init=False)
    margin: Decimal = field(init=False)
    margin_percent: Decimal = field(init=False)

    def __post_init__(self) -> None:
        net = values.net_of_vat(self.sale_price, self.vat_rate)
        margin = net - self.cost_price
        percent = (margin * 100 / net).quantize(Decimal("0.1")) if net else Decimal(0)
        object.__setattr__(self, "net_price", net)
        object.__setattr__(self, "margin", margin)
        object.__setattr__(self, "margin_percent", percent)


def variant_sku(base_sku: str, option_values: Sequence[str]) -> str:
    """The default SKU of a variant: the base SKU and each option value, joined by '-'."""
    parts = [re.sub(r"[^A-Za-z0-9]+", "", v).upper() or "X" for v in option_values]
    return "-".join([base_sku, *parts])


def check_attributes(attributes: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Up to three attributes, each with distinct, non-empty values."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidInputError(
            "attributes", f"at most {MAX_ATTRIBUTES} variant attributes, got {len(attributes)}"
        )
    checked: dict[str, list[str]] = {}
    for name, options in attributes.items():
        label = values.text(name, "attributes", max_length=40)
        cleaned = [values.text(v, f"attributes.{label}", max_length=60) for v in options]
        if not cleaned:
            raise InvalidInputError(f"attributes.{label}", "needs at least one value")
        if len(set(cleaned)) != len(cleaned):
            raise InvalidInputError(f"attributes.{label}", "values must be distinct")
        checked[label] = cleaned
    return checked


def check_variant(spec: VariantSpec, attributes: Mapping[str, list[str]]) -> dict[str, Any]:
    """A variant's SKU, options and prices, checked against the product's attributes."""
    sku = values.code(spec.sku, "variants.sku")
    options = {str(k): str(v) for k, v in spec.options.items()}
    if set(options) != set(attributes):
        raise InvalidInputError(
            f"variants[{sku}].options", f"must give exactly the attributes {sorted(attributes)}"
        )
    for name, value in options.items():
        if value not in attributes[name]:
            raise InvalidInputError(
                f"variants[{sku}].options.{name}", f"{value!r} is not a listed value"
            )
    return {
        "sku": sku,
        "options": options,
        "cost_price": values.money(spec.cost_price, f"variants[{sku}].cost_price"),
        "sale_price": values.money(
            spec.sale_price, f"variants[{sku}].sale_price", allow_zero=False
        ),
        "vat_rate": values.VatRate.parse(spec.vat_rate, f"variants[{sku}].vat_rate").value,
        "active": True,
    }


def check_details(
    name: object,
    category: object,
    brand: object,
    description: object,
    specs: Mapping[str, str],
    media: Sequence[str],
) -> dict[str, Any]:
    """A product's descriptive fields, trimmed and checked."""
    return {
        "name": values.text(name, "name"),
        "category": values.text(category, "category", required=False),
        "brand": values.text(brand, "brand", required=False),
        "description": values.text(description, "description", max_length=5000, required=False),
        "specs": {
            values.text(k, "specs", max_length=60): values.text(v, f"specs.{k}")
            for k, v in specs.items()
        },
        "media": [values.text(m, "media", max_length=1000) for m in media],
    }


def default_variants(
    base_sku: str,
    attributes: Mapping[str, list[str]],
    cost_price: object,
    sale_price: object,
    vat_rate: object,
) -> list[VariantSpec]:
    """Every combination of the attribute values, all at the same prices."""
    names = list(attributes)
    combos = itertools.product(*(attributes[n] for n in names)) if names else [()]
    return [
        VariantSpec(
            sku=variant_sku(base_sku, combo) if names else base_sku,
            options=dict(zip(names, combo, strict=True)),
            cost_price=str(cost_price),
            sale_price=str(sale_price),
            vat_rate=str(vat_rate),
        )
        for combo in combos
    ]


class Product(Aggregate):
    """A product with up to three variant attributes; each combination is a variant SKU."""

    Registered: ClassVar[type[DomainEvent]]

    @staticmethod
    def create_id(base_sku: str) -> UUID:
        return named_id(f"orderflow:product:{base_sku}")

    @classmethod
    def register(
        cls,
        base_sku: str,
        name: str,
        category: str,
        brand: str,
        description: str,
        specs: Mapping[str, str],
        media: Sequence[str],
        attributes: Mapping[str, list[str]],
        variants: Sequence[VariantSpec],
    ) -> Product:
        """Check a new product and record it."""
        checked_attributes = check_attributes(attributes)
        checked = [check_variant(spec, checked_attributes) for spec in variants]
        if not checked:
            raise InvalidInputError("variants", "a product needs at least one variant")
        skus = [v["sku"] for v in checked]
        if len(set(skus)) != len(skus):
            raise InvalidInputError("variants.sku", "variant SKUs must be distinct")
        combos = [tuple(sorted(v["options"].items())) for v in checked]
        if len(set(combos)) != len(combos):
            raise InvalidInputError(
                "variants.options", "two variants have the same attribute values"
            )
        return cls(
            base_sku=values.code(base_sku, "base_sku"),
            **check_details(name, category, brand, description, specs, media),
            attributes=checked_attributes,
            variants=checked,
        )

    @event("Registered")
    def __init__(
        self,
        base_sku: str,
        name: str,
        category: str,
        brand: str,
        description: str,
        specs: dict[str, str],
        media: list[str],
        attributes: dict[str, list[str]],
        variants: list[dict[str, Any]],
    ) -> None:
        self.base_sku = base_sku
        self.name = name
        self.category = category
        self.brand = brand
        self.description = description
        self.specs = dict(specs)
        self.media = list(media)
        self.attributes = {k: list(v) for k, v in attributes.items()}
        self.variants: dict[str, dict[str, Any]] = {v["sku"]: dict(v) for v in variants}
        self.discontinued = False

    def variant(self, sku: str) -> Variant:
        """The variant with this SKU."""
        v = self._variant_record(sku)
        return Variant(
            sku=sku,
            options=dict(v["options"]),
            cost_price=Decimal(v["cost_price"]),
            sale_price=Decimal(v["sale_price"]),
            vat_rate=values.VatRate(v["vat_rate"]),
            active=bool(v["active"]) and not self.discontinued,
        )

    def sale_terms(self, sku: str) -> tuple[str, Decimal, str, bool]:
        """What an order line takes from the catalogue: (line name, VAT-inclusive sale price,
        VAT rate, still sold) — variant() without building the margins (placing an order
        needs only these)."""
        v = self._variant_record(sku)
        options = ", ".join(v["options"].values())
        name = f"{self.name} ({options})" if options else self.name
        active = bool(v["active"]) and not self.discontinued
        return name, Decimal(v["sale_price"]), v["vat_rate"], active

    def _variant_record(self, sku: str) -> dict[str, Any]:
        try:
            return self.variants[sku]
        except KeyError:
            raise NotFoundError("sku", sku, "variant") from None

    def change_price(
        self,
        sku: str,
        cost_price: object = None,
        sale_price: object = None,
        vat_rate: object = None,
    ) -> None:
        """Change a variant's cost price, sale price or VAT rate (None keeps the current one)."""
        current = self.variant(sku)
        if self.discontinued:
            raise InvalidStateError(f"product {self.base_sku}", "is discontinued")
        new_cost = (
            current.cost_price if cost_price is None else values.money(cost_price, "cost_price")
        )
        new_sale = (
            current.sale_price
            if sale_price is None
            else values.money(sale_price, "sale_price", allow_zero=False)
        )
        new_rate = current.vat_rate if vat_rate is None else values.VatRate.parse(vat_rate)
        if (new_cost, new_sale, new_rate) == (
            current.cost_price,
            current.sale_price,
            current.vat_rate,
        ):
            raise InvalidInputError("price", "nothing to change")
        self._price_changed(
            sku=sku, cost_price=new_cost, sale_price=new_sale, vat_rate=new_rate.value
        )

    @event("PriceChanged")
    def _price_changed(
        self, sku: str, cost_price: Decimal, sale_price: Decimal, vat_rate: str
    ) -> None:
        self.variants[sku].update(cost_price=cost_price, sale_price=sale_price, vat_rate=vat_rate)

    def update_details(
        self,
        name: str,
        category: str,
        brand: str,
        description: str,
        specs: Mapping[str, str],
        media: Sequence[str],
    ) -> None:
        """Change the descriptive fields (nothing is recorded when nothing changes)."""
        details = check_details(name, category, brand, description, specs, media)
        current = {
            "name": self.name,
            "category": self.category,
            "brand": self.brand,
            "description": self.description,
            "specs": self.specs,
            "media": self.media,
        }
        if details != current:
            self._details_updated(**details)

    @event("DetailsUpdated")
    def _details_updated(
        self,
        name: str,
        category: str,
        brand: str,
        description: str,
        specs: dict[str, str],
        media: list[str],
    ) -> None:
        self.name, self.category, self.brand = name, category, brand
        self.description, self.specs, self.media = description, dict(specs), list(media)

    def discontinue(self, reason: str) -> None:
        """Stop selling the product; its stock can still be shipped and counted."""
        if self.discontinued:
            raise InvalidStateError(f"product {self.base_sku}", "is already discontinued")
        self._discontinued(reason=values.text(reason, "reason", required=False))

    @event("Discontinued")
    def _discontinued(self, reason: str) -> None:
        self.discontinued = True
