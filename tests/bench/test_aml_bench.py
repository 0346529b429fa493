"""`corridor bench aml` runs end to end and writes every figure (tiny history and traffic
here; no timing is asserted: the machine is shared)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.bench import aml_bench
from corridor.cli.main import app
from corridor.sim import aml_traffic

TINY = aml_bench.AmlBenchConfig(
    quick=True, customers=300, history=3_000, evals=200,
    detection=(("tune", dataclasses.replace(aml_traffic.TUNE, customers=60, days=300,
                                            instances=2)),))


def test_bench_writes_every_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aml_bench, "QUICK", TINY)
    out = tmp_path / "bench-aml.json"
    result = CliRunner().invoke(app, ["bench", "aml", "--quick", "--json", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["history_payments"] == 3_000 and doc["customers"] == 300
    for key in ("aml_evals_per_s", "aml_eval_p50_ms", "aml_eval_p99_ms", "aml_learn_per_s"):
        assert doc[key] > 0, key
        assert key in result.stdout
    assert doc["aml_eval_p50_ms"] <= doc["aml_eval_p99_ms"]
    assert doc["aml_parties"] > 300 and doc["aml_edges"] > 0
    # the window rebuilt from the same history stored: every payment read back once
    assert doc["aml_rebuild_movements"] == 3_000
    assert 0 < doc["aml_rebuild_in_window"] < 3_000  # the rest older than the window
    assert doc["aml_rebuild_s"] > 0 and doc["aml_rebuild_movements_per_s"] > 0
    assert {"aml_eval_p99_ms", "aml_evals_per_s", "aml_detection_tune",
            "aml_background_flagged_tune"} == set(doc["targets"])
    (d,) = doc["aml_detection"]
    assert d["settings"] == "tune" and d["instances"] == 24  # two of each of 12 typologies
    assert {"terrorist_financing_small_payments", "terrorist_financing_new_account"} <= \
        set(d["by_typology"])
    assert 0 <= d["detection_rate"] <= 1
