"""The outbox's transfers (domain/transfers.py): payments, deposits' mints, withdrawals'
burns, reversals and refunds, signed into ledger transactions and submitted in batches by
the outbox worker (adapters/outbox_worker.py), which runs this lane in its one loop and
hands it every committed block (`settle_blocks`). Rules in domain/outbox.py.

Safety rules (nothing applied twice, nothing lost):
- A transfer's signed bytes are stored (status SUBMITTED) before they are sent; after a
  crash the same bytes are resent, never a second, different transaction.
- A transfer is re-signed only when its transaction can no longer commit: refused at
  admission by the one node it was sent to, or past its window (outbox.past_window) and
  not in any block. Every transaction carries a short validity window for this.
- Sequences are assigned per source account from a local counter (seeded from the chain
  and from our own in-flight transactions). A sequence refused at admission never entered
  a mempool, so it is free and reused first. A transaction that dies after admission (it
  expired unincluded) leaves a gap the later ones of its source cannot cross: the source
  then *drains* — nothing new is signed for it until all its in-flight transactions are
  committed or dead — and restarts from the chain's sequence, in the original order.
Outcomes go through `settlement.record_outcomes`, which is idempotent.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.errors import RejectCode
from corridor.ledger.keys import KeyPair
from corridor.ledger.tx import Payment, Transaction, decode_transaction
from corridor.platform.adapters.db import SqlUnitOfWork
from corridor.platform.adapters.record_codec import codec
from corridor.platform.adapters.tables_payments import transfers as transfers_table
from corridor.platform.domain import outbox
from corridor.platform.domain.outbox import Retry
from corridor.platform.domain.transfers import ISSUER, TREASURY, Transfer, TransferStatus
from corridor.platform.domain.wallets import Wallet, wallet_context
from corridor.platform.services import settlement
from corridor.platform.services.ledger_port import BlockOutcomes, LedgerNode, Refusal, TxState
from corridor.platform.services.ports import Deps, UnitOfWork

log = logging.getLogger("corridor.platform.outbox")

# In flight per source account: the node's mempool holds at most 16 sequences past an
# account's last committed one (node MEMPOOL_FUTURE_SEQUENCES_MAX).
IN_FLIGHT_PER_SOURCE_MAX = 16
BATCH_MAX = 500  # transfers signed and submitted per round (node accepts up to 1,000)
KEY_CACHE_MAX = 10_000


@dataclasses.dataclass
class _Source:
    next_sequence: int
    free: list[int]  # sequences refused at admission: never used on chain, reused first


class TransferLane:
    def __init__(self, deps: Deps, node: LedgerNode, *, treasury: KeyPair,
                 issuer: KeyPair) -> None:
        self.deps = deps
        self.node = node
        self.chain_id = ""  # the node's, read by `recover`
        self.system = {TREASURY: treasury, ISSUER: issuer}
        self.issuer_address = issuer.address
        self._sources: dict[str, _Source] = {}
        self._draining: set[str] = set()
        self._keys: dict[str, KeyPair] = {}
        self.chain_time_ms = 0  # the latest block time seen: the chain's clock

    def resync(self) -> None:
        """Forgets the sequence counters (after any doubt: they are read from the chain)."""
        self._sources.clear()

    # --- starting --------------------------------------------------------------------------

    def recover(self, *, look_up: bool) -> None:
        """On start: the chain's id and clock; the stored bytes of transfers the node does
        not know are sent again. `look_up`: no cursor says which blocks were followed (the
        first start), so what the chain decided about the ones in flight is asked too."""
        status = self.node.status()
        self.chain_id = status.chain_id
        self.chain_time_ms = max(self.chain_time_ms, status.latest_time_ms)
        for t in self._in_flight():
            state = self.node.tx_state(t.tx_id or "")
            if state.status == "committed" and look_up:
                self._settle_from_state(t, state)
            elif state.status == "unknown" and t.tx_hex:
                self.node.submit_many([t.tx_hex])  # the very same bytes; refusals later

    def _settle_from_state(self, t: Transfer, state: TxState) -> None:
        """A committed transaction's outcome as the node told it (not from a block)."""
        assert state.status == "committed", state
        failure = None if state.success else state.refusal
        settlement.record_outcome(self.deps, t.id, committed=state.success, tx_id=t.tx_id,
                                  height=state.height,
                                  code=None if failure is None else failure.code,
                                  message=None if failure is None else failure.message)

    def _in_flight(self, signed_before_ms: int | None = None) -> list[Transfer]:
        """Transfers sent and not settled (only those signed before the time, if given)."""
        below = None if signed_before_ms is None else {"updated_ms": signed_before_ms}
        with self.deps.reader() as uow:
            return uow.repo(Transfer).many(status=TransferStatus.SUBMITTED, order_by="created_ms",
                                           below=below)

    def settle_blocks(self, blocks: Sequence[BlockOutcomes],
                      also: Callable[[UnitOfWork], None]) -> None:
        """Records the outcomes of our transfers in `blocks` and runs `also` (the cursor's
        move), all in one unit of work: one commit for many blocks."""
        by_id = {tx.tx_id: (block.height, tx) for block in blocks for tx in block.txs}
        for block in blocks:
            self.chain_time_ms = max(self.chain_time_ms, block.time_ms)
        outcomes = []
        for t in self._transfers_with_tx_ids(by_id):
            height, tx = by_id[t.tx_id or ""]
            outcomes.append(settlement.Outcome(
                t.id, tx.success, t.tx_id, height, None if tx.success else tx.code,
                None if tx.success else "refused in block"))
        settlement.record_outcomes(self.deps, outcomes, also=also)

    def _transfers_with_tx_ids(self, tx_ids: Iterable[str]) -> list[Transfer]:
        ids = list(tx_ids)
        found: list[Transfer] = []
        with self.deps.reader() as uow:
            assert isinstance(uow, SqlUnitOfWork)
            for i in range(0, len(ids), 500):
                rows = uow.execute(sa.select(transfers_table).where(
                    transfers_table.c.tx_id.in_(ids[i:i + 500]),
                    transfers_table.c.status == TransferStatus.SUBMITTED))
                found.extend(codec(Transfer).record(r._mapping) for r in rows)
        return found

    def retire_expired(self) -> None:
        """Transfers whose transaction is past its window and in no block: signed again (a
        fresh sequence, a fresh window) or recorded as refused, by the retry policy."""
        now = self.deps.clock.now_ms()
        signed_before_ms = now - outbox.TX_TTL_MS
        # Only those signed more than a window ago can be past it: the rest stay unread.
        for t in self._in_flight(signed_before_ms + 1):
            assert t.tx_hex is not None
            not_after = decode_transaction(bytes.fromhex(t.tx_hex)).tx.not_after_ms
            if not outbox.past_window(not_after, chain_time_ms=self.chain_time_ms,
                                      now_ms=now):
                continue
            # No block can include it any more, even if a mempool still holds it.
            state = self.node.tx_state(t.tx_id or "")
            self._draining.add(t.source)
            if state.status == "committed":
                self._settle_from_state(t, state)
                continue
            refusal = state.refusal
            code = refusal.code if refusal is not None else RejectCode.EXPIRED.name
            if outbox.on_refusal(code, attempts=t.attempts) is Retry.REBUILD:
                self._requeue(t, code, "expired before inclusion; signed again")
            else:
                message = refusal.message if refusal is not None else \
                    f"not included ({t.attempts} tries)"
                settlement.record_outcome(self.deps, t.id, committed=False, tx_id=t.tx_id,
                                          code=code, message=message)

    def _requeue(self, t: Transfer, code: str, message: str) -> None:
        with self.deps.uow() as uow:
            cur = uow.repo(Transfer).get(t.id, for_update=True)
            if cur is None or cur.status != TransferStatus.SUBMITTED or cur.tx_id != t.tx_id:
                return
            uow.repo(Transfer).update(dataclasses.replace(
                cur, status=TransferStatus.QUEUED, tx_id=None, tx_hex=None, sequence=None,
                result_code=code[:64], result_message=message[:500],
                updated_ms=self.deps.clock.now_ms()))
            uow.commit()

    # --- signing and submitting ----------------------------------------------------------------

    def sign_and_submit(self) -> bool:
        """Reads the queue and signs outside the write lock (unsealing keys and signing are
        most of a round's CPU, and every payment creation waits for that lock); then one
        write transaction stores each signed transfer that is still queued, and only then
        is anything sent."""
        with self.deps.reader() as uow:
            queued = uow.repo(Transfer).many(status=TransferStatus.QUEUED, order_by="created_ms",
                                             limit=BATCH_MAX)
            if not queued:
                return False
            in_flight = self._in_flight_counts(uow)
            for source in list(self._draining):
                if not in_flight.get(source):  # drained: restart from the chain's sequence
                    self._draining.discard(source)
                    self._sources.pop(source, None)
            built: list[Transfer] = []
            unsignable: list[tuple[Transfer, str]] = []
            for t in queued:
                if t.source in self._draining or in_flight.get(t.source, 0) >= \
                        IN_FLIGHT_PER_SOURCE_MAX:
                    continue
                in_flight[t.source] = in_flight.get(t.source, 0) + 1
                try:
                    built.append(self._build(uow, t))
                except _Unsignable as exc:
                    unsignable.append((t, str(exc)))
        signed = self._store(built, unsignable)
        if signed:
            self._submit(signed)
        return bool(signed or unsignable)

    def _store(self, built: list[Transfer], unsignable: list[tuple[Transfer, str]]
               ) -> list[Transfer]:
        """Stores the signed transfers that are still queued (anything that moved one since
        it was read wins; its sequence is free again) and refuses the unsignable ones."""
        stored: list[Transfer] = []
        with self.deps.uow() as uow:
            assert isinstance(uow, SqlUnitOfWork)
            for t in built:
                params = {"k": t.id, "status": t.status, "sequence": t.sequence,
                          "tx_id": t.tx_id, "tx_hex": t.tx_hex, "attempts": t.attempts,
                          "updated_ms": t.updated_ms}
                if uow.execute_with(_STORE_SIGNED, params).rowcount == 1:
                    stored.append(t)
                else:
                    self._free(t)
            for t, why in unsignable:
                current = uow.repo(Transfer).get(t.id, for_update=True)
                if current is not None and current.status == TransferStatus.QUEUED:
                    self._refuse_now(uow, current, "UNSIGNABLE", why)
            uow.commit()  # the bytes are durable before anyone can see them
        return stored

    def _free(self, t: Transfer) -> None:
        src = self._sources.get(t.source)
        if src is not None and t.sequence is not None:
            src.free.append(t.sequence)

    @staticmethod
    def _in_flight_counts(uow: Any) -> dict[str, int]:
        rows = uow.execute(
            sa.select(transfers_table.c.source, sa.func.count())
            .where(transfers_table.c.status == TransferStatus.SUBMITTED)
            .group_by(transfers_table.c.source))
        return {r[0]: int(r[1]) for r in rows}

    def _build(self, uow: Any, t: Transfer) -> Transfer:
        """The transfer signed (status SUBMITTED, not stored yet); _Unsignable if it names
        a party the platform cannot sign for or pay to."""
        source_key = self._key(uow, t.source)
        ops = []
        signers = {source_key.public_key: source_key}
        for leg in t.leg_list():
            leg_key = self._key(uow, leg.source)
            signers[leg_key.public_key] = leg_key
            ops.append(Payment(
                destination=self._address(uow, leg.destination),
                asset=Asset(leg.code, self.issuer_address), amount=leg.amount_minor,
                source=None if leg_key is source_key else leg_key.address))
        sequence = self._next_sequence(uow, t.source, source_key.address)
        now = self.deps.clock.now_ms()
        tx = Transaction(
            chain_id=self.chain_id, source=source_key.address, sequence=sequence,
                not_before_ms=0, not_after_ms=outbox.not_after_ms(now, self.chain_time_ms),
            operations=tuple(ops), memo=t.memo.encode())
        stx = tx.sign(*signers.values())
        return dataclasses.replace(
            t, status=TransferStatus.SUBMITTED, sequence=sequence, tx_id=stx.tx_id.hex(),
            tx_hex=stx.encode().hex(), attempts=t.attempts + 1, updated_ms=now)

    def _refuse_now(self, uow: Any, t: Transfer, code: str, message: str) -> None:
        """Records a transfer that cannot even be signed as refused, in this round's unit
        of work, so it does not block the queue."""
        refused = dataclasses.replace(t, status=TransferStatus.REJECTED, result_code=code,
                                      result_message=message[:500],
                                      updated_ms=self.deps.clock.now_ms())
        uow.repo(Transfer).update(refused)
        settlement.run_handlers(self.deps, uow, refused)

    def _next_sequence(self, uow: Any, source_ref: str, address: bytes) -> int:
        """From this worker's counter (the one signer of a deployment), seeded from the
        chain and the source's transfers in flight."""
        src = self._sources.get(source_ref)
        if src is None:
            account = self.node.account(keys.encode_address(address))
            on_chain = 0 if account is None else account.sequence
            mine = [t.sequence or 0 for t in uow.repo(Transfer).many(
                status=TransferStatus.SUBMITTED, source=source_ref)]
            src = self._sources[source_ref] = _Source(max([on_chain, *mine]) + 1, [])
        if src.free:
            src.free.sort()
            return src.free.pop(0)
        seq = src.next_sequence
        src.next_sequence += 1
        return seq

    def _submit(self, signed: list[Transfer]) -> None:
        refusals = self.node.submit_many([t.tx_hex or "" for t in signed])
        for t, refusal in zip(signed, refusals, strict=True):
            if refusal is not None:
                self._refused_at_admission(t, refusal)

    def _refused_at_admission(self, t: Transfer, refusal: Refusal) -> None:
        code = outbox.reject_code(refusal.code)
        if code is RejectCode.DUPLICATE:
            return  # this very transaction is pending: blocks will tell
        if code is RejectCode.BAD_SEQUENCE:
            if self.node.tx_state(t.tx_id or "").status == "committed":
                return  # it is already on chain: blocks will tell
            self._draining.add(t.source)  # our counter is behind the chain: drain, resync
            self._requeue(t, refusal.code, refusal.message)
            return
        self._free(t)  # never entered a mempool: the number is free
        if outbox.on_refusal(refusal.code, attempts=t.attempts) is Retry.REBUILD:
            self._requeue(t, refusal.code, refusal.message)
        else:
            settlement.record_outcome(self.deps, t.id, committed=False, tx_id=t.tx_id,
                                      code=refusal.code, message=refusal.message)

    # --- keys and addresses ----------------------------------------------------------------------

    def _key(self, uow: Any, ref: str) -> KeyPair:
        if ref in self.system:
            return self.system[ref]
        cached = self._keys.get(ref)
        if cached is not None:
            return cached
        wallet = self._wallet(uow, ref)
        if wallet.key_sealed is None:
            raise _Unsignable(f"wallet {wallet.id} is not custodial: its owner signs")
        seed = self.deps.sealer.open(wallet.key_sealed, wallet_context(wallet.id))
        kp = KeyPair.from_seed(seed)
        if len(self._keys) >= KEY_CACHE_MAX:
            self._keys.clear()
        self._keys[ref] = kp
        return kp

    def _address(self, uow: Any, ref: str) -> bytes:
        if ref in self.system:
            return self.system[ref].address
        if ref.startswith("wallet:"):
            return keys.decode_address(self._wallet(uow, ref).address)
        try:
            return keys.decode_address(ref)
        except Exception as exc:
            raise _Unsignable(f"{ref!r} is not an address") from exc

    @staticmethod
    def _wallet(uow: Any, ref: str) -> Wallet:
        wallet: Wallet | None = uow.repo(Wallet).get(ref.removeprefix("wallet:"))
        if wallet is None or not ref.startswith("wallet:"):
            raise _Unsignable(f"no wallet {ref}")
        return wallet


# A signed transfer stored only while still queued (see `_store`).
_STORE_SIGNED = (
    sa.update(transfers_table)
    .where(transfers_table.c.id == sa.bindparam("k"),
           transfers_table.c.status == TransferStatus.QUEUED)
    .values({c: sa.bindparam(c) for c in ("status", "sequence", "tx_id", "tx_hex", "attempts",
                                          "updated_ms")})
)


class _Unsignable(Exception):
    """A transfer naming a party the platform cannot sign for or pay to."""
