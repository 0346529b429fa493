"""The table and the JSON document of `corridor bench ledger` (figures: `ledger_bench`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from corridor.bench.ledger_bench import (
    BLOCK_TXS,
    TARGET_APPLY_PARALLEL_RATIO,
    TARGET_APPLY_RATIO,
    TARGET_STATE_ROOT_GROWTH,
    ApplyFigures,
    LedgerFigures,
)
from corridor.bench.report import Row, machine_json, targets_json
from corridor.node.gc_policy import FULL_EVERY_S, FULL_GROWTH


def _short(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1_000}k"


def _quiet_note(apply: ApplyFigures) -> str:
    if apply.foreign_cores_max is None:
        return "other processes' load unknown here"
    if apply.quiet_parallel_rounds == 0:
        return "NOT MEANINGFUL: other processes were busy in every round"
    return f"median of {apply.quiet_parallel_rounds}/{apply.rounds} quiet rounds"


def table_rows(f: LedgerFigures) -> list[Row]:
    """The table: every headline figure, with its target where it has one."""
    small_n, large_n = f.config.state_root_accounts
    small, large, apply = f.state_root_small, f.state_root_large, f.apply
    size = " (quick: smaller state)" if f.config.quick else ""
    return [
        Row(
            name="verify_per_s",
            value=f.verify_per_s,
            unit="/s",
            note="keys.verify, one core, between the apply rounds",
        ),
        *(
            Row(name=f"verify[{name}]", value=rate, unit="/s", note="one core")
            for name, rate in f.verify_candidates.items()
        ),
        Row(
            name="apply_signed_per_s",
            value=apply.signed_per_s,
            unit="tx/s",
            note=f"{apply.txs:,} txs over {f.config.apply_accounts:,} accounts, one core",
        ),
        Row(
            name="apply_ratio", value=apply.signed_per_s / f.verify_per_s, target=TARGET_APPLY_RATIO
        ),
        Row(
            name="apply_parallel_per_s",
            value=apply.parallel_per_s,
            unit="tx/s",
            note=f"verified ahead by {apply.workers} processes",
        ),
        Row(
            name="apply_parallel_ratio",
            value=apply.parallel_per_s / apply.signed_per_s,
            target=TARGET_APPLY_PARALLEL_RATIO,
            note=_quiet_note(apply),
        ),
        Row(
            name="apply_parallel_threads_per_s",
            value=apply.parallel_threads_per_s,
            unit="tx/s",
            note=f"verified ahead by {apply.workers} threads (GIL-bound)",
        ),
        Row(
            name="state_root_per_block_ms_100k",
            value=small.per_block_ms,
            unit="ms",
            note=f"{small_n:,} accounts{size}, {small.updates_per_block:,.0f} updates",
        ),
        Row(
            name="state_root_per_block_ms_1m",
            value=large.per_block_ms,
            unit="ms",
            note=f"{large_n:,} accounts{size}, {large.updates_per_block:,.0f} updates",
        ),
        Row(
            name="state_root_growth",
            value=large.per_block_ms / small.per_block_ms,
            target=TARGET_STATE_ROOT_GROWTH,
            note=f"{_short(large_n)} / {_short(small_n)}",
        ),
        *(
            Row(
                name=f"gc_full_pass_ms_{_short(n)}",
                value=figures.gc_full_pass_ms,
                unit="ms",
                note=f"{n:,} accounts: the node's full GC pass, every {FULL_EVERY_S / 3600:.0f} h"
                f" or {FULL_GROWTH:.0%} growth",
            )
            for n, figures in ((small_n, small), (large_n, large))
        ),
        Row(
            name="apply_foreign_cpu_cores_max",
            value=apply.foreign_cores_max,
            unit="cores",
            note="other processes' work during the apply rounds, at most",
        ),
    ]


def json_document(f: LedgerFigures, rows: Sequence[Row]) -> dict[str, Any]:
    """The JSON file: headline figures as top-level numbers, then details."""
    headline = {row.name: row.value for row in rows if not row.name.startswith("verify[")}
    small_n, large_n = f.config.state_root_accounts
    return {
        "quick": f.config.quick,
        **headline,
        "verify_candidates": f.verify_candidates,
        "apply_txs": f.apply.txs,
        "apply_accounts": f.config.apply_accounts,
        "apply_workers": f.apply.workers,
        "apply_rounds": f.apply.rounds,
        "apply_quiet_parallel_rounds": f.apply.quiet_parallel_rounds,
        "apply_round_rates": f.apply.round_rates,
        "block_txs": BLOCK_TXS,
        "state_root_accounts_small": small_n,
        "state_root_accounts_large": large_n,
        "state_root_tree_updates_ms_100k": f.state_root_small.tree_updates_ms,
        "state_root_tree_updates_ms_1m": f.state_root_large.tree_updates_ms,
        "state_root_updates_per_block_100k": f.state_root_small.updates_per_block,
        "state_root_updates_per_block_1m": f.state_root_large.updates_per_block,
        "elapsed_s": f.elapsed_s,
        "machine": {**machine_json(), "load_avg_1m_at_start": f.load_avg_1m},
        "targets": targets_json(rows),
    }
