"""A small chain for the explorer (its tests, the page bench and the accessibility walk),
made of the ledger's real values: signed transactions, headers whose tx roots are the
ledger's Merkle roots, commit certificates signed by real validator keys, and inclusion
proofs from `ledger.proofs.prove_tx`. The node's views of them are the node's own
(`node.views`), so the pages read exactly what a node would send; only the storage is a
dict. `away = True` makes every read fail as an unreachable node does."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.block import (
    PRECOMMIT,
    ZERO_HASH,
    Block,
    BlockHeader,
    Commit,
    CommitSig,
    tx_root,
    vote_sign_bytes,
)
from corridor.ledger.proofs import prove_tx
from corridor.ledger.results import OpResult, TxResult
from corridor.ledger.tx import Payment, SignedTransaction, Transaction
from corridor.node import views
from corridor.platform.domain.errors import Err
from corridor.platform.services.ledger_port import (
    ChainAccount,
    ChainAsset,
    ChainBlock,
    ChainHolding,
    ChainOverview,
    ChainStatus,
    ChainTx,
    ChainValidator,
    TxInclusion,
)

CHAIN_ID = "corridor-explorer-test"
T0_MS = 1_780_000_000_000
FAILED_CODE = 38  # INSUFFICIENT_BALANCE: what the failed payment of block 2 recorded


def key(n: int) -> keys.KeyPair:
    return keys.KeyPair.from_seed(hashlib.sha256(b"explorer-test-%d" % n).digest())


ISSUER, ALICE, BOB = key(1), key(2), key(3)
VALIDATORS = sorted((key(10), key(11), key(12), key(13)), key=lambda k: k.public_key)
POWERS = {VALIDATORS[0].public_key: 10, VALIDATORS[1].public_key: 10,
          VALIDATORS[2].public_key: 10, VALIDATORS[3].public_key: 5}
USD = Asset("USD", ISSUER.address)


def addr(k: keys.KeyPair) -> str:
    return keys.encode_address(k.address)


def payment(src: keys.KeyPair, dst: keys.KeyPair, amount: int, seq: int) -> SignedTransaction:
    tx = Transaction(chain_id=CHAIN_ID, source=src.address, sequence=seq, not_before_ms=0,
                     not_after_ms=T0_MS * 2,
                     operations=(Payment(destination=dst.address, asset=USD, amount=amount),))
    return tx.sign(src)


@dataclasses.dataclass
class FakeChain:
    """Blocks 1..n: block 2 holds three payments (one failed), block 4 one more; the
    others are empty. Validators 0-2 sign every commit (30 of 35 power), 3 never does."""

    away: bool = False
    blocks: dict[int, Block] = dataclasses.field(default_factory=dict)
    results: dict[int, tuple[TxResult, ...]] = dataclasses.field(default_factory=dict)
    commits: dict[int, Commit] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        contents = {2: [(payment(ISSUER, ALICE, 1_234_567, 1), 0),
                        (payment(ALICE, BOB, 250_050, 1), 0),
                        (payment(BOB, ALICE, 10**12, 1), FAILED_CODE)],
                    4: [(payment(ALICE, BOB, 100, 2), 0)]}
        previous = ZERO_HASH
        for height in range(1, 6):
            items = contents.get(height, [])
            txs = tuple(stx for stx, _ in items)
            header = BlockHeader(
                chain_id=CHAIN_ID, height=height, time_ms=T0_MS + height * 1000,
                previous_hash=previous, last_commit_hash=ZERO_HASH, tx_count=len(txs),
                tx_root=tx_root(txs), result_root=ZERO_HASH, evidence_root=ZERO_HASH,
                state_root=ZERO_HASH, validator_set_hash=ZERO_HASH,
                proposer=VALIDATORS[height % 3].address)
            self.blocks[height] = Block(header=header, txs=txs, last_commit=None)
            self.results[height] = tuple(
                TxResult(stx.tx_id, (OpResult(delivered=0 if code else 1),), code)
                for stx, code in items)
            block_hash = header.hash()
            message = vote_sign_bytes(CHAIN_ID, PRECOMMIT, height, 0, block_hash)
            self.commits[height] = Commit(height, 0, block_hash, tuple(
                CommitSig(v.public_key, v.sign(message)) for v in VALIDATORS[:3]))
            previous = block_hash

    @property
    def head(self) -> int:
        return max(self.blocks)

    def _up(self) -> None:
        if self.away:
            raise Err.NODE_UNAVAILABLE.error("test: the node is away")

    def tx_ids(self, height: int) -> list[str]:
        return [stx.tx_id.hex() for stx in self.blocks[height].txs]

    def _locate(self, tx_id: str) -> tuple[int, int] | None:
        for height, blk in self.blocks.items():
            for i, stx in enumerate(blk.txs):
                if stx.tx_id.hex() == tx_id:
                    return height, i
        return None

    # --- LedgerNode reads (the payment page) ------------------------------------------

    def status(self) -> ChainStatus:
        self._up()
        return ChainStatus(chain_id=CHAIN_ID, height=self.head,
                           latest_time_ms=self.blocks[self.head].header.time_ms)

    def tx_proof(self, tx_id: str) -> TxInclusion | None:
        self._up()
        where = self._locate(tx_id)
        if where is None:
            return None
        blk = self.blocks[where[0]]
        proof = prove_tx(blk, where[1])
        return TxInclusion(height=proof.height, index=proof.index, tx_hex=proof.tx_bytes.hex(),
                           path=tuple(p.hex() for p in proof.path),
                           header=views.header_view(blk.header))

    # --- ChainReader --------------------------------------------------------------------

    def overview(self) -> ChainOverview:
        self._up()
        return ChainOverview(
            chain_id=CHAIN_ID, height=self.head,
            latest_hash=self.blocks[self.head].header.hash().hex(),
            latest_time_ms=self.blocks[self.head].header.time_ms, mempool_txs=0,
            validators=tuple(ChainValidator(address=addr(v),
                                            public_key=keys.encode_public_key(v.public_key),
                                            power=POWERS[v.public_key]) for v in VALIDATORS),
            node_validator=addr(VALIDATORS[0]))

    def latest_headers(self, limit: int) -> tuple[dict[str, Any], ...]:
        self._up()
        return tuple(views.header_view(self.blocks[h].header)
                     for h in range(self.head, max(0, self.head - limit), -1))

    def block_detail(self, height: int) -> ChainBlock | None:
        self._up()
        blk = self.blocks.get(height)
        if blk is None:
            return None
        view = views.block_view(blk, self.results[height])
        return ChainBlock(header=view["header"], txs=tuple(view["transactions"]),
                          commit=views.commit_view(self.commits[height]))

    def certificate(self, height: int) -> dict[str, Any] | None:
        self._up()
        commit = self.commits.get(height)
        return None if commit is None else views.commit_view(commit)

    def block_height(self, block_hash: str) -> int | None:
        self._up()
        for height, blk in self.blocks.items():
            if blk.header.hash().hex() == block_hash:
                return height
        return None

    def tx_detail(self, tx_id: str) -> ChainTx | None:
        self._up()
        where = self._locate(tx_id)
        if where is None:
            return None
        height, i = where
        return ChainTx(height=height, index=i, tx=views.tx_view(self.blocks[height].txs[i]),
                       result=views.result_view(self.results[height][i]))

    def account(self, address: str) -> ChainAccount | None:
        self._up()
        balances = {addr(ALICE): 1_234_567 - 250_050 - 100, addr(BOB): 250_150}
        if address == addr(ISSUER):
            return ChainAccount(address=address, sequence=1, holdings=())
        if address not in balances:
            return None
        return ChainAccount(address=address, sequence=2, holdings=(ChainHolding(
            code="USD", issuer=addr(ISSUER), balance_minor=balances[address], authorised=True,
            frozen=False),))

    def account_txs(self, address: str, limit: int) -> tuple[dict[str, Any], ...]:
        self._up()
        raw = keys.decode_address(address)
        out = []
        for height in sorted(self.blocks, reverse=True):
            blk = self.blocks[height]
            for i in reversed(range(len(blk.txs))):
                stx = blk.txs[i]
                op = stx.tx.operations[0]
                if raw in (stx.tx.source, getattr(op, "destination", None)):
                    # as the node's GET /v1/accounts/{address}/txs: no results
                    out.append({"height": height, "index": i, "time_ms": blk.header.time_ms,
                                **views.tx_view(stx)})
        return tuple(out[:limit])

    def assets(self) -> tuple[ChainAsset, ...]:
        self._up()
        return (ChainAsset(code="USD", issuer=addr(ISSUER), decimals=2, supply_minor=1_234_567),)
