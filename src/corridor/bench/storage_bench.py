"""What the SQLite store costs per block and at start-up on this machine.

    python -m corridor.bench.storage_bench append [--txs 5000] [--blocks 5] [--accounts N] DB
    python -m corridor.bench.storage_bench load DB      # a DB made by `append`

`append`: creates DB with `--accounts` accounts, then commits 2 x `--blocks` blocks of `--txs`
signed one-payment transactions between distinct accounts (2 x txs accounts touched per
block) as the node does: `append` (synchronous=FULL), then `apply`; every other block
appends at synchronous=NORMAL instead, for comparison. Prints medians in ms (and the slowest
apply: a checkpoint on the commit path shows there), the largest WAL file seen after a block,
and how many checkpoints the store's background thread ran. Building, signing and executing
blocks is not timed.

`load`: `SqliteStore.load()` of DB in this fresh process: seconds and resident memory growth
(VmRSS before and after; the loaded MemoryState is kept alive while measuring).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import time
from pathlib import Path

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.block import (
    PRECOMMIT,
    BlockHeader,
    Commit,
    CommitSig,
    Validator,
    ValidatorSet,
    vote_sign_bytes,
)
from corridor.ledger.chain import make_block, select_txs
from corridor.ledger.context import ApplyContext
from corridor.ledger.genesis import Genesis
from corridor.ledger.keys import KeyPair
from corridor.ledger.records import Account, AssetInfo, Holding
from corridor.ledger.state import MemoryState
from corridor.ledger.statetree import StateTree
from corridor.ledger.tx import Payment, Signer, Transaction
from corridor.node.storage import SqliteStore

CHAIN_ID = "corridor-bench"
T0 = 1_767_225_600_000
BALANCE = 10**12


def _key(i: int) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(b"storage-bench:" + i.to_bytes(8, "big")).digest())


def build_genesis(n_signing: int, n_accounts: int, seed: int = 1) -> tuple[Genesis, list[KeyPair]]:
    """`n_signing` accounts with real keys (they sign the benchmark's payments) and filler
    accounts with random keys up to `n_accounts`, all holding the one asset."""
    rng = random.Random(seed)
    issuer, validator = _key(0), _key(1)
    signing = [_key(2 + i) for i in range(n_signing)]
    usd = Asset("USD", issuer.address)
    state = MemoryState()
    state.accounts[issuer.address] = Account(
        issuer.address, 0, 1, (Signer(public_key=issuer.public_key, weight=1),), ()
    )
    public_keys = [k.public_key for k in signing]
    public_keys += [rng.randbytes(32) for _ in range(max(0, n_accounts - n_signing))]
    for pk in public_keys:
        address = keys.address_of(pk)
        state.accounts[address] = Account(
            address, 0, 1, (Signer(public_key=pk, weight=1),), (Holding(usd, BALANCE, True, False),)
        )
    state.assets[usd] = AssetInfo(usd, 2, False, False, False, BALANCE * len(public_keys))
    validators = ValidatorSet((Validator(validator.public_key, 1),))
    genesis = Genesis(
        chain_id=CHAIN_ID, genesis_time_ms=T0, validators=validators, state=state, document={}
    )
    return genesis, signing


def _certify(header: BlockHeader, validator: KeyPair) -> Commit:
    message = vote_sign_bytes(CHAIN_ID, PRECOMMIT, header.height, 0, header.hash())
    signature = CommitSig(validator.public_key, validator.sign(message))
    return Commit(header.height, 0, header.hash(), (signature,))


def append_apply(db: Path, n_txs: int, blocks: int, n_accounts: int) -> dict[str, float]:
    """Median ms of append (FULL), append (NORMAL) and apply for blocks of `n_txs` payments,
    wall clock, and CPU time of this process for append and apply (all blocks); the slowest
    apply, the largest WAL and the background checkpoints."""
    genesis, signing = build_genesis(2 * n_txs, max(n_accounts, 2 * n_txs))
    tree = genesis.tree()
    head = genesis.header(tree)
    db.unlink(missing_ok=True)
    Path(f"{db}.genesis").write_bytes(head.encode())
    store: SqliteStore = SqliteStore(db, genesis=head)
    started = time.perf_counter()
    store.initialise(genesis.state, head.state_root)
    print(f"initialise {len(genesis.state.accounts):,} accounts: "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
    usd = Asset("USD", _key(0).address)
    validator = _key(1)
    timings: dict[str, list[float]] = {
        name: [] for name in ("append_full", "append_normal", "apply", "append_cpu", "apply_cpu")
    }
    last_commit = None
    wal_mib_max = 0.0
    for b in range(2 * blocks):
        # Alternate FULL and NORMAL appends so that drift in machine load hits both alike.
        # NORMAL is for this measurement only: an append not fsynced can be lost on power loss.
        full = b % 2 == 0
        store._append_synchronous = "FULL" if full else "NORMAL"
        height = head.height + 1
        ctx = ApplyContext(chain_id=CHAIN_ID, height=height, time_ms=T0 + 1000 * height)
        txs = [
            Transaction(
                chain_id=CHAIN_ID, source=signing[i].address, sequence=b + 1, not_before_ms=0,
                not_after_ms=T0 + 10**9, memo=b"",
                operations=(Payment(destination=signing[n_txs + i].address, asset=usd,
                                    amount=1),),
            ).sign(signing[i])
            for i in range(n_txs)
        ]  # fmt: skip
        sel = select_txs(genesis.state, tree, txs, ctx, verified={t.tx_id for t in txs})
        assert not sel.rejected and len(sel.execution.txs) == n_txs
        block = make_block(head, sel.execution, time_ms=ctx.time_ms, validators=genesis.validators,
                           proposer_key=validator.public_key, last_commit=last_commit)  # fmt: skip
        commit = _certify(block.header, validator)
        t0, c0 = time.perf_counter(), time.process_time()
        store.append(block, commit, sel.execution.results)
        t1, c1 = time.perf_counter(), time.process_time()
        store.apply(height, sel.execution.state, sel.execution.state_root)
        t2, c2 = time.perf_counter(), time.process_time()
        timings["append_full" if full else "append_normal"].append((t1 - t0) * 1e3)
        timings["apply"].append((t2 - t1) * 1e3)
        timings["append_cpu"].append((c1 - c0) * 1e3)
        timings["apply_cpu"].append((c2 - c1) * 1e3)
        wal = Path(f"{db}-wal")
        wal_mib_max = max(wal_mib_max, wal.stat().st_size / 2**20 if wal.exists() else 0.0)
        genesis.state.commit(sel.execution.state)
        tree.update(sel.execution.tree_updates)
        head, last_commit = block.header, commit
    checkpointer = store._checkpointer
    assert checkpointer is not None
    checkpoints = {"checkpoints": checkpointer.passive, "restarts": checkpointer.restarts}
    store.close()
    print(f"block bytes {len(block.encode()):,}; file {db.stat().st_size / 2**20:.0f} MiB",
          file=sys.stderr)  # fmt: skip
    figures = {name: statistics.median(values) for name, values in timings.items()}
    return figures | {"apply_max": max(timings["apply"]), "wal_mib_max": wal_mib_max} | checkpoints


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(db: Path) -> dict[str, float]:
    """Seconds (wall, CPU) and MiB of resident memory that `load()` of `db` takes in this
    process, and whether the loaded state hashes to the stored root."""
    head = BlockHeader.decode(Path(f"{db}.genesis").read_bytes())
    store = SqliteStore(db, genesis=head)
    before = _rss_mib()
    started, cpu_started = time.perf_counter(), time.process_time()
    state = store.load()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    after = _rss_mib()
    store.close()
    check = StateTree.from_items(state.tree_items()).root == store.state_root()
    return {"accounts": len(state.accounts), "load_s": seconds, "load_cpu_s": cpu_seconds,
            "rss_mib": after - before,
            "root_matches": float(check)}  # fmt: skip


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="storage_bench")
    parser.add_argument("what", choices=["append", "load"])
    parser.add_argument("db", type=Path)
    parser.add_argument("--txs", type=int, default=5_000)
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--accounts", type=int, default=0)
    args = parser.parse_args(argv)
    if args.what == "append":
        figures = append_apply(args.db, args.txs, args.blocks, args.accounts)
    else:
        figures = load(args.db)
    for name, value in figures.items():
        print(f"{name:>14}: {value:,.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
