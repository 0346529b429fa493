"""Wallets and the platform's path to the chain (requirement L2).

A wallet is an on-chain account the platform knows: custodial (the platform holds its seed,
sealed by the key vault) or registered (an institution signs client-side and gave only its
public key). Chain work is never done inside a request: a use case queues a `LedgerJob` in
the same unit of work as the records it changes (a transactional outbox), and the ledger
worker turns queued jobs into signed transactions, submits them and records the outcome.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

WALLET_LABEL_LEN_MAX = 100
WALLETS_PER_OWNER_MAX = 50
ASSET_CODES_PER_REQUEST_MAX = 16
JOB_ATTEMPTS_MAX = 5  # builds of a transaction for one job before it fails for good
JOB_OPS_PER_TX_MAX = 20  # jobs of one signer that share one transaction
ERROR_MESSAGE_LEN_MAX = 500


class OwnerType(enum.StrEnum):
    USER = "user"
    ORG = "org"


class WalletStatus(enum.StrEnum):
    OPENING = "opening"  # its open_account job is queued or in flight
    OPEN = "open"  # the account exists on chain
    FAILED = "failed"  # the chain refused to open it


class AuthStatus(enum.StrEnum):
    REQUESTED = "requested"
    AUTHORISED = "authorised"
    FAILED = "failed"


class JobKind(enum.StrEnum):
    OPEN_ACCOUNT = "open_account"  # signed by the operator key
    AUTHORISE = "authorise"  # the issuer's SetHolder AUTHORISE


class JobStatus(enum.StrEnum):
    QUEUED = "queued"  # no transaction yet (or its last one is dead): will be built
    SUBMITTED = "submitted"  # tx_id/tx_hex stored; the chain decides
    DONE = "done"
    FAILED = "failed"


class Signer(enum.StrEnum):
    """System keys, loaded from key files at start and never stored in the database."""

    OPERATOR = "operator"
    ISSUER = "issuer"


SIGNER_OF: dict[JobKind, Signer] = {
    JobKind.OPEN_ACCOUNT: Signer.OPERATOR,
    JobKind.AUTHORISE: Signer.ISSUER,
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Wallet:
    """An account on chain owned by a user or an organisation."""

    id: str
    owner_type: str  # OwnerType
    owner_id: str
    address: str  # text form, c...
    public_key: str  # text form, p...
    custodial: bool
    key_sealed: str | None  # the seed sealed with context "wallet:<id>"; None if registered
    label: str
    status: str  # WalletStatus
    created_ms: int
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Authorisation:
    """The issuer's authorisation of one wallet to hold one asset (auth_required assets)."""

    id: str
    wallet_id: str
    asset_code: str
    status: str  # AuthStatus
    job_id: str
    created_ms: int
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LedgerJob:
    """One operation the chain must carry out. Several jobs of one signer may share one
    transaction (`tx_id`, with `op_index` their place in it). `tx_hex` is stored before
    submission, so a restart resubmits the very same bytes instead of building another."""

    id: str
    kind: str  # JobKind
    wallet_id: str
    payload: dict[str, Any]  # open_account: {public_key}; authorise: {address, code}
    status: str  # JobStatus
    signer: str  # Signer
    tx_id: str | None  # hex
    tx_hex: str | None  # the signed transaction's bytes, hex
    op_index: int | None
    attempts: int  # transactions built for this job so far
    error_code: str | None
    error_message: str | None
    created_ms: int
    updated_ms: int


def wallet_context(wallet_id: str) -> str:
    """The vault context that binds a sealed seed to its wallet row."""
    return f"wallet:{wallet_id}"


def job_for_retry(job: LedgerJob, now_ms: int) -> LedgerJob:
    """The job back in the queue after its transaction died (it never committed)."""
    return dataclasses.replace(
        job, status=JobStatus.QUEUED, tx_id=None, tx_hex=None, op_index=None, updated_ms=now_ms
    )


def job_failed(job: LedgerJob, code: str, message: str, now_ms: int) -> LedgerJob:
    return dataclasses.replace(
        job, status=JobStatus.FAILED, error_code=code,
        error_message=message[:ERROR_MESSAGE_LEN_MAX], updated_ms=now_ms,
    )
