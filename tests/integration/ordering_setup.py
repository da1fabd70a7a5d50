"""A small seller for the order and purchasing scenarios: warehouses, products, suppliers."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from orderflow import Engine
from orderflow.order import Order
from orderflow.stock_item import StockItem

BUYER = {"name": "Tran Thi Binh", "phone": "0903 123 456", "email": "binh@example.vn"}
ADDRESS = {
    "street": "88 Nguyen Thi Thap",
    "ward": "Tan Phu",
    "district": "Quan 7",
    "province": "TP. Ho Chi Minh",
    "province_code": "79",
}


def seller(engine: Engine) -> Engine:
    """HN (main) and HCM warehouses; TEE (HN 10, HCM 3), MUG (HCM 5), RICE (none); two suppliers."""
    engine.register_warehouse("HN", "Kho Ha Noi", kind="main")
    engine.register_warehouse("HCM", "Kho Sai Gon", kind="secondary")
    engine.register_supplier("DETMAY", "Det May Viet")
    engine.register_supplier("GOMSU", "Gom Su Bat Trang")
    engine.register_product(
        "TEE",
        "Ao thun",
        cost_price=80_000,
        sale_price=199_000,
        vat_rate="8",
        initial_stock={"TEE": {"HN": 10, "HCM": 3}},
    )
    engine.register_product(
        "MUG",
        "Coc su",
        cost_price=40_000,
        sale_price=99_000,
        vat_rate="10",
        initial_stock={"MUG": {"HCM": 5}},
    )
    engine.register_product(
        "RICE", "Gao ST25", cost_price=140_000, sale_price=225_000, vat_rate="5"
    )
    return engine


def place(engine: Engine, external_id: str, channel: str = "shopee", **lines: int) -> UUID:
    """A COD order with the given SKU=quantity lines at catalogue prices."""
    items = [{"sku": sku, "quantity": qty} for sku, qty in lines.items()]
    return engine.place_order(channel, external_id, BUYER, ADDRESS, items, shipping_fee=30_000)


def levels(engine: Engine, sku: str) -> dict[str, tuple[int, int]]:
    """(on hand, reserved) per warehouse."""
    return {s.warehouse: (s.on_hand, s.reserved) for s in engine.stock_of_sku(sku)}


def ship_and_deliver(engine: Engine, order_id: UUID, deliver: bool = True) -> None:
    """Stand-in for the shipping side: pack, hand over (consuming the stock), deliver."""
    order: Order = engine._order(order_id)
    order.pack("test-shipment")
    order.hand_over("test-shipment")
    items = []
    for sku, per in order.allocations.items():
        for warehouse, qty in per.items():
            item: Any = engine._load(StockItem, StockItem.create_id(sku, warehouse), "sku", sku)
            item.ship(order.id, qty, "test-shipment")
            items.append(item)
    if deliver:
        order.deliver("2026-03-02T15:00:00+07:00")
    engine._save(order, *items)
