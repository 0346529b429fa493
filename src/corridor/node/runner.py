"""The running node: the consensus shell (`node.shell`) on asyncio, beside the RPC server.

This module is the shell's adapters for a real process: timers are `loop.call_later`, the
clock is the system's, the transport is the p2p one (`node.p2p.Transport`, attached by
`node.app`) or none for one validator alone, and the log is `ConsensusWal` among peers (in
memory alone: nobody can have seen a message of ours that we forget). All NodeCore calls
happen on the loop's thread, except one validator's block build (see `AsyncBuildPolicy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from corridor.consensus.machine import ConsensusState
from corridor.consensus.messages import Proposal, Vote
from corridor.ledger.block import Block
from corridor.ledger.chain import BlockExecution
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.node.core import Committed, NodeCore
from corridor.node.events import EventHub
from corridor.node.limits import (
    BLOCK_INTERVAL_MS_DEFAULT,
    BLOCK_TXS_DEFAULT,
    CONSENSUS_IDLE_BLOCK_MS,
)
from corridor.node.p2p_messages import P2PMessage
from corridor.node.shell import ConsensusShell, Ports, ShellConfig
from corridor.node.shell_ports import MemoryWal, Transport, WalStore

log = logging.getLogger("corridor.node")


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    block_interval_ms: int = BLOCK_INTERVAL_MS_DEFAULT
    max_block_txs: int = BLOCK_TXS_DEFAULT
    empty_blocks: bool = False  # produce blocks even with an empty mempool


def now_ms() -> int:
    return int(time.time() * 1000)


class SystemClock:
    def now_ms(self) -> int:
        return now_ms()

    def monotonic_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000


class PeerTransport(Transport, Protocol):
    """What the runner needs of `p2p.Transport`: the shell's port, and start and stop."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class AsyncBuildPolicy:
    """The node's `BuildPolicy`: wait out the block interval since the last commit, then for
    work (transactions or evidence), then build.

    One validator alone waits for work as long as it takes and builds on a worker thread:
    nothing else can commit meanwhile (no peer decides or syncs a block), and the loop stays
    free for the RPC. Among peers it proposes an empty block after CONSENSUS_IDLE_BLOCK_MS
    (below the others' propose timeout) and builds on the loop's thread: a block decided
    from another proposer, or synced, may commit at any moment, never during a build.
    """

    def __init__(self, runner: NodeRunner) -> None:
        self.runner = runner
        self.work = asyncio.Event()

    def work_arrived(self) -> None:
        self.work.set()

    def build_due(self, shell: ConsensusShell, height: int, round_: int) -> None:
        self.runner.spawn(self._build(shell, height, round_))

    async def _build(self, shell: ConsensusShell, height: int, round_: int) -> None:
        config, alone = self.runner.config, not self.runner.networked
        wait_ms = shell.last_commit_ms + config.block_interval_ms - shell.ports.clock.monotonic_ms()
        if wait_ms > 0:
            await asyncio.sleep(wait_ms / 1000)
        if alone:
            while not config.empty_blocks and not shell.has_work():
                self.work.clear()
                await self.work.wait()
        elif not config.empty_blocks and not shell.has_work():
            self.work.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.work.wait(), CONSENSUS_IDLE_BLOCK_MS / 1000)
        if not alone:
            shell.build_now(height, round_)
            return
        job = shell.build_job(height, round_)
        if job is not None:
            block, execution, selection = await asyncio.to_thread(shell.core.build_block, job)
            shell.built(height, round_, block, execution, selection)


