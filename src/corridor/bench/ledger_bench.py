"""The ledger's throughput on this machine: `corridor bench ledger [--json PATH] [--quick]`.

All figures come from one run, so their ratios compare like with like:

- `verify_per_s`: BIP-340 verifications per second on one core through `keys.verify`, over
  distinct keys and messages with the key cache warm: the physical limit of the apply loop,
  timed in rounds between the apply rounds so that both see the same machine.
  `verify_candidates` measures the same for the schemes considered (decision 0001).
- `apply_signed_per_s`: signed one-payment transactions applied per second on one core,
  signatures verified inside the loop, in blocks of BLOCK_TXS over APPLY_ACCOUNTS accounts.
  The loop mirrors `chain.select_txs` (one pass verifying the block's signatures, then each
  transaction applied into the block's overlay) but stops before `_finish`: the state root
  is measured on its own. Timed with the node process's GC policy (`node.gc_policy`): the
  state frozen once built, each block's objects frozen as it commits. The full collection that
  policy runs now and then (hourly at a steady state) is timed on its own (`gc_full_pass_ms`).
- `apply_parallel_per_s`: the same transactions, their signatures verified ahead by one
  worker process per core (`ParallelVerifier`, pipelined) while the main thread applies with
  `signatures_verified=True`. `apply_parallel_threads_per_s`: the same with worker threads,
  kept to show why processes (see `corridor.bench.parallel`).
- `state_root_per_block_ms_*`: a block's `Overlay.tree_updates()` (encoding and hashing the
  touched accounts) + `StateTree.update` + `.root`, at two state sizes.

Signing, building states and committing blocks are never timed. Timings are medians.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import random
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice, repeat

from corridor.bench.parallel import ParallelVerifier
from corridor.bench.report import Target
from corridor.bench.rounds import Rounds, measure_foreign_cpu, time_once, time_rounds
from corridor.bench.signatures import VERIFY_CANDIDATES, corridor_bip340, digest, index_bytes
from corridor.ledger import chain, keys
from corridor.ledger.assets import Asset
from corridor.ledger.context import ApplyContext
from corridor.ledger.errors import Rejection
from corridor.ledger.invariants import check_state
from corridor.ledger.keys import KeyPair
from corridor.ledger.records import Account, AssetInfo, Holding
from corridor.ledger.results import TxResult
from corridor.ledger.rules.v1 import apply_into
from corridor.ledger.state import MemoryState, Overlay
from corridor.ledger.statetree import StateTree
from corridor.ledger.tx import (
    Payment,
    Signature,
    SignedTransaction,
    Signer,
    Transaction,
    compute_tx_id,
)
from corridor.node.gc_policy import GcPolicy

CHAIN_ID = "corridor-bench"
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
BLOCK_TXS = 5_000
APPLY_ACCOUNTS = 100_000
INITIAL_BALANCE_MINOR = 1_000_000_000
PAYMENT_MINOR_MAX = 10_000
_SIGNATURE_PLACEHOLDER = bytes(keys.SIGNATURE_LEN)

TARGET_APPLY_RATIO = Target(op=">=", value=0.8)
TARGET_APPLY_PARALLEL_RATIO = Target(op=">=", value=1.6)
TARGET_STATE_ROOT_GROWTH = Target(op="<", value=2.0)

Log = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchConfig:
    """How much work each measurement does. `QUICK` keeps the whole run to seconds."""

    quick: bool
    verify_keys: int  # distinct (key, message) pairs per verification round
    verify_rounds: int
    apply_accounts: int
    apply_blocks: int  # blocks of BLOCK_TXS per apply round
    apply_rounds: int  # each round: once on one core, once with the parallel verifier
    state_root_accounts: tuple[int, int]  # (small, large) state sizes
    state_root_blocks: int


FULL = BenchConfig(
    quick=False,
    verify_keys=4_000,
    verify_rounds=5,
    apply_accounts=APPLY_ACCOUNTS,
    apply_blocks=4,
    apply_rounds=5,
    state_root_accounts=(100_000, 1_000_000),
    state_root_blocks=5,
)
QUICK = BenchConfig(
    quick=True,
    verify_keys=300,
    verify_rounds=3,
    apply_accounts=APPLY_ACCOUNTS,
    apply_blocks=1,
    apply_rounds=2,
    state_root_accounts=(20_000, 200_000),
    state_root_blocks=3,
)


@contextlib.contextmanager
def _gc_as_in_node() -> Iterator[GcPolicy]:
    """The node process's GC policy (`node.gc_policy`) while timing, undone after: every
    object alive now frozen out of the cyclic GC's reach (else full passes over 10^5..10^6
    long-lived records land inside the timed loops) and the node's young-generation size.
    The caller freezes each block as the node does (`GcPolicy.freeze_block`)."""
    gc.collect()
    threshold = gc.get_threshold()
    policy = GcPolicy()
    policy.settle()
    try:
        yield policy
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def measure_candidates(config: BenchConfig) -> dict[str, float | None]:
    """{candidate scheme: verifications per second, or None where its library is missing}.
    `keys.verify` itself is timed between the apply rounds (`_apply_rounds`)."""
    n = config.verify_keys
    candidates: dict[str, float | None] = {}
    for name, make in VERIFY_CANDIDATES.items():
        run = make(n)
        candidates[name] = (
            None if run is None else time_rounds(run, config.verify_rounds).median_rate(n)
        )
    return candidates


# --- a state of many accounts ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class World:
    """A state of `len(addresses)` accounts, each holding `usd`, and its one issuer."""

    state: MemoryState
    usd: Asset
    addresses: tuple[bytes, ...]
    public_keys: tuple[bytes, ...]


def placeholder_key(i: int) -> bytes:
    """A public key for account `i` that never signs (also used by the node bench).

    Deriving a real key costs ~36 µs; accounts that never sign (the whole state-root state,
    the receivers) get a hash instead: the same length, so the same encoding; the genesis
    checks a key's encoding, not that it lies on the curve."""
    return digest(b"placeholder-key", index_bytes(i))


