"""The deterministic network simulator: many seeds under faults, and scripted scenarios.
`CORRIDOR_LONG_TESTS=1` runs three times as many seeds (`python -m corridor.sim.soak` any
number).

Every seed that ever failed is kept in `tests/sim/regressions.py` and runs here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corridor.ledger.errors import RejectCode, Rejection
from corridor.ledger.records import Offence
from corridor.ledger.statetree import StateTree
from corridor.sim import MIXES, FaultMix, Simulation, simulate
from corridor.sim.byzantine import EQUIVOCATE, GARBAGE, WITHHOLD
from corridor.sim.checkers import (
    check_double_signing,
    check_recorded_offences,
    check_safety,
    recorded_offenders,
)
from corridor.sim.node import Trace, sparse_tree
from corridor.sim.run import sim_genesis
from corridor.sim.soak import CASES, case_of, main, run_seed
from tests.sim.regressions import REGRESSIONS, SPLIT_LOCK_ARGS, SPLIT_LOCK_SEED

# x 10 cases: 100 seeds in the default run; the long run (CORRIDOR_LONG_TESTS=1, `bash
# scripts/test-long.sh`) goes on to 300, the first 100 included.
LONG = os.environ.get("CORRIDOR_LONG_TESTS") == "1"
SEEDS_PER_CASE = 30 if LONG else 10
HEIGHTS = 4
EVIDENCE_HEIGHTS = 8  # every honest validator proposes (and so records what it saw) twice


def _assert_clean(report: object) -> None:
    violations = getattr(report, "violations", ())
    assert not violations, "\n".join(violations)


def test_sparse_tree_builds_the_same_tree_as_from_items() -> None:
    genesis, _, _ = sim_genesis(4, 8)
    items = list(genesis.state.tree_items())
    full = StateTree.from_items(items)
    fast = sparse_tree(items)
    assert fast.root == full.root and list(fast.items()) == list(full.items())


@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{m}-byz{b}" for m, b in CASES])
def test_seeds_across_fault_mixes(case: int) -> None:
    failing = {}
    for seed in range(case, case + SEEDS_PER_CASE * len(CASES), len(CASES)):
        report = run_seed(seed, heights=HEIGHTS)
        assert report.heights_committed >= HEIGHTS or report.violations
        assert report.faults_injected > 0 or CASES[case][0] == "calm"
        if report.violations:
            failing[seed] = report.violations
    assert not failing, json.dumps(failing, indent=1)


@pytest.mark.parametrize("seed", sorted(REGRESSIONS))
def test_regression_seeds(seed: int) -> None:
    _assert_clean(simulate(seed, **REGRESSIONS[seed]))


def test_one_equivocator_cannot_halt_the_chain() -> None:
    """The split lock: an equivocator's prevote for A completed a polka at one honest node
    (which locked on A) while the others had counted its nil prevote and ignored the relayed
    one, so never saw the proof of lock; the chain halted. Each vote now counts for its value."""
    report = simulate(SPLIT_LOCK_SEED, **SPLIT_LOCK_ARGS)
    _assert_clean(report)
    assert report.heights_committed >= SPLIT_LOCK_ARGS["heights"]
    assert report.evidence > 0


def test_same_seed_same_report() -> None:
    for seed in (5, 9):  # chaos, and chaos with a Byzantine validator
        first, second = run_seed(seed, HEIGHTS), run_seed(seed, HEIGHTS)
        assert first == second
        assert first.chain and first.faults_injected > 0
    assert run_seed(15, HEIGHTS).chain != run_seed(25, HEIGHTS).chain  # seeds do matter


def test_same_seed_same_chain_in_other_processes() -> None:
    """Hash randomisation (PYTHONHASHSEED) must not leak into a run: no set order is used."""
    seed = 9
    script = (
        "import json, sys; from corridor.sim.soak import run_seed; "
        f"print(json.dumps(run_seed({seed}, {HEIGHTS}).to_json()))"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(json.loads(done.stdout))
    here = json.loads(json.dumps(run_seed(seed, HEIGHTS).to_json()))
    assert outputs[0] == outputs[1] == here


def test_one_equivocator_of_four_is_reported_and_harmless() -> None:
    """Safety holds, and the equivocator's double signing is recorded on every honest node's
    chain (`offenders`); an offence of an honest validator would be a violation."""
    mix = FaultMix(name="equivocate", behaviours=frozenset({EQUIVOCATE}))
    for seed in range(4):  # seeds 0, 1 and 3 stalled on the split lock before it was fixed
        report = simulate(seed, byzantine=1, faults=mix, heights=EVIDENCE_HEIGHTS)
        _assert_clean(report)
        assert report.evidence > 0
        assert dict(report.faults)["byzantine-equivocated"] > 0
        assert report.offenders == report.byzantine, report


@pytest.mark.parametrize(
    "behaviours",
    [frozenset({EQUIVOCATE}), frozenset({WITHHOLD, GARBAGE}), frozenset({EQUIVOCATE, GARBAGE})],
    ids=lambda b: "+".join(sorted(b)),
)
def test_two_byzantine_of_four_never_fork_honest_nodes(behaviours: frozenset[str]) -> None:
    """n = 4 tolerates f = 1: with two, liveness is not owed (and not checked), safety is
    checked for these behaviours. (Two *colluding* equivocators could fork the two honest
    nodes; these send their two versions to random halves, uncoordinated.)"""
    mix = FaultMix(name="two-byzantine", behaviours=behaviours)
    for seed in range(3):
        report = simulate(seed, byzantine=2, faults=mix, heights=HEIGHTS, liveness_ms=5_000)
        _assert_clean(report)  # includes safety, and no offence of an honest validator
        assert set(report.offenders) <= set(report.byzantine)


def test_crash_with_torn_write_recovers_and_catches_up() -> None:
    sim = Simulation(3, faults=MIXES["calm"]).start(schedule_faults=False)
    victim = sim.honest[1]
    sim.run_until(60_000, stop=lambda: victim.blocks.height() >= 3)
    assert sim.crash(victim.name, torn=True)  # lost its last state write
    assert victim.states.applied_height() == victim.blocks.height() - 1
    down_at = victim.blocks.height()
    others = [n for n in sim.honest if n is not victim]
    sim.run_for(60_000, stop=lambda: min(n.blocks.height() for n in others) >= down_at + 5)
    assert victim.restart() == 1  # recovery replayed the torn block
    assert victim.states.applied_height() == victim.blocks.height() == down_at
    target = max(n.blocks.height() for n in others) + 2
    sim.run_for(60_000, stop=lambda: victim.blocks.height() >= target)
    assert victim.blocks.height() >= target
    assert victim.synced_blocks > 0  # it fetched the blocks it missed
    _assert_clean(sim.report())


def _heights_in(seed: int, duration_ms: int, *, crash_one: bool) -> tuple[int, Simulation]:
    """Heights the other three commit in `duration_ms` of virtual time once v3 is at 4
    (crashed then, for good, if `crash_one`)."""
    sim = Simulation(seed, faults=MIXES["calm"]).start(schedule_faults=False)
    victim = sim.nodes["v3"]
    sim.run_until(60_000, stop=lambda: victim.blocks.height() >= 4)
    if crash_one:
        sim.crash(victim.name)
    others = [n for n in sim.honest if n is not victim]
    before = min(n.blocks.height() for n in others)
    sim.run_for(duration_ms)
    return min(n.blocks.height() for n in others) - before, sim


def test_a_crashed_proposer_costs_its_turns_no_propose_timeout() -> None:
    # The three left presume the silent proposer down and prevote nil at once; the nil
    # precommits start the next round at once: the chain keeps (nearly) its pace. Waiting out
    # the timeouts on each of its turns would cost a quarter of the heights a second each.
    up, _ = _heights_in(3, 20_000, crash_one=False)
    down, sim = _heights_in(3, 20_000, crash_one=True)
    assert down >= 0.9 * up
    assert all(n.shell.skipped_proposers > 0 for n in sim.honest if n.name != "v3")
    _assert_clean(sim.report())


def test_crashed_validator_replays_its_log_and_never_double_signs() -> None:
    """Crash validators repeatedly mid-height; the checker of honest double signing (every
    signed slot holds one value) and the safety checkers must stay clean."""
    sim = Simulation(7, faults=MIXES["lossy"]).start(schedule_faults=False)
    for i in range(12):
        node = sim.honest[i % len(sim.honest)]
        sim.run_for(137 + 61 * i)
        sim.crash(node.name, torn=i % 2 == 0)
        sim.run_for(29)
        node.restart()
    sim.heal()
    sim.run_for(30_000, stop=lambda: min(sim.heights().values()) >= 8)
    report = sim.report()
    _assert_clean(report)
    assert report.heights_committed >= 8


def test_partition_two_two_halts_then_heals() -> None:
    sim = Simulation(11, faults=MIXES["calm"]).start(schedule_faults=False)
    sim.run_until(60_000, stop=lambda: min(sim.heights().values()) >= 2)
    sim.partition([["v0", "v1"], ["v2", "v3"]])
    sim.run_for(300)  # a height already decided by some may finish on the others' side
    halted = sim.heights()
    sim.run_for(5_000)
    assert sim.heights() == halted, "neither half has 2/3 of the power"
    sim.heal()
    target = max(halted.values()) + 2
    assert sim.run_for(30_000, stop=lambda: min(sim.heights().values()) >= target)
    _assert_clean(sim.report())


def test_checkers_see_forks_and_double_signing() -> None:
    """The checkers are not vacuous: two separate networks have different block 1s."""
    a = Simulation(1).start(schedule_faults=False)
    b = Simulation(2).start(schedule_faults=False)
    a.run_until(2_000)
    b.run_until(2_000)
    problems = check_safety([a.honest[0], b.honest[0]])
    assert problems and "conflicting commits" in problems[0]
    key = a.honest[0].key  # the same validator key signed both chains' precommits
    assert key is not None
    trace = Trace()
    for sim in (a, b):
        for slot, values in sim.trace.signed.items():
            if slot[0] == key.public_key and slot[3] == "precommit":
                trace.signed.setdefault(slot, set()).update(values)
    assert check_double_signing(trace, frozenset({key.public_key}))


def test_soak_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "soak.json"
    assert main(["--seeds", "3", "--start", "40", "--heights", "3", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "seeds run:         3" in text and "violations:        0" in text
    data = json.loads(out.read_text())
    assert [r["seed"] for r in data["seeds"]] == [40, 41, 42] and data["failing"] == []
    assert case_of(41)["faults"] is MIXES[CASES[1][0]]


def test_a_forged_last_commit_is_rejected() -> None:
    """A proposal whose carried certificate lacks > 2/3 of the power is refused by NodeCore,
    which the shell (the node's and the sim node's) validates proposals with."""
    sim = Simulation(4).start(schedule_faults=False)
    node = sim.honest[0]
    sim.run_until(60_000, stop=lambda: node.blocks.height() >= 2)
    block, _, _ = node.core.build_block(node.core.take_candidates(node.local_now_ms()))
    assert block.last_commit is not None
    forged = dataclasses.replace(block.last_commit, signatures=block.last_commit.signatures[:1])
    header = dataclasses.replace(block.header, last_commit_hash=forged.hash())
    bad = dataclasses.replace(block, header=header, last_commit=forged)
    refused = node.core.validate_proposal(bad)
    assert isinstance(refused, Rejection)
    assert refused.code is RejectCode.INSUFFICIENT_WEIGHT
    missing = dataclasses.replace(
        block,
        header=dataclasses.replace(block.header, last_commit_hash=bytes(32)),
        last_commit=None,
    )
    assert isinstance(node.core.validate_proposal(missing), Rejection)
    assert not isinstance(node.core.validate_proposal(block), Rejection)


def test_the_offence_checker_sees_an_honest_validator_convicted() -> None:
    """Not vacuous: an offence of an honest validator on an honest chain is a violation."""
    sim = Simulation(1).start(schedule_faults=False)
    sim.run_until(1_000)
    node = sim.honest[0]
    assert node.key is not None
    assert check_recorded_offences(sim.honest, frozenset()) == []
    offence = Offence(node.key.public_key, 1, 1, 0, b"\x00" * 32, 2)
    node.core.state.offences[offence.offence_id] = offence
    problems = check_recorded_offences(sim.honest, frozenset())
    assert problems and "honest validator" in problems[0]
    assert recorded_offenders(sim.honest) == frozenset()  # not on every honest chain