class NodeRunner:
    """One node process's consensus: the shell with the adapters above. `attach` a p2p
    transport (and give a file `wal`) for a node among peers; without, one validator."""

    def __init__(
        self, core: NodeCore, config: RunnerConfig = RunnerConfig(), *, wal: WalStore | None = None
    ) -> None:
        self.core = core
        self.config = config
        self.events = EventHub(core.head.height)
        self.wal: WalStore = wal if wal is not None else MemoryWal()
        self.transport: PeerTransport | None = None
        self._stopped = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self.failure: BaseException | None = None  # set when a node task died: exit non-zero
        self.builder = AsyncBuildPolicy(self)
        ports = Ports(
            timer=self,
            clock=SystemClock(),
            transport=self,
            wal=self.wal,
            builder=self.builder,
            observer=_LogObserver(self.events),
            rng=random.Random(),
        )
        self.shell = ConsensusShell(core, ports, ShellConfig(max_block_txs=config.max_block_txs))

    def attach(self, transport: PeerTransport) -> None:
        self.transport = transport

    @property
    def networked(self) -> bool:
        return self.transport is not None

    @property
    def consensus(self) -> ConsensusState:
        return self.shell.machine

    @property
    def synced_blocks(self) -> int:
        return self.shell.synced_blocks

    @property
    def candidates(self) -> dict[bytes, tuple[Block, BlockExecution]]:
        return self.shell.candidates

    # --- RPC hooks -----------------------------------------------------------------------

    def transactions_arrived(self) -> None:
        self.shell.transactions_arrived()

    def evidence_arrived(self) -> None:
        """Evidence entered the pool (`NodeCore.add_evidence`): a block is worth building."""
        self.shell.evidence_arrived()

    # --- life cycle ----------------------------------------------------------------------

    async def run(self) -> None:
        """Runs consensus until `stop()`."""
        open_wal = getattr(self.wal, "open", None)
        if open_wal is not None:
            open_wal()
        if self.transport is not None:
            await self.transport.start()
        try:
            self._guarded(self.shell.start)
            await self._stopped.wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self.transport is not None:
                await self.transport.stop()

    def stop(self) -> None:
        self._stopped.set()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("node task failed", exc_info=task.exception())
            self.failure = task.exception()
            self.stop()

    def _guarded(self, call: Callable[[], None]) -> None:
        """A bug in the shell stops the node (exit non-zero), never just one callback."""
        if self._stopped.is_set():
            return
        try:
            call()
        except Exception as exc:
            log.error("node failed", exc_info=exc)
            self.failure = exc
            self.stop()
            raise

    # --- the shell's timer and transport ports -------------------------------------------

    def schedule(self, delay_ms: int, callback: Callable[[], None]) -> None:
        asyncio.get_running_loop().call_later(delay_ms / 1000, self._guarded, callback)

    def broadcast(self, msg: P2PMessage) -> None:
        if self.transport is not None:
            self.transport.broadcast(msg)

    def send(self, peer: str, msg: P2PMessage) -> None:
        if self.transport is not None:
            self.transport.send(peer, msg)

    def connected(self) -> Sequence[str]:
        return () if self.transport is None else self.transport.connected()

    # --- the p2p transport's callbacks ---------------------------------------------------

    def on_peer_connected(self, peer: str) -> None:
        self._guarded(lambda: self.shell.on_peer_connected(peer))

    def on_message(self, peer: str, msg: P2PMessage) -> None:
        """Called by the transport for every decoded frame (untrusted content)."""
        self._guarded(lambda: self.shell.on_message(peer, msg))


class _LogObserver:
    """The node's `Observer`: commits become events for RPC subscribers; the rest is logged."""

    def __init__(self, events: EventHub) -> None:
        self.events = events

    def signed(self, message: Proposal | Vote) -> None:
        pass

    def committed(self, committed: Committed, state_root: bytes) -> None:
        self.events.published(
            committed.block.header.height,
            committed.dropped,
            (committed.block, committed.results),
        )

    def evidence(self, evidence: DuplicateVoteEvidence, refused: str | None) -> None:
        log.warning(
            "double signing by %s at height %d detected%s",
            evidence.validator.hex()[:12],
            evidence.height,
            "" if refused is None else f" (not pending: {refused})",
        )

    def refused(self, what: str) -> None:
        log.warning("%s", what)

    def problem(self, what: str) -> None:
        log.error("%s", what)

    def info(self, what: str) -> None:
        log.info("%s", what)