def build_world(n_accounts: int, real_keys: dict[int, KeyPair]) -> World:
    """`n_accounts` accounts authorised for USD with INITIAL_BALANCE_MINOR each.

    Account i is signed for by `real_keys[i]` if given, else by a placeholder key. Built
    record by record rather than from a genesis document: parsing 10^6 text addresses would
    take longer than everything measured. Supply is kept consistent (checked by the caller).
    """
    issuer = KeyPair.from_seed(digest(b"issuer"))
    usd = Asset("USD", issuer.address)
    state = MemoryState()
    state.accounts[issuer.address] = Account(
        issuer.address, 0, 1, (Signer(public_key=issuer.public_key, weight=1),), ()
    )
    # One shared Holding and tuple: identical values, and 10^6 copies would only cost memory.
    holdings = (Holding(usd, INITIAL_BALANCE_MINOR, True, False),)
    addresses, public_keys = [], []
    for i in range(n_accounts):
        kp = real_keys.get(i)
        public_key = kp.public_key if kp is not None else placeholder_key(i)
        address = keys.address_of(public_key)
        state.accounts[address] = Account(
            address, 0, 1, (Signer(public_key=public_key, weight=1),), holdings
        )
        addresses.append(address)
        public_keys.append(public_key)
    assert len(state.accounts) == n_accounts + 1, "two bench accounts share an address"
    state.assets[usd] = AssetInfo(usd, 2, True, True, True, n_accounts * INITIAL_BALANCE_MINOR)
    return World(state=state, usd=usd, addresses=tuple(addresses), public_keys=tuple(public_keys))


def plan_payments(rng: random.Random, n_accounts: int, n_txs: int) -> list[tuple[int, int, int]]:
    """(sender, receiver, amount) of `n_txs` payments between random distinct accounts."""
    plan = []
    for _ in range(n_txs):
        sender = rng.randrange(n_accounts)
        receiver = rng.randrange(n_accounts - 1)
        receiver += receiver >= sender
        plan.append((sender, receiver, rng.randint(1, PAYMENT_MINOR_MAX)))
    return plan


