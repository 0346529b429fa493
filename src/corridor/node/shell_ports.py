"""The consensus shell's ports (`node.shell.ConsensusShell`): the narrow I/O it is given.

The node passes asyncio, TCP and file adapters (`node.runner`); the simulator passes virtual
time, a seeded network and in-memory storage (`sim.node`). Each port is owned here, by its
user, as a `typing.Protocol` (STYLE 7, 17); the write-ahead log has its in-memory
implementation here too (`MemoryWal`), the file one is `node.consensus_driver.ConsensusWal`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from corridor.consensus.machine import Event
from corridor.consensus.messages import Proposal, Vote
from corridor.ledger.block import Block
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.node.p2p_messages import P2PMessage

if TYPE_CHECKING:
    from corridor.node.core import Committed
    from corridor.node.shell import ConsensusShell


class Timer(Protocol):
    """Runs `callback` `delay_ms` from now on the shell's thread (never nested in a call)."""

    def schedule(self, delay_ms: int, callback: Callable[[], None]) -> None: ...


class Clock(Protocol):
    def now_ms(self) -> int:
        """Local wall-clock time in ms since the epoch: block times."""
        ...

    def monotonic_ms(self) -> int:
        """A clock that never goes back: intervals (block interval, sync patience)."""
        ...


class Transport(Protocol):
    """The peers, carrying `node.p2p_messages` (an empty transport: one validator alone)."""

    def broadcast(self, msg: P2PMessage) -> object: ...

    def send(self, peer: str, msg: P2PMessage) -> object: ...

    def connected(self) -> Sequence[str]: ...


class WalStore(Protocol):
    """The consensus write-ahead log of the current height: the events that changed the
    machine, in order, and the blocks of the proposals it accepted. `append` and `reset` may
    be lost in a crash until `sync` returns (a lost reset leaves the previous height's log,
    which the shell ignores once that height is committed)."""

    @property
    def height(self) -> int: ...

    @property
    def events(self) -> list[Event]: ...

    @property
    def blocks(self) -> dict[bytes, Block]: ...

    def reset(self, height: int) -> None: ...

    def append(self, event: Event, block: Block | None) -> None: ...

    def sync(self) -> None: ...


class BuildPolicy(Protocol):
    """When (and on which thread) the block for a BuildBlock is built. It answers by calling
    `shell.build_now(height, round_)`, or `shell.build_job` then `shell.built`."""

    def build_due(self, shell: ConsensusShell, height: int, round_: int) -> None: ...

    def work_arrived(self) -> None:
        """Transactions or evidence arrived: a block is worth building."""
        ...


class Observer(Protocol):
    """What the shell reports: the node logs it and publishes events; the simulator's
    checkers record it (`sim.node.Trace`)."""

    def signed(self, message: Proposal | Vote) -> None:
        """The machine signed `message` and it is being broadcast."""
        ...

    def committed(self, committed: Committed, state_root: bytes) -> None: ...

    def evidence(self, evidence: DuplicateVoteEvidence, refused: str | None) -> None:
        """This node saw a double signing (`refused`: why it is not pending, if not)."""
        ...

    def refused(self, what: str) -> None:
        """Untrusted input refused (an invalid proposal, a bad synced block)."""
        ...

    def problem(self, what: str) -> None:
        """Something that never happens among honest nodes."""
        ...

    def info(self, what: str) -> None: ...


@dataclass(slots=True)
class MemoryWal:
    """`WalStore` in memory. `crash` loses what was appended since the last `sync`, as a
    process that dies before its fsync may (the simulator calls it on every crash); a `reset`
    not synced since is lost too, back to the previous height's synced log, as the file's
    header may be (`ConsensusWal`)."""

    height: int = 0
    events: list[Event] = field(default_factory=list)
    blocks: dict[bytes, Block] = field(default_factory=dict)
    _synced_events: int = 0
    _synced_blocks: int = 0
    # The last synced height's log, while a newer reset is not synced yet.
    _before_reset: tuple[int, list[Event], dict[bytes, Block]] | None = None

    def reset(self, height: int) -> None:
        if self._before_reset is None:
            self._before_reset = (
                self.height,
                self.events[: self._synced_events],
                dict(list(self.blocks.items())[: self._synced_blocks]),
            )
        self.height, self.events, self.blocks = height, [], {}
        self._synced_events = self._synced_blocks = 0

    def append(self, event: Event, block: Block | None) -> None:
        if block is not None and block.hash() not in self.blocks:
            self.blocks[block.hash()] = block
        self.events.append(event)

    def sync(self) -> None:
        self._synced_events, self._synced_blocks = len(self.events), len(self.blocks)
        self._before_reset = None

    def crash(self) -> None:
        if self._before_reset is not None:
            self.height, self.events, self.blocks = self._before_reset
            self._synced_events, self._synced_blocks = len(self.events), len(self.blocks)
            self._before_reset = None
            return
        del self.events[self._synced_events :]
        for block_hash in list(self.blocks)[self._synced_blocks :]:
            del self.blocks[block_hash]
