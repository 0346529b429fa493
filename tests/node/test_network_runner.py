"""Edge cases of the consensus shell in a node among peers (`NetworkRunner`), driven
through `on_message` as the p2p transport would: a synced block with a bad commit
certificate is refused and the node does not advance; proposals from anyone but the round's
proposer are ignored, and a forged one naming the right proposer neither costs a block
validation nor uses up the height's candidate slots."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

from corridor.consensus.machine import proposer_of
from corridor.consensus.messages import Proposal, proposal_sign_bytes
from corridor.ledger.block import PRECOMMIT, Block, BlockHeader, Commit, CommitSig, vote_sign_bytes
from corridor.ledger.chain import make_block, select_txs
from corridor.ledger.genesis import Genesis
from corridor.node.consensus_driver import ConsensusWal, NetworkRunner
from corridor.node.core import NodeCore
from corridor.node.limits import CONSENSUS_CANDIDATES_MAX, SYNC_RETRY_MS
from corridor.node.p2p_messages import (
    P2PMessage,
    ProposalMsg,
    StatusMsg,
    SyncRequestMsg,
    SyncResponseMsg,
)
from corridor.node.runner import RunnerConfig
from corridor.node.storage.memory import MemoryBlockStore, MemoryStateStore

from ..ledger.builders import CHAIN, T0, ctx, key, make_genesis

VALIDATORS = ("v1", "v2", "v3", "v4")
PEER = "peer-fingerprint"


class RecordingTransport:
    """Stands in for `p2p.Transport` (no sockets): records what the runner sends."""

    def __init__(self) -> None:
        self.broadcasts: list[P2PMessage] = []
        self.sent: list[tuple[str, P2PMessage]] = []

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def broadcast(self, msg: P2PMessage) -> None:
        self.broadcasts.append(msg)

    def send(self, peer: str, msg: P2PMessage) -> None:
        self.sent.append((peer, msg))

    def connected(self) -> list[str]:
        return [PEER]


def _name_of(public_key: bytes) -> str:
    return next(v for v in VALIDATORS if key(v).public_key == public_key)


def _block(g: Genesis, proposer: str, time_ms: int = T0 + 1000) -> Block:
    """A valid, empty block 1 on `g` made by `proposer`."""
    tree = g.tree()
    sel = select_txs(g.state, tree, [], ctx(1, time_ms))
    return make_block(g.header(tree), sel.execution, time_ms=time_ms, validators=g.validators,
                      proposer_key=key(proposer).public_key, last_commit=None)


def _commit(header: BlockHeader, signers: tuple[str, ...], chain_id: str = CHAIN) -> Commit:
    msg = vote_sign_bytes(chain_id, PRECOMMIT, header.height, 0, header.hash())
    sigs = sorted((CommitSig(key(v).public_key, key(v).sign(msg)) for v in signers),
                  key=lambda s: s.public_key)
    return Commit(header.height, 0, header.hash(), tuple(sigs))


Scenario = Callable[[NetworkRunner, Genesis], Awaitable[None]]


def _run(tmp_path: Path, scenario: Scenario) -> None:
    """Runs a node of v-something that is not the proposer of height 1 round 0, at height 1."""
    g = make_genesis(validators=VALIDATORS)
    first = _name_of(proposer_of(g.validators, 1, 0))
    me = next(v for v in VALIDATORS if v != first)
    header = g.header()
    core = NodeCore(g, MemoryBlockStore(header), MemoryStateStore(), key=key(me),
                    genesis_header=header, freeze_gc=False)
    runner = NetworkRunner(core, RunnerConfig(block_interval_ms=10_000),
                           wal=ConsensusWal(tmp_path / "consensus.wal"))
    runner.attach(RecordingTransport())  # type: ignore[arg-type]

    async def main() -> None:
        task = asyncio.ensure_future(runner.run())
        for _ in range(1000):
            if runner.consensus.height == 1:
                break
            await asyncio.sleep(0)
        assert runner.consensus.height == 1
        try:
            await scenario(runner, make_genesis(validators=VALIDATORS))
        finally:
            runner.stop()
            await task
        assert runner.failure is None, runner.failure

    asyncio.run(main())


def test_a_synced_block_with_a_bad_commit_is_refused(tmp_path: Path) -> None:
    async def scenario(runner: NetworkRunner, g: Genesis) -> None:
        block = _block(g, _name_of(proposer_of(g.validators, 1, 0)))
        header = block.header
        tampered = dataclasses.replace(header, state_root=b"\x01" * 32)
        forged = _commit(header, ("v1", "v2", "v3"))
        s0 = forged.signatures[0]
        forged = dataclasses.replace(
            forged, signatures=(CommitSig(s0.public_key, bytes(64)), *forged.signatures[1:]))
        bad: list[tuple[Block, Commit]] = [
            (block, _commit(header, ("v1", "v2"))),  # 2 of 4: not more than 2/3
            (block, _commit(header, ("v1", "v2", "v3"), chain_id="other-chain")),
            (block, forged),
            (block, _commit(dataclasses.replace(header, time_ms=header.time_ms + 1), VALIDATORS)),
            # More than 2/3 signed a block that does not re-execute: still refused.
            (dataclasses.replace(block, header=tampered), _commit(tampered, VALIDATORS)),
        ]
        for pair in bad:
            runner.on_message(PEER, SyncResponseMsg((pair,)))
            assert runner.core.head.height == 0
            assert runner.synced_blocks == 0
            assert runner.consensus.height == 1
            assert runner.core.blocks.commit(1) is None
        # The same block with a good certificate is applied: the refusals above were real.
        good = _commit(header, ("v2", "v3", "v4"))
        runner.on_message(PEER, SyncResponseMsg(((block, good),)))
        assert runner.core.head.hash() == header.hash()
        assert runner.synced_blocks == 1 and runner.consensus.height == 2
        assert runner.core.blocks.commit(1) == good

    _run(tmp_path, scenario)


def _forged_proposal(g: Genesis, block: Block, signer: str) -> Proposal:
    """A proposal naming the round's proposer but signed by `signer`."""
    proposer = proposer_of(g.validators, 1, 0)
    message = proposal_sign_bytes(CHAIN, 1, 0, block.hash(), -1)
    return Proposal(height=1, round=0, block_hash=block.hash(), pol_round=-1,
                    proposer=proposer, signature=key(signer).sign(message))


