"""The demo scenario: a Vietnamese seller's catalogue, warehouses and stock, step by step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from orderflow.engine import Engine
from orderflow.product import Variant, VariantSpec

Say = Callable[[str], None]


@dataclass
class DemoReport:
    """What the demo did, for the summary."""

    steps: list[str] = field(default_factory=list)
    warehouses: int = 0
    products: int = 0
    skus: int = 0
    suppliers: int = 0
    units_on_hand: int = 0


def set_up_catalogue(engine: Engine, say: Say) -> DemoReport:
    """Warehouses, suppliers, products with variants, initial stock, a receipt and a count."""
    report = DemoReport()
    for code, name, kind, address, manager in (
        ("HN", "Kho Ha Noi", "main", "12 Pham Van Dong, Cau Giay, Ha Noi", "Nguyen Thi Lan"),
        (
            "HCM",
            "Kho Sai Gon",
            "secondary",
            "88 Nguyen Thi Thap, Quan 7, TP. Ho Chi Minh",
            "Tran Van Minh",
        ),
        ("DN", "Kho Da Nang", "branch", "5 Nguyen Van Linh, Hai Chau, Da Nang", "Le Thu Ha"),
    ):
        engine.register_warehouse(code, name, address=address, manager=manager, kind=kind)
        say(f"warehouse {code} ({kind}) - {name}, in charge: {manager}")
    report.warehouses = 3

    engine.register_supplier(
        "DETMAY",
        "Cong ty Det May Viet",
        contact="Pham Quoc Bao",
        phone="0243 826 1234",
        tax_code="0100109106",
        lead_time_days=5,
        address="Ha Noi",
    )
    engine.register_supplier(
        "GOMSU",
        "Gom Su Bat Trang",
        contact="Vu Thi Mai",
        phone="0912 345 678",
        tax_code="0314409058",
        lead_time_days=10,
    )
    say("suppliers DETMAY (MST 0100109106, 5 days) and GOMSU (MST 0314409058, 10 days)")
    report.suppliers = 2

    engine.register_product(
        "AOTHUN",
        "Ao thun cotton",
        category="Thoi trang",
        brand="VietCotton",
        description="Ao thun 100% cotton",
        specs={"material": "cotton", "origin": "Viet Nam"},
        media=["https://example.invalid/aothun.jpg"],
        attributes={"Mau": ["Trang", "Den"], "Size": ["M", "L"]},
        cost_price=85_000,
        sale_price=199_000,
        vat_rate="8",
        initial_stock={"AOTHUN-TRANG-M": {"HN": 40, "HCM": 25}, "AOTHUN-DEN-L": {"HN": 30}},
    )
    engine.register_product(
        "BINHGOM",
        "Binh gom men lam",
        category="Nha cua",
        brand="Bat Trang",
        attributes={"Kich thuoc": ["Nho", "Lon"]},
        variants=[
            VariantSpec("BINHGOM-NHO", {"Kich thuoc": "Nho"}, 120_000, 290_000, "10"),
            VariantSpec("BINHGOM-LON", {"Kich thuoc": "Lon"}, 260_000, 590_000, "10"),
        ],
        initial_stock={"BINHGOM-NHO": {"HN": 12, "DN": 6}, "BINHGOM-LON": {"HCM": 4}},
    )
    engine.register_product(
        "GAOST25",
        "Gao ST25 tui 5kg",
        category="Thuc pham",
        brand="Ong Cua",
        cost_price=140_000,
        sale_price=210_000,
        vat_rate="5",
        initial_stock={"GAOST25": {"HN": 50, "HCM": 80, "DN": 20}},
    )
    products = engine.products()
    report.products = len(products)
    report.skus = sum(len(p.variants) for p in products)
    for p in products:
        say(f"product {p.base_sku} '{p.name}': " + ", ".join(priced(v) for v in p.variants))

    engine.receive_stock("AOTHUN-DEN-M", "HCM", 20, "purchase_receipt", reference="PN-0001")
    say("goods receipt PN-0001: 20 x AOTHUN-DEN-M into HCM")
    engine.change_price("GAOST25", sale_price=225_000)
    say("price change: GAOST25 now 225,000 VND")
    engine.transfer_stock("GAOST25", "HCM", "DN", 15, reference="CK-0001")
    say("transfer CK-0001: 15 x GAOST25 from HCM to DN")
    count = engine.record_stock_count(
        "HN",
        {"AOTHUN-TRANG-M": 38, "BINHGOM-NHO": 12, "GAOST25": 51},
        counted_by="Nguyen Thi Lan",
        reference="KK-2026-11",
    )
    say(
        "stock count KK-2026-11 in HN: "
        + ", ".join(
            f"{line.sku} {line.expected}->{line.counted} ({line.difference:+d})"
            for line in count.lines
        )
    )
    engine.write_off_stock("BINHGOM-NHO", "DN", 1, "broken in storage", reference="HUY-0001")
    say("write-off HUY-0001: 1 x BINHGOM-NHO broken in DN")
    report.units_on_hand = sum(
        level.on_hand for w in engine.warehouses() for level in engine.stock_in_warehouse(w.code)
    )
    return report


def priced(v: Variant) -> str:
    """A variant as the demo prints it: SKU, price incl. VAT, VAT rate, margin."""
    return f"{v.sku} {v.sale_price:,.0f} VND (VAT {v.vat_rate.value}, margin {v.margin_percent}%)"
