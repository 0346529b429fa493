"""What must hold after any simulated run, as lists of human-readable violations.

- Safety: no two honest nodes committed different blocks at one height; no honest validator
  signed two different values for one (height, round, kind).
- State: at every height every honest node computed the same state root, the one in the
  header, and its stores and memory agree with its head.
- Validity: every committed block re-validates from genesis on a fresh state (transactions,
  roots, the commit certificate of each block and the one each block carries), and the ledger
  invariants hold after each block.
- Evidence: every reported double signing verifies and accuses a Byzantine validator, and so
  does every offence recorded on chain (`recorded_offenders` says whom every honest node's
  chain convicts: with one equivocator of four, the equivocator, by the end of a run).

Liveness is a property of a run, not of its end state: `run.Simulation` checks it.
"""

from __future__ import annotations

from collections.abc import Sequence

from corridor.consensus.evidence import DuplicateVoteEvidence
from corridor.ledger.block import Block, verify_commit
from corridor.ledger.chain import validate_block
from corridor.ledger.errors import Rejection
from corridor.ledger.genesis import Genesis
from corridor.ledger.invariants import check_transition
from corridor.ledger.records import Offence
from corridor.sim.node import SimNode, Trace, sparse_tree


def check_safety(nodes: Sequence[SimNode]) -> list[str]:
    """No two different blocks committed at any height across honest nodes."""
    problems = []
    top = max((n.blocks.height() for n in nodes), default=0)
    for height in range(1, top + 1):
        by_hash: dict[bytes, list[str]] = {}
        for node in nodes:
            block = node.blocks.block(height)
            if block is not None:
                by_hash.setdefault(block.hash(), []).append(node.name)
        if len(by_hash) > 1:
            detail = "; ".join(f"{h.hex()[:12]} by {','.join(ns)}" for h, ns in by_hash.items())
            problems.append(f"safety: height {height} has conflicting commits: {detail}")
    return problems


def check_double_signing(trace: Trace, honest_keys: frozenset[bytes]) -> list[str]:
    return [
        f"safety: honest validator {signer.hex()[:12]} signed {len(values)} values for "
        f"{kind} at height {height} round {round_}"
        for (signer, height, round_, kind), values in sorted(trace.signed.items())
        if signer in honest_keys and len(values) > 1
    ]


def check_state_roots(nodes: Sequence[SimNode], trace: Trace) -> list[str]:
    """Every honest node computed the header's state root at every height it committed."""
    problems = []
    for node in nodes:
        for height, (block_hash, root) in sorted(trace.roots[node.name].items()):
            header = node.blocks.header(height)
            if header is None or header.hash() != block_hash:
                problems.append(f"state: {node.name} lost or replaced block {height}")
            elif header.state_root != root:
                problems.append(f"state: {node.name} computed another root at height {height}")
        if not node.up:
            continue
        head = node.core.head
        if node.core.tree.root != head.state_root:
            problems.append(f"state: {node.name}'s tree differs from its head {head.height}")
        stored = sparse_tree(node.states.load().tree_items()).root
        if (node.states.applied_height(), stored) != (head.height, head.state_root):
            problems.append(f"state: {node.name}'s state store differs from its head")
        memory = sparse_tree(node.core.state.tree_items()).root
        if memory != head.state_root:
            problems.append(f"state: {node.name}'s in-memory state differs from its head")
    return problems


def check_validity(genesis: Genesis, nodes: Sequence[SimNode]) -> list[str]:
    """Re-validate each distinct honest chain from genesis (safety makes it usually one)."""
    problems: list[str] = []
    tips: dict[bytes, SimNode] = {}
    for node in sorted(nodes, key=lambda n: -n.blocks.height()):
        tip = node.blocks.header(node.blocks.height())
        assert tip is not None
        covered = any(other.blocks.header(tip.height) == tip for other in tips.values())
        if not covered:
            tips[tip.hash()] = node
    for node in tips.values():
        problems += _chain_problems(genesis, node)
    return problems


