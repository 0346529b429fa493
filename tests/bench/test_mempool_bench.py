"""`corridor bench mempool --quick` runs end to end and writes every figure (no timing is
asserted: the machine is shared)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from typer.testing import CliRunner

from corridor.cli.main import app


def _positive(value: object) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def test_quick_bench_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "out" / "bench-mempool.json"
    result = CliRunner().invoke(app, ["bench", "mempool", "--quick", "--json", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["quick"] is True
    assert document["pool_txs"] == 2_000
    for key in ("add_us_per_tx", "verify_per_s", "add_ratio", "update_ms", "readd_ms"):
        assert _positive(document[key]), key
        assert key in result.stdout
    assert 0 < document["reap_ms"]["p50"] <= document["reap_ms"]["max"]
    assert set(document["targets"]) == {"add_ratio"}
    assert list(out.parent.iterdir()) == [out]