def _payments(
    world: World, plan: Sequence[tuple[int, int, int]]
) -> Iterator[tuple[int, Transaction]]:
    """(sender index, transaction) per planned payment, each with its sender's next sequence."""
    next_sequence: dict[int, int] = {}
    for sender, receiver, amount in plan:
        sequence = next_sequence.get(sender, 1)
        next_sequence[sender] = sequence + 1
        yield (
            sender,
            Transaction(
                chain_id=CHAIN_ID,
                source=world.addresses[sender],
                sequence=sequence,
                not_before_ms=0,
                not_after_ms=T0_MS + 3_600_000,
                operations=(
                    Payment(destination=world.addresses[receiver], asset=world.usd, amount=amount),
                ),
            ),
        )


def _unsigned(world: World, sender: int, tx: Transaction) -> SignedTransaction:
    """A transaction carrying its signer's key but no real signature: only for loops that
    pass `signatures_verified=True` (the state-root measurement), to avoid signing 10^4 txs."""
    body = tx.encode()
    signature = Signature(public_key=world.public_keys[sender], signature=_SIGNATURE_PLACEHOLDER)
    return SignedTransaction(tx=tx, signatures=(signature,), tx_id=compute_tx_id(body), body=body)


def _context() -> ApplyContext:
    return ApplyContext(chain_id=CHAIN_ID, height=1, time_ms=T0_MS + 1_000)


# --- applying blocks ------------------------------------------------------------------------


def apply_block(
    state: MemoryState, txs: Iterable[tuple[SignedTransaction, bool]], ctx: ApplyContext
) -> tuple[Overlay, list[TxResult]]:
    """`chain.select_txs`'s loop, without `_finish`: (block overlay, results).

    Each item is a transaction and whether its signatures were verified already. Every
    transaction must succeed: the bench only makes valid ones.
    """
    block_state = Overlay(state)
    applied: list[SignedTransaction] = []
    results: list[TxResult] = []
    for stx, verified in txs:
        outcome = apply_into(block_state, stx, ctx, signatures_verified=verified)
        if isinstance(outcome, Rejection):
            raise AssertionError(f"a benchmark transaction was rejected: {outcome}")
        applied.append(stx)
        results.append(outcome)
    return block_state, results


def _apply_round(
    base: MemoryState,
    blocks: Sequence[Sequence[SignedTransaction]],
    verifier: ParallelVerifier | None,
    gc_policy: GcPolicy,
) -> float:
    """Seconds to apply `blocks` in turn on a copy of `base`; commits are not timed."""
    state, ctx = base.copy(), _context()
    gc_policy.settle()  # as a node does once it has loaded its state
    flagged: Iterator[tuple[SignedTransaction, bool]] | None = None
    if verifier is not None:
        flagged = verifier.verified_in_order(stx for block in blocks for stx in block)
    seconds = 0.0
    for block in blocks:
        started = time.perf_counter()
        if flagged is None:
            # One core does what chain.select_txs/execute_block do: verify the block's
            # signatures in one pass, then apply (timed together).
            ok = chain.verify_first(block, frozenset())
            pairs: Iterable[tuple[SignedTransaction, bool]] = (
                (stx, stx.tx_id in ok) for stx in block
            )
        else:
            pairs = islice(flagged, len(block))
        block_state, results = apply_block(state, pairs, ctx)
        gc_policy.freeze_block()  # what the node does as the block commits: O(1), timed
        seconds += time.perf_counter() - started
        assert len(results) == len(block)
        state.commit(block_state)
    return seconds


def _check_against_chain(base: MemoryState, block: Sequence[SignedTransaction]) -> None:
    """Assert in pairs: the bench's loop writes what `chain.select_txs` writes. Skipped while
    the chain module needs a `StateTree.root_with` that does not exist yet."""
    if not hasattr(StateTree, "root_with"):
        return
    state, ctx = base.copy(), _context()
    ours, _ = apply_block(state, zip(block, repeat(False)), ctx)
    selection = chain.select_txs(state, StateTree(), block, ctx)
    assert not selection.rejected
    assert selection.execution.state.accounts == ours.accounts


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyFigures:
    # keys.verify per second in rounds interleaved with the apply rounds, so the two figures
    # of apply_ratio see the same machine: a shared machine's speed drifts by 10-20% within
    # a minute (seen here), more than the effects measured.
    verify_per_s: float
    signed_per_s: float  # one core: verify the block's signatures, then apply (as chain does)
    parallel_per_s: float  # verified ahead by worker processes
    parallel_threads_per_s: float  # verified ahead by worker threads
    txs: int
    workers: int
    rounds: int
    quiet_parallel_rounds: int  # of `rounds`, those where other processes were ~idle
    foreign_cores_max: float | None  # the most other processes used during any round
    round_rates: dict[str, list[float]]  # per way ("verify", "single", ...), in round order


