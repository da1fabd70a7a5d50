"""docs/events.md is the generated event catalogue: it must match the code, so the contract of
stored topics cannot drift. After adding an event: python scripts/event_catalogue.py --write."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "event_catalogue.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("event_catalogue", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_docs_events_md_matches_the_events_in_the_code() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_every_stock_item_event_is_listed_with_its_topic_fields_and_meaning(
    script: ModuleType,
) -> None:
    [stock] = [entry for entry in script.catalogue() if entry.name == "StockItem"]
    events = {event.name: event for event in stock.events}
    assert list(events) == [
        "Opened",
        "Received",
        "Restocked",
        "Reserved",
        "Released",
        "Shipped",
        "WrittenOff",
        "Counted",
        "TransferredOut",
        "TransferredIn",
    ]
    reserved = events["Reserved"]
    assert reserved.topic == "orderflow.stock_item:StockItem.Reserved"
    assert reserved.fields == [("order_id", "str"), ("quantity", "int")]
    assert reserved.meaning == "Hold units for an order."


def test_a_creation_event_is_described_by_the_command_that_creates_the_aggregate(
    script: ModuleType,
) -> None:
    [product] = [entry for entry in script.catalogue() if entry.name == "Product"]
    registered = product.events[0]
    assert (registered.name, registered.meaning) == (
        "Registered",
        "Check a new product and record it.",
    )
    assert ("variants", "list[dict[str, Any]]") in registered.fields


def test_the_check_fails_and_shows_the_difference_when_the_file_is_stale(
    script: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stale = tmp_path / "events.md"
    stale.write_text("# Event catalogue\n\n(an old version)\n", encoding="utf-8")
    monkeypatch.setattr(script, "CATALOGUE", stale)
    assert script.main(["--check"]) == 1
    assert "docs/events.md is out of date" in capsys.readouterr().err


def test_the_catalogue_explains_how_to_rename_an_event_safely() -> None:
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert "register_topic" in text and "class_version" in text and "upcast_v1_v2" in text