def test_proposals_from_others_than_the_proposer_are_ignored(tmp_path: Path) -> None:
    async def scenario(runner: NetworkRunner, g: Genesis) -> None:
        first = _name_of(proposer_of(g.validators, 1, 0))
        other = next(v for v in VALIDATORS if v != first)

        # A validator that is not the proposer of (1, 0) proposes its own (valid) block.
        theirs = _block(g, other)
        wrong = Proposal.signed(CHAIN, key(other), height=1, round_=0, block_hash=theirs.hash())
        runner.on_message(PEER, ProposalMsg(wrong, theirs))
        # A proposal that names the proposer but is signed by someone else.
        forged_block = _block(g, first, T0 + 2000)
        runner.on_message(PEER, ProposalMsg(_forged_proposal(g, forged_block, other),
                                            forged_block))
        assert runner.consensus.messages(0).proposals == ()
        assert theirs.hash() not in runner.candidates
        assert forged_block.hash() not in runner.candidates  # not even validated

        # Forgeries naming the proposer cannot use up the height's candidate slots ...
        for i in range(CONSENSUS_CANDIDATES_MAX):
            b = _block(g, first, T0 + 3000 + i)
            runner.on_message(PEER, ProposalMsg(_forged_proposal(g, b, other), b))
        # ... so the real proposer's proposal still gets in, and the node prevotes for it.
        block = _block(g, first)
        real = Proposal.signed(CHAIN, key(first), height=1, round_=0, block_hash=block.hash())
        runner.on_message(PEER, ProposalMsg(real, block))
        assert runner.consensus.messages(0).proposals == ((real, True),)
        prevoted = runner.consensus.messages(0).prevotes.votes.values()
        assert [v.block_hash for v in prevoted] == [block.hash()]

    _run(tmp_path, scenario)


def test_a_peer_that_does_not_serve_its_claimed_height_is_asked_once_per_claim(
        tmp_path: Path) -> None:
    """A Byzantine peer announcing a far-future height it never serves: the node asks it
    once, and not again until the peer claims it anew (it used to ask every retry interval
    for good)."""

    async def scenario(runner: NetworkRunner, g: Genesis) -> None:
        transport = runner.transport
        assert isinstance(transport, RecordingTransport)

        def asked() -> int:
            return sum(isinstance(m, SyncRequestMsg) for _, m in transport.sent)

        runner.on_message(PEER, StatusMsg(1_000))
        assert asked() == 1  # two heights behind: asked at once
        for _ in range(3):  # no answer; later checks, each past the retry interval
            await asyncio.sleep(SYNC_RETRY_MS / 1000 + 0.05)
            runner.on_message(PEER, StatusMsg(0))  # a status that claims nothing new
        assert asked() == 1
        await asyncio.sleep(SYNC_RETRY_MS / 1000 + 0.05)
        runner.on_message(PEER, StatusMsg(1_000))  # claimed again: asked again, once
        assert asked() == 2
        assert runner.core.head.height == 0

    _run(tmp_path, scenario)
