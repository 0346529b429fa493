"""`corridor bench compliance` runs end to end and writes every figure (on a tiny list here;
no timing is asserted: the machine is shared)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.bench import aml_bench, compliance_bench
from corridor.cli.main import app
from corridor.platform.domain.screening.evaluation import sample_lists

TINY = compliance_bench.ComplianceBenchConfig(quick=True, entries=600, queries=40)
TINY_AML = aml_bench.AmlBenchConfig(quick=True, customers=300, history=3_000, evals=200,
                                    detection=())


def test_bench_writes_every_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        sample_lists()
    except FileNotFoundError:
        pytest.skip("the sample lists (shared/data/sanctions) are not on this machine")
    monkeypatch.setattr(compliance_bench, "QUICK", TINY)
    monkeypatch.setattr(aml_bench, "QUICK", TINY_AML)
    out = tmp_path / "bench-compliance.json"
    payments = tmp_path / "bench-payments.json"  # what `bench payments` measured
    payments.write_text(json.dumps({"quick": True, "compliance_ratio": 0.9125,
                                    "payments_per_s": 73.0,
                                    "payments_per_s_compliance_off": 80.0}))
    result = CliRunner().invoke(app, ["bench", "compliance", "--quick", "--json", str(out),
                                      "--payments-json", str(payments)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["entries"] == 600 and doc["queries"] == 40 and doc["names"] > 600
    for key in ("screenings_per_s", "screening_p50_ms", "screening_p99_ms", "index_build_s",
                "aml_evals_per_s", "aml_eval_p99_ms"):
        assert isinstance(doc[key], float), key
        assert doc[key] > 0, key
        assert key in result.stdout
    assert doc["screening_p50_ms"] <= doc["screening_p99_ms"]
    assert set(doc["targets"]) == {"screening_p99_ms", "index_recall", "aml_eval_p99_ms",
                                   "aml_evals_per_s", "compliance_ratio"}
    # the AML window rebuilt from a store of the same history
    assert doc["aml_rebuild_movements"] == 3_000 and doc["aml_rebuild_s"] > 0
    assert doc["aml_rebuild_movements_per_s"] > 0 and "aml_rebuild_s" in result.stdout
    # compliance_ratio as the payments bench measured it, and where it comes from
    assert doc["compliance_ratio"] == 0.912 and str(payments) in doc["compliance_ratio_source"]
    assert doc["targets"]["compliance_ratio"]["met"] is True

    # the AML figures were measured with the AML bench's quick history
    assert doc["aml_history_payments"] == 3_000 and doc["aml_evals"] == 200
    assert 0 < doc["index_recall"] <= 1
    assert doc["mean_hits"] > 0  # half the queries are variations of listed names


def test_without_a_payments_run_the_ratio_is_none_and_says_why(tmp_path: Path) -> None:
    ratio = compliance_bench.compliance_ratio(tmp_path / "missing.json")
    assert ratio.value is None and "corridor bench payments" in ratio.source