def _apply_rounds(
    config: BenchConfig,
    world: World,
    blocks: Sequence[Sequence[SignedTransaction]],
    rounds: dict[str, Rounds],
    processes: ParallelVerifier,
    threads: ParallelVerifier,
    gc_policy: GcPolicy,
    log: Log,
) -> None:
    """Times `config.apply_rounds` rounds of each way, interleaved, into `rounds`."""
    n_txs = sum(map(len, blocks))
    verify = corridor_bip340(config.verify_keys)
    verify()  # warm-up, as in time_rounds
    for round_ in range(config.apply_rounds):
        log(f"applying {n_txs:,} payments 3 ways, round {round_ + 1}/{config.apply_rounds}")
        rounds["verify"].add(*measure_foreign_cpu(functools.partial(time_once, verify)))
        for way, verifier in (("single", None), ("proc", processes), ("thread", threads)):
            rounds[way].add(
                *measure_foreign_cpu(
                    functools.partial(_apply_round, world.state, blocks, verifier, gc_policy)
                )
            )


def measure_apply(config: BenchConfig, rng: random.Random, log: Log) -> ApplyFigures:
    """Signed payments applied per second on one core, then with parallel verifiers.

    Rounds interleave the three ways and a verification round, so a change in the machine's
    load hits all alike.
    """
    n_txs = config.apply_blocks * BLOCK_TXS
    plan = plan_payments(rng, config.apply_accounts, n_txs)
    senders = sorted({sender for sender, _, _ in plan})
    log(f"deriving {len(senders):,} keys, building {config.apply_accounts:,} accounts")
    real_keys = {i: KeyPair.from_seed(digest(b"account-key", index_bytes(i))) for i in senders}
    world = build_world(config.apply_accounts, real_keys)
    log(f"signing {n_txs:,} payments")
    stxs = [tx.sign(real_keys[sender]) for sender, tx in _payments(world, plan)]
    blocks = [stxs[at : at + BLOCK_TXS] for at in range(0, n_txs, BLOCK_TXS)]
    _check_against_chain(world.state, blocks[0])
    rounds = {
        "verify": Rounds(cores_needed=1, seconds=[], foreign_cores=[]),
        "single": Rounds(cores_needed=1, seconds=[], foreign_cores=[]),
        "proc": Rounds(cores_needed=os.cpu_count() or 1, seconds=[], foreign_cores=[]),
        "thread": Rounds(cores_needed=os.cpu_count() or 1, seconds=[], foreign_cores=[]),
    }
    with (
        ParallelVerifier(processes=True) as processes,
        ParallelVerifier(processes=False) as threads,
    ):
        # Not timed: starts the worker processes and warms their key caches, as signing
        # warmed this process's.
        assert len(processes.verify_batch(stxs)) == n_txs
        with _gc_as_in_node() as gc_policy:
            _apply_rounds(config, world, blocks, rounds, processes, threads, gc_policy, log)
        workers = processes.workers
    foreign_seen = [f for r in rounds.values() for f in r.foreign_cores if f is not None]
    return ApplyFigures(
        verify_per_s=rounds["verify"].median_rate(config.verify_keys),
        signed_per_s=rounds["single"].median_rate(n_txs),
        parallel_per_s=rounds["proc"].median_rate(n_txs),
        parallel_threads_per_s=rounds["thread"].median_rate(n_txs),
        txs=n_txs,
        workers=workers,
        rounds=config.apply_rounds,
        quiet_parallel_rounds=rounds["proc"].quiet_rounds(),
        foreign_cores_max=max(foreign_seen) if foreign_seen else None,
        round_rates={
            way: [(config.verify_keys if way == "verify" else n_txs) / t for t in r.seconds]
            for way, r in rounds.items()
        },
    )


