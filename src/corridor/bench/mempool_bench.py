"""The node's mempool on a full pool: `corridor bench mempool`.

`accounts` funded senders each sign `per_account` payments (sequences 1..per_account, signed
beforehand on every core, not timed), then, in this process, on one core:

- `add_us_per_tx`: admitting every one of them (`Mempool.add`: decoding is done, the signature
  check and the application to the sender's pending state are included);
- `add_ratio`: admissions per second over BIP-340 verifications per second measured in the
  same run (`keys.verify` on one core): how close admission comes to its signature check;
- `reap_ms` {p50, max}: `reap(block_txs)` from the full pool, over `reap_rounds` calls;
- `update_ms`: `update` after a block of those `block_txs` transactions is committed;
- `readd_ms`: the first add to one account after that block (it re-applies the account's
  ready transactions on the new state).

These were timings printed by a unit test under `-s`; they are measured here instead.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from corridor.bench import node_setup
from corridor.bench.report import Row, Target, machine_json, targets_json, timestamped
from corridor.bench.signatures import corridor_bip340
from corridor.ledger.chain import select_txs
from corridor.ledger.context import ApplyContext
from corridor.ledger.genesis import genesis_from_document
from corridor.ledger.keys import KeyPair
from corridor.ledger.statetree import StateTree
from corridor.ledger.tx import SignedTransaction, decode_transaction
from corridor.node.mempool import Mempool

Log = Callable[[str], None]
TARGET_ADD_RATIO = Target(op=">=", value=0.5)  # admission costs at most twice its signature check


@dataclass(frozen=True, slots=True, kw_only=True)
class MempoolBenchConfig:
    quick: bool
    accounts: int
    per_account: int
    block_txs: int
    reap_rounds: int
    verify_keys: int


FULL = MempoolBenchConfig(quick=False, accounts=500, per_account=100, block_txs=5_000,
                          reap_rounds=20, verify_keys=5_000)
QUICK = MempoolBenchConfig(quick=True, accounts=100, per_account=20, block_txs=500,
                           reap_rounds=5, verify_keys=500)


@dataclass(frozen=True, slots=True, kw_only=True)
class MempoolFigures:
    config: MempoolBenchConfig
    pool_txs: int
    add_us_per_tx: float
    verify_per_s: float
    reap_p50_ms: float
    reap_max_ms: float
    update_ms: float
    readd_ms: float
    elapsed_s: float

    @property
    def add_ratio(self) -> float:
        return (1e6 / self.add_us_per_tx) / self.verify_per_s


def _signed(config: MempoolBenchConfig) -> list[SignedTransaction]:
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        pairs = node_setup.sign_payments(pool, 0, config.accounts, config.per_account)
    return [decode_transaction(bytes.fromhex(encoded)) for _, encoded in pairs]


def run(config: MempoolBenchConfig, log: Log) -> MempoolFigures:
    started = time.perf_counter()
    log = timestamped(log, started)
    validator = KeyPair.from_seed(b"mempool-bench-validator".ljust(32, b"."))
    doc = node_setup.genesis_doc([validator.public_key], senders=config.accounts,
                                 receivers=node_setup.RECEIVERS, placeholders=0,
                                 genesis_time_ms=0)
    state = genesis_from_document(doc).state
    log(f"signing {config.accounts * config.per_account:,} payments")
    txs = _signed(config)
    now_ms = int(time.time() * 1000)
    ctx = ApplyContext(chain_id=node_setup.CHAIN_ID, height=1, time_ms=now_ms)

    log("verifying signatures alone (the machine's limit)")
    verify = corridor_bip340(config.verify_keys)
    verify_s = statistics.median(_timed(verify) for _ in range(3))

    log(f"admitting {len(txs):,} transactions")
    pool = Mempool()
    add_s = _timed(lambda: _admit_all(pool, txs, state, ctx))

    reap_s = []
    for _ in range(config.reap_rounds):
        t0 = time.perf_counter()
        reaped = pool.reap(config.block_txs, 1 << 40)
        reap_s.append(time.perf_counter() - t0)
    assert len(reaped) == config.block_txs

    selection = select_txs(state, StateTree(), reaped, ctx)
    assert not selection.rejected, selection.rejected[:1]
    state.commit(selection.execution.state)
    next_ctx = ApplyContext(chain_id=node_setup.CHAIN_ID, height=2, time_ms=now_ms + 1)
    update_s = _timed(lambda: _update(pool, reaped, state, next_ctx))

    # One more payment of the first sender: its first add after the block re-applies the
    # account's ready transactions on the new state.
    extra = _extra_tx(config)
    readd_s = _timed(lambda: _admit_all(pool, [extra], state, next_ctx))
    return MempoolFigures(
        config=config,
        pool_txs=len(txs),
        add_us_per_tx=add_s / len(txs) * 1e6,
        verify_per_s=config.verify_keys / verify_s,
        reap_p50_ms=statistics.median(reap_s) * 1000,
        reap_max_ms=max(reap_s) * 1000,
        update_ms=update_s * 1000,
        readd_ms=readd_s * 1000,
        elapsed_s=time.perf_counter() - started,
    )


def _timed(work: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    work()
    return time.perf_counter() - t0


def _admit_all(pool: Mempool, txs: list[SignedTransaction], state: Any,
               ctx: ApplyContext) -> None:
    for stx in txs:
        refused = pool.add(stx, state, ctx)
        assert refused is None, refused


def _update(pool: Mempool, committed: list[SignedTransaction], state: Any,
            ctx: ApplyContext) -> None:
    dropped = pool.update([stx.tx_id for stx in committed], state, ctx)
    assert dropped == [], dropped[:1]


def _extra_tx(config: MempoolBenchConfig) -> SignedTransaction:
    with ProcessPoolExecutor(max_workers=1) as pool:
        pairs = node_setup.sign_payments(pool, 0, 1, config.per_account + 1)
    return decode_transaction(bytes.fromhex(pairs[-1][1]))


def table_rows(f: MempoolFigures) -> list[Row]:
    return [
        Row(name="add_us_per_tx", value=f.add_us_per_tx, unit="µs",
            note=f"{f.pool_txs:,} txs from {f.config.accounts} accounts; signature check included"),
        Row(name="verify_per_s", value=f.verify_per_s, unit="/s",
            note="BIP-340 verifications, one core, same run: the machine's limit"),
        Row(name="add_ratio", value=f.add_ratio, target=TARGET_ADD_RATIO,
            note="admissions/s over verify_per_s"),
        Row(name="reap_ms.p50", value=f.reap_p50_ms, unit="ms",
            note=f"reap({f.config.block_txs:,}) from the full pool"),
        Row(name="reap_ms.max", value=f.reap_max_ms, unit="ms"),
        Row(name="update_ms", value=f.update_ms, unit="ms",
            note=f"after a committed block of {f.config.block_txs:,} of them"),
        Row(name="readd_ms", value=f.readd_ms, unit="ms",
            note=f"first add to an account after that block (re-applies its "
            f"{f.config.per_account - f.config.block_txs // f.config.accounts} ready txs)"),
    ]


def json_document(f: MempoolFigures, rows: list[Row]) -> dict[str, Any]:
    return {
        "bench": "mempool",
        "quick": f.config.quick,
        "pool_txs": f.pool_txs,
        "add_us_per_tx": f.add_us_per_tx,
        "verify_per_s": f.verify_per_s,
        "add_ratio": f.add_ratio,
        "reap_ms": {"p50": f.reap_p50_ms, "max": f.reap_max_ms},
        "update_ms": f.update_ms,
        "readd_ms": f.readd_ms,
        "elapsed_s": f.elapsed_s,
        "targets": targets_json(rows),
        "machine": machine_json(),
    }
