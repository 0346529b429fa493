"""Stable rejection codes. Bad input is a value (`Rejection`), never an exception.

Numbers and names are part of the protocol and the API: never renumber, only append.
`permanent` tells a client whether retrying the same bytes can ever succeed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class RejectCode(enum.IntEnum):
    # Encoding and shape (permanent: the bytes themselves are wrong).
    MALFORMED = 1
    NON_CANONICAL = 2
    LIMIT_EXCEEDED = 3
    WRONG_CHAIN = 4
    BAD_ADDRESS = 5
    # Authorisation.
    BAD_SIGNATURE = 10
    INSUFFICIENT_WEIGHT = 11
    EXTRA_SIGNATURE = 12
    # Sequencing and time.
    BAD_SEQUENCE = 20  # sequence already used: permanent
    FUTURE_SEQUENCE = 21  # a gap: may become valid once earlier ones land
    EXPIRED = 22
    NOT_YET_VALID = 23
    # Accounts and assets.
    UNKNOWN_ACCOUNT = 30
    ACCOUNT_EXISTS = 31
    UNKNOWN_ASSET = 32
    ASSET_EXISTS = 33
    NOT_AUTHORISED = 34  # holder not authorised by the issuer for an auth_required asset
    FROZEN = 35
    FLAG_NOT_SET = 37  # issuer lacks the flag (freezable, clawback) the operation needs
    INSUFFICIENT_BALANCE = 38
    SELF_PAYMENT = 39
    TOO_MANY_HOLDINGS = 40
    BAD_SIGNERS = 41  # threshold unreachable, duplicate or empty signer list
    ISSUER_HOLDING = 42  # an issuer cannot hold (or be authorised for) its own asset
    # Escrow.
    UNKNOWN_ESCROW = 50
    WRONG_PREIMAGE = 51
    ESCROW_NOT_FINISHABLE = 52  # finish_after not reached
    ESCROW_NOT_CANCELLABLE = 53  # cancel_after not reached, or no cancel time
    ESCROW_EXPIRED = 54  # cancel_after passed: can no longer finish
    BAD_ESCROW = 55  # no condition, or cancel_after <= finish_after
    # Blocks.
    BAD_BLOCK = 60
    # Evidence of double signing in a block (ledger.evidence); a block carrying any is invalid.
    EVIDENCE_NOT_CONFLICTING = 61  # the two votes are not of one (validator, type, height, round)
    EVIDENCE_NOT_VALIDATOR = 62  # the signer is not in the validator set of the votes' height
    EVIDENCE_EXPIRED = 63  # outside the EVIDENCE_AGE_MAX heights before the block
    EVIDENCE_RECORDED = 64  # this offence is already on chain (or twice in the block)
    # Node admission (mempool): not ledger rules, but part of the same stable code space.
    MEMPOOL_FULL = 70
    DUPLICATE = 71  # this transaction, or another with the same source and sequence, is pending

    @property
    def permanent(self) -> bool:
        """True when the same transaction can never succeed later."""
        return self not in _TRANSIENT


# Codes that depend on state or time that may still change in the transaction's favour.
_TRANSIENT = frozenset(
    {
        RejectCode.FUTURE_SEQUENCE,
        RejectCode.NOT_YET_VALID,
        RejectCode.UNKNOWN_ACCOUNT,
        RejectCode.UNKNOWN_ASSET,
        RejectCode.NOT_AUTHORISED,
        RejectCode.FROZEN,
        RejectCode.INSUFFICIENT_BALANCE,
        RejectCode.INSUFFICIENT_WEIGHT,
        RejectCode.UNKNOWN_ESCROW,
        RejectCode.ESCROW_NOT_FINISHABLE,
        RejectCode.ESCROW_NOT_CANCELLABLE,
        RejectCode.MEMPOOL_FULL,
    }
)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a transaction (or one of its operations) was refused. Changes nothing."""

    code: RejectCode
    message: str
    op_index: int = -1  # the failing operation, or -1 for the transaction as a whole

    @property
    def permanent(self) -> bool:
        return self.code.permanent

    def __str__(self) -> str:
        where = f" (operation {self.op_index})" if self.op_index >= 0 else ""
        return f"{self.code.name.lower()}{where}: {self.message}"


class DecodeError(ValueError):
    """Raised inside decoders; public decode functions turn it into a `Rejection`-coded error.

    Bytes from outside (p2p, RPC, files) are untrusted: decoding them either yields a canonical
    value or raises this with a stable code; it never crashes any other way.
    """

    def __init__(self, code: RejectCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def rejection(self) -> Rejection:
        return Rejection(self.code, self.message)
