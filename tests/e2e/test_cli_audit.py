"""The audit commands as an auditor runs them: events, history, stock card, projections."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orderflow import open_engine
from tests.integration.ordering_setup import place, seller

ORDERFLOW = Path(sys.executable).parent / "orderflow"


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    env.update(ORDERFLOW_DATABASE_URL=url, COLUMNS="200")
    return subprocess.run(
        [str(ORDERFLOW), *args], env=env, capture_output=True, text=True, timeout=120
    )


def ok(url: str, *args: str) -> str:
    result = run(url, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, datetime]]:
    """Two orders, the second one edited after a recorded moment; returns (url, that moment)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('audit') / 'shop.db'}"
    engine = open_engine(url)
    seller(engine)
    place(engine, "E1", TEE=2)
    second = place(engine, "E2", MUG=1)
    time.sleep(0.05)
    moment = datetime.now(UTC)
    time.sleep(0.05)
    engine.change_shipping_fee(second, 0)
    engine.receive_stock("TEE", "HN", 5, reference="PN-9")
    engine.close()
    yield url, moment


def test_events_stream_as_json_lines_filtered_by_type_aggregate_and_time(
    shop: tuple[str, datetime],
) -> None:
    url, moment = shop
    placed = [
        json.loads(line)
        for line in ok(url, "events", "--json", "--type", "Order.Placed").splitlines()
    ]
    assert [p["data"]["external_id"] for p in placed] == ["E1", "E2"]
    assert [p["position"] for p in placed] == sorted(p["position"] for p in placed)
    later = [
        json.loads(line)
        for line in ok(url, "events", "--json", "--since", moment.isoformat()).splitlines()
    ]
    assert [e["event"] for e in later] == [
        "Order.ShippingFeeChanged",
        "StockItem.Received",  # then offered to orders waiting for TEE (none: the list opens)
        "Backlog.Opened",
        "Backlog.StockOffered",
    ]
    table = ok(url, "events", "--aggregate", "shopee/E1")
    assert "Placed on shopee as E1 by Tran Thi Binh" in table and "Reserved 2 x TEE in HN" in table
    assert "E2" not in table


def test_history_at_a_moment_shows_the_order_as_it_was(shop: tuple[str, datetime]) -> None:
    url, moment = shop
    then = json.loads(ok(url, "history", "shopee/E2", "--at", moment.isoformat(), "--json"))
    now = json.loads(ok(url, "history", "shopee/E2", "--json"))
    assert (then["state"]["shipping_fee"], now["state"]["shipping_fee"]) == ("30000", "0")
    assert len(now["events"]) == len(then["events"]) + 1


def test_the_stock_card_shows_each_movement_with_its_balance(shop: tuple[str, datetime]) -> None:
    url, _ = shop
    card = ok(url, "stock", "card", "tee", "--warehouse", "HN").splitlines()
    assert card[0].split()[:3] == ["time", "warehouse", "movement"]
    received = [line for line in card if "PN-9" in line or "Received 5" in line]
    assert received and received[-1].split()[3:6] == ["Received", "5", "15"]


def test_bad_input_is_one_line_naming_the_option(shop: tuple[str, datetime]) -> None:
    url, _ = shop
    result = run(url, "events", "--since", "yesterday")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "since: 'yesterday' is not a date" in result.stderr
    assert "order" in run(url, "history", "lazada/NOPE").stderr


def test_verify_passes_then_fails_naming_a_tampered_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = open_engine(url)
    seller(engine)
    place(engine, "V1", TEE=1)
    engine.close()
    ok(url, "projections", "rebuild")
    assert "stock: 3 rows at position" in ok(url, "projections", "verify")
    with sqlite3.connect(tmp_path / "shop.db") as db:
        db.execute(
            "UPDATE view_stock_levels SET reserved = 5 WHERE sku = 'TEE' AND warehouse = 'HN'"
        )
    result = run(url, "projections", "verify", "stock")
    assert result.returncode == 1
    assert "stock.levels (sku=TEE, warehouse=HN): reserved stored 5, replayed 1" in result.stderr
    status = ok(url, "projections", "status")
    assert "stock" in status and "orders" in status


def test_projections_run_follows_the_log_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    engine = open_engine(url)
    seller(engine)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    runner = subprocess.Popen(
        [str(ORDERFLOW), "--database-url", url, "projections", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert runner.stderr is not None and "following the log" in runner.stderr.readline()
    position = engine.receive_stock("MUG", "HCM", 2)
    deadline = time.monotonic() + 20
    while json.loads(ok(url, "projections", "status", "--json"))[1]["position"] < position:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(20) == 0
    engine.close()


def test_the_views_commands_catch_up_and_show_the_board_and_stock(
    shop: tuple[str, datetime],
) -> None:
    url, _ = shop
    board = json.loads(ok(url, "views", "board", "--channel", "shopee", "--json"))
    assert [row["external_id"] for row in board] == ["E2", "E1"]  # newest first
    assert board[0]["total"] == "99000"  # shipping fee changed to 0
    stock = json.loads(ok(url, "views", "stock", "--sku", "TEE", "--json"))
    assert {(r["warehouse"], r["on_hand"], r["reserved"]) for r in stock} == {
        ("HN", 15, 2),
        ("HCM", 3, 0),
    }
