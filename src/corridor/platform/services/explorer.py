"""The public explorer's reads (issue 15): the chain as the node the platform reads states
it — latest blocks and transactions, a block with its commit certificate, a transaction
with its result and inclusion proof, an account's balances and history, the validators —
and the search that routes a height, hash or address to its page.

Read-only and public: nothing here touches the platform's own records. Untrusted text
(path segments, the search box) is checked here and refused with a stable code before any
node is asked; a node that is away raises NODE_UNAVAILABLE (the page says so).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from corridor.ledger import keys
from corridor.ledger.errors import DecodeError, RejectCode
from corridor.platform.domain.errors import Err
from corridor.platform.services.ledger_port import (
    ChainAccount,
    ChainBlock,
    ChainOverview,
    ChainReader,
    ChainValidator,
    TxInclusion,
)
from corridor.platform.services.ports import Deps

LATEST_BLOCKS = 10  # blocks on the explorer's front page
LATEST_TXS = 10  # transactions on the explorer's front page
LATEST_TX_BLOCKS_MAX = 5  # blocks read (each one RPC pair) to find the latest transactions
ACCOUNT_TXS = 20  # an account's recent transactions shown
RECENT_PROPOSALS = 10  # the latest blocks whose proposers the validators page counts
SEARCH_TEXT_MAX = 120  # characters of search text read; an address is 34, a hash 64
HEIGHT_MAX = 2**63 - 1  # the node's own bound on heights
_HASH = re.compile(r"[0-9a-fA-F]{64}")
assert LATEST_TX_BLOCKS_MAX <= LATEST_BLOCKS


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Amount:
    """An on-chain amount in the asset's minor units, with the asset's decimals."""

    amount_minor: int
    code: str
    decimals: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxRow:
    """A transaction as a list shows it: what kind, who, how much, and how it ended."""

    tx_id: str
    height: int
    time_ms: int
    kinds: tuple[str, ...]  # each operation's type, e.g. "payment"
    source: str
    counterparties: tuple[str, ...]
    amounts: tuple[Amount, ...]
    success: bool | None  # None: the view came without its result (an account's history)
    result_code: str  # "SUCCESS", the ledger's reject code name, or "" when not known


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Signer:
    address: str
    public_key: str
    power: int
    signature: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CommitSummary:
    """A commit certificate against the validator set: who signed, their power, the quorum
    (more than two thirds of the total power) and who is missing."""

    round: int
    block_hash: str
    signers: tuple[Signer, ...]
    absent: tuple[ChainValidator, ...]
    signed_power: int
    total_power: int
    quorum_power: int

    @property
    def reached(self) -> bool:
        return self.signed_power >= self.quorum_power


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Latest:
    overview: ChainOverview
    headers: tuple[dict[str, Any], ...]
    txs: tuple[TxRow, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BlockPage:
    header: dict[str, Any]
    txs: tuple[TxRow, ...]
    commit: CommitSummary | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxPage:
    row: TxRow
    index: int
    sequence: int
    memo_hex: str
    signers: tuple[str, ...]  # public keys that signed it
    proof: TxInclusion | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Balance:
    amount: Amount
    issuer: str
    authorised: bool
    frozen: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AccountPage:
    address: str
    sequence: int
    balances: tuple[Balance, ...]
    txs: tuple[TxRow, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ValidatorStatus:
    validator: ChainValidator
    signed_latest: bool | None  # None: the latest block has no stored certificate
    proposed_recent: int  # blocks proposed among the latest RECENT_PROPOSALS
    is_this_node: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ValidatorsPage:
    overview: ChainOverview
    validators: tuple[ValidatorStatus, ...]
    total_power: int
    quorum_power: int
    recent_blocks: int


def _reader(deps: Deps) -> ChainReader:
    if deps.chain is None:
        raise Err.NODE_UNAVAILABLE.error("no chain node is wired for the explorer")
    return deps.chain


def quorum_of(total_power: int) -> int:
    """The least power that is more than two thirds of `total_power` (the ledger's rule:
    3 * signed > 2 * total)."""
    return 2 * total_power // 3 + 1


# --- checking what the reader typed ------------------------------------------------------


def height_of(text: str) -> int:
    """A block height from a path or the search box: ASCII digits within the node's range."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > HEIGHT_MAX:
        raise Err.CHAIN_QUERY_INVALID.error("a block height is a whole number",
                                            {"q": "a block height, e.g. 12"})
    return int(text)


