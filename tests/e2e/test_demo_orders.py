"""`orderflow demo --orders N` as a user runs it: the whole procedure, FAKE partners named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from orderflow import open_engine

ORDERFLOW = Path(sys.executable).parent / "orderflow"


def test_the_demo_runs_the_procedure_from_every_channel_and_scales(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERFLOW_")}
    database = tmp_path / "demo.db"
    result = subprocess.run(
        [str(ORDERFLOW), "demo", "--database-url", f"sqlite:///{database}", "--orders", "60"],
        cwd=tmp_path, env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "fake carrier, in-process, no real ghn call" in out
    assert "FAKE S-Invoice" in out
    steps = (
        "shortage: 2 x BINHGOM-LON", "goods receipt", "delivery failed", "returned to sender",
        "COD remittance", "VAT invoice", "return on web/W-10001", "60 more orders placed",
    )  # fmt: skip
    for step in steps:
        assert step in out, step
    assert "60 bulk orders" in out
    engine = open_engine(f"sqlite:///{database}")
    try:
        orders = engine.orders()
        assert len(orders) == 7 + 60
        assert {o.channel for o in orders} >= {
            "web",
            "shopee",
            "lazada",
            "tiktok",
            "phone",
            "facebook",
            "other",
        }
        story = {
            o.reference: o.status
            for o in orders
            if not o.reference.split("/")[1].startswith("BULK")
        }
        assert list(story.values()).count("completed") == 5
        for level in (
            lvl for w in engine.warehouses() for lvl in engine.stock_in_warehouse(w.code)
        ):
            assert 0 <= level.reserved <= level.on_hand  # nothing oversold
    finally:
        engine.close()
