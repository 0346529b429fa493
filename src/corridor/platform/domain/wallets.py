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
KEY_CHALLENGE_TTL_MS = 10 * 60_000  # a challenge to prove control of a key lives this long
KEY_CHALLENGES_OPEN_MAX = 20  # unused, unexpired challenges of one organisation
KEY_CHALLENGE_TAG = "corridor:external-key:v1"


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
    FREEZE = "freeze"  # the issuer's SetHolder FREEZE (services/freezes.py)
    UNFREEZE = "unfreeze"  # the issuer's SetHolder UNFREEZE


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
    JobKind.FREEZE: Signer.ISSUER,
    JobKind.UNFREEZE: Signer.ISSUER,
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Wallet:
    """An account on chain owned by a user or an organisation."""

    id: str
    owner_type: OwnerType
    owner_id: str
    address: str  # text form, c...
    public_key: str  # text form, p...
    custodial: bool
    key_sealed: str | None  # the seed sealed with context "wallet:<id>"; None if registered
    label: str
    status: WalletStatus
    created_ms: int
    updated_ms: int
    # The owner controls the key: the platform made it (custodial), or the owner signed a
    # challenge naming them with it (KeyChallenge). Only a proven owner sees what the
    # wallet receives; keys registered before proofs existed are not proven.
    proven: bool = True


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class KeyChallenge:
    """A server challenge an organisation signs with a key to prove it holds the key
    before registering it (single use, expires). `message` names the organisation, the
    key and a random nonce; the signature is over sha256(message)."""

    id: str
    org_id: str
    public_key: str  # text form, p...
    message: str
    created_by: str
    expires_ms: int
    used_ms: int | None
    created_ms: int


def key_challenge_message(*, org_id: str, public_key: str, nonce: str,
                          expires_ms: int) -> str:
    """The text a key holder signs (its SHA-256) to prove control for `org_id`."""
    return (f"{KEY_CHALLENGE_TAG}\norganisation:{org_id}\npublic_key:{public_key}\n"
            f"nonce:{nonce}\nexpires_ms:{expires_ms}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Authorisation:
    """The issuer's authorisation of one wallet to hold one asset (auth_required assets)."""

    id: str
    wallet_id: str
    asset_code: str
    status: AuthStatus
    job_id: str
    created_ms: int
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LedgerJob:
    """One operation the chain must carry out. Several jobs of one signer may share one
    transaction (`tx_id`, with `op_index` their place in it). `tx_hex` is stored before
    submission, so a restart resubmits the very same bytes instead of building another."""

    id: str
    kind: JobKind
    wallet_id: str
    # open_account: {public_key}; authorise: {address, code}; freeze, unfreeze: {address,
    # code, freeze_id, phase}
    payload: dict[str, Any]
    status: JobStatus
    signer: Signer
    tx_id: str | None  # hex
    tx_hex: str | None  # the signed transaction's bytes, hex
    op_index: int | None
    attempts: int  # transactions built for this job so far
    error_code: str | None
    error_message: str | None
    created_ms: int
    updated_ms: int
    # Built into a transaction of its own: set when a batch it was in was refused, so one
    # bad operation cannot decide (or block) the others (issue 14, item 3b).
    alone: bool = False


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
