"""The consensus write-ahead log of the multi-validator runner: every event kind and the
accepted blocks read back after reopening; a torn tail is cut off; a new height starts empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from corridor.consensus.machine import (
    BlockProposed,
    Event,
    ProposalReceived,
    StartHeight,
    TimeoutFired,
    VoteReceived,
)
from corridor.consensus.messages import PRECOMMIT, Proposal, Vote
from corridor.node import consensus_driver
from corridor.node.consensus_driver import ConsensusWal

from ..ledger.builders import CHAIN, key
from .test_storage import Chain


def _events(block_hash: bytes) -> list[Event]:
    proposal = Proposal.signed(CHAIN, key("v1"), height=1, round_=0, block_hash=block_hash)
    vote = Vote.signed(
        CHAIN, key("v1"), vote_type=PRECOMMIT, height=1, round_=0, block_hash=block_hash
    )
    return [
        StartHeight(1),
        BlockProposed(1, 0, block_hash),
        ProposalReceived(proposal, True),
        ProposalReceived(proposal, False),
        VoteReceived(vote),
        TimeoutFired("prevote", 1, 2),
    ]


def test_events_and_blocks_survive_a_reopen(tmp_path: Path) -> None:
    block = Chain().next(payments=2).block
    wal = ConsensusWal(tmp_path / "c.wal")
    wal.open()
    wal.reset(1)
    events = _events(block.hash())
    for i, event in enumerate(events):
        wal.append(event, block if i == 1 else None)
    wal.sync()
    again = ConsensusWal(tmp_path / "c.wal")
    again.open()
    assert (again.height, again.events, again.blocks) == (1, events, {block.hash(): block})


def test_heights_share_one_file_until_it_outgrows_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = Chain().next(payments=1).block
    path = tmp_path / "c.wal"
    wal = ConsensusWal(path)
    wal.open()
    wal.reset(1)
    wal.append(BlockProposed(1, 0, block.hash()), block)
    wal.sync()
    wal.reset(2)  # a header appended: the height-1 records stay in the file
    wal.append(StartHeight(2), None)
    grown = path.stat().st_size
    assert grown > len(block.encode())
    again = ConsensusWal(path)
    again.open()
    assert (again.height, again.events, again.blocks) == (2, [StartHeight(2)], {})
    monkeypatch.setattr(consensus_driver, "CONSENSUS_WAL_FILE_BYTES_MAX", grown - 1)
    again.reset(3)  # too big: rewritten, holding height 3 only
    assert path.stat().st_size < len(block.encode())
    third = ConsensusWal(path)
    third.open()
    assert (third.height, third.events, third.blocks) == (3, [], {})


def test_a_torn_tail_is_cut_and_a_new_height_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "c.wal"
    wal = ConsensusWal(path)
    wal.open()
    wal.reset(5)
    wal.append(StartHeight(5), None)
    wal.append(TimeoutFired("propose", 5, 0), None)
    size = path.stat().st_size
    with path.open("ab") as f:
        f.write(b"\x00\x00\x00\x30\x01\x02")  # a record cut short by a crash
    again = ConsensusWal(path)
    again.open()
    assert again.events == [StartHeight(5), TimeoutFired("propose", 5, 0)]
    assert path.stat().st_size == size
    again.append(StartHeight(5), None)  # appends after the cut, not after the garbage
    third = ConsensusWal(path)
    third.open()
    assert len(third.events) == 3
    third.reset(6)
    fourth = ConsensusWal(path)
    fourth.open()
    assert (fourth.height, fourth.events, fourth.blocks) == (6, [], {})
