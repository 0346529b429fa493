"""The history export's files (Q2), shared by the API's GET /v1/history/export and the
portal's export links, so both doors write the same bytes: CSV streamed in chunks with
exact decimal text, XLSX with the amounts as numbers (a sheet sums them)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from corridor.platform.domain import history as dom
from corridor.platform.domain.history import HistoryRow

CSV_CHUNK_ROWS = 500
FORMATS = ("csv", "xlsx")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def file_name(now_ms: int, format: str) -> str:
    stamp = dt.datetime.fromtimestamp(now_ms // 1000, tz=dt.UTC)
    return f"corridor-history-{stamp:%Y%m%dT%H%M%SZ}.{format}"


def headers(now_ms: int, format: str) -> dict[str, str]:
    """A download's headers: an attachment with a dated name, never cached or sniffed."""
    return {"Content-Disposition": f'attachment; filename="{file_name(now_ms, format)}"',
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def csv_chunks(rows: Iterator[HistoryRow]) -> Iterator[str]:
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(dom.EXPORT_COLUMNS)
    for i, row in enumerate(rows, 1):
        out.writerow(dom.export_cells(row))
        if i % CSV_CHUNK_ROWS == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def xlsx_bytes(rows: Iterator[HistoryRow]) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("history")
    ws.append(list(dom.EXPORT_COLUMNS))
    for row in rows:
        # amounts are numbers (a sheet sums them), shown with the currency's places
        ws.append([_cell(ws, v) for v in dom.export_values(row)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _cell(ws: Any, value: dom.Cell) -> Any:
    if not isinstance(value, Decimal):
        return value
    # openpyxl writes a Decimal's digits as they are (its type stubs list float only)
    cell = WriteOnlyCell(ws, value=value)  # type: ignore[arg-type]
    places = -int(value.as_tuple().exponent)
    cell.number_format = "0." + "0" * places if places > 0 else "0"
    return cell
