"""The outbox's ledger jobs (requirement L2): account openings and authorisations, carried
to the chain by the outbox worker (adapters/outbox_worker.py), which runs this lane in its
one loop beside the transfers' lane, under the rules of domain/outbox.py.

1. **Resolve** a job's transaction by the chain's word: the worker hands every committed
   block to `settle_blocks`; a transaction not seen in a block for RESOLVE_AFTER_MS is
   asked about (`resolve_submitted`). Committed → done; refused (or failed in its block)
   → a transaction of several jobs is *split*: no job in it is marked done or failed on
   the batch's word, each goes back to the queue to be built alone, and only its own
   transaction decides it (a refusal that names an operation may be wrong about which,
   and "the account exists" for a batch proved nothing about the others). A job alone
   follows the retry policy (`outbox.on_refusal`): rebuilt, failed, or — ACCOUNT_EXISTS —
   done only once the node shows the account. Unknown to the node (never arrived, or the
   node restarted and lost its mempool) → the *stored bytes* are submitted again; past
   their window they are refused EXPIRED, and the policy rebuilds. A job is never given
   a second, different transaction while its first may still commit.
2. **Build** per signer (operator: open_account; issuer: authorise, freeze, unfreeze) one
   transaction of up to JOB_OPS_PER_TX_MAX queued jobs in creation order, at the signer's
   next sequence on chain, sign it, and store tx_id + tx_hex and mark the jobs submitted in
   one database transaction, *then* submit. A signer has at most one job transaction in
   flight, so its next sequence is always the committed one plus one.

System keys live in memory only. One worker per database: two would both build for the
same signer and refuse each other's sequences.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from corridor.ledger import keys
from corridor.ledger.errors import RejectCode
from corridor.ledger.keys import KeyPair
from corridor.ledger.tx import HolderAction, OpenAccount, Operation, SetHolder, Transaction
from corridor.platform.domain import outbox
from corridor.platform.domain import wallets as w
from corridor.platform.domain.errors import Kind, PlatformError
from corridor.platform.domain.outbox import Retry
from corridor.platform.domain.wallets import (
    JobKind,
    JobStatus,
    LedgerJob,
    Signer,
    Wallet,
    WalletStatus,
)
from corridor.platform.services import freezes
from corridor.platform.services import wallets as custody
from corridor.platform.services.ledger_port import BlockOutcomes, LedgerNode, Refusal
from corridor.platform.services.ports import Deps, UnitOfWork, chunks

log = logging.getLogger("corridor.platform.outbox")

SUBMITTED_SCAN_MAX = 500  # submitted jobs looked at per pass
QUEUED_SCAN_MAX = 4 * w.JOB_OPS_PER_TX_MAX  # queued jobs looked at per signer and pass
# A job transaction seen in no block for this long is asked about (the event stream tells
# of commits at once; this finds the ones refused after admission, or lost).
RESOLVE_AFTER_MS = 2_000
TX_IDS_PER_QUERY_MAX = 500  # bound parameters of one query
# Refusals saying the chain's state may already be what the job wanted.
GOAL_REACHED = {JobKind.OPEN_ACCOUNT: frozenset({RejectCode.ACCOUNT_EXISTS})}
# The issuer's SetHolder action of each holder job (the others are operator OpenAccounts).
HOLDER_ACTION = {JobKind.AUTHORISE: HolderAction.AUTHORISE, JobKind.FREEZE: HolderAction.FREEZE,
                 JobKind.UNFREEZE: HolderAction.UNFREEZE}


@dataclasses.dataclass(frozen=True, slots=True)
class Prepared:
    """A signed transaction stored with its jobs, ready to submit."""

    tx_id: str
    tx_hex: str
    job_ids: tuple[str, ...]


def operation_of(job: LedgerJob) -> Operation:
    if job.kind == JobKind.OPEN_ACCOUNT:
        return OpenAccount(public_key=keys.decode_public_key(job.payload["public_key"]))
    return SetHolder(holder=keys.decode_address(job.payload["address"]),
                     code=str(job.payload["code"]), action=HOLDER_ACTION[JobKind(job.kind)])


def _done(deps: Deps, uow: UnitOfWork, job: LedgerJob, height: int | None) -> None:
    """Reports a job the chain carried out to the area that asked for it."""
    if job.kind in freezes.JOB_KINDS:
        freezes.record_done(deps, uow, job, height)
    else:
        custody.record_done(deps, uow, job)


def _failed(deps: Deps, uow: UnitOfWork, job: LedgerJob, code: str, message: str) -> None:
    """Reports a job the chain refused for good to the area that asked for it."""
    if job.kind in freezes.JOB_KINDS:
        freezes.record_failed(deps, uow, job, code, message)
    else:
        custody.record_failed(deps, uow, job, code, message)


class JobLane:
    def __init__(self, deps: Deps, node: LedgerNode, signers: dict[Signer, KeyPair]) -> None:
        self.deps = deps
        self.node = node
        self.signers = dict(signers)

    def run_once(self, *, stale_before_ms: int | None = None) -> bool:
        """One pass: resolve what is in flight (sent before `stale_before_ms`, if given),
        then build and submit per signer. True if there may be more to do right away."""
        busy = self.resolve_submitted(stale_before_ms=stale_before_ms)
        for signer in Signer:
            prepared = self.build(signer)
            if prepared is not None:
                self.submit(prepared)
                busy = True
        return busy

    # --- resolving -----------------------------------------------------------------------

    def settle_blocks(self, blocks: Sequence[BlockOutcomes]) -> bool:
        """Jobs whose transaction is in `blocks`: done, or refused if it failed there.
        Returns whether any was."""
        by_id = {tx.tx_id: tx for block in blocks for tx in block.txs}
        heights = {tx.tx_id: block.height for block in blocks for tx in block.txs}
        if not by_id:
            return False
        mine: set[str] = set()
        with self.deps.reader() as uow:
            for part in chunks(list(by_id), TX_IDS_PER_QUERY_MAX):
                mine.update(j.tx_id for j in uow.repo(LedgerJob).many(
                    status=JobStatus.SUBMITTED, tx_id=tuple(part)) if j.tx_id is not None)
        for tx_id in sorted(mine):
            tx = by_id[tx_id]
            self._finish(tx_id, None if tx.success else Refusal(
                code=tx.code or "UNKNOWN", message="failed in its block", permanent=True,
                op_index=None), height=heights[tx_id])
        return bool(mine)

    def resolve_submitted(self, *, stale_before_ms: int | None = None) -> bool:
        """Asks the node about job transactions in flight (sent before `stale_before_ms`)."""
        below = None if stale_before_ms is None else {"updated_ms": stale_before_ms}
        with self.deps.reader() as uow:  # every round: no write lock
            jobs = uow.repo(LedgerJob).many(status=JobStatus.SUBMITTED, order_by="created_ms",
                                            limit=SUBMITTED_SCAN_MAX, below=below)
        txs: dict[str, str] = {}
        for job in jobs:
            assert job.tx_id is not None and job.tx_hex is not None, job.id
            txs.setdefault(job.tx_id, job.tx_hex)
        changed = False
        for tx_id, tx_hex in txs.items():
            state = self.node.tx_state(tx_id)
            if state.status == "pending":
                continue
            if state.status == "committed":
                self._finish(tx_id, state.refusal if not state.success else None,
                             height=state.height)
            elif state.status == "rejected":
                assert state.refusal is not None
                self._refused(tx_id, state.refusal)
            else:  # unknown: never arrived, or dropped. The same bytes, never new ones.
                log.info("outbox: jobs: resubmitting tx %s", tx_id)
                self._submit_bytes(tx_id, tx_hex)
            changed = True
        return changed

    def _finish(self, tx_id: str, failure: Refusal | None, *, height: int | None) -> None:
        if failure is not None:  # included but failed: the chain applied none of it
            self._refused(tx_id, failure)
            return
        with self.deps.uow() as uow:
            for job in uow.repo(LedgerJob).many(tx_id=tx_id, status=JobStatus.SUBMITTED):
                _done(self.deps, uow, job, height)
            uow.commit()
        log.info("outbox: jobs: tx %s committed", tx_id)

    def _refused(self, tx_id: str, refusal: Refusal) -> None:
        """The chain will never apply the transaction, so its jobs may be rebuilt. A batch
        refused for a reason a fresh build may cure is rebuilt whole; otherwise it is split
        and each job decides alone (see the module docstring)."""
        with self.deps.reader() as uow:
            jobs = uow.repo(LedgerJob).many(tx_id=tx_id, status=JobStatus.SUBMITTED)
        # Whether the cause is the transaction's, not its jobs' (a fresh build may cure it).
        transient = outbox.on_refusal(refusal.code, attempts=0) is Retry.REBUILD
        batch = len(jobs) > 1
        verdicts = {j.id: outbox.on_refusal(refusal.code, attempts=j.attempts,
                                            reached=GOAL_REACHED.get(JobKind(j.kind),
                                                                     frozenset()))
                    for j in jobs}
        # Read before the write transaction, so a slow node never holds the lock.
        reached = {j.id: self._goal_on_chain(j) for j in jobs
                   if not batch and verdicts[j.id] is Retry.REACHED}
        now = self.deps.clock.now_ms()
        with self.deps.uow() as uow:
            repo = uow.repo(LedgerJob)
            for job in repo.many(tx_id=tx_id, status=JobStatus.SUBMITTED):
                verdict = verdicts.get(job.id, Retry.FAIL)
                if batch and not transient:  # split: this refusal decides nobody
                    repo.update(dataclasses.replace(w.job_for_retry(job, now), alone=True,
                                                    attempts=max(0, job.attempts - 1)))
                elif reached.get(job.id):
                    _done(self.deps, uow, job, None)
                elif verdict is Retry.REBUILD:
                    repo.update(w.job_for_retry(job, now))
                else:
                    _failed(self.deps, uow, job, refusal.code, refusal.message)
            uow.commit()
        log.info("outbox: jobs: tx %s refused: %s%s", tx_id, refusal.code,
                 " (batch split)" if batch and not transient else "")

    def _goal_on_chain(self, job: LedgerJob) -> bool:
        """Whether the chain already holds what `job` wanted (its account exists)."""
        assert job.kind == JobKind.OPEN_ACCOUNT, job.kind
        public_key = keys.decode_public_key(job.payload["public_key"])
        return self.node.account(keys.encode_address(keys.address_of(public_key))) is not None

    # --- building ------------------------------------------------------------------------

    def _pick(self, signer: Signer) -> list[LedgerJob]:
        """Queued jobs of `signer` that can go on chain now, oldest first. Authorisations
        wait for their wallet's account; a wallet that failed to open fails them. Every
        round of the worker comes here: the write lock is taken only to fail such jobs."""
        with self.deps.reader() as uow:
            picked, failing = self._pickable(uow, signer)
        if not failing:
            return picked
        with self.deps.uow() as uow:
            picked, failing = self._pickable(uow, signer)
            for job in failing:
                _failed(self.deps, uow, job, "WALLET_FAILED",
                        "the wallet's account could not be opened")
            uow.commit()
        return picked

    @staticmethod
    def _pickable(uow: UnitOfWork, signer: Signer) -> tuple[list[LedgerJob], list[LedgerJob]]:
        """(the jobs to send, authorisations whose wallet failed to open)."""
        picked: list[LedgerJob] = []
        failing: list[LedgerJob] = []
        repo = uow.repo(LedgerJob)
        if repo.count(status=JobStatus.SUBMITTED, signer=signer):
            return [], []  # one transaction in flight per signer
        for job in repo.many(status=JobStatus.QUEUED, signer=signer, order_by="created_ms",
                             limit=QUEUED_SCAN_MAX):
            if job.kind != JobKind.OPEN_ACCOUNT:  # a holder job: its account first
                wallet = uow.repo(Wallet).get(job.wallet_id)
                assert wallet is not None, job.wallet_id
                if wallet.status == WalletStatus.FAILED:
                    failing.append(job)
                    continue
                if wallet.status != WalletStatus.OPEN:
                    continue
            if job.alone:  # a transaction of its own, when its turn comes
                if picked:
                    continue
                return [job], failing
            picked.append(job)
            if len(picked) == w.JOB_OPS_PER_TX_MAX:
                break
        return picked, failing

    def build(self, signer: Signer) -> Prepared | None:
        """Builds, signs and stores (but does not submit) the next transaction of `signer`."""
        kp = self.signers.get(signer)
        if kp is None:
            return None
        jobs = self._pick(signer)
        if not jobs:
            return None
        status = self.node.status()
        account = self.node.account(keys.encode_address(kp.address))
        if account is None:
            log.error("outbox: jobs: the %s account %s does not exist on chain", signer,
                      keys.encode_address(kp.address))
            return None
        tx = Transaction(
            chain_id=status.chain_id, source=kp.address, sequence=account.sequence + 1,
            not_before_ms=0,
            not_after_ms=outbox.not_after_ms(self.deps.clock.now_ms(), status.latest_time_ms),
            operations=tuple(operation_of(j) for j in jobs),
        )
        stx = tx.sign(kp)
        prepared = Prepared(stx.tx_id.hex(), stx.encode().hex(), tuple(j.id for j in jobs))
        return prepared if self._store(prepared) else None

    def _store(self, prepared: Prepared) -> bool:
        """Marks the jobs submitted with the transaction, all or none (before submission)."""
        now = self.deps.clock.now_ms()
        with self.deps.uow() as uow:
            repo = uow.repo(LedgerJob)
            for index, job_id in enumerate(prepared.job_ids):
                job = repo.get(job_id, for_update=True)
                if job is None or job.status != JobStatus.QUEUED:
                    return False  # changed under us: leave it all, build again next pass
                repo.update(dataclasses.replace(
                    job, status=JobStatus.SUBMITTED, tx_id=prepared.tx_id,
                    tx_hex=prepared.tx_hex, op_index=index, attempts=job.attempts + 1,
                    updated_ms=now))
            uow.commit()
        return True

    # --- submitting ----------------------------------------------------------------------

    def submit(self, prepared: Prepared) -> None:
        try:
            self._submit_bytes(prepared.tx_id, prepared.tx_hex)
        except PlatformError as exc:
            if exc.kind is not Kind.UNAVAILABLE:
                raise
            # Stored as submitted: the next pass finds it unknown and sends the same bytes.
            log.warning("outbox: job tx %s not submitted yet: %s", prepared.tx_id,
                        exc.message)

    def _submit_bytes(self, tx_id: str, tx_hex: str) -> None:
        refusal = self.node.submit(tx_hex)
        if refusal is None:
            return
        duplicate = outbox.reject_code(refusal.code) is RejectCode.DUPLICATE
        if duplicate and self.node.tx_state(tx_id).status in ("pending", "committed"):
            return  # the node already has this very transaction
        self._refused(tx_id, refusal)
