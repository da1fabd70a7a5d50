"""orderflow: an event-sourced order-processing engine for multi-channel sellers.

    from orderflow import open_engine
    engine = open_engine("sqlite:///orderflow.db")      # or "postgresql://user@host/db"
    engine.register_warehouse("HN", "Ha Noi main warehouse")
"""

from orderflow.catalogue import ProductInfo, SupplierInfo, WarehouseInfo, as_dict
from orderflow.engine import Engine, open_engine
from orderflow.errors import (
    ConcurrencyError,
    DuplicateError,
    ExternalServiceError,
    InsufficientStockError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    OrderflowError,
    StoreUnavailableError,
)
from orderflow.inventory import CountLine, CountReport, StockLevel
from orderflow.invoicing import InvoiceInfo
from orderflow.product import Variant, VariantSpec
from orderflow.returning import ReturnInfo
from orderflow.shipping import ShipmentInfo
from orderflow.stock_item import ReceiptReason
from orderflow.store import DEFAULT_DATABASE_URL, StoreConfig
from orderflow.values import VatRate

__all__ = [
    "DEFAULT_DATABASE_URL",
    "ConcurrencyError",
    "CountLine",
    "CountReport",
    "DuplicateError",
    "Engine",
    "ExternalServiceError",
    "InsufficientStockError",
    "InvalidInputError",
    "InvalidStateError",
    "InvoiceInfo",
    "NotFoundError",
    "OrderflowError",
    "ProductInfo",
    "ReceiptReason",
    "ReturnInfo",
    "ShipmentInfo",
    "StockLevel",
    "StoreConfig",
    "StoreUnavailableError",
    "SupplierInfo",
    "Variant",
    "VariantSpec",
    "VatRate",
    "WarehouseInfo",
    "as_dict",
    "open_engine",
]
