"""The outbox worker: the one carrier of the platform's on-chain work (domain/outbox.py).

One loop on one daemon thread, over the typed `LedgerNode` port:

1. **Follow** the chain: committed blocks after the stored cursor, from the node's event
   stream (adapters/chain_events.py; read by polling only to fill a gap). Each batch of
   blocks settles the ledger jobs in them, then records the transfers' outcomes *and*
   moves the cursor in one unit of work: a crash either keeps both or neither, so a
   restart resumes from the cursor, replays at most the blocks not yet recorded, and the
   outcomes' idempotence (settlement.record_outcomes) absorbs the replay.
2. **Resolve** what the blocks did not: job transactions silent for a while are asked
   about; transfers past their window are retired (outbox.past_window).
3. **Build, store, then submit**: ledger jobs (one transaction per signer in flight) and
   transfers (batched, up to outbox_transfers.BATCH_MAX per round).

Refusals go through one retry policy keyed on the ledger's reject code (outbox.on_refusal);
every transaction lives by one lifetime rule (outbox.not_after_ms). One worker per
deployment (`corridor platform settle`, or a thread of `serve`): two would sign the same
sources' sequences and refuse each other's.
"""

from __future__ import annotations

import logging
import threading

import httpx
import sqlalchemy as sa

from corridor.ledger.keys import KeyPair
from corridor.platform.adapters.chain_events import EventStream, Follower
from corridor.platform.adapters.outbox_jobs import RESOLVE_AFTER_MS, JobLane
from corridor.platform.adapters.outbox_transfers import TransferLane
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.outbox import OUTCOMES_CURSOR, OutboxCursor
from corridor.platform.domain.wallets import Signer
from corridor.platform.services.ledger_port import BlockOutcomes, LedgerNode
from corridor.platform.services.ports import Deps, UnitOfWork

log = logging.getLogger("corridor.platform.outbox")

IDLE_S = 0.02  # the longest wait for news when a round found nothing to do
# Ledger jobs (account openings) are few and not urgent: their queue is read this often,
# or at once when a block settled one, so payments' rounds do not pay for it.
JOBS_EVERY_MS = 200
RETRY_S = 0.5  # the pause after a failed round (the node or the database is away)
STOP_TIMEOUT_S = 30.0


class OutboxWorker:
    def __init__(self, deps: Deps, node: LedgerNode, signers: dict[Signer, KeyPair], *,
                 events: EventStream | None = None) -> None:
        self.deps = deps
        self.node = node
        self.jobs = JobLane(deps, node, signers)
        self.transfers: TransferLane | None = None
        if Signer.OPERATOR in signers and Signer.ISSUER in signers:
            self.transfers = TransferLane(deps, node, treasury=signers[Signer.OPERATOR],
                                          issuer=signers[Signer.ISSUER])
        self.events = events
        self.follower = Follower(node, events, deps.clock)
        self.cursor: int | None = None  # the last block whose outcomes are recorded
        self._jobs_due_ms = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- life cycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        assert not self.running, "already running"
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            assert not self._thread.is_alive(), "the outbox worker did not stop"
            self._thread = None
        if self.events is not None:
            self.events.stop()

    def _run(self) -> None:
        wait_s = 0.0
        while not self._stop.is_set():
            try:
                busy = self.round(wait_s)
            except (PlatformError, httpx.HTTPError, sa.exc.OperationalError) as exc:
                log.warning("outbox round failed, retrying: %s", exc)
                self._after_failure()
                continue
            except Exception:
                log.exception("outbox round failed, retrying")
                self._after_failure()
                continue
            wait_s = 0.0 if busy else IDLE_S

    def _after_failure(self) -> None:
        if self.transfers is not None:
            self.transfers.resync()  # sequences are read from the chain again
        self._stop.wait(RETRY_S)

    # --- one round ---------------------------------------------------------------------------

    def round(self, wait_s: float = 0.0) -> bool:
        """Follows new blocks (waiting up to `wait_s` for one), resolves, builds and
        submits. Returns whether there was anything to do."""
        if self.cursor is None:
            self._recover()
        followed = self.follow(wait_s)
        now = self.deps.clock.now_ms()
        busy = False
        if now >= self._jobs_due_ms:
            busy = self.jobs.run_once(stale_before_ms=now - RESOLVE_AFTER_MS)
            self._jobs_due_ms = now if busy else now + JOBS_EVERY_MS
        if self.transfers is not None:
            self.transfers.retire_expired()
            busy = self.transfers.sign_and_submit() or busy
        return followed or busy

    def _recover(self) -> None:
        """On start: the cursor as stored; the first time (none stored), what the chain
        already decided about the work in flight is asked, and the cursor starts at the
        chain's head."""
        stored = load_cursor(self.deps)
        head = self.node.status().height if stored is None else stored
        if self.transfers is not None:
            self.transfers.recover(look_up=stored is None)
        if stored is None:
            self.jobs.resolve_submitted()
            save_cursor(self.deps, head)
        self.cursor = head
        if self.events is not None and not self.events.running:
            self.events.start(after_height=head)

    def follow(self, wait_s: float) -> bool:
        """Applies the blocks after the cursor that are known now."""
        assert self.cursor is not None
        blocks = self.follower.after(self.cursor, wait_s)
        if not blocks:
            return False
        self.apply(blocks)
        return True

    def apply(self, blocks: list[BlockOutcomes]) -> None:
        """Settles the work in `blocks` (consecutive, right after the cursor) and moves the
        cursor past them: jobs first (each idempotent), then transfers and cursor together."""
        assert self.cursor is not None and blocks[0].height == self.cursor + 1, (
            self.cursor, blocks[0].height)
        if self.jobs.settle_blocks(blocks):
            self._jobs_due_ms = 0  # a signer is free: its next jobs go now
        last = blocks[-1].height

        def move(uow: UnitOfWork) -> None:
            save_cursor_in(uow, last, self.deps.clock.now_ms())

        if self.transfers is not None:
            self.transfers.settle_blocks(blocks, also=move)
        else:
            with self.deps.uow() as uow:
                move(uow)
                uow.commit()
        self.cursor = last


def load_cursor(deps: Deps) -> int | None:
    with deps.reader() as uow:
        row = uow.repo(OutboxCursor).get(OUTCOMES_CURSOR)
    return None if row is None else row.height


def save_cursor(deps: Deps, height: int) -> None:
    with deps.uow() as uow:
        save_cursor_in(uow, height, deps.clock.now_ms())
        uow.commit()


def save_cursor_in(uow: UnitOfWork, height: int, now_ms: int) -> None:
    """Moves the cursor forward only: a replayed block never moves it back."""
    repo = uow.repo(OutboxCursor)
    row = repo.get(OUTCOMES_CURSOR, for_update=True)
    if row is None:
        repo.add(OutboxCursor(id=OUTCOMES_CURSOR, height=height, updated_ms=now_ms))
    elif height > row.height:
        repo.update(OutboxCursor(id=OUTCOMES_CURSOR, height=height, updated_ms=now_ms))
