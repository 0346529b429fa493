"""Transactions and their operations: immutable records with one canonical encoding.

A transaction is atomic: all of its operations apply or none. Every operation may name its
own source account; every source must sign with at least its threshold of weight.
The transaction id is the hash of the unsigned body, which includes the chain id, so a
signature can never be replayed on another network.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import ClassVar

from corridor.ledger.assets import Asset, check_asset_code
from corridor.ledger.codec import Reader, Writer, decode_all, require_strictly_sorted
from corridor.ledger.errors import DecodeError, RejectCode
from corridor.ledger.keys import ADDRESS_LEN, PUBLIC_KEY_LEN, SIGNATURE_LEN, KeyPair
from corridor.ledger.limits import (
    AMOUNT_MAX,
    ASSET_CODE_LEN_MAX,
    ASSET_DECIMALS_MAX,
    CHAIN_ID_LEN_MAX,
    MEMO_BYTES_MAX,
    OPERATIONS_MAX,
    SIGNATURES_MAX,
    SIGNER_WEIGHT_MAX,
    SIGNERS_MAX,
    TX_BYTES_MAX,
)

HASH_LEN = 32
TX_ID_DOMAIN = b"corridor:tx:v1"


class OpType(enum.IntEnum):
    OPEN_ACCOUNT = 1
    PAYMENT = 2
    SET_SIGNERS = 3
    ISSUE_ASSET = 4
    SET_HOLDER = 5
    CLAWBACK = 6
    ESCROW_CREATE = 7
    ESCROW_FINISH = 8
    ESCROW_CANCEL = 9


class HolderAction(enum.IntEnum):
    """What an issuer does to a holder of one of its assets."""

    AUTHORISE = 1
    REVOKE = 2
    FREEZE = 3
    UNFREEZE = 4


def _amount(r: Reader) -> int:
    value = r.u64()
    if not 0 < value <= AMOUNT_MAX:
        raise DecodeError(RejectCode.MALFORMED, f"amount must be 1..{AMOUNT_MAX}, got {value}")
    return value


def _source(r: Reader) -> bytes | None:
    return r.optional_fixed(ADDRESS_LEN)


@dataclass(frozen=True, slots=True, kw_only=True)
class Signer:
    """A key allowed to sign for an account, with its voting weight."""

    public_key: bytes
    weight: int

    def encode_into(self, w: Writer) -> None:
        w.fixed(self.public_key, PUBLIC_KEY_LEN).u8(self.weight)

    @staticmethod
    def read(r: Reader) -> Signer:
        key = r.fixed(PUBLIC_KEY_LEN)
        weight = r.u8()
        if not 1 <= weight <= SIGNER_WEIGHT_MAX:
            raise DecodeError(RejectCode.MALFORMED, "signer weight must be at least 1")
        return Signer(public_key=key, weight=weight)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenAccount:
    """Creates an account whose address derives from `public_key`, its only signer."""

    TYPE: ClassVar[OpType] = OpType.OPEN_ACCOUNT
    public_key: bytes
    source: bytes | None = None

    def encode_body(self, w: Writer) -> None:
        w.fixed(self.public_key, PUBLIC_KEY_LEN)

    @staticmethod
    def read_body(r: Reader, source: bytes | None) -> OpenAccount:
        return OpenAccount(public_key=r.fixed(PUBLIC_KEY_LEN), source=source)


@dataclass(frozen=True, slots=True, kw_only=True)
class Payment:
    """Moves `amount` of `asset` to `destination`. From the issuer it mints; to it, it burns."""

    TYPE: ClassVar[OpType] = OpType.PAYMENT
    destination: bytes
    asset: Asset
    amount: int
    source: bytes | None = None

    def encode_body(self, w: Writer) -> None:
        w.fixed(self.destination, ADDRESS_LEN)
        self.asset.encode_into(w)
        w.u64(self.amount)

    @staticmethod
    def read_body(r: Reader, source: bytes | None) -> Payment:
        return Payment(
            destination=r.fixed(ADDRESS_LEN), asset=Asset.read(r), amount=_amount(r), source=source
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SetSigners:
    """Replaces the source account's signers and threshold (multi-signature)."""

    TYPE: ClassVar[OpType] = OpType.SET_SIGNERS
    signers: tuple[Signer, ...]
    threshold: int
    source: bytes | None = None

    def encode_body(self, w: Writer) -> None:
        w.count(len(self.signers))
        for signer in self.signers:
            signer.encode_into(w)
        w.u16(self.threshold)

    @staticmethod
    def read_body(r: Reader, source: bytes | None) -> SetSigners:
        signers = r.items(SIGNERS_MAX, "signers", Signer.read)
        require_strictly_sorted([s.public_key for s in signers], "signers")
        return SetSigners(signers=signers, threshold=r.u16(), source=source)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueAsset:
    """Declares a new asset issued by the source account."""

    TYPE: ClassVar[OpType] = OpType.ISSUE_ASSET
    code: str
    decimals: int
    auth_required: bool = False
    freezable: bool = False
    clawback: bool = False
    source: bytes | None = None

    def encode_body(self, w: Writer) -> None:
        w.text(self.code).u8(self.decimals)
        w.boolean(self.auth_required).boolean(self.freezable).boolean(self.clawback)

    @staticmethod
    def read_body(r: Reader, source: bytes | None) -> IssueAsset:
        code = r.text(ASSET_CODE_LEN_MAX)
        check_asset_code(code)
        decimals = r.u8()
        if decimals > ASSET_DECIMALS_MAX:
            raise DecodeError(RejectCode.MALFORMED, f"decimals must be <= {ASSET_DECIMALS_MAX}")
        return IssueAsset(
            code=code,
            decimals=decimals,
            auth_required=r.boolean(),
            freezable=r.boolean(),
            clawback=r.boolean(),
            source=source,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SetHolder:
    """The issuer (source) authorises, revokes, freezes or unfreezes a holder of its asset."""

    TYPE: ClassVar[OpType] = OpType.SET_HOLDER
    holder: bytes
    code: str
    action: HolderAction
    source: bytes | None = None

    def encode_body(self, w: Writer) -> None:
        w.fixed(self.holder, ADDRESS_LEN).text(self.code).u8(self.action)

    @staticmethod
    def read_body(r: Reader, source: bytes | None) -> SetHolder:
        holder = r.fixed(ADDRESS_LEN)
        code = r.text(ASSET_CODE_LEN_MAX)
        check_asset_code(code)
        action = r.u8()
        if action not in HolderAction._value2member_map_:
            raise DecodeError(RejectCode.MALFORMED, f"unknown holder action {action}")
        return SetHolder(holder=holder, code=code, action=HolderAction(action), source=source)


@dataclass(frozen=True, slots=True, kw_only=True)
class Clawback:
    """The issuer (source) takes back and burns `amount` from a holder (needs the flag)."""

    TYPE: ClassVar[OpType] = OpType.CLAWBACK
    holder: bytes
    code: str
    amount: int
    source: bytes | None = None

    def encode_body(self, w: Writer) -> None:
        w.fixed(self.holder, ADDRESS_LEN).text(self.code).u64(self.amount)

    @staticmethod
    def read_body(r: Reader, source: bytes | None) -> Clawback:
        holder = r.fixed(ADDRESS_LEN)
        code = r.text(ASSET_CODE_LEN_MAX)
        check_asset_code(code)
        return Clawback(holder=holder, code=code, amount=_amount(r), source=source)


@dataclass(frozen=True, slots=True, kw_only=True)
class EscrowCreate:
    """Locks `amount` for `destination` until a condition: a SHA-256 hash lock and/or times.

    `finish_after_ms`: the destination may claim only from then on. `cancel_after_ms`: from
    then on the creator may cancel (and nobody may finish). At least one condition is needed.
    The escrow id is sha256(tx_id || op index), known before submission.
    """

    TYPE: ClassVar[OpType] = OpType.ESCROW_CREATE
    destination: bytes
    asset: Asset
    amount: int
    hashlock: bytes | None = None
    finish_after_ms: int | None = None
    cancel_after_ms: int | None = None
    source: bytes | None = None

    def encode_body(self, w: Writer) -> None:
        w.fixed(self.destination, ADDRESS_LEN)
        self.asset.encode_into(w)
        w.u64(self.amount).optional_fixed(self.hashlock, HASH_LEN)
        w.optional_u64(self.finish_after_ms).optional_u64(self.cancel_after_ms)

    @staticmethod
    def read_body(r: Reader, source: bytes | None) -> EscrowCreate:
        return EscrowCreate(
            destination=r.fixed(ADDRESS_LEN),
            asset=Asset.read(r),
            amount=_amount(r),
            hashlock=r.optional_fixed(HASH_LEN),
            finish_after_ms=r.optional_u64(),
            cancel_after_ms=r.optional_u64(),
            source=source,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EscrowFinish:
    """Releases an escrow to its destination; `preimage` must hash to the lock, if any."""

    TYPE: ClassVar[OpType] = OpType.ESCROW_FINISH
    escrow_id: bytes
    preimage: bytes | None = None
    source: bytes | None = None

    def encode_body(self, w: Writer) -> None:
        w.fixed(self.escrow_id, HASH_LEN)
        if self.preimage is None:
            w.u8(0)
        else:
            w.u8(1).var(self.preimage)

    @staticmethod
    def read_body(r: Reader, source: bytes | None) -> EscrowFinish:
        escrow_id = r.fixed(HASH_LEN)
        preimage = r.var(PREIMAGE_BYTES_MAX) if r.boolean() else None
        return EscrowFinish(escrow_id=escrow_id, preimage=preimage, source=source)


PREIMAGE_BYTES_MAX = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class EscrowCancel:
    """Returns an escrow to its creator once `cancel_after_ms` has passed."""

    TYPE: ClassVar[OpType] = OpType.ESCROW_CANCEL
    escrow_id: bytes
    source: bytes | None = None

    def encode_body(self, w: Writer) -> None:
        w.fixed(self.escrow_id, HASH_LEN)

    @staticmethod
    def read_body(r: Reader, source: bytes | None) -> EscrowCancel:
        return EscrowCancel(escrow_id=r.fixed(HASH_LEN), source=source)


Operation = (
    OpenAccount
    | Payment
    | SetSigners
    | IssueAsset
    | SetHolder
    | Clawback
    | EscrowCreate
    | EscrowFinish
    | EscrowCancel
)

_OP_CLASSES: dict[int, type[Operation]] = {
    cls.TYPE: cls
    for cls in (
        OpenAccount,
        Payment,
        SetSigners,
        IssueAsset,
        SetHolder,
        Clawback,
        EscrowCreate,
        EscrowFinish,
        EscrowCancel,
    )
}


def encode_operation(op: Operation, w: Writer) -> None:
    w.u8(op.TYPE).optional_fixed(op.source, ADDRESS_LEN)
    op.encode_body(w)


def read_operation(r: Reader) -> Operation:
    tag = r.u8()
    cls = _OP_CLASSES.get(tag)
    if cls is None:
        raise DecodeError(RejectCode.MALFORMED, f"unknown operation type {tag}")
    return cls.read_body(r, _source(r))


@dataclass(frozen=True, slots=True, kw_only=True)
class Transaction:
    """The unsigned body: what every signature covers (through `tx_id`)."""

    chain_id: str
    source: bytes
    sequence: int
    not_before_ms: int
    not_after_ms: int
    operations: tuple[Operation, ...]
    memo: bytes = b""

    def encode(self) -> bytes:
        w = Writer()
        self.encode_into(w)
        return w.getvalue()

    def encode_into(self, w: Writer) -> None:
        w.text(self.chain_id).fixed(self.source, ADDRESS_LEN).u64(self.sequence)
        w.u64(self.not_before_ms).u64(self.not_after_ms).var(self.memo)
        w.count(len(self.operations))
        for op in self.operations:
            encode_operation(op, w)

    @staticmethod
    def read(r: Reader) -> Transaction:
        chain_id = r.text(CHAIN_ID_LEN_MAX)
        source = r.fixed(ADDRESS_LEN)
        sequence = r.u64()
        not_before_ms = r.u64()
        not_after_ms = r.u64()
        memo = r.var(MEMO_BYTES_MAX)
        operations = r.items(OPERATIONS_MAX, "operations", read_operation)
        if not operations:
            raise DecodeError(RejectCode.MALFORMED, "a transaction needs at least one operation")
        if sequence == 0:
            raise DecodeError(RejectCode.MALFORMED, "sequence numbers start at 1")
        if not_after_ms < not_before_ms:
            raise DecodeError(RejectCode.MALFORMED, "not_after_ms is before not_before_ms")
        return Transaction(
            chain_id=chain_id,
            source=source,
            sequence=sequence,
            not_before_ms=not_before_ms,
            not_after_ms=not_after_ms,
            operations=operations,
            memo=memo,
        )

    def tx_id(self) -> bytes:
        return compute_tx_id(self.encode())

    def sources(self) -> tuple[bytes, ...]:
        """Every account whose signature weight the transaction needs, in first-use order."""
        seen = [self.source]
        for op in self.operations:
            if op.source is not None and op.source not in seen:
                seen.append(op.source)
        return tuple(seen)

    def sign(self, *keys: KeyPair) -> SignedTransaction:
        """Signs with each key; convenience for wallets, tests and tools."""
        body = self.encode()
        tx_id = compute_tx_id(body)
        signatures = tuple(
            sorted(
                (Signature(public_key=k.public_key, signature=k.sign(tx_id)) for k in keys),
                key=lambda s: s.public_key,
            )
        )
        return SignedTransaction(tx=self, signatures=signatures, tx_id=tx_id, body=body)


def compute_tx_id(body: bytes) -> bytes:
    return hashlib.sha256(TX_ID_DOMAIN + body).digest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    public_key: bytes
    signature: bytes

    @staticmethod
    def read(r: Reader) -> Signature:
        return Signature(public_key=r.fixed(PUBLIC_KEY_LEN), signature=r.fixed(SIGNATURE_LEN))


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedTransaction:
    """A transaction with its signatures, sorted by public key. Build with `Transaction.sign`
    or `decode_transaction`; `tx_id` and `body` are derived once and carried along, and so is
    the whole encoding when it was decoded (`encoded`: the very bytes read, which decoding
    accepts only when canonical). A node otherwise re-encoded each transaction four times:
    mempool size, tx root, block store, event stream."""

    tx: Transaction
    signatures: tuple[Signature, ...]
    tx_id: bytes
    body: bytes
    encoded: bytes = field(default=b"", compare=False, repr=False)  # b"": build on `encode`

    def encode(self) -> bytes:
        if self.encoded:
            return self.encoded
        w = Writer().raw(self.body).count(len(self.signatures))
        for s in self.signatures:
            w.fixed(s.public_key, PUBLIC_KEY_LEN).fixed(s.signature, SIGNATURE_LEN)
        return w.getvalue()


def _read_signed(r: Reader) -> SignedTransaction:
    start = r._pos
    tx = Transaction.read(r)
    body = r._data[start : r._pos]
    signatures = r.items(SIGNATURES_MAX, "signatures", Signature.read)
    if not signatures:
        raise DecodeError(RejectCode.MALFORMED, "a transaction needs at least one signature")
    require_strictly_sorted([s.public_key for s in signatures], "signatures")
    return SignedTransaction(
        tx=tx,
        signatures=signatures,
        tx_id=compute_tx_id(body),
        body=body,
        encoded=r._data[start : r._pos],
    )


def decode_transaction(data: bytes) -> SignedTransaction:
    """Decodes untrusted bytes; raises `DecodeError` (with a stable code) for anything else."""
    if len(data) > TX_BYTES_MAX:
        raise DecodeError(RejectCode.LIMIT_EXCEEDED, f"transaction exceeds {TX_BYTES_MAX} bytes")
    return decode_all(data, _read_signed)