def _chain_problems(genesis: Genesis, node: SimNode) -> list[str]:
    state = genesis.state.copy()
    tree = sparse_tree(state.tree_items())
    previous = genesis.header(tree)
    chain_id, validators = genesis.chain_id, genesis.validators
    for height in range(1, node.blocks.height() + 1):
        block, commit = node.blocks.block(height), node.blocks.commit(height)
        where = f"validity: {node.name} block {height}"
        if block is None or commit is None:
            return [f"{where} is missing"]
        problems = []
        if verify_commit(chain_id, validators, commit, block.hash(), height) is not None:
            problems.append(f"{where}: its commit certificate does not verify")
        problems += _last_commit_problems(block, previous.hash(), where, genesis)
        execution = validate_block(state, tree, block, previous, validators)
        if isinstance(execution, Rejection):
            return [*problems, f"{where} does not re-validate: {execution}"]
        problems += [f"{where}: invariant: {p}" for p in check_transition(state, execution.state)]
        if execution.results != node.blocks.results(height):
            problems.append(f"{where}: stored results differ from re-execution")
        if problems:
            return problems
        state.commit(execution.state)
        tree.update(execution.tree_updates)
        previous = block.header
    return []


def _last_commit_problems(
    block: Block, previous_hash: bytes, where: str, genesis: Genesis
) -> list[str]:
    height = block.header.height
    if height == 1:
        return [] if block.last_commit is None else [f"{where} carries a last commit"]
    if block.last_commit is None:
        return [f"{where} lacks the previous block's commit"]
    problem = verify_commit(
        genesis.chain_id, genesis.validators, block.last_commit, previous_hash, height - 1
    )
    return [] if problem is None else [f"{where}'s last commit does not verify: {problem}"]


def check_evidence(
    genesis: Genesis, trace: Trace, honest: Sequence[SimNode], byzantine_keys: frozenset[bytes]
) -> list[str]:
    problems = []
    for node in honest:
        for evidence in trace.evidence[node.name]:
            problems += _evidence_problems(genesis, node.name, evidence, byzantine_keys)
    return problems


def _evidence_problems(
    genesis: Genesis, name: str, evidence: DuplicateVoteEvidence, byzantine: frozenset[bytes]
) -> list[str]:
    rejection = evidence.verify(genesis.chain_id, genesis.validators)
    if rejection is not None:
        return [f"evidence: {name} reported evidence that does not verify: {rejection}"]
    if evidence.validator not in byzantine:
        return [f"evidence: {name} accused honest validator {evidence.validator.hex()[:12]}"]
    return []


def _offences(node: SimNode) -> dict[bytes, Offence]:
    return node.core.state.offences if node.up else node.states.load().offences


def check_recorded_offences(
    honest: Sequence[SimNode], byzantine_keys: frozenset[bytes]
) -> list[str]:
    """No honest node's chain records an offence of an honest validator."""
    return [
        f"evidence: {node.name}'s chain records an offence of honest validator "
        f"{offence.validator.hex()[:12]} at height {offence.height}"
        for node in honest
        for offence in _offences(node).values()
        if offence.validator not in byzantine_keys
    ]


def recorded_offenders(honest: Sequence[SimNode]) -> frozenset[bytes]:
    """The validators (public keys) with an offence recorded on every honest node's chain."""
    sets = [{o.validator for o in _offences(node).values()} for node in honest]
    return frozenset(set.intersection(*sets)) if sets else frozenset()


def check_all(
    genesis: Genesis,
    trace: Trace,
    honest: Sequence[SimNode],
    byzantine_keys: frozenset[bytes],
) -> list[str]:
    honest_keys = frozenset(n.key.public_key for n in honest if n.key is not None)
    names = {n.name for n in honest}
    return [
        *check_safety(honest),
        *check_double_signing(trace, honest_keys),
        *check_state_roots(honest, trace),
        *check_validity(genesis, honest),
        *check_evidence(genesis, trace, honest, byzantine_keys),
        *check_recorded_offences(honest, byzantine_keys),
        *(f"shell: {name}: {p}" for name, p in trace.problems if name in names),
    ]
