"""The ports custody needs: a node of the network (spoken to over its RPC, like any client)
and a source of fresh key seeds. Values coming back from the node are plain records;
a refusal by the chain is a value (`Refusal`), an unreachable node raises UNAVAILABLE."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence
from typing import Any, Protocol


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ChainStatus:
    chain_id: str
    height: int
    latest_time_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ChainHolding:
    code: str
    issuer: str  # address text
    balance_minor: int
    authorised: bool
    frozen: bool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ChainAccount:
    address: str
    sequence: int
    holdings: tuple[ChainHolding, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """Why the chain refused a transaction: the ledger's reject code (upper case), and the
    operation at fault when one is."""

    code: str
    message: str
    permanent: bool
    op_index: int | None


class TxStatus(enum.StrEnum):
    """What the node knows of a transaction (the node's own words, GET /v1/txs/{id})."""

    PENDING = "pending"
    COMMITTED = "committed"
    REJECTED = "rejected"
    UNKNOWN = "unknown"  # never seen, or dropped from its mempool


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxState:
    """What the node knows of a transaction. A committed transaction has `success`."""

    status: TxStatus
    success: bool = False
    height: int | None = None
    refusal: Refusal | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxInclusion:
    """A node's Merkle proof that a transaction is in a block: the leaf's `index`, the
    signed transaction's bytes, the sibling hashes up to the header's tx root, and the
    header itself (its `encoded` hex is what the hashes chain to)."""

    height: int
    index: int
    tx_hex: str
    path: tuple[str, ...]  # hex
    header: dict[str, Any]  # the node's header view: hash, tx_root, tx_count, encoded, ...


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxOutcome:
    """A transaction as its block recorded it: applied (`success`), or included but failed
    with the ledger's reject code (`code`, its name) and nothing applied."""

    tx_id: str
    success: bool
    code: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BlockOutcomes:
    """A committed block's transactions and their outcomes (from the node's event stream or
    from `GET /v1/blocks/{height}`)."""

    height: int
    time_ms: int
    txs: tuple[TxOutcome, ...]


class LedgerNode(Protocol):
    def status(self) -> ChainStatus: ...
    def account(self, address: str) -> ChainAccount | None: ...
    def submit(self, tx_hex: str) -> Refusal | None: ...  # None: accepted (or already known)
    # A batch in one call: an answer per transaction, in order (None: accepted).
    def submit_many(self, txs_hex: Sequence[str]) -> list[Refusal | None]: ...
    def block(self, height: int) -> BlockOutcomes | None: ...  # None: not committed yet
    def tx_state(self, tx_id: str) -> TxState: ...
    def tx_proof(self, tx_id: str) -> TxInclusion | None: ...  # None: not committed (yet)


class KeyGen(Protocol):
    """Fresh 32-byte seeds from a secure source (injectable so tests can be deterministic)."""

    def new_seed(self) -> bytes: ...


# --- the explorer's reads ----------------------------------------------------------------
# The public explorer shows the chain as its node states it. The node's views are its
# documented RPC JSON (node/views.py: hashes as hex, amounts as strings of minor units,
# addresses as text); they pass through as read-only mappings, since the pages only show
# them (checking a proof is done from its bytes, never from a view's words).


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ChainValidator:
    address: str
    public_key: str
    power: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ChainOverview:
    """The network as its node sees it: head, mempool and the validator set."""

    chain_id: str
    height: int
    latest_hash: str
    latest_time_ms: int
    mempool_txs: int
    validators: tuple[ChainValidator, ...]
    node_validator: str | None  # the answering node's own validator address, if it is one


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ChainBlock:
    """A committed block: its header view, its transactions (each with its result) and
    the commit certificate that finalised it (None for genesis or not yet stored)."""

    header: dict[str, Any]
    txs: tuple[dict[str, Any], ...]
    commit: dict[str, Any] | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ChainTx:
    """A committed transaction: its view, result, block height and index in it."""

    height: int
    index: int
    tx: dict[str, Any]
    result: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ChainAsset:
    code: str
    issuer: str
    decimals: int
    supply_minor: int


class ChainReader(Protocol):
    """What the public explorer reads from a node (a narrow port owned by its user):
    nothing here writes. Absent things are None; an unreachable node raises UNAVAILABLE."""

    def overview(self) -> ChainOverview: ...
    def latest_headers(self, limit: int) -> tuple[dict[str, Any], ...]: ...  # newest first
    def block_detail(self, height: int) -> ChainBlock | None: ...
    def block_height(self, block_hash: str) -> int | None: ...  # None: no such block
    # The commit certificate that finalised a block (None: none stored, or no such block).
    def certificate(self, height: int) -> dict[str, Any] | None: ...
    def tx_detail(self, tx_id: str) -> ChainTx | None: ...  # None: not committed
    def tx_proof(self, tx_id: str) -> TxInclusion | None: ...
    def account(self, address: str) -> ChainAccount | None: ...
    # Newest first, each with its height, index and time_ms.
    def account_txs(self, address: str, limit: int) -> tuple[dict[str, Any], ...]: ...
    def assets(self) -> tuple[ChainAsset, ...]: ...
