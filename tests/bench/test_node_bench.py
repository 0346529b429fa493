"""`corridor bench node --quick` runs end to end and writes every figure.

Timings depend on the machine and its load: no test here asserts a timing or a ratio.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.bench.node_bench import (
    WINDOW_BLOCKS_MIN,
    WINDOW_EXTENSION_S_MAX,
    _steady_rate,
    _window_over,
)
from corridor.bench.node_load import request_bodies
from corridor.bench.node_process import BlockSeen
from corridor.bench.report import percentile
from corridor.cli.main import app

FIGURES = (
    "committed_tps",
    "committed_tps_single",
    "apply_ratio_node",
    "apply_ratio_node_single",
    "rss_mb_1m_accounts",
    "startup_s_1m_accounts",
    "load_avg_1m",
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.slow
def test_quick_bench_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "out" / "bench-node.json"
    result = CliRunner().invoke(app, ["bench", "node", "--quick", "--json", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    for key in FIGURES:
        assert _is_number(document[key]), key
        assert key in result.stdout  # the table names every figure
    latency = document["commit_latency_ms"]
    assert set(latency) == {"p50", "p99"}
    assert all(_is_number(v) for v in latency.values())
    assert "commit_latency_ms.p99" in result.stdout
    assert document["quick"] is True
    assert document["rss_accounts"] < 1_000_000  # quick: measured on a smaller state
    assert document["rejected"] == 0  # the load generator's payments are all valid
    assert document["machine"]["cpus"] >= 1
    assert set(document["targets"]) == {
        "committed_tps",
        "committed_tps_single",
        "commit_latency_ms.p99",
        "apply_ratio_node",
        "apply_ratio_node_single",
        "rss_mb_1m_accounts",
        "startup_s_1m_accounts",
    }
    for target in document["targets"].values():
        assert target["op"] in (">=", "<=")
        assert isinstance(target["met"], bool)
    assert list(tmp_path.joinpath("out").iterdir()) == [out]


def test_steady_rate_counts_whole_block_intervals() -> None:
    blocks = [BlockSeen(at, height, 100) for height, at in enumerate((1.0, 2.0, 3.0, 4.0), 1)]
    # Opens at 1.5: the window starts at block 1's arrival; closes at 3.5: ends at block 3's.
    rate, seconds, txs, n = _steady_rate(blocks, 1.5, 3.5)
    assert (seconds, txs, n) == (2.0, 200, 2)
    assert rate == 100.0
    assert _steady_rate(blocks, 5.0, 6.0) == (0.0, 0.0, 0, 0)


def test_a_window_stays_open_past_its_duration_until_it_holds_whole_blocks() -> None:
    now = time.perf_counter()
    opens, until = now - 10.0, now - 1.0  # its duration is over
    blocks = [BlockSeen(opens - 1.0, 1, 100)]  # before the window: not counted
    blocks += [BlockSeen(opens + i, 1 + i, 100) for i in range(1, WINDOW_BLOCKS_MIN)]
    assert not _window_over(blocks, opens, until)  # one block short
    blocks.append(BlockSeen(opens + WINDOW_BLOCKS_MIN, 1 + WINDOW_BLOCKS_MIN, 100))
    assert _window_over(blocks, opens, until)
    assert not _window_over(blocks, opens, now + 60.0)  # its duration is not over
    # With no block at all it still closes, at the end of the longest extension.
    assert _window_over([], opens, now - WINDOW_EXTENSION_S_MAX - 1.0)
    assert not _window_over([], opens, until)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0


def test_request_bodies_batch_or_single() -> None:
    txs = [(f"{i:064x}", f"{i:02x}") for i in range(5)]
    batched = request_bodies(txs, 2)
    assert [n for _, n in batched] == [2, 2, 1]
    assert json.loads(batched[0][0]) == {"txs": ["00", "01"]}
    single = request_bodies(txs, 1)
    assert len(single) == 5
    assert json.loads(single[4][0]) == {"tx": "04"}
