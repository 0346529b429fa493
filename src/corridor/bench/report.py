"""Benchmark output shared by every `corridor bench ...` command: a table and a JSON file.

A benchmark produces `Row`s (a named figure, optionally with a target it should meet) and a
JSON document. The table is for people; the JSON is for tools and history, so it is written
atomically: a reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import math
import operator
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

_COMPARE: Mapping[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """A bound a figure should meet, e.g. `Target(op=">=", value=0.8)`."""

    op: str
    value: float

    def __post_init__(self) -> None:
        assert self.op in _COMPARE, f"unknown comparison {self.op!r}"

    def met(self, figure: float) -> bool:
        return _COMPARE[self.op](figure, self.value)

    def __str__(self) -> str:
        return f"{self.op} {format_value(self.value)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One line of the table. `value` None means the figure could not be measured here."""

    name: str
    value: float | None
    unit: str = ""
    target: Target | None = None
    note: str = ""

    @property
    def ok(self) -> bool | None:
        """Whether the target is met; None when there is no target or no value."""
        if self.target is None or self.value is None:
            return None
        return self.target.met(self.value)


def format_value(value: float | None) -> str:
    """Human-sized numbers: thousands separated, three significant digits below 100."""
    if value is None:
        return "n/a"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def render_table(rows: Iterable[Row], title: str = "") -> str:
    """An aligned plain-text table: name, value (with unit), target, ok, note."""
    header = ("name", "value", "target", "ok", "note")
    lines = [
        (
            row.name,
            f"{format_value(row.value)} {row.unit}".rstrip(),
            "" if row.target is None else str(row.target),
            {None: "", True: "yes", False: "NO"}[row.ok],
            row.note,
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in (header, *lines)) for i in range(len(header))]
    right = {1}  # numbers align on the right

    def fmt(cells: tuple[str, ...]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in pairs).rstrip()

    out = [title] if title else []
    out.append(fmt(header))
    out.append("  ".join("-" * w for w in widths))
    out.extend(fmt(cells) for cells in lines)
    return "\n".join(out)


def print_table(rows: Iterable[Row], title: str = "", file: TextIO | None = None) -> None:
    print(render_table(rows, title), file=file or sys.stdout)


def targets_json(rows: Iterable[Row]) -> dict[str, dict[str, Any]]:
    """{figure name: {"op", "value", "met"}} for every row that has a target."""
    return {
        row.name: {"op": row.target.op, "value": row.target.value, "met": row.ok}
        for row in rows
        if row.target is not None
    }


def machine_json() -> dict[str, Any]:
    """What machine a benchmark ran on: the "machine" entry of every bench's JSON."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def write_json_atomic(path: Path, document: Mapping[str, Any]) -> None:
    """Writes `document` as JSON to `path` atomically (temp file, fsync, rename).

    NaN and infinities are refused (ValueError): they are not JSON, and a figure that is one
    is a bug in the benchmark.
    """
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    assert sorted_values
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def timestamped(log: Callable[[str], None], started: float) -> Callable[[str], None]:
    """`log` with each line prefixed by the seconds since `started` (perf_counter)."""
    return lambda line: log(f"[{time.perf_counter() - started:6.1f} s] {line}")
