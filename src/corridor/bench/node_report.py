"""`corridor bench node`: its table and its JSON document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from corridor.bench.node_bench import (
    BATCH_TXS,
    BLOCK_INTERVAL_MS,
    SINGLE_CLIENTS,
    SUBMIT_CLIENTS,
    TARGET_APPLY_RATIO_NODE,
    TARGET_APPLY_RATIO_NODE_SINGLE,
    TARGET_COMMITTED_TPS,
    TARGET_COMMITTED_TPS_SINGLE,
    TARGET_LATENCY_P99_MS,
    TARGET_RSS_MB,
    TARGET_STARTUP_S,
    NodeFigures,
    ThroughputFigures,
)
from corridor.bench.node_setup import SENDERS
from corridor.bench.report import Row, machine_json, targets_json


def table_rows(f: NodeFigures) -> list[Row]:
    """The table: every headline figure, with its target where it has one."""
    size = f"{f.memory.accounts:,} accounts" + (" (quick: not 1m)" if f.config.quick else "")
    return [
        Row(
            name="committed_tps",
            value=f.batched.committed_tps,
            unit="tx/s",
            target=TARGET_COMMITTED_TPS,
            note=f"batches of {BATCH_TXS}, {SUBMIT_CLIENTS} clients, "
            f"{f.batched.window_s:.1f} s window, {f.batched.mean_block_txs:,.0f} txs/block",
        ),
        Row(
            name="committed_tps_single",
            value=f.single.committed_tps,
            unit="tx/s",
            target=TARGET_COMMITTED_TPS_SINGLE,
            note=f"one tx a request, {SINGLE_CLIENTS} clients, {f.single.window_s:.1f} s window",
        ),
        Row(
            name="commit_latency_ms.p50",
            value=f.latency.p50_ms,
            unit="ms",
            note=f"paced at {f.latency.rate_tps:,.0f} tx/s, {BLOCK_INTERVAL_MS} ms blocks",
        ),
        Row(
            name="commit_latency_ms.p99",
            value=f.latency.p99_ms,
            unit="ms",
            target=TARGET_LATENCY_P99_MS,
            note=f"{f.latency.samples:,} txs",
        ),
        Row(
            name="apply_signed_per_s",
            value=f.apply_signed_per_s,
            unit="tx/s",
            note="ledger bench, one core, same run",
        ),
        Row(
            name="apply_ratio_node",
            value=f.batched.committed_tps / f.apply_signed_per_s,
            target=TARGET_APPLY_RATIO_NODE,
            note="committed_tps / apply_signed_per_s",
        ),
        Row(
            name="apply_ratio_node_single",
            value=f.single.committed_tps / f.apply_signed_per_s,
            target=TARGET_APPLY_RATIO_NODE_SINGLE,
            note="committed_tps_single / apply_signed_per_s",
        ),
        Row(
            name="rss_mb_1m_accounts",
            value=f.memory.rss_mb,
            unit="MiB",
            target=TARGET_RSS_MB,
            note=f"VmRSS after start, {size}",
        ),
        Row(
            name="startup_s_1m_accounts",
            value=f.memory.startup_s,
            unit="s",
            target=TARGET_STARTUP_S,
            note=f"first start to RPC ready, {size}",
        ),
        Row(
            name="load_avg_1m",
            value=f.load_avg_1m,
            note="at start; above ~0.5 other work skews the figures",
        ),
    ]


def json_document(f: NodeFigures, rows: Sequence[Row]) -> dict[str, Any]:
    """The JSON file: headline figures as top-level numbers (latency as {p50, p99})."""
    return {
        "quick": f.config.quick,
        "committed_tps": f.batched.committed_tps,
        "committed_tps_single": f.single.committed_tps,
        "commit_latency_ms": {"p50": f.latency.p50_ms, "p99": f.latency.p99_ms},
        "apply_ratio_node": f.batched.committed_tps / f.apply_signed_per_s,
        "apply_ratio_node_single": f.single.committed_tps / f.apply_signed_per_s,
        "apply_signed_per_s": f.apply_signed_per_s,
        "rss_mb_1m_accounts": f.memory.rss_mb,
        "startup_s_1m_accounts": f.memory.startup_s,
        "load_avg_1m": f.load_avg_1m,
        "rss_accounts": f.memory.accounts,
        "rss_peak_mb": f.memory.rss_peak_mb,
        "genesis_bytes": f.memory.genesis_bytes,
        "node_rss_mb_after_load": f.node_rss_mb_after_load,
        "commit_latency_max_ms": f.latency.max_ms,
        "latency_rate_tps": f.latency.rate_tps,
        "latency_samples": f.latency.samples,
        "batched": _throughput_json(f.batched),
        "single": _throughput_json(f.single),
        "rejected": f.batched.rejected + f.single.rejected + f.latency.rejected,
        "senders_per_phase": SENDERS,
        "batch_txs": BATCH_TXS,
        "block_interval_ms": BLOCK_INTERVAL_MS,
        "duration_s": f.config.duration_s,
        "elapsed_s": f.elapsed_s,
        "machine": machine_json(),
        "targets": targets_json(rows),
    }


def _throughput_json(t: ThroughputFigures) -> dict[str, float | int]:
    return {
        "window_s": t.window_s,
        "window_txs": t.window_txs,
        "blocks": t.blocks,
        "mean_block_txs": t.mean_block_txs,
        "submitted": t.submitted,
        "rejected": t.rejected,
    }
