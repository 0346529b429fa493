"""The settlement worker: turns queued transfers into signed ledger transactions, submits
them in batches, follows committed blocks, and records each outcome (domain/transfers.py).

Safety rules (nothing applied twice, nothing lost):
- A transfer's signed bytes are stored (status SUBMITTED) before they are sent; after a
  crash the same bytes are resent, never a second, different transaction.
- A transfer is re-signed only when its transaction can no longer commit: refused at
  admission by the one node it was sent to, or past its `not_after_ms` by the chain's own
  clock and not in any block. Every transaction carries a short validity window for this.
- Sequences are assigned per source account from a local counter (seeded from the chain
  and from our own in-flight transactions). A sequence refused at admission never entered
  a mempool, so it is free and reused first. A transaction that dies after admission (it
  expired unincluded) leaves a gap the later ones of its source cannot cross: the source
  then *drains* — nothing new is signed for it until all its in-flight transactions are
  committed or dead — and restarts from the chain's sequence, in the original order.
Outcomes go through `settlement.record_outcome`, which is idempotent.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterable
from typing import Any

import httpx
import sqlalchemy as sa

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.keys import KeyPair
from corridor.ledger.tx import Payment, Transaction, decode_transaction
from corridor.platform.adapters.db import SqlUnitOfWork
from corridor.platform.adapters.ledger_client import node_headers
from corridor.platform.adapters.record_codec import codec
from corridor.platform.adapters.tables_payments import transfers as transfers_table
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.transfers import ISSUER, TREASURY, Transfer, TransferStatus
from corridor.platform.domain.wallets import Wallet, wallet_context
from corridor.platform.services import settlement
from corridor.platform.services.ports import Deps

log = logging.getLogger("corridor.platform.settlement")

TX_TTL_MS = 10_000  # validity window of each transaction: the wait before a safe re-sign
# Blocks are made only when there is work, so the chain's clock may stand still. A
# transaction past its window by our clock plus this margin, and unknown to the node (not
# in its mempool), can no longer be included by an honest proposer.
CLOCK_SKEW_MAX_MS = 3_000
# In flight per source account: the node's mempool holds at most 16 sequences past an
# account's last committed one (node MEMPOOL_FUTURE_SEQUENCES_MAX).
IN_FLIGHT_PER_SOURCE_MAX = 16
BATCH_MAX = 500  # transfers signed and submitted per round (node accepts up to 1,000)
ATTEMPTS_MAX = 5  # transactions signed for one transfer before it is given up
IDLE_S = 0.02  # pause when a round found nothing to do
BLOCKS_PER_ROUND_MAX = 50
KEY_CACHE_MAX = 10_000
NODE_TIMEOUT_S = 10.0

# Refusals that say the transaction is pending or known: not an error.
_KNOWN = {"DUPLICATE"}
# Deaths caused by our own window or sequence gaps, not by the transfer: sign it again.
_OURS_TO_RETRY = {"EXPIRED", "BAD_SEQUENCE", "FUTURE_SEQUENCE"}


class SettlementNode:
    """The node calls the worker needs (batch submit, blocks, status), over HTTP."""

    def __init__(self, url: str, *, token: str = "") -> None:
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=NODE_TIMEOUT_S,
                                 headers=node_headers(token))

    def close(self) -> None:
        self.http.close()

    def status(self) -> dict[str, Any]:
        r = self.http.get("/v1/status")
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def account_sequence(self, address: str) -> int:
        r = self.http.get(f"/v1/accounts/{address}")
        if r.status_code == 404:
            return 0
        r.raise_for_status()
        return int(r.json()["sequence"])

    def submit(self, txs_hex: list[str]) -> list[dict[str, Any]]:
        r = self.http.post("/v1/txs", json={"txs": txs_hex})
        r.raise_for_status()
        results: list[dict[str, Any]] = r.json()["results"]
        return results

    def block(self, height: int) -> dict[str, Any] | None:
        r = self.http.get(f"/v1/blocks/{height}")
        if r.status_code == 404:
            return None
        r.raise_for_status()
        data: dict[str, Any] = r.json()
        return data

    def tx_error(self, tx_id: str) -> tuple[str, dict[str, Any] | None]:
        """The node's status of a transaction and, when it dropped it, why
        ({"code", "message", "permanent"})."""
        r = self.http.get(f"/v1/txs/{tx_id}")
        if r.status_code == 404:
            return "unknown", None
        r.raise_for_status()
        body = r.json()
        err = body.get("error")
        if not isinstance(err, dict):
            return str(body["status"]), None
        return str(body["status"]), {"code": str(err.get("code", "unknown")).upper(),
                                     "message": str(err.get("message", ""))[:500],
                                     "permanent": bool(err.get("permanent", True))}

    def tx_status(self, tx_id: str) -> str:
        r = self.http.get(f"/v1/txs/{tx_id}")
        if r.status_code == 404:
            return "unknown"
        r.raise_for_status()
        return str(r.json()["status"])


@dataclasses.dataclass
class _Source:
    next_sequence: int
    free: list[int]  # sequences refused at admission: never used on chain, reused first


class SettlementWorker:
    def __init__(self, deps: Deps, node: SettlementNode, *, chain_id: str,
                 treasury: KeyPair, issuer: KeyPair) -> None:
        self.deps = deps
        self.node = node
        self.chain_id = chain_id
        self.system = {TREASURY: treasury, ISSUER: issuer}
        self.issuer_address = issuer.address
        self._sources: dict[str, _Source] = {}
        self._draining: set[str] = set()
        self._keys: dict[str, KeyPair] = {}
        self._cursor: int | None = None  # next block height to read
        self._chain_time_ms = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- life cycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="settlement", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.round()
            except (httpx.HTTPError, PlatformError, sa.exc.OperationalError) as exc:
                log.warning("settlement round failed, retrying: %s", exc)
                self._sources.clear()  # resync sequences after any doubt
                self._stop.wait(0.5)
                continue
            if not busy:
                self._stop.wait(IDLE_S)

    # --- one round ---------------------------------------------------------------------------

    def round(self) -> bool:
        """Follows new blocks, retires expired transactions, signs and submits queued
        transfers. Returns whether there was anything to do."""
        if self._cursor is None:
            self._recover()
        followed = self._follow_blocks()
        self._retire_expired()
        sent = self._sign_and_submit()
        return followed or sent

    def _recover(self) -> None:
        """On start: settle what the chain already decided about our in-flight transfers,
        resend the stored bytes of the rest, then follow blocks from the current head."""
        status = self.node.status()
        self._chain_time_ms = int(status.get("latest_time_ms", 0))
        for t in self._in_flight():
            state = self.node.tx_status(t.tx_id or "")
            if state == "committed":
                self._settle_from_block_lookup(t)
            elif state == "unknown" and t.tx_hex:
                self.node.submit([t.tx_hex])  # the very same bytes; refusals handled later
        self._cursor = int(status["height"]) + 1

    def _settle_from_block_lookup(self, t: Transfer) -> None:
        r = self.node.http.get(f"/v1/txs/{t.tx_id}")
        body = r.json()
        ok = body.get("result", {}).get("code") == "success"
        settlement.record_outcome(self.deps, t.id, committed=ok, tx_id=t.tx_id,
                                  height=body.get("height"),
                                  code=None if ok else str(body.get("result", {}).get("code")))

    def _in_flight(self, signed_before_ms: int | None = None) -> list[Transfer]:
        """Transfers sent and not settled (only those signed before the time, if given)."""
        below = None if signed_before_ms is None else {"updated_ms": signed_before_ms}
        with self.deps.reader() as uow:
            return uow.repo(Transfer).many(status=TransferStatus.SUBMITTED, order_by="created_ms",
                                           below=below)

    def _follow_blocks(self) -> bool:
        status = self.node.status()
        head = int(status["height"])
        self._chain_time_ms = max(self._chain_time_ms, int(status.get("latest_time_ms", 0)))
        assert self._cursor is not None
        if self._cursor > head:
            return False
        last = min(head, self._cursor + BLOCKS_PER_ROUND_MAX - 1)
        for height in range(self._cursor, last + 1):
            block = self.node.block(height)
            if block is None:
                break
            self._chain_time_ms = max(self._chain_time_ms, int(block["header"]["time_ms"]))
            self._settle_block(height, block["transactions"])
            self._cursor = height + 1
        return True

    def _settle_block(self, height: int, txs: list[dict[str, Any]]) -> None:
        by_id = {tx["tx_id"]: tx for tx in txs}
        if not by_id:
            return
        outcomes = []
        for t in self._transfers_with_tx_ids(by_id):
            result = by_id[t.tx_id or ""].get("result") or {}
            ok = result.get("code", "success") == "success"
            outcomes.append(settlement.Outcome(
                t.id, ok, t.tx_id, height, None if ok else str(result["code"]),
                None if ok else "refused in block"))
        if outcomes:  # the whole block's outcomes in one unit of work
            settlement.record_outcomes(self.deps, outcomes)

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

    def _retire_expired(self) -> None:
        """Transfers whose transaction is past its window and in no block: re-sign them (a
        fresh sequence, a fresh window) or, after ATTEMPTS_MAX, record them as refused."""
        now = self.deps.clock.now_ms()
        signed_before_ms = now - TX_TTL_MS
        # Only those signed more than a window ago can be past it: the rest stay unread.
        for t in self._in_flight(signed_before_ms + 1):
            assert t.tx_hex is not None
            not_after = decode_transaction(bytes.fromhex(t.tx_hex)).tx.not_after_ms
            if not_after >= self._chain_time_ms and now <= not_after + CLOCK_SKEW_MAX_MS:
                continue
            # Past its window by the chain's clock, or by ours beyond any honest skew: no
            # block can include it any more, even if a mempool still holds it.
            state, error = self.node.tx_error(t.tx_id or "")
            self._draining.add(t.source)
            if state == "committed":
                self._settle_from_block_lookup(t)
            elif t.attempts >= ATTEMPTS_MAX or (error is not None and error["permanent"]
                                                and error["code"] not in _OURS_TO_RETRY):
                code = error["code"] if error else "TX_EXPIRED"
                message = error["message"] if error else f"not included ({t.attempts} tries)"
                settlement.record_outcome(self.deps, t.id, committed=False, tx_id=t.tx_id,
                                          code=code, message=message)
            else:
                self._requeue(t, "TX_EXPIRED", "expired before inclusion; signed again")

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

    def _sign_and_submit(self) -> bool:
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
            not_before_ms=0, not_after_ms=max(now, self._chain_time_ms) + TX_TTL_MS,
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
        hook = settlement.hook_for(t.purpose)
        if hook is not None:
            hook(self.deps, uow, refused)

    def _next_sequence(self, uow: Any, source_ref: str, address: bytes) -> int:
        """From this worker's counter (the one signer of a deployment), seeded from the
        chain and the source's transfers in flight."""
        src = self._sources.get(source_ref)
        if src is None:
            on_chain = self.node.account_sequence(keys.encode_address(address))
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
        results = self.node.submit([t.tx_hex or "" for t in signed])
        for t, res in zip(signed, results, strict=True):
            if res.get("accepted"):
                continue
            err = res.get("error") or {}
            code = str(err.get("code", "unknown")).upper()
            message = str(err.get("message", ""))
            if code in _KNOWN or (code == "BAD_SEQUENCE"
                                  and self.node.tx_status(t.tx_id or "") == "committed"):
                continue  # already pending or committed: blocks will tell
            if code == "BAD_SEQUENCE":  # our counter is behind the chain: drain and resync
                self._draining.add(t.source)
                self._requeue(t, code, message)
                continue
            self._free(t)  # never entered a mempool: the number is free
            if (err.get("permanent", True) and code not in _OURS_TO_RETRY) \
                    or t.attempts >= ATTEMPTS_MAX:
                settlement.record_outcome(self.deps, t.id, committed=False, tx_id=t.tx_id,
                                          code=code, message=message)
            else:
                self._requeue(t, code, message)

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
