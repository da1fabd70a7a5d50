"""CLI: warehouses, products and suppliers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from orderflow.adapters.cli.context import engine
from orderflow.adapters.cli.output import print_fields, print_json, print_table, reports_errors

from orderflow import values
from orderflow.catalogue import ProductInfo, SupplierInfo, WarehouseInfo
from orderflow.errors import InvalidInputError
from orderflow.product import VariantSpec
from orderflow.values import VatRate

warehouse_app = typer.Typer(help="Warehouses: register, list, deactivate.", no_args_is_help=True)
product_app = typer.Typer(
    help="Products and their variant SKUs: register, prices, discontinue.", no_args_is_help=True
)
supplier_app = typer.Typer(help="Suppliers: register, list, update.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def pairs(items: list[str] | None, option: str) -> dict[str, str]:
    """'key=value' options as a dict, or an error naming the option."""
    result = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(option, f"{item!r} is not KEY=VALUE")
        result[key.strip()] = value.strip()
    return result


# warehouses ---------------------------------------------------------------------------------
@warehouse_app.command("add")
@reports_errors
def warehouse_add(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Short code, e.g. HN")],
    name: Annotated[str, typer.Argument(help="Display name")],
    address: Annotated[str, typer.Option(help="Street address")] = "",
    manager: Annotated[str, typer.Option(help="Person in charge")] = "",
    phone: Annotated[str, typer.Option(help="Contact phone")] = "",
    kind: Annotated[str, typer.Option(help="main, secondary or branch")] = "main",
) -> None:
    """Register a warehouse."""
    engine(ctx).register_warehouse(code, name, address, manager, phone, kind)
    typer.echo(f"warehouse {code.upper()} registered")


@warehouse_app.command("list")
@reports_errors
def warehouse_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List warehouses."""
    found = engine(ctx).warehouses()
    if as_json:
        return print_json(found)
    rows = [
        (w.code, w.name, w.kind, w.manager, w.address, "yes" if w.active else "no") for w in found
    ]
    print_table("Warehouses", ["code", "name", "kind", "in charge", "address", "active"], rows)


@warehouse_app.command("show")
@reports_errors
def warehouse_show(ctx: typer.Context, code: str, as_json: JsonFlag = False) -> None:
    """Show one warehouse."""
    w: WarehouseInfo = engine(ctx).warehouse(code)
    if as_json:
        return print_json(w)
    print_fields(f"Warehouse {w.code}", [(k, v) for k, v in vars(w).items() if k != "id"])