# --- state root -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StateRootFigures:
    per_block_ms: float  # tree_updates() + StateTree.update + root
    tree_updates_ms: float  # of which: encoding and hashing the touched records
    updates_per_block: float
    # The node's periodic full collection (`GcPolicy.collect_all`) over this whole process:
    # the state, its tree and the bench's own objects.
    gc_full_pass_ms: float


def _time_state_root(
    state: MemoryState, tree: StateTree, block: Sequence[SignedTransaction], ctx: ApplyContext
) -> tuple[float, float, int]:
    """Applies `block` (not timed), then times bringing `tree` up to date with its writes:
    (total ms, of which ms in `tree_updates()`, writes). Commits the block to `state`."""
    block_state, _results = apply_block(state, zip(block, repeat(True)), ctx)
    started = time.perf_counter()
    writes = tuple(block_state.tree_updates())
    encoded = time.perf_counter()
    tree.update(writes)
    _ = tree.root
    finished = time.perf_counter()
    state.commit(block_state)
    return (finished - started) * 1e3, (encoded - started) * 1e3, len(writes)


def measure_state_root(
    n_accounts: int, blocks: int, rng: random.Random, log: Log, *, check: bool
) -> StateRootFigures:
    """Median ms per block of BLOCK_TXS payments to bring the state tree up to date.

    `check` rebuilds the tree from the final state and compares roots (costly at 10^6).
    """
    log(f"building {n_accounts:,} accounts and their state tree")
    world = build_world(n_accounts, {})
    tree = StateTree.from_items(world.state.tree_items())
    _ = tree.root
    ctx = _context()
    plan = plan_payments(rng, n_accounts, blocks * BLOCK_TXS)
    payments = _payments(world, plan)
    timings = []
    with _gc_as_in_node() as gc_policy:
        for _ in range(blocks):
            block = [_unsigned(world, sender, tx) for sender, tx in islice(payments, BLOCK_TXS)]
            timings.append(_time_state_root(world.state, tree, block, ctx))
            gc_policy.freeze_block()
        full_pass_ms = time_once(gc_policy.collect_all) * 1e3
    total_ms, encode_ms, updates = zip(*timings, strict=True)
    if check:
        assert tree.root == StateTree.from_items(world.state.tree_items()).root
        assert check_state(world.state) == []
    return StateRootFigures(
        per_block_ms=statistics.median(total_ms),
        tree_updates_ms=statistics.median(encode_ms),
        updates_per_block=statistics.median(updates),
        gc_full_pass_ms=full_pass_ms,
    )


# --- the whole run --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerFigures:
    """Everything one run measured."""

    config: BenchConfig
    verify_per_s: float
    verify_candidates: dict[str, float | None]
    apply: ApplyFigures
    state_root_small: StateRootFigures
    state_root_large: StateRootFigures
    load_avg_1m: float  # at the start: other work on the machine skews every figure
    elapsed_s: float


def run(config: BenchConfig, log: Log = lambda _: None, seed: int = 1) -> LedgerFigures:
    """Runs every measurement (a few seconds when quick, about a minute otherwise)."""
    started = time.perf_counter()
    load_avg_1m = os.getloadavg()[0]
    rng = random.Random(seed)
    log("measuring signature verification")
    candidates = measure_candidates(config)
    apply = measure_apply(config, rng, log)
    small_n, large_n = config.state_root_accounts
    small = measure_state_root(small_n, config.state_root_blocks, rng, log, check=True)
    gc.collect()
    large = measure_state_root(large_n, config.state_root_blocks, rng, log, check=False)
    gc.collect()
    return LedgerFigures(
        config=config,
        verify_per_s=apply.verify_per_s,
        verify_candidates=candidates,
        apply=apply,
        state_root_small=small,
        state_root_large=large,
        load_avg_1m=load_avg_1m,
        elapsed_s=time.perf_counter() - started,
    )
