"""`corridor compliance eval-aml` and `aml-traffic`: the JSON document's exact shape on a
small stream, a clear error naming the bad lines, and the generator's stream read back."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from corridor.cli.main import app

runner = CliRunner()

STREAM = """id,ts,sender,sender_country,receiver,receiver_country,amount,currency
p1,2026-03-01T08:00:00Z,alice,US,bob,GB,25.00,USD
p2,2026-03-01T09:00:00Z,alice,US,bob,GB,9400.00,USD
p3,2026-03-01T18:30:00Z,alice,US,carol,GB,9650.10,USD
p4,2026-03-02T07:00:00Z,alice,US,bob,GB,9810.00,USD
p5,2026-03-02T08:00:00Z,dave,SG,erin,IR,120.00,SGD
p6,2026-03-02T09:00:00Z,fay,JP,gus,PH,500000,JPY
"""


def test_eval_aml_json_shape(tmp_path: Path) -> None:
    src = tmp_path / "stream.csv"
    src.write_text(STREAM)
    out = tmp_path / "out" / "alerts.json"
    r = runner.invoke(app, ["compliance", "eval-aml", str(src), "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "evaluated 6" in r.output
    doc = json.loads(out.read_text())
    assert set(doc) == {"alerts", "evaluated", "flagged_payment_ids"}
    assert doc["evaluated"] == 6
    assert doc["flagged_payment_ids"] == ["p4", "p5"]
    for a in doc["alerts"]:
        assert set(a) == {"id", "typology", "rules", "payment_ids", "parties"}
    by = {a["typology"]: a for a in doc["alerts"]}
    assert by["structuring"]["payment_ids"] == ["p4", "p2", "p3"]
    assert set(by["structuring"]["parties"]) == {"alice", "bob", "carol"}
    assert "structuring" in by["structuring"]["rules"]
    assert by["high_risk_jurisdiction"]["payment_ids"] == ["p5"]
    assert by["high_risk_jurisdiction"]["rules"] == ["high_risk_country"]


def test_eval_aml_refuses_a_bad_stream_naming_every_line(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(STREAM.replace("SGD", "SGX").replace("2026-03-02T09:00:00Z",
                                                        "2026-02-01T09:00:00Z"))
    r = runner.invoke(app, ["compliance", "eval-aml", str(src)])
    assert r.exit_code != 0
    assert "line 6: currency 'SGX' is not an ISO 4217 code" in r.output
    assert "line 7: rows are not in time order" in r.output
    src.write_text("id,ts,amount\n")
    r = runner.invoke(app, ["compliance", "eval-aml", str(src)])
    assert r.exit_code != 0 and "the header lacks sender" in r.output


def test_aml_traffic_then_eval_with_labels(tmp_path: Path) -> None:
    csv_path, labels = tmp_path / "t.csv", tmp_path / "labels.json"
    r = runner.invoke(app, ["compliance", "aml-traffic", str(csv_path), "--seed", "3",
                            "--days", "300", "--customers", "60", "--labels", str(labels)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["compliance", "eval-aml", str(csv_path), "--labels", str(labels)])
    assert r.exit_code == 0, r.output
    assert "planted instances flagged" in r.output