@warehouse_app.command("update")
@reports_errors
def warehouse_update(
    ctx: typer.Context,
    code: str,
    name: Annotated[str | None, typer.Option()] = None,
    address: Annotated[str | None, typer.Option()] = None,
    manager: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Change a warehouse's details."""
    engine(ctx).update_warehouse(code, name, address, manager, phone)
    typer.echo(f"warehouse {code.upper()} updated")


@warehouse_app.command("deactivate")
@reports_errors
def warehouse_deactivate(ctx: typer.Context, code: str, reason: str = "") -> None:
    """Stop receiving into and reserving from a warehouse."""
    engine(ctx).deactivate_warehouse(code, reason)
    typer.echo(f"warehouse {code.upper()} deactivated")


@warehouse_app.command("reactivate")
@reports_errors
def warehouse_reactivate(ctx: typer.Context, code: str) -> None:
    """Use a deactivated warehouse again."""
    engine(ctx).reactivate_warehouse(code)
    typer.echo(f"warehouse {code.upper()} reactivated")


# products -----------------------------------------------------------------------------------
@product_app.command("add")
@reports_errors
def product_add(
    ctx: typer.Context,
    base_sku: Annotated[str, typer.Argument(help="Base SKU; variant SKUs derive from it")],
    name: Annotated[str, typer.Argument(help="Product name")],
    category: Annotated[str, typer.Option()] = "",
    brand: Annotated[str, typer.Option()] = "",
    description: Annotated[str, typer.Option()] = "",
    spec: Annotated[
        list[str] | None, typer.Option(help="Specification KEY=VALUE (repeatable)")
    ] = None,
    media: Annotated[
        list[str] | None, typer.Option(help="Image or video link (repeatable)")
    ] = None,
    attribute: Annotated[
        list[str] | None, typer.Option(help="Variant attribute NAME=V1,V2 (up to 3)")
    ] = None,
    cost: Annotated[str, typer.Option(help="Cost price per unit, VND")] = "0",
    price: Annotated[str | None, typer.Option(help="Sale price incl. VAT, VND")] = None,
    vat: Annotated[str, typer.Option(help="VAT rate: 0, 5, 8, 10, KCT or KKKNT")] = "10",
    stock: Annotated[
        list[str] | None, typer.Option(help="Initial stock SKU@WAREHOUSE=QTY (repeatable)")
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            help="JSON file with 'variants': [{sku, options, cost_price, sale_price, vat_rate}]"
        ),
    ] = None,
) -> None:
    """Register a product; every combination of its attributes becomes a variant SKU."""
    attributes = {
        k: [v.strip() for v in vals.split(",") if v.strip()]
        for k, vals in pairs(attribute, "--attribute").items()
    }
    variants = _variants_from_file(from_file) if from_file else None
    initial: dict[str, dict[str, int]] = {}
    for key, qty in pairs(stock, "--stock").items():
        sku, sep, warehouse = key.partition("@")
        if not sep:
            raise InvalidInputError("--stock", f"{key!r} is not SKU@WAREHOUSE=QTY")
        initial.setdefault(sku, {})[warehouse] = values.quantity(qty, f"--stock {key}")
    if variants is None and price is None:
        raise InvalidInputError("--price", "give the sale price incl. VAT (or --from-file)")
    prices = _prices(cost, price, vat) if variants is None else {}
    engine(ctx).register_product(
        base_sku,
        name,
        category=category,
        brand=brand,
        description=description,
        specs=pairs(spec, "--spec"),
        media=media or [],
        attributes=attributes,
        variants=variants,
        initial_stock=initial,
        **prices,
    )
    product = engine(ctx).product(base_sku)
    typer.echo(
        f"product {product.base_sku} registered with {len(product.variants)} variant(s): "
        + ", ".join(v.sku for v in product.variants)
    )


def _variants_from_file(path: Path) -> list[VariantSpec]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InvalidInputError("from_file", f"cannot read {path}: {error}") from None
    rows = data.get("variants") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise InvalidInputError("from_file", "needs a 'variants' list")
    try:
        return [
            VariantSpec(
                r["sku"],
                r.get("options", {}),
                r["cost_price"],
                r["sale_price"],
                r.get("vat_rate", "10"),
            )
            for r in rows
        ]
    except (KeyError, TypeError, AttributeError) as error:
        raise InvalidInputError(
            "from_file", f"each variant needs sku, cost_price, sale_price ({error})"
        ) from None


def _prices(cost: str | None, price: str | None, vat: str | None) -> dict[str, Any]:
    """The price options checked under their own names (--cost, not cost_price)."""
    prices: dict[str, Any] = {}
    if cost is not None:
        prices["cost_price"] = values.money(cost, "--cost")
    if price is not None:
        prices["sale_price"] = values.money(price, "--price", allow_zero=False)
    if vat is not None:
        prices["vat_rate"] = VatRate.parse(vat, "--vat")
    return prices


