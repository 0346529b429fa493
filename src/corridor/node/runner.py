"""The running node: an asyncio loop that feeds the consensus machine and carries out its
actions (build a block, set a timer, commit a decided block), beside the RPC server.

All NodeCore calls happen on the loop's thread, except the pure block build, which runs on a
worker thread on a snapshot (see NodeCore.build_block). With one validator the machine decides
each height from its own proposal and votes: the same code path a BFT network runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from corridor.consensus.machine import (
    Action,
    BlockProposed,
    Broadcast,
    BuildBlock,
    Config,
    ConsensusState,
    Decide,
    Event,
    ReportEvidence,
    ScheduleTimeout,
    StartHeight,
    TimeoutFired,
    initial_state,
    step,
)
from corridor.ledger.block import Block
from corridor.ledger.chain import BlockExecution
from corridor.node.core import NodeCore
from corridor.node.events import EventHub
from corridor.node.limits import BLOCK_INTERVAL_MS_DEFAULT, BLOCK_TXS_DEFAULT

log = logging.getLogger("corridor.node")


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    block_interval_ms: int = BLOCK_INTERVAL_MS_DEFAULT
    max_block_txs: int = BLOCK_TXS_DEFAULT
    empty_blocks: bool = False  # produce blocks even with an empty mempool


def now_ms() -> int:
    return int(time.time() * 1000)


class NodeRunner:
    def __init__(self, core: NodeCore, config: RunnerConfig = RunnerConfig()) -> None:
        self.core = core
        self.config = config
        self.events = EventHub(core.head.height)
        self.consensus: ConsensusState = initial_state(
            Config(chain_id=core.genesis.chain_id, validators=core.genesis.validators, key=core.key)
        )
        self._proposals: dict[bytes, tuple[Block, BlockExecution]] = {}
        self._work = asyncio.Event()
        self._stopped = asyncio.Event()
        self._last_commit_monotonic = time.monotonic()
        self._tasks: set[asyncio.Task[None]] = set()
        self.failure: BaseException | None = None  # set when a node task died: exit non-zero

    # --- RPC hook ------------------------------------------------------------------------

    def transactions_arrived(self) -> None:
        self._work.set()

    def evidence_arrived(self) -> None:
        """Evidence entered the pool (`NodeCore.add_evidence`): a block is worth building."""
        self._work.set()

    # --- life cycle ----------------------------------------------------------------------

    async def run(self) -> None:
        """Runs consensus until `stop()`."""
        self._feed(StartHeight(self.core.head.height + 1))
        await self._stopped.wait()
        for task in list(self._tasks):
            task.cancel()

    def stop(self) -> None:
        self._stopped.set()

    # --- the machine ---------------------------------------------------------------------

    def _feed(self, event: Event) -> None:
        self.consensus, actions = step(self.consensus, event)
        for action in actions:
            self._act(action)

    def _act(self, action: Action) -> None:
        if isinstance(action, BuildBlock):
            self._spawn(self._build(action.height, action.round))
        elif isinstance(action, ScheduleTimeout):
            loop = asyncio.get_running_loop()
            event = TimeoutFired(action.kind, action.height, action.round)
            loop.call_later(action.duration_ms / 1000, self._feed, event)
        elif isinstance(action, Decide):
            self._commit(action)
        elif isinstance(action, Broadcast):
            pass  # one validator: nobody to tell (the p2p transport plugs in here)
        elif isinstance(action, ReportEvidence):
            # Pending until this node proposes a block that records it (NodeCore.evidence_pool).
            refused = self.core.add_evidence(action.evidence)
            if refused is None:
                self.evidence_arrived()
            log.warning(
                "double signing by %s at height %d detected%s",
                action.evidence.validator.hex()[:12],
                action.evidence.height,
                "" if refused is None else f" (not pending: {refused})",
            )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("node task failed", exc_info=task.exception())
            self.failure = task.exception()
            self.stop()

    async def _build(self, height: int, round_: int) -> None:
        interval_s = self.config.block_interval_ms / 1000
        wait = self._last_commit_monotonic + interval_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        while not self.config.empty_blocks and not self._has_work():
            self._work.clear()
            await self._work.wait()
        job = self.core.take_candidates(now_ms(), self.config.max_block_txs)
        block, execution, selection = await asyncio.to_thread(self.core.build_block, job)
        self.core.drop_rejected(selection)
        block_hash = block.hash()
        self._proposals[block_hash] = (block, execution)
        self._feed(BlockProposed(height, round_, block_hash))

    def _has_work(self) -> bool:
        """Something for a block: pending transactions, or evidence to record."""
        return len(self.core.mempool) > 0 or bool(self.core.evidence_pool)

    def _commit(self, decision: Decide) -> None:
        block, execution = self._proposals.pop(decision.block_hash)
        self._proposals.clear()
        committed = self.core.commit_block(block, execution, decision.commit)
        self._last_commit_monotonic = time.monotonic()
        self.events.published(block.header.height, committed.dropped)
        if self._has_work():
            self._work.set()
        self._feed(StartHeight(block.header.height + 1))