def hash_of(text: str) -> str:
    """A transaction or block hash: 64 hexadecimal digits, lower-cased."""
    if not _HASH.fullmatch(text):
        raise Err.CHAIN_QUERY_INVALID.error("a hash is 64 hexadecimal digits",
                                            {"q": "64 hexadecimal digits"})
    return text.lower()


def address_of(text: str) -> str:
    try:
        keys.decode_address(text)
    except DecodeError:
        raise Err.CHAIN_QUERY_INVALID.error("not an account address",
                                            {"q": "an address such as c…"}) from None
    return text


def search(deps: Deps, text: str) -> str:
    """The explorer page for what was typed: a height, a transaction or block hash, or an
    account address; CHAIN_QUERY_INVALID for anything else, *_NOT_FOUND for a hash the
    chain does not know."""
    q = text.strip()[: SEARCH_TEXT_MAX + 1]
    if not q or len(q) > SEARCH_TEXT_MAX:
        raise Err.CHAIN_QUERY_INVALID.error()
    if q.isascii() and q.isdigit():
        return f"/explorer/block/{height_of(q)}"
    if _HASH.fullmatch(q):
        h = q.lower()
        chain = _reader(deps)
        if chain.tx_detail(h) is not None:
            return f"/explorer/tx/{h}"
        height = chain.block_height(h)
        if height is not None:
            return f"/explorer/block/{height}"
        raise Err.TX_NOT_FOUND.error()
    try:
        keys.decode_address(q)
    except DecodeError:
        raise Err.CHAIN_QUERY_INVALID.error() from None
    return f"/explorer/account/{q}"


# --- the pages' reads ----------------------------------------------------------------------


def latest(deps: Deps) -> Latest:
    chain = _reader(deps)
    overview = chain.overview()
    headers = chain.latest_headers(LATEST_BLOCKS)
    decimals = _decimals(chain)
    txs: list[TxRow] = []
    busy = [h for h in headers if int(h.get("tx_count", 0)) > 0][:LATEST_TX_BLOCKS_MAX]
    for header in busy:
        block = chain.block_detail(int(header["height"]))
        if block is not None:
            txs.extend(reversed(_rows(block, decimals)))  # newest first
        if len(txs) >= LATEST_TXS:
            break
    return Latest(overview=overview, headers=headers, txs=tuple(txs[:LATEST_TXS]))


def block(deps: Deps, height_text: str) -> BlockPage:
    height = height_of(height_text)
    chain = _reader(deps)
    found = chain.block_detail(height) if height > 0 else None
    if found is None:
        raise Err.BLOCK_NOT_FOUND.error()
    commit = None
    if found.commit is not None:
        commit = commit_summary(found.commit, chain.overview().validators)
    return BlockPage(header=found.header, txs=_rows(found, _decimals(chain)), commit=commit)


def tx(deps: Deps, hash_text: str) -> TxPage:
    tx_id = hash_of(hash_text)
    chain = _reader(deps)
    found = chain.tx_detail(tx_id)
    if found is None:
        raise Err.TX_NOT_FOUND.error()
    proof = chain.tx_proof(tx_id)  # its header gives the time: no need to read the block
    time_ms = int(proof.header.get("time_ms", 0)) if proof is not None else 0
    view = {**found.tx, "result": found.result}
    return TxPage(row=tx_row(view, found.height, time_ms, _decimals(chain)), index=found.index,
                  sequence=int(found.tx.get("sequence", 0)),
                  memo_hex=str(found.tx.get("memo", "")),
                  signers=tuple(str(s) for s in found.tx.get("signers", ())), proof=proof)


def account(deps: Deps, address_text: str) -> AccountPage:
    address = address_of(address_text)
    chain = _reader(deps)
    acct: ChainAccount | None = chain.account(address)
    if acct is None:
        raise Err.ACCOUNT_NOT_FOUND.error()
    decimals = _decimals(chain)
    balances = tuple(
        Balance(amount=Amount(amount_minor=h.balance_minor, code=h.code,
                              decimals=decimals.get((h.code, h.issuer), 0)),
                issuer=h.issuer, authorised=h.authorised, frozen=h.frozen)
        for h in acct.holdings)
    txs = tuple(tx_row(t, int(t.get("height", 0)), int(t.get("time_ms", 0)), decimals)
                for t in chain.account_txs(address, ACCOUNT_TXS))
    return AccountPage(address=acct.address, sequence=acct.sequence, balances=balances, txs=txs)