@product_app.command("list")
@reports_errors
def product_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List products with their variants, prices and margins."""
    found = engine(ctx).products()
    if as_json:
        return print_json(found)
    rows = [
        (
            p.base_sku,
            v.sku,
            p.name,
            ", ".join(v.options.values()),
            v.cost_price,
            v.sale_price,
            f"{v.vat_rate.value}{'%' if v.vat_rate.value.isdigit() else ''}",
            v.margin,
            f"{v.margin_percent}%",
            "discontinued" if p.discontinued else "active",
        )
        for p in found
        for v in p.variants
    ]
    print_table(
        "Products",
        [
            "product",
            "sku",
            "name",
            "options",
            "cost",
            "price",
            "VAT",
            "margin",
            "margin %",
            "status",
        ],
        rows,
    )


@product_app.command("show")
@reports_errors
def product_show(ctx: typer.Context, base_sku: str, as_json: JsonFlag = False) -> None:
    """Show one product and its variants."""
    p: ProductInfo = engine(ctx).product(base_sku)
    if as_json:
        return print_json(p)
    print_fields(
        f"Product {p.base_sku}",
        [
            ("name", p.name),
            ("category", p.category),
            ("brand", p.brand),
            ("description", p.description),
            ("specs", ", ".join(f"{k}: {v}" for k, v in p.specs.items())),
            ("media", " ".join(p.media)),
            ("attributes", "; ".join(f"{k}: {', '.join(v)}" for k, v in p.attributes.items())),
            ("status", "discontinued" if p.discontinued else "active"),
        ],
    )
    rows = [
        (
            v.sku,
            ", ".join(v.options.values()),
            v.cost_price,
            v.sale_price,
            v.vat_rate.value,
            v.net_price,
            v.margin,
            f"{v.margin_percent}%",
        )
        for v in p.variants
    ]
    print_table(
        "Variants",
        ["sku", "options", "cost", "price", "VAT", "net of VAT", "margin", "margin %"],
        rows,
    )


@product_app.command("price")
@reports_errors
def product_price(
    ctx: typer.Context,
    sku: Annotated[str, typer.Argument(help="Variant SKU")],
    cost: Annotated[str | None, typer.Option(help="New cost price")] = None,
    price: Annotated[str | None, typer.Option(help="New sale price incl. VAT")] = None,
    vat: Annotated[str | None, typer.Option(help="New VAT rate")] = None,
) -> None:
    """Change a variant's cost price, sale price or VAT rate."""
    engine(ctx).change_price(sku, **_prices(cost, price, vat))
    v = engine(ctx).variant(sku)
    prices = f"cost {v.cost_price}, price {v.sale_price}, VAT {v.vat_rate.value}"
    typer.echo(f"{v.sku}: {prices}, margin {v.margin} ({v.margin_percent}%)")


@product_app.command("discontinue")
@reports_errors
def product_discontinue(ctx: typer.Context, base_sku: str, reason: str = "") -> None:
    """Stop selling a product."""
    engine(ctx).discontinue_product(base_sku, reason)
    typer.echo(f"product {base_sku.upper()} discontinued")


# suppliers ----------------------------------------------------------------------------------
@supplier_app.command("add")
@reports_errors
def supplier_add(
    ctx: typer.Context,
    code: str,
    name: str,
    contact: Annotated[str, typer.Option(help="Contact person")] = "",
    phone: str = "",
    email: str = "",
    tax_code: Annotated[str, typer.Option(help="MST: 10 digits or 13 with branch suffix")] = "",
    address: str = "",
    lead_time: Annotated[int, typer.Option(help="Lead time in days")] = 7,
) -> None:
    """Register a supplier."""
    engine(ctx).register_supplier(
        code,
        name,
        contact=contact,
        phone=phone,
        email=email,
        tax_code=tax_code,
        address=address,
        lead_time_days=values.count(lead_time, "--lead-time"),
    )
    typer.echo(f"supplier {code.upper()} registered")


@supplier_app.command("list")
@reports_errors
def supplier_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List suppliers."""
    found = engine(ctx).suppliers()
    if as_json:
        return print_json(found)
    rows = [(s.code, s.name, s.contact, s.phone, s.tax_code, s.lead_time_days) for s in found]
    print_table(
        "Suppliers", ["code", "name", "contact", "phone", "tax code", "lead time (days)"], rows
    )


@supplier_app.command("show")
@reports_errors
def supplier_show(ctx: typer.Context, code: str, as_json: JsonFlag = False) -> None:
    """Show one supplier."""
    s: SupplierInfo = engine(ctx).supplier(code)
    if as_json:
        return print_json(s)
    print_fields(f"Supplier {s.code}", [(k, v) for k, v in vars(s).items() if k != "id"])


@supplier_app.command("update")
@reports_errors
def supplier_update(
    ctx: typer.Context,
    code: str,
    contact: Annotated[str | None, typer.Option()] = None,
    phone: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    address: Annotated[str | None, typer.Option()] = None,
    lead_time: Annotated[int | None, typer.Option(help="Lead time in days")] = None,
) -> None:
    """Change a supplier's contact details or lead time."""
    days = None if lead_time is None else values.count(lead_time, "--lead-time")
    engine(ctx).update_supplier(
        code, contact=contact, phone=phone, email=email, address=address, lead_time_days=days
    )
    typer.echo(f"supplier {code.upper()} updated")
