"""Engine commands and queries for warehouses, products and suppliers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from orderflow import values
from orderflow.engine_base import EngineBase, retry_on_conflict
from orderflow.errors import DuplicateError, InvalidInputError, NotFoundError
from orderflow.product import Product, Variant, VariantSpec, check_attributes, default_variants
from orderflow.sku import Sku
from orderflow.stock_item import ReceiptReason, StockItem
from orderflow.supplier import Supplier
from orderflow.warehouse import Warehouse

WAREHOUSE_KINDS = ("main", "secondary", "branch")


@dataclass(frozen=True)
class WarehouseInfo:
    """A warehouse as queries return it."""

    id: UUID
    code: str
    name: str
    address: str
    manager: str
    phone: str
    kind: str
    active: bool

    @classmethod
    def of(cls, w: Warehouse) -> WarehouseInfo:
        return cls(w.id, w.code, w.name, w.address, w.manager, w.phone, w.kind, w.active)


@dataclass(frozen=True)
class ProductInfo:
    """A product and its variants (with prices and margins) as queries return it."""

    id: UUID
    base_sku: str
    name: str
    category: str
    brand: str
    description: str
    specs: dict[str, str]
    media: list[str]
    attributes: dict[str, list[str]]
    variants: list[Variant]
    discontinued: bool

    @classmethod
    def of(cls, p: Product) -> ProductInfo:
        return cls(
            p.id,
            p.base_sku,
            p.name,
            p.category,
            p.brand,
            p.description,
            dict(p.specs),
            list(p.media),
            {k: list(v) for k, v in p.attributes.items()},
            [p.variant(sku) for sku in p.variants],
            p.discontinued,
        )


@dataclass(frozen=True)
class SupplierInfo:
    """A supplier as queries return it."""

    id: UUID
    code: str
    name: str
    contact: str
    phone: str
    email: str
    tax_code: str
    address: str
    lead_time_days: int

    @classmethod
    def of(cls, s: Supplier) -> SupplierInfo:
        return cls(
            s.id,
            s.code,
            s.name,
            s.contact,
            s.phone,
            s.email,
            s.tax_code,
            s.address,
            s.lead_time_days,
        )


def as_dict(info: Any) -> dict[str, Any]:
    """A query result as plain JSON-ready data (Decimal and UUID as strings)."""
    return cast(dict[str, Any], _jsonable(asdict(info)))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal | UUID):
        return str(value)
    return value


class CatalogueCommands(EngineBase):
    """Warehouses, products (with variant SKUs) and suppliers."""

    # warehouses ---------------------------------------------------------------------------
    @retry_on_conflict
    def register_warehouse(
        self,
        code: str,
        name: str,
        address: str = "",
        manager: str = "",
        phone: str = "",
        kind: str = "main",
    ) -> UUID:
        """Register a warehouse; its code must be new."""
        code = values.code(code, "code")
        kind = str(kind).strip().lower()
        if kind not in WAREHOUSE_KINDS:
            raise InvalidInputError("kind", f"{kind!r} is not one of {', '.join(WAREHOUSE_KINDS)}")
        warehouse_id = Warehouse.create_id(code)
        if self._exists(warehouse_id):
            raise DuplicateError("code", code)
        warehouse = Warehouse(
            code=code,
            name=values.text(name, "name"),
            address=_address(address),
            manager=values.text(manager, "manager", required=False),
            phone=values.phone(phone),
            kind=kind,
        )
        self._save(warehouse)
        return warehouse.id

    def warehouse(self, code: str) -> WarehouseInfo:
        """One warehouse by code."""
        return WarehouseInfo.of(self._warehouse(code))

    def warehouses(self, include_inactive: bool = True) -> list[WarehouseInfo]:
        """Every warehouse, in the order they were registered."""
        found = [
            WarehouseInfo.of(self._load(Warehouse, i, "warehouse", i))
            for i in self._ids_of(Warehouse.Registered)
        ]
        return [w for w in found if w.active or include_inactive]

    @retry_on_conflict
    def update_warehouse(
        self,
        code: str,
        name: str | None = None,
        address: str | None = None,
        manager: str | None = None,
        phone: str | None = None,
    ) -> None:
        """Change a warehouse's name, address, person in charge or phone."""
        w = self._warehouse(code)
        w.update(
            name=w.name if name is None else values.text(name, "name"),
            address=w.address if address is None else _address(address),
            manager=w.manager
            if manager is None
            else values.text(manager, "manager", required=False),
            phone=w.phone if phone is None else values.phone(phone),
        )
        self._save(w)

    @retry_on_conflict
    def deactivate_warehouse(self, code: str, reason: str = "") -> None:
        """Stop receiving into and reserving from a warehouse."""
        w = self._warehouse(code)
        w.deactivate(values.text(reason, "reason", required=False))
        self._save(w)

    @retry_on_conflict
    def reactivate_warehouse(self, code: str) -> None:
        """Use a deactivated warehouse again."""
        w = self._warehouse(code)
        w.reactivate()
        self._save(w)

    def _warehouse(self, code: str) -> Warehouse:
        code = values.code(code, "warehouse")
        return self._load(Warehouse, Warehouse.create_id(code), "warehouse", code, "warehouse")

    # products -----------------------------------------------------------------------------
    @retry_on_conflict
    def register_product(
        self,
        base_sku: str,
        name: str,
        *,
        category: str = "",
        brand: str = "",
        description: str = "",
        specs: Mapping[str, str] | None = None,
        media: Sequence[str] = (),
        attributes: Mapping[str, Sequence[str]] | None = None,
        variants: Sequence[VariantSpec] | None = None,
        cost_price: object = 0,
        sale_price: object = None,
        vat_rate: object = "10",
        initial_stock: Mapping[str, Mapping[str, int]] | None = None,
    ) -> UUID:
        """Register a product and its variant SKUs, optionally with initial stock per warehouse.

        Without `variants`, every combination of `attributes` becomes a variant priced at
        `cost_price` / `sale_price` / `vat_rate`. `initial_stock` maps SKU -> {warehouse: qty}.
        """
        base = values.code(base_sku, "base_sku")
        attrs = {str(k): list(v) for k, v in (attributes or {}).items()}
        if variants is None:
            if sale_price is None:
                raise InvalidInputError("sale_price", "give a sale price, or list the variants")
            variants = default_variants(
                base,
                check_attributes(attrs),
                values.money(cost_price, "cost_price"),
                values.money(sale_price, "sale_price", allow_zero=False),
                values.VatRate.parse(vat_rate).value,
            )
        product = Product.register(
            base,
            name,
            category,
            brand,
            description,
            dict(specs or {}),
            list(media),
            attrs,
            variants,
        )
        if self._exists(product.id):
            raise DuplicateError("base_sku", base)
        claims = [Sku(sku=sku, product_id=product.id, base_sku=base) for sku in product.variants]
        for claim in claims:
            if self._exists(claim.id):
                raise DuplicateError("sku", claim.sku)
        stock = self._initial_stock(product, initial_stock or {})
        self._save(product, *claims, *stock)
        return product.id

    def _initial_stock(
        self, product: Product, initial: Mapping[str, Mapping[str, int]]
    ) -> list[StockItem]:
        """New stock items holding the initial stock, one per SKU and warehouse."""
        items: dict[UUID, StockItem] = {}
        for sku, per_warehouse in initial.items():
            sku = values.code(sku, "initial_stock.sku")
            if sku not in product.variants:
                raise NotFoundError("initial_stock.sku", sku, "variant of this product")
            for code, qty in per_warehouse.items():
                quantity = values.quantity(qty, f"initial_stock.{sku}.{code}")
                warehouse = self._active_warehouse(code, "initial_stock.warehouse")
                item_id = StockItem.create_id(sku, warehouse.code)
                if item_id in items:
                    raise InvalidInputError(
                        "initial_stock", f"{sku} in {warehouse.code} given twice"
                    )
                items[item_id] = StockItem(sku=sku, warehouse=warehouse.code)
                items[item_id].receive(quantity, ReceiptReason.INITIAL)
        return list(items.values())

    def product(self, base_sku: str) -> ProductInfo:
        """One product by its base SKU."""
        return ProductInfo.of(self._product(base_sku))

    def products(self) -> list[ProductInfo]:
        """Every product, in the order they were registered."""
        return [
            ProductInfo.of(self._load(Product, i, "product", i))
            for i in self._ids_of(Product.Registered)
        ]

    def variant(self, sku: str) -> Variant:
        """One variant (SKU) with its prices, VAT rate and margin."""
        return self._product_of_sku(sku).variant(values.code(sku, "sku"))

    @retry_on_conflict
    def change_price(
        self,
        sku: str,
        *,
        cost_price: object = None,
        sale_price: object = None,
        vat_rate: object = None,
    ) -> None:
        """Change a variant's cost price, sale price or VAT rate."""
        product = self._product_of_sku(sku)
        product.change_price(values.code(sku, "sku"), cost_price, sale_price, vat_rate)
        self._save(product)

    @retry_on_conflict
    def update_product(
        self,
        base_sku: str,
        *,
        name: str | None = None,
        category: str | None = None,
        brand: str | None = None,
        description: str | None = None,
        specs: Mapping[str, str] | None = None,
        media: Sequence[str] | None = None,
    ) -> None:
        """Change a product's descriptive fields."""
        p = self._product(base_sku)
        p.update_details(
            name=p.name if name is None else name,
            category=p.category if category is None else category,
            brand=p.brand if brand is None else brand,
            description=p.description if description is None else description,
            specs=p.specs if specs is None else specs,
            media=p.media if media is None else list(media),
        )
        self._save(p)

    @retry_on_conflict
    def discontinue_product(self, base_sku: str, reason: str = "") -> None:
        """Stop selling a product."""
        p = self._product(base_sku)
        p.discontinue(reason)
        self._save(p)

    def _product(self, base_sku: str) -> Product:
        base = values.code(base_sku, "base_sku")
        return self._load(Product, Product.create_id(base), "base_sku", base, "product")

    def _product_of_sku(self, sku: str) -> Product:
        code = values.code(sku, "sku")
        claim = self._load(Sku, Sku.create_id(code), "sku", code, "SKU")
        return self._load(Product, claim.product_id, "sku", code, "SKU")

    def _require_sku(self, sku: str) -> str:
        """The SKU, checked to belong to a product (cheaper than loading the product)."""
        code = values.code(sku, "sku")
        if not self._exists(Sku.create_id(code)):
            raise NotFoundError("sku", code, "SKU")
        return code

    def _active_warehouse(self, code: str, field: str = "warehouse") -> Warehouse:
        code = values.code(code, field)
        warehouse = self._load(Warehouse, Warehouse.create_id(code), field, code, "warehouse")
        if not warehouse.active:
            raise InvalidInputError(field, f"warehouse {code} is inactive")
        return warehouse

    # suppliers ----------------------------------------------------------------------------
    @retry_on_conflict
    def register_supplier(
        self,
        code: str,
        name: str,
        *,
        contact: str = "",
        phone: str = "",
        email: str = "",
        tax_code: str = "",
        address: str = "",
        lead_time_days: int = 7,
    ) -> UUID:
        """Register a supplier; a tax code, when given, must pass the MST check digit."""
        code = values.code(code, "code")
        if self._exists(Supplier.create_id(code)):
            raise DuplicateError("code", code)
        supplier = Supplier(
            code=code,
            name=values.text(name, "name"),
            contact=values.text(contact, "contact", required=False),
            phone=values.phone(phone),
            email=values.email(email),
            tax_code=values.tax_code(tax_code) if str(tax_code).strip() else "",
            address=_address(address),
            lead_time_days=values.count(lead_time_days, "lead_time_days"),
        )
        self._save(supplier)
        return supplier.id

    def supplier(self, code: str) -> SupplierInfo:
        """One supplier by code."""
        return SupplierInfo.of(self._supplier(code))

    def suppliers(self) -> list[SupplierInfo]:
        """Every supplier, in the order they were registered."""
        return [
            SupplierInfo.of(self._load(Supplier, i, "supplier", i))
            for i in self._ids_of(Supplier.Registered)
        ]

    @retry_on_conflict
    def update_supplier(
        self,
        code: str,
        *,
        contact: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        address: str | None = None,
        lead_time_days: int | None = None,
    ) -> None:
        """Change a supplier's contact details or lead time."""
        s = self._supplier(code)
        s.update(
            contact=s.contact
            if contact is None
            else values.text(contact, "contact", required=False),
            phone=s.phone if phone is None else values.phone(phone),
            email=s.email if email is None else values.email(email),
            address=s.address if address is None else _address(address),
            lead_time_days=(
                s.lead_time_days
                if lead_time_days is None
                else values.count(lead_time_days, "lead_time_days")
            ),
        )
        self._save(s)

    def _supplier(self, code: str) -> Supplier:
        code = values.code(code, "supplier")
        return self._load(Supplier, Supplier.create_id(code), "supplier", code, "supplier")


def _address(value: object) -> str:
    return values.text(value, "address", max_length=500, required=False)
