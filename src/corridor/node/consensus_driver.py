"""The consensus write-ahead log in a file (`ConsensusWal`, HOME/data/consensus.wal), and
`NetworkRunner`: the node among peers, i.e. `NodeRunner` with a p2p transport and this log.

What the log holds and when it is synced is the shell's policy (`node.shell`): every event
that changed the machine at the current height, and the blocks of the proposals it accepted;
it reaches the disk (fsync) before any Broadcast of the step is sent, and a new height starts
a new section of the file (see `ConsensusWal`). On restart it is replayed into a fresh
machine, which re-creates the same state and signatures: a validator never signs twice.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from corridor.consensus.machine import (
    BlockProposed,
    Event,
    ProposalReceived,
    StartHeight,
    TimeoutFired,
    TimeoutKind,
    VoteReceived,
)
from corridor.consensus.messages import Proposal, Vote, decode_message, encode_message
from corridor.ledger.block import Block
from corridor.ledger.codec import Reader, Writer, decode_all
from corridor.ledger.errors import DecodeError, RejectCode
from corridor.node.core import NodeCore
from corridor.node.limits import CONSENSUS_WAL_BYTES_MAX, CONSENSUS_WAL_FILE_BYTES_MAX
from corridor.node.runner import NodeRunner, RunnerConfig

log = logging.getLogger("corridor.node")

# --- the write-ahead log ---------------------------------------------------------------------

_REC: Final = struct.Struct(">II")  # length, crc32 of the body
_HEADER, _START, _PROPOSED, _PROPOSAL, _VOTE, _TIMEOUT, _BLOCK = range(7)
_KINDS: Final[tuple[TimeoutKind, ...]] = ("propose", "prevote", "precommit")


def encode_event(event: Event) -> bytes:
    w = Writer()
    if isinstance(event, StartHeight):
        w.u8(_START).u64(event.height)
    elif isinstance(event, BlockProposed):
        w.u8(_PROPOSED).u64(event.height).u32(event.round).fixed(event.block_hash, 32)
    elif isinstance(event, ProposalReceived):
        w.u8(_PROPOSAL).boolean(event.valid).raw(encode_message(event.proposal))
    elif isinstance(event, VoteReceived):
        w.u8(_VOTE).raw(encode_message(event.vote))
    else:
        w.u8(_TIMEOUT).u8(_KINDS.index(event.kind)).u64(event.height).u32(event.round)
    return w.getvalue()


def decode_record(body: bytes) -> Event | Block | int:
    """A log record: an event, an accepted block, or the header's height."""
    tag = body[0]
    rest = body[1:]
    if tag == _HEADER:
        return decode_all(rest, Reader.u64)
    if tag == _BLOCK:
        return Block.decode(rest)
    if tag == _START:
        return StartHeight(decode_all(rest, Reader.u64))
    if tag == _PROPOSED:
        return decode_all(rest, lambda r: BlockProposed(r.u64(), r.u32(), r.fixed(32)))
    if tag == _PROPOSAL:
        message = decode_message(rest[1:])
        assert isinstance(message, Proposal) and rest[0] in (0, 1)
        return ProposalReceived(message, rest[0] == 1)
    if tag == _VOTE:
        vote = decode_message(rest)
        assert isinstance(vote, Vote)
        return VoteReceived(vote)
    if tag == _TIMEOUT:
        return decode_all(rest, lambda r: TimeoutFired(_KINDS[r.u8()], r.u64(), r.u32()))
    raise DecodeError(RejectCode.MALFORMED, f"unknown log record {tag}")


@dataclass(slots=True)
class ConsensusWal:
    """The log in one append-only file, a header record starting each height: what follows
    the last header is the current height's log. A torn last record (a crash mid-write) is
    cut off on open: it was never synced, so nothing was sent because of it.

    `reset` appends a header and does not sync: the height's first `sync` (before its first
    Broadcast) makes the header durable with the events after it. If a crash loses a header
    that was never synced, the log reopens at the previous height, which the node has
    committed, so it starts the new height afresh (`ConsensusShell.start`): nothing of the
    new height was sent. That saves the two fsyncs (file, directory) a fresh file per height
    cost. The file is rewritten (fresh file, fsync, rename) once it outgrows
    CONSENSUS_WAL_FILE_BYTES_MAX."""

    path: Path
    height: int = 0
    events: list[Event] = field(default_factory=list)
    blocks: dict[bytes, Block] = field(default_factory=dict)
    _size: int = 0  # of the file
    _height_size: int = 0  # of the current height's records
    _dirty: bool = False

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._load()
        if self._size == 0:
            self._rewrite(0)

    def _load(self) -> None:
        data = self.path.read_bytes()
        pos, good, height_at, height = 0, 0, 0, 0
        events: list[Event] = []
        blocks: dict[bytes, Block] = {}
        while pos + _REC.size <= len(data):
            length, crc = _REC.unpack_from(data, pos)
            body = data[pos + _REC.size : pos + _REC.size + length]
            if len(body) != length or zlib.crc32(body) != crc or not body:
                break
            record = decode_record(body)  # a checksummed record of ours: it decodes
            if isinstance(record, int):
                height, events, blocks, height_at = record, [], {}, pos
            elif isinstance(record, Block):
                blocks[record.hash()] = record
            else:
                events.append(record)
            pos += _REC.size + length
            good = pos
        self.height, self.events, self.blocks = height, events, blocks
        if good != len(data):
            log.warning("consensus log: cut a torn tail of %d bytes", len(data) - good)
            with self.path.open("r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        self._size, self._height_size = good, good - height_at

    def reset(self, height: int) -> None:
        if self._size == 0 or self._size > CONSENSUS_WAL_FILE_BYTES_MAX:
            self._rewrite(height)
            return
        self.height, self.events, self.blocks = height, [], {}
        self._height_size = 0
        self._write(_header(height))

    def _rewrite(self, height: int) -> None:
        """A fresh file holding only the header of `height`, durable when this returns."""
        self.height, self.events, self.blocks = height, [], {}
        tmp = self.path.with_suffix(".tmp")
        record = _header(height)
        with tmp.open("wb") as f:
            f.write(record)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        self._size = self._height_size = len(record)
        self._dirty = False

    def append(self, event: Event, block: Block | None) -> None:
        records = b""
        if block is not None and block.hash() not in self.blocks:
            self.blocks[block.hash()] = block
            records += _record(bytes([_BLOCK]) + block.encode())
        self.events.append(event)
        records += _record(encode_event(event))
        # Bug-sized only: a height's log holds a bounded number of rounds' messages.
        assert self._height_size + len(records) <= CONSENSUS_WAL_BYTES_MAX, "log too large"
        self._write(records)

    def _write(self, records: bytes) -> None:
        with self.path.open("ab") as f:
            f.write(records)
        self._size += len(records)
        self._height_size += len(records)
        self._dirty = True

    def sync(self) -> None:
        """Durable before anything is sent (the events' signatures are re-created on replay)."""
        if self._dirty:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._dirty = False


def _header(height: int) -> bytes:
    return _record(Writer().u8(_HEADER).u64(height).getvalue())


def _record(body: bytes) -> bytes:
    return _REC.pack(len(body), zlib.crc32(body)) + body


# --- the runner ------------------------------------------------------------------------------


class NetworkRunner(NodeRunner):
    """A node among peers: `attach` a transport before `run` (see `node.app.make_runner`)."""

    def __init__(self, core: NodeCore, config: RunnerConfig, *, wal: ConsensusWal) -> None:
        super().__init__(core, config, wal=wal)
