"""The treasury reports as files (CSV, XLSX), shared by the API, the console's export
links and `corridor org report`, so every door writes the same bytes. Amounts are exact:
decimal text in major units in CSV; in XLSX numbers of the currency's places (a sheet
sums them), or text beyond what a spreadsheet's doubles hold exactly. A PDF is the
console's printable page (the browser's "Save as PDF"): no second layout to keep true.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from corridor.platform.domain import money
from corridor.platform.domain.history import SHEET_EXACT_MINOR_MAX, cell_text
from corridor.platform.services.org_reports import (
    CashPosition,
    FeesReport,
    ForecastReport,
    PaymentsReport,
)

FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

Report = CashPosition | PaymentsReport | FeesReport | ForecastReport


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Amount:
    """An amount in minor units of a currency: a cell written exactly."""

    minor: int
    code: str


CellValue = str | int | Decimal | Amount | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    name: str  # cash | payments | fees | forecast (the file name and the sheet's)
    columns: tuple[str, ...]
    rows: tuple[tuple[CellValue, ...], ...]


def _a(minor: int | None, code: str) -> Amount | None:
    return None if minor is None else Amount(minor=minor, code=code)


def table(report: Report) -> Table:
    """The report as one table (columns in English snake case, as the API's fields)."""
    if isinstance(report, CashPosition):
        rows: list[tuple[CellValue, ...]] = [
            (cell_text(r.wallet_label), r.wallet_id, r.code, _a(r.balance_minor, r.code),
             _a(r.reserved_minor, r.code), _a(r.in_flight_minor, r.code),
             _a(r.available_minor, r.code)) for r in report.rows]
        rows += [("total", "", r.code, _a(r.balance_minor, r.code),
                  _a(r.reserved_minor, r.code), _a(r.in_flight_minor, r.code),
                  _a(r.available_minor, r.code)) for r in report.totals]
        return Table(name="cash", columns=("wallet", "wallet_id", "currency", "balance",
                                           "reserved", "in_flight", "available"),
                     rows=tuple(rows))
    if isinstance(report, PaymentsReport):
        return Table(name=f"payments-by-{report.by}",
                     columns=(report.by, "name", "currency", "payments", "amount", "fees"),
                     rows=tuple((cell_text(g.key), cell_text(g.label), g.code, g.count,
                                 _a(g.amount_minor, g.code), _a(g.fee_minor, g.code))
                                for g in report.groups))
    if isinstance(report, FeesReport):
        lines: list[tuple[CellValue, ...]] = [
            (x.period, x.code, x.count, _a(x.fee_minor, x.code)) for x in report.lines]
        lines += [("total", x.code, x.count, _a(x.fee_minor, x.code)) for x in report.totals]
        return Table(name="fees", columns=(report.every, "currency", "payments", "fees"),
                     rows=tuple(lines))
    out: list[tuple[CellValue, ...]] = []
    for f in report.forecasts:
        out.append(("forecast", f.code, f.month, _a(f.point_minor, f.code), None, None,
                     _a(f.low_minor, f.code), _a(f.high_minor, f.code),
                     _a(f.mae_minor, f.code), f.mape_percent))
        out += [("backtest", f.code, m.month, _a(m.forecast_minor, f.code),
                  _a(m.actual_minor, f.code), _a(m.error_minor, f.code), None, None, None,
                  None) for m in f.backtest]
    return Table(name="forecast", columns=("row", "currency", "month", "forecast", "actual",
                                           "error", "low", "high", "mae", "mape_percent"),
                 rows=tuple(out))


def file_name(report: Report, org_id: str, now_ms: int, format: str) -> str:
    stamp = dt.datetime.fromtimestamp(now_ms // 1000, tz=dt.UTC)
    return f"corridor-{table(report).name}-{org_id[:8]}-{stamp:%Y%m%dT%H%M%SZ}.{format}"


def headers(report: Report, org_id: str, now_ms: int, format: str) -> dict[str, str]:
    """A download's headers: an attachment with a dated name, never cached or sniffed."""
    name = file_name(report, org_id, now_ms, format)
    return {"Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _text(value: CellValue) -> str:
    if value is None:
        return ""
    if isinstance(value, Amount):
        return money.format_minor(value.minor, value.code)
    return str(value)


def csv_text(t: Table) -> str:
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(t.columns)
    for row in t.rows:
        out.writerow([_text(v) for v in row])
    return buf.getvalue()


def xlsx_bytes(t: Table) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(t.name[:31])
    ws.append(list(t.columns))
    for row in t.rows:
        ws.append([_sheet_cell(ws, v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def content(report: Report, format: str) -> bytes:
    assert format in FORMATS, format
    t = table(report)
    return csv_text(t).encode() if format == "csv" else xlsx_bytes(t)


def _sheet_cell(ws: Any, value: CellValue) -> Any:
    if isinstance(value, Amount):
        if abs(value.minor) >= SHEET_EXACT_MINOR_MAX:
            return money.format_minor(value.minor, value.code)
        number = money.to_major(value.minor, value.code)
        # openpyxl writes a Decimal's digits as they are (its stubs list float only)
        cell = WriteOnlyCell(ws, value=number)  # type: ignore[arg-type]
        places = money.decimals(value.code)
        cell.number_format = "0." + "0" * places if places > 0 else "0"
        return cell
    if isinstance(value, Decimal):
        return WriteOnlyCell(ws, value=value)  # type: ignore[arg-type]
    return value


def rows_for_print(t: Table) -> Sequence[tuple[str, ...]]:
    """The table as text (the printable page and the CLI's plain output)."""
    return [tuple(_text(v) for v in row) for row in t.rows]