def validators(deps: Deps) -> ValidatorsPage:
    chain = _reader(deps)
    overview = chain.overview()
    headers = chain.latest_headers(RECENT_PROPOSALS)
    signed: set[str] | None = None
    commit = chain.certificate(overview.height) if overview.height > 0 else None
    if commit is not None:
        signed = {str(s.get("public_key")) for s in commit.get("signatures", ())}
    proposals: dict[str, int] = {}
    for h in headers:
        proposals[str(h.get("proposer"))] = proposals.get(str(h.get("proposer")), 0) + 1
    total = sum(v.power for v in overview.validators)
    rows = tuple(
        ValidatorStatus(validator=v,
                        signed_latest=None if signed is None else v.public_key in signed,
                        proposed_recent=proposals.get(v.address, 0),
                        is_this_node=v.address == overview.node_validator)
        for v in overview.validators)
    return ValidatorsPage(overview=overview, validators=rows, total_power=total,
                          quorum_power=quorum_of(total), recent_blocks=len(headers))


# --- shaping the node's views -------------------------------------------------------------


def commit_summary(commit: Mapping[str, Any],
                   validator_set: tuple[ChainValidator, ...]) -> CommitSummary:
    by_key = {v.public_key: v for v in validator_set}
    signers = []
    for s in commit.get("signatures", ()):
        v = by_key.get(str(s.get("public_key")))
        signers.append(Signer(address=v.address if v else "", public_key=str(s.get("public_key")),
                              power=v.power if v else 0, signature=str(s.get("signature"))))
    signed_keys = {s.public_key for s in signers}
    total = sum(v.power for v in validator_set)
    return CommitSummary(round=int(commit.get("round", 0)),
                         block_hash=str(commit.get("block_hash", "")), signers=tuple(signers),
                         absent=tuple(v for v in validator_set if v.public_key not in signed_keys),
                         signed_power=sum(s.power for s in signers), total_power=total,
                         quorum_power=quorum_of(total))


def _decimals(chain: ChainReader) -> dict[tuple[str, str], int]:
    return {(a.code, a.issuer): a.decimals for a in chain.assets()}


def _rows(block_: ChainBlock, decimals: Mapping[tuple[str, str], int]) -> tuple[TxRow, ...]:
    height = int(block_.header.get("height", 0))
    time_ms = int(block_.header.get("time_ms", 0))
    return tuple(tx_row(t, height, time_ms, decimals) for t in block_.txs)


def result_code(result: Mapping[str, Any]) -> str:
    """"SUCCESS" or the ledger's reject code by name (the node writes a number)."""
    code = result.get("code", "success")
    if code == "success":
        return "SUCCESS"
    if isinstance(code, int) and code in RejectCode._value2member_map_:
        return RejectCode(code).name
    return str(code).upper()[:40]


def tx_row(view: Mapping[str, Any], height: int, time_ms: int,
           decimals: Mapping[tuple[str, str], int]) -> TxRow:
    """A node's transaction view (with its `result`) as a row."""
    ops = [op for op in view.get("operations", ()) if isinstance(op, Mapping)]
    source = str(view.get("source", ""))
    parties: list[str] = []
    amounts: list[Amount] = []
    for op in ops:
        for field in ("destination", "holder", "address"):
            party = op.get(field)
            if party and party != source and party not in parties:
                parties.append(str(party))
        if op.get("amount") is not None and op.get("code"):
            code = str(op["code"])
            issuer = str(op.get("issuer") or op.get("source") or source)
            amounts.append(Amount(amount_minor=int(op["amount"]), code=code,
                                  decimals=decimals.get((code, issuer), 0)))
    result = view.get("result")
    code = result_code(result) if isinstance(result, Mapping) else ""
    return TxRow(tx_id=str(view.get("tx_id", "")), height=height, time_ms=time_ms,
                 kinds=tuple(str(op.get("type", "")) for op in ops), source=source,
                 counterparties=tuple(parties), amounts=tuple(amounts),
                 success=(code == "SUCCESS") if code else None, result_code=code)
