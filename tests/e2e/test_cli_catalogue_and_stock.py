"""The `orderflow` command as a seller runs it: warehouses, products, suppliers, stock, the demo,
and every bad input ending in one `field: reason` line with exit status 1 and nothing written."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orderflow import open_engine

ORDERFLOW = Path(sys.executable).parent / "orderflow"


class Cli:
    """Runs the installed console script in a folder, against one SQLite file."""

    def __init__(self, folder: Path, database_url: str | None) -> None:
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
        if database_url:
            self.env["ORDERFLOW_DATABASE_URL"] = database_url

    def __call__(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ORDERFLOW), *args],
            cwd=self.folder,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single error line a refused command prints, checked for the CLI's contract."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error ")
    return lines[0].removeprefix("error ")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cli, str]]:
    """A store set up from the command line: two warehouses, a product, a supplier, stock."""
    folder = tmp_path_factory.mktemp("shop")
    url = f"sqlite:///{folder / 'shop.db'}"
    cli = Cli(folder, url)
    cli.ok("warehouse", "add", "HN", "Kho Ha Noi", "--manager", "Nguyen Thi Lan")
    cli.ok("warehouse", "add", "hcm", "Kho Sai Gon", "--kind", "secondary")
    cli.ok(
        *shlex.split(
            "product add AOTHUN 'Ao thun' --attribute Size=M,L --cost 85000 --price 199,000"
            " --vat 8 --stock AOTHUN-M@HN=40 --stock AOTHUN-L@HCM=5"
        )
    )
    cli.ok(
        "supplier", "add", "DETMAY", "Det May Viet", "--tax-code", "0100109106", "--lead-time", "5"
    )
    cli.ok("stock", "reserve", "AOTHUN-M", "HN", "web-1", "2")
    yield cli, url


def position(url: str) -> int:
    engine = open_engine(url, cache_size=0)
    try:
        return engine.position()
    finally:
        engine.close()


# a seller's session ----------------------------------------------------------------------------
def test_the_set_up_is_listed_back_as_json(shop: tuple[Cli, str]) -> None:
    cli, _ = shop
    warehouses = cli.json("warehouse", "list")
    assert [(w["code"], w["kind"], w["manager"]) for w in warehouses] == [
        ("HN", "main", "Nguyen Thi Lan"),
        ("HCM", "secondary", ""),
    ]
    product = cli.json("product", "show", "aothun")
    variants = {v["sku"]: v for v in product["variants"]}
    assert set(variants) == {"AOTHUN-M", "AOTHUN-L"}
    assert (variants["AOTHUN-M"]["sale_price"], variants["AOTHUN-M"]["margin"]) == (
        "199000",
        "99259",
    )
    assert variants["AOTHUN-M"]["vat_rate"] == "8"
    [supplier] = cli.json("supplier", "list")
    assert (supplier["tax_code"], supplier["lead_time_days"]) == ("0100109106", 5)


def test_receiving_counting_and_showing_stock(shop: tuple[Cli, str]) -> None:
    cli, _ = shop
    out = cli.ok("stock", "receive", "AOTHUN-L", "HN", "20", "--reference", "PN-1")
    assert "received 20 AOTHUN-L into HN: on hand 20, available 20" in out
    report = cli.json("stock", "count", "HN", "AOTHUN-M=39", "AOTHUN-L=20", "--by", "Lan")
    assert [(line["sku"], line["difference"]) for line in report["lines"]] == [
        ("AOTHUN-M", -1),
        ("AOTHUN-L", 0),
    ]
    assert report["total_difference"] == -1
    levels = cli.json("stock", "show", "AOTHUN-M")
    assert [(s["warehouse"], s["on_hand"], s["reserved"], s["available"]) for s in levels] == [
        ("HN", 39, 2, 37),
        ("HCM", 0, 0, 0),
    ]
    in_hcm = cli.json("stock", "warehouse", "HCM")
    assert [(s["sku"], s["on_hand"]) for s in in_hcm] == [("AOTHUN-L", 5)]


def test_read_commands_print_tables_by_default(shop: tuple[Cli, str]) -> None:
    cli, _ = shop
    result = cli("product", "list", env={"COLUMNS": "160"})
    assert result.returncode == 0
    assert "AOTHUN-M" in result.stdout and "199,000" in result.stdout


# bad input -------------------------------------------------------------------------------------
BAD_INPUT: dict[str, tuple[str, str]] = {
    "duplicate warehouse": ("warehouse add hn Kho2", "code: 'HN' already exists"),
    "unknown warehouse kind": (
        "warehouse add HP Kho --kind depot",
        "kind: 'depot' is not one of main, secondary, branch",
    ),
    "fourth attribute": (
        "product add QUAN Quan --price 1 --attribute A=1 --attribute B=1 --attribute C=1"
        " --attribute D=1",
        "attributes: at most 3 variant attributes, got 4",
    ),
    "duplicate product": ("product add aothun Ao --price 1", "base_sku: 'AOTHUN' already exists"),
    "unknown VAT rate": ("product add NON Non --price 1 --vat 12", "--vat: unknown VAT rate '12'"),
    "ambiguous price": ("product add NON Non --price 50.000", "--price: '50.000' is ambiguous"),
    "tax code failing its check digit": (
        "supplier add GOMSU GomSu --tax-code 0100109107",
        "tax_code: '0100109107' fails the check digit",
    ),
    "malformed tax code": (
        "supplier add GOMSU GomSu --tax-code 12345",
        "tax_code: '12345' must be 10 digits, or 13 with a branch suffix",
    ),
    "unknown SKU": ("stock receive NOPE HN 1", "sku: no SKU 'NOPE'"),
    "unknown warehouse": ("stock receive AOTHUN-M XX 1", "warehouse: no warehouse 'XX'"),
    "zero quantity": ("stock receive AOTHUN-M HN 0", "quantity: must be more than 0"),
    "negative quantity": ("stock receive AOTHUN-M HN -5", "quantity: must be more than 0, got -5"),
    "quantity that is not a number": ("stock receive AOTHUN-M HN ten", "quantity: "),
    "releasing more than reserved": (
        "stock release AOTHUN-M HN web-1 5",
        "quantity: cannot release 5 of AOTHUN-M in HN: only 2 reserved for order web-1",
    ),
    "negative count": ("stock count HN AOTHUN-M=-1", "counts.AOTHUN-M: must be"),
    "transfer into the same warehouse": (
        "stock transfer AOTHUN-M HN hn 1",
        "to_warehouse: must differ from the source warehouse",
    ),
    "missing argument": ("stock receive AOTHUN-M", "warehouse: is missing"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_prints_field_and_reason_exits_1_and_writes_nothing(
    shop: tuple[Cli, str], case: str
) -> None:
    cli, url = shop
    args, expected = BAD_INPUT[case]
    before = position(url)
    assert one_error_line(cli(*args.split())).startswith(expected)
    assert position(url) == before


# the store itself ------------------------------------------------------------------------------
def test_a_database_url_with_an_unknown_scheme_is_one_clear_line(tmp_path: Path) -> None:
    line = one_error_line(Cli(tmp_path, "mysql://localhost/shop")("warehouse", "list"))
    assert line.startswith("database_url: unsupported scheme 'mysql'")


def test_an_unreachable_postgresql_server_is_one_clear_line(tmp_path: Path) -> None:
    cli = Cli(tmp_path, "postgresql://postgres@127.0.0.1:1/orderflow")
    line = one_error_line(cli("warehouse", "list"))
    assert line.startswith("database_url: cannot reach PostgreSQL at 127.0.0.1:1")


def test_a_bad_setting_from_the_environment_is_one_clear_line(tmp_path: Path) -> None:
    cli = Cli(tmp_path, None)
    line = one_error_line(cli("warehouse", "list", env={"ORDERFLOW_POOL_SIZE": "0"}))
    assert line.startswith("pool_size: ")


def test_without_configuration_the_store_is_orderflow_db_in_the_working_folder(
    tmp_path: Path,
) -> None:
    Cli(tmp_path, None).ok("warehouse", "add", "HN", "Kho Ha Noi")
    assert (tmp_path / "orderflow.db").is_file()


# the demo --------------------------------------------------------------------------------------
def test_the_demo_sets_up_a_fresh_store_and_prints_its_summary(tmp_path: Path) -> None:
    cli = Cli(tmp_path, None)
    first = cli.ok("demo")
    assert "warehouse HN (main)" in first
    assert "3 warehouses, 2 suppliers, 3 products, 7 SKUs" in first
    assert (tmp_path / "orderflow-demo.db").is_file()
    again = cli.ok("demo")  # a second run starts again from a fresh file
    assert "3 warehouses, 2 suppliers, 3 products, 7 SKUs" in again


def test_a_receipt_says_how_many_units_went_to_waiting_orders(tmp_path: Path) -> None:
    cli = Cli(tmp_path, f"sqlite:///{tmp_path / 'shop.db'}")
    cli.ok("warehouse", "add", "HN", "Kho Ha Noi")
    cli.ok(*shlex.split("product add GAO 'Gao ST25' --cost 140000 --price 225000 --vat 5"))
    cli.ok(
        *shlex.split(
            "order place shopee 1 --line GAO=3 --name 'Binh' --phone 0903123456"
            " --street '1 Le Loi' --ward 'Ben Nghe' --province 'Ho Chi Minh'"
        )
    )
    out = cli.ok("stock", "receive", "GAO", "HN", "5", "--reason", "correction")
    assert "received 5 GAO into HN: on hand 5, available 2, 3 reserved for waiting orders" in out
