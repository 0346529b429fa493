"""py-spy sampling of another process, and a summary of where its busy samples went (used by
`corridor bench payments --profile`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# --- profile ----------------------------------------------------------------------------------


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiler:
    """py-spy sampling the platform process (all threads) into collapsed stacks."""

    def __init__(self, pid: int, seconds: float, out: Path) -> None:
        exe = py_spy()
        if exe is None:
            raise RuntimeError("--profile needs py-spy (pip install py-spy)")
        self.out = out
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(max(1, int(seconds))),
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(out),
                "--nonblocking",
                "--subprocesses",  # the chain workers (and any API workers) too
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def summary(self, top: int = 15) -> list[dict[str, Any]]:
        try:
            _, err = self.proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return []
        if self.proc.returncode != 0 or not self.out.exists():
            return [{"error": err.decode(errors="replace")[-300:]}]
        return summarise_stacks(self.out.read_text().splitlines(), top)


def _frame_name(frame: str) -> str:
    # py-spy raw frames look like "create (corridor/platform/services/payments.py:512)"
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})" if path else name


def summarise_stacks(lines: Sequence[str], top: int) -> list[dict[str, Any]]:
    """Collapsed stacks ("a;b;c count") -> the `top` functions by self and by inclusive
    share of busy samples (idle waits - sleeping, selecting, waiting on locks - excluded)."""
    idle = ("wait (threading.py", "select (selectors.py", "sleep", "get (queue.py")
    self_n: Counter[str] = Counter()
    incl_n: Counter[str] = Counter()
    busy = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [
            _frame_name(f)
            for f in stack.split(";")
            if f and not f.startswith("process ") and not f.startswith("thread ")
        ]
        if not frames or any(i in frames[-1] for i in idle):
            continue
        n = int(count)
        busy += n
        self_n[frames[-1]] += n
        for f in set(frames):
            incl_n[f] += n
    if not busy:
        return []
    hot = [
        {"function": f, "self_pct": 100 * n / busy, "incl_pct": 100 * incl_n[f] / busy}
        for f, n in self_n.most_common(top)
    ]
    corridor = [
        {"function": f, "self_pct": 100 * self_n[f] / busy, "incl_pct": 100 * n / busy}
        for f, n in incl_n.most_common()
        if "corridor/" in f
    ][:top]
    return [
        {"busy_samples": busy},
        *[{"kind": "self", **h} for h in hot],
        *[{"kind": "corridor", **h} for h in corridor],
    ]
