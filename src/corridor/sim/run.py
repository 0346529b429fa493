"""One simulated run: a network of validators, a load generator, faults, then the checks.

`simulate(seed, ...)` is the whole recipe: faults happen during the first
`faults.window_ms` of virtual time; then the network heals (partitions end, crashed nodes
restart, messages are neither lost nor duplicated nor held back) and every honest node must
commit `LIVENESS_HEIGHTS` more heights (and at least `heights` in all) within `liveness_ms`.
A Byzantine minority keeps misbehaving after the heal: liveness must hold despite it. With
more than f Byzantine validators only safety is checked.

`Simulation` is the same machinery with the steps exposed, for scripted scenarios (a 2|2
partition, a crash at a chosen moment). Every random choice comes from generators seeded with
the run's seed; the same seed gives the same `SimReport`, down to the committed block hashes.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.genesis import Genesis, genesis_from_document
from corridor.ledger.keys import KeyPair
from corridor.ledger.tx import Payment, SignedTransaction, Transaction
from corridor.sim.byzantine import BEHAVIOURS, ByzantineNode
from corridor.sim.checkers import check_all, recorded_offenders
from corridor.sim.network import CALM, Network, NetworkFaults
from corridor.sim.node import NodeParams, SimGenesis, SimNode, Trace

CHAIN_ID: Final = "corridor-sim"
GENESIS_TIME_MS: Final = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOLDER_BALANCE_MINOR: Final = 10_000_000
LIVENESS_HEIGHTS: Final = 2  # new heights every honest node must commit after the heal
LIVENESS_MS_DEFAULT: Final = 30_000  # ... within this much virtual time
TX_LIFETIME_MS: Final = 10**10


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultMix:
    """The faults of one run, all within the first `window_ms` of virtual time."""

    name: str = "calm"
    network: NetworkFaults = CALM
    window_ms: int = 3_000
    partitions: int = 0  # episodes, one after another, each splitting the nodes in two
    partition_ms_min: int = 500
    partition_ms_max: int = 2_000
    crashes: int = 0  # crash-restart episodes of honest nodes
    crash_ms_min: int = 100
    crash_ms_max: int = 1_500
    torn_write: float = 0.0  # probability a crash loses the state store's last apply
    clock_skew_ms_max: int = 0  # each node's clock is off by up to this, either way
    behaviours: frozenset[str] = frozenset(BEHAVIOURS)  # what Byzantine validators do

    def __post_init__(self) -> None:
        assert self.window_ms > 0 and 0 <= self.torn_write <= 1
        assert 0 < self.partition_ms_min <= self.partition_ms_max
        assert 0 < self.crash_ms_min <= self.crash_ms_max


_LOSSY = NetworkFaults(drop=0.1, duplicate=0.1, delay_ms_min=1, delay_ms_max=150, reorder=0.1)

MIXES: Final = {
    "calm": FaultMix(name="calm"),
    "lossy": FaultMix(name="lossy", network=_LOSSY),
    "partition": FaultMix(name="partition", partitions=2),
    "crash": FaultMix(name="crash", crashes=3, torn_write=0.5),
    "skew": FaultMix(
        name="skew",
        network=NetworkFaults(delay_ms_max=80, reorder=0.2),
        clock_skew_ms_max=5_000,
    ),
    "chaos": FaultMix(
        name="chaos",
        network=NetworkFaults(drop=0.2, duplicate=0.2, delay_ms_max=300, reorder=0.2),
        partitions=1,
        crashes=2,
        torn_write=0.5,
        clock_skew_ms_max=2_000,
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SimReport:
    """The outcome of one run; equal for equal seeds and arguments."""

    seed: int
    mix: str
    validators: int
    byzantine: tuple[str, ...]
    heights_committed: int  # the lowest honest node's height at the end
    chain: tuple[str, ...]  # block hashes (hex) of the longest honest chain
    faults: tuple[tuple[str, int], ...]  # what was injected, by kind
    evidence: int  # double-signing reports by honest nodes
    offenders: tuple[str, ...]  # validators convicted on every honest node's chain
    synced_blocks: int  # blocks honest nodes fetched by block sync
    txs_committed: int
    virtual_ms: int
    violations: tuple[str, ...]

    @property
    def faults_injected(self) -> int:
        return sum(n for _, n in self.faults)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["faults"] = dict(self.faults)
        return out


# --- the world -------------------------------------------------------------------------------


def sim_key(label: str) -> KeyPair:
    return KeyPair.from_seed(hashlib.sha256(b"corridor-sim-key:" + label.encode()).digest())


def sim_genesis(validators: int, holders: int) -> tuple[Genesis, list[KeyPair], list[KeyPair]]:
    """A genesis with `validators` (sorted by key), an issuer "bank" of USD, and holders
    authorised and funded in USD. Returns (genesis, validator keys, holder keys)."""
    vkeys = sorted(
        (sim_key(f"validator-{i}") for i in range(validators)), key=lambda k: k.public_key
    )
    hkeys = [sim_key(f"holder-{i}") for i in range(holders)]
    bank = sim_key("bank")
    doc = {
        "chain_id": CHAIN_ID,
        "genesis_time_ms": GENESIS_TIME_MS,
        "validators": [
            {"public_key": keys.encode_public_key(k.public_key), "power": 1} for k in vkeys
        ],
        "accounts": [{"public_key": keys.encode_public_key(k.public_key)} for k in (bank, *hkeys)],
        "assets": [{"code": "USD", "issuer": keys.encode_address(bank.address), "decimals": 2}],
        "balances": [
            {
                "holder": keys.encode_address(k.address),
                "code": "USD",
                "issuer": keys.encode_address(bank.address),
                "amount": HOLDER_BALANCE_MINOR,
            }
            for k in hkeys
        ],
    }
    return SimGenesis.of(genesis_from_document(doc)), vkeys, hkeys


class LoadGenerator:
    """Random signed payments between holders, submitted to random nodes.

    One transaction in flight per sender, with the sequence after the one the most advanced
    honest node has committed; resubmitted to another node if it has not committed after
    `resubmit_ms` (the node it went to may have crashed, losing its mempool).
    """

    def __init__(
        self,
        rng: random.Random,
        holders: list[KeyPair],
        asset: Asset,
        per_tick: int,
        resubmit_ms: int = 1_500,
    ) -> None:
        self.rng = rng
        self.holders = holders
        self.asset = asset
        self.per_tick = per_tick
        self.resubmit_ms = resubmit_ms
        self.pending: dict[int, tuple[SignedTransaction, int]] = {}  # holder index -> (tx, sent)
        self.created = 0
        self.submissions = 0

    def tick(self, reference: SimNode, targets: Sequence[SimNode], now_ms: int) -> None:
        def committed_sequence(i: int) -> int:
            account = reference.core.account(self.holders[i].address)
            assert account is not None
            return account.sequence

        for i, (stx, _) in list(self.pending.items()):
            if committed_sequence(i) >= stx.tx.sequence:
                del self.pending[i]
        if not targets:
            return
        for i, (stx, sent) in list(self.pending.items()):
            if now_ms - sent >= self.resubmit_ms:
                self._submit(stx, targets)
                self.pending[i] = (stx, now_ms)
        idle = [i for i in range(len(self.holders)) if i not in self.pending]
        for i in self.rng.sample(idle, min(self.per_tick, len(idle))):
            dest = self.rng.choice([j for j in range(len(self.holders)) if j != i])
            self.created += 1
            body = Transaction(
                chain_id=CHAIN_ID,
                source=self.holders[i].address,
                sequence=committed_sequence(i) + 1,
                not_before_ms=0,
                not_after_ms=GENESIS_TIME_MS + TX_LIFETIME_MS,
                operations=(
                    Payment(
                        destination=self.holders[dest].address,
                        asset=self.asset,
                        amount=self.rng.randint(1, 1_000),
                    ),
                ),
                memo=b"sim:%d" % self.created,
            )
            stx = body.sign(self.holders[i])
            self._submit(stx, targets)
            self.pending[i] = (stx, now_ms)

    def _submit(self, stx: SignedTransaction, targets: Sequence[SimNode]) -> None:
        self.submissions += 1
        self.rng.choice(targets).submit(stx)


# --- a run -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Injected:
    counts: Counter[str] = field(default_factory=Counter)


class Simulation:
    """A network of simulated nodes with its fault schedule; see the module docstring."""

    def __init__(
        self,
        seed: int,
        *,
        validators: int = 4,
        byzantine: int = 0,
        faults: FaultMix = MIXES["calm"],
        txs_per_height: int = 2,
        holders: int = 8,
        params: NodeParams | None = None,
    ) -> None:
        assert validators >= 1 and 0 <= byzantine <= validators
        self.seed = seed
        self.faults = faults
        self.genesis, vkeys, hkeys = sim_genesis(validators, holders)
        self.params = params or NodeParams(time_origin_ms=GENESIS_TIME_MS + 1_000)

        def rng(label: str) -> random.Random:
            return random.Random(f"corridor-sim:{seed}:{label}")

        self.rng = rng("schedule")
        self.net = Network(rng("network"), faults.network)
        self.trace = Trace()
        self.injected: Counter[str] = Counter()
        names = [f"v{i}" for i in range(validators)]
        byz = set(self.rng.sample(names, byzantine))
        self.nodes: dict[str, SimNode] = {}
        for name, key in zip(names, vkeys, strict=True):
            peers = tuple(n for n in names if n != name)
            skew = self.rng.randint(-faults.clock_skew_ms_max, faults.clock_skew_ms_max)
            if skew:
                self.injected["skewed-clocks"] += 1
            common: dict[str, Any] = {
                "key": key,
                "peers": peers,
                "params": self.params,
                "skew_ms": skew,
                "rng": rng(f"node:{name}"),
            }
            if name in byz:
                self.nodes[name] = ByzantineNode(
                    name,
                    self.genesis,
                    self.net,
                    self.trace,
                    behaviours=faults.behaviours,
                    **common,
                )
            else:
                self.nodes[name] = SimNode(name, self.genesis, self.net, self.trace, **common)
        self.honest = [n for n in self.nodes.values() if n.honest]
        self.byzantine = [n for n in self.nodes.values() if not n.honest]
        self.f = (validators - 1) // 3
        asset = Asset("USD", sim_key("bank").address)
        self.load = LoadGenerator(rng("load"), hkeys, asset, txs_per_height)
        self.healed_at_ms: int | None = None

    # --- driving -------------------------------------------------------------------------

    def start(self, *, schedule_faults: bool = True) -> Simulation:
        for node in self.nodes.values():
            node.restart()
        self.net.schedule(0, self._load_tick)
        if schedule_faults:
            self._schedule_partitions()
            self._schedule_crashes()
        return self

    def run_until(self, time_ms: int, stop: Callable[[], bool] | None = None) -> bool:
        return self.net.run_until(time_ms, stop=stop)

    def run_for(self, duration_ms: int, stop: Callable[[], bool] | None = None) -> bool:
        return self.net.run_until(self.net.now_ms + duration_ms, stop=stop)

    def heights(self) -> dict[str, int]:
        """Committed height of each honest node (down or not: its block store persists)."""
        return {n.name: n.blocks.height() for n in self.honest}

    def crash(self, name: str, *, torn: bool = False) -> bool:
        node = self.nodes[name]
        self.injected["crashes"] += 1
        tore = node.crash(torn=torn)
        if tore:
            self.injected["torn-writes"] += 1
        return tore

    def restart(self, name: str) -> int:
        return self.nodes[name].restart()

    def partition(self, groups: Sequence[Sequence[str]]) -> None:
        self.net.partition(groups)

    def heal(self) -> None:
        """End every fault: heal the network, calm it, restart the crashed nodes."""
        self.net.heal()
        self.net.faults = CALM
        for node in self.nodes.values():
            if not node.up:
                node.restart()
        self.healed_at_ms = self.net.now_ms

    # --- scheduled faults ----------------------------------------------------------------

    def _load_tick(self) -> None:
        up = [n for n in self.nodes.values() if n.up]
        live = [n for n in self.honest if n.up]
        if live:
            reference = max(live, key=lambda n: (n.blocks.height(), n.name))
            self.load.tick(reference, up, self.net.now_ms)
        self.net.schedule(self.params.block_interval_ms, self._load_tick)

    def _schedule_partitions(self) -> None:
        k, window = self.faults.partitions, self.faults.window_ms
        names = sorted(self.nodes)
        for i in range(k):
            slot = window // k
            start = i * slot + self.rng.randrange(max(1, slot // 2))
            span = self.rng.randint(self.faults.partition_ms_min, self.faults.partition_ms_max)
            end = min(start + span, (i + 1) * slot)
            shuffled = self.rng.sample(names, len(names))
            cut = self.rng.randint(1, len(names) - 1) if len(names) > 1 else 1
            groups = (tuple(shuffled[:cut]), tuple(shuffled[cut:]))
            self.net.schedule(start, lambda g=groups: self.partition(g))  # type: ignore[misc]
            self.net.schedule(end, self._end_partition)

    def _end_partition(self) -> None:
        if self.healed_at_ms is None:
            self.net.heal()

    def _schedule_crashes(self) -> None:
        mix = self.faults
        for _ in range(mix.crashes):
            if not self.honest:
                return
            at = self.rng.randrange(mix.window_ms)
            node = self.rng.choice(self.honest)
            down = self.rng.randint(mix.crash_ms_min, mix.crash_ms_max)
            torn = self.rng.random() < mix.torn_write
            self.net.schedule(at, lambda n=node, t=torn, d=down: self._crash_episode(n, t, d))  # type: ignore[misc]

    def _crash_episode(self, node: SimNode, torn: bool, down_ms: int) -> None:
        if not node.up or self.healed_at_ms is not None:
            return
        self.crash(node.name, torn=torn)

        def back() -> None:
            if not node.up:
                node.restart()

        self.net.schedule(down_ms, back)

    # --- the verdict ---------------------------------------------------------------------

    def report(self, violations: Sequence[str] = ()) -> SimReport:
        byzantine_keys = frozenset(n.key.public_key for n in self.byzantine if n.key is not None)
        found = [*violations, *check_all(self.genesis, self.trace, self.honest, byzantine_keys)]
        longest = max(self.honest, key=lambda n: (n.blocks.height(), n.name), default=None)
        chain: tuple[str, ...] = ()
        txs = 0
        if longest is not None:
            blocks = [longest.blocks.block(h) for h in range(1, longest.blocks.height() + 1)]
            chain = tuple(b.hash().hex() for b in blocks if b is not None)
            txs = sum(len(b.txs) for b in blocks if b is not None)
        injected = Counter(self.injected)
        for kind in ("dropped", "duplicated", "reordered", "partitions"):
            injected[kind] += self.net.stats[kind]
        for node in self.byzantine:
            assert isinstance(node, ByzantineNode)
            injected.update({f"byzantine-{k}": v for k, v in node.stats.items()})
        return SimReport(
            seed=self.seed,
            mix=self.faults.name,
            validators=len(self.nodes),
            byzantine=tuple(sorted(n.name for n in self.byzantine)),
            heights_committed=min(self.heights().values(), default=0),
            chain=chain,
            faults=tuple(sorted((k, v) for k, v in injected.items() if v)),
            evidence=sum(len(self.trace.evidence[n.name]) for n in self.honest),
            offenders=tuple(
                sorted(
                    n.name
                    for n in self.nodes.values()
                    if n.key is not None and n.key.public_key in recorded_offenders(self.honest)
                )
            ),
            synced_blocks=sum(n.synced_blocks for n in self.honest),
            txs_committed=txs,
            virtual_ms=self.net.now_ms,
            violations=tuple(found),
        )


def simulate(
    seed: int,
    *,
    validators: int = 4,
    byzantine: int = 0,
    faults: FaultMix = MIXES["calm"],
    heights: int = 5,
    txs_per_height: int = 2,
    liveness_ms: int = LIVENESS_MS_DEFAULT,
) -> SimReport:
    """Run one seeded simulation to its verdict (see the module docstring)."""
    sim = Simulation(
        seed,
        validators=validators,
        byzantine=byzantine,
        faults=faults,
        txs_per_height=txs_per_height,
    ).start()
    sim.run_until(faults.window_ms)
    sim.heal()
    target = max(heights, max(sim.heights().values(), default=0) + LIVENESS_HEIGHTS)

    def done() -> bool:
        return all(n.blocks.height() >= target for n in sim.honest)

    deadline = faults.window_ms + liveness_ms
    violations = []
    if not sim.run_until(deadline, stop=done) and byzantine <= sim.f:
        violations.append(
            f"liveness: honest heights {sim.heights()} short of {target} "
            f"{liveness_ms} ms after the heal"
        )
    return sim.report(violations)
