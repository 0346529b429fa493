"""`corridor bench batch --quick` runs end to end (a node, the platform API, real HTTP): a
pain.001 batch uploaded, approved and credited item by item, against single payments in
the same run, and writes every figure. No timing or target is asserted (the machine is
shared): only that every item was credited and the figures are there."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.cli.main import app


@pytest.mark.slow
def test_quick_batch_bench_credits_every_item_and_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench-batch.json"
    result = CliRunner().invoke(app, ["bench", "batch", "--quick", "--json", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["quick"] is True
    assert doc["batch_items"] > 0 and doc["batch_credited"] == doc["batch_items"]
    for key in ("batch_validate_s", "batch_items_per_s", "payments_per_s", "batch_ratio"):
        assert isinstance(doc[key], float) and math.isfinite(doc[key]) and doc[key] > 0, key
    assert doc["batch_ratio"] == pytest.approx(doc["batch_items_per_s"] / doc["payments_per_s"])
    # at most 99 items per ledger transaction: the fewest the ledger's limit allows
    assert doc["batch_ledger_transactions"] == math.ceil(doc["batch_items"] / 99)
    target = doc["targets"]["batch_ratio"]
    assert (target["op"], target["value"]) == (">=", 2.0)
