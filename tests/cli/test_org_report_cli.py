"""`corridor org report …` on the seeded treasury history (tests/platform/report_history.py):
the same figures as the API, as text, JSON, CSV and XLSX; one clear line on bad input.
Past days only, so the answers do not depend on today's date."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from corridor.cli.main import app
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from tests.platform.report_history import History, seed

runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, History]:
    data = tmp_path_factory.mktemp("org-report-cli") / "platform"
    platform = bootstrap.build(Settings(data_dir=data, fast_password_hashing=True))
    try:
        history = seed(platform)
    finally:
        platform.close()
    return data, history


def _run(data: Path, *args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["org", "report", *args, "--data-dir", str(data)])
    return r.exit_code, r.output


def test_cash_at_a_past_day_as_json(world: tuple[Path, History]) -> None:
    data, h = world
    code, out = _run(data, "cash", h.org_id, "--day", "2026-12-05", "--format", "json")
    assert code == 0, out
    body = json.loads(out)
    assert body["day"] == "2026-12-05"
    assert [(r["balance_minor"], r["in_flight_minor"], r["available_minor"])
            for r in body["rows"]] == [(69_550, 5_000, 64_550)]


def test_payments_as_csv_and_text(world: tuple[Path, History]) -> None:
    data, h = world
    code, out = _run(data, "payments", h.org_id, "--by", "department", "--from",
                     "2026-11-01", "--to", "2026-12-05", "--format", "csv")
    assert code == 0, out
    assert list(csv.reader(io.StringIO(out))) == [
        ["department", "name", "currency", "payments", "amount", "fees"],
        ["", "", "USD", "1", "203.00", "3.00"],
        [h.treasury_id, "Treasury", "USD", "1", "101.50", "1.50"]]
    code, out = _run(data, "fees", h.org_id, "--every", "month", "--from", "2026-11-01",
                     "--to", "2026-12-05")
    assert code == 0, out
    assert out.splitlines() == ["month  currency  payments  fees", "2026-11  USD  1  1.50",
                                "2026-12  USD  1  3.00", "total  USD  2  4.50"]


def test_xlsx_needs_an_output_file(world: tuple[Path, History], tmp_path: Path) -> None:
    data, h = world
    code, out = _run(data, "fees", h.org_id, "--from", "2026-12-01", "--to", "2026-12-02",
                     "--format", "xlsx")
    assert code == 1 and "--output" in out
    target = tmp_path / "fees.xlsx"
    code, out = _run(data, "fees", h.org_id, "--from", "2026-12-01", "--to", "2026-12-02",
                     "--format", "xlsx", "--output", str(target))
    assert code == 0, out
    sheet = openpyxl.load_workbook(target).active
    assert sheet is not None
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["day", "currency", "payments", "fees"], ["2026-12-01", "USD", 0, 0],
        ["2026-12-02", "USD", 1, 3], ["total", "USD", 1, 3]]


def test_bad_input_is_one_clear_line(world: tuple[Path, History]) -> None:
    data, h = world
    code, out = _run(data, "payments", h.org_id, "--by", "colour")
    assert code == 1 and "error:" in out and "by: one of department" in out, out
    assert "Traceback" not in out
    code, out = _run(data, "cash", "no-such-org")
    assert code == 1 and "no such organisation" in out, out
    code, out = _run(data, "forecast", h.org_id, "--format", "pdf")
    assert code == 1 and "--format must be one of" in out
