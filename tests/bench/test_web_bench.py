"""`corridor bench web` runs end to end over every registered page and writes each page's
figures (no timing is asserted: the machine is shared)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from corridor.bench import web_demo
from corridor.cli.main import app


def test_the_bench_measures_every_registered_page(tmp_path: Path) -> None:
    out = tmp_path / "bench-web.json"
    result = CliRunner().invoke(app, ["bench", "web", "--requests", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["bench"] == "web" and document["requests_per_page"] == 2
    assert set(document["pages"]) == {p.name for p in web_demo.PAGES}
    for name, page in document["pages"].items():
        assert page["n"] == 2, name
        assert 0 < page["p50_ms"] <= page["p95_ms"] <= page["max_ms"], name
        assert f"{name}.p95" in result.stdout
    assert document["pages"]["payment"]["path"].startswith("/payments/PMT")
    assert document["pages"]["dashboard"]["who"] == web_demo.CUSTOMER
    assert document["baseline"]["path"] == "/v1/health"
    assert "worst_page.p95" in document["targets"]
