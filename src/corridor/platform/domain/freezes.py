"""Freezes of a customer's (or organisation's) holdings on chain (issue 16, "Alerts, cases,
decisions"): a compliance officer's decision, carried out by the issuer's SetHolder
FREEZE on every holding of every asset the platform issues, and lifted by UNFREEZE.

One record per freeze, from request to release. Its state follows the chain's word on
its ledger jobs (domain/wallets.py), counted per phase: every job of the phase done →
the phase's goal holds; one refused → the phase failed with the chain's code.

    requested ──all done──▶ frozen ──unfreeze──▶ releasing ──all done──▶ released
        │                     ▲                      │
        └──one refused──▶ failed ──unfreeze──▶ ──────┘ one refused: back to frozen

While a freeze is *active* (requested, frozen, releasing) the platform refuses new
payments and withdrawals of the owner up front (Err.ACCOUNT_FROZEN): the chain would
refuse them anyway (FROZEN), and money would only go out to come back.
"""

from __future__ import annotations

import dataclasses
import enum

from corridor.platform.domain.wallets import OwnerType

REASON_LEN_MAX = 500
REFERENCE_LEN_MAX = 100  # e.g. a compliance case id
HISTORY_PAGE_MAX = 100


class FreezeStatus(enum.StrEnum):
    REQUESTED = "requested"  # freeze jobs queued or in flight
    FROZEN = "frozen"  # every freeze job committed (or nothing was held to freeze)
    FAILED = "failed"  # the chain refused a freeze job (error_code)
    RELEASING = "releasing"  # unfreeze jobs queued or in flight
    RELEASED = "released"  # every unfreeze job committed


# The owner's money stays put in these states (requested: the chain will soon refuse it).
ACTIVE: frozenset[FreezeStatus] = frozenset({FreezeStatus.REQUESTED, FreezeStatus.FROZEN,
                                             FreezeStatus.RELEASING})


class Phase(enum.StrEnum):
    """Which half of a freeze a ledger job belongs to (its payload's `phase`)."""

    FREEZE = "freeze"
    UNFREEZE = "unfreeze"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Freeze:
    """One freeze of an owner's holdings and, later, its release. `asset_codes` is the
    comma-joined list of codes frozen; the job counters are those of the current phase
    (`phase`): a new phase starts only once the chain has answered every job of the
last, so the counts never mix."""

    id: str
    owner_type: OwnerType
    owner_id: str
    status: FreezeStatus
    phase: Phase  # the half whose jobs the counters count
    reason: str
    reference: str | None
    asset_codes: str
    frozen_by: str  # the officer who asked for it
    jobs_total: int
    jobs_done: int
    jobs_failed: int
    tx_id: str | None  # the last freeze transaction committed, and its block
    height: int | None
    error_code: str | None  # the chain's reject code of the phase that failed
    release_reason: str | None
    released_by: str | None
    release_tx_id: str | None
    release_height: int | None
    created_ms: int
    frozen_ms: int | None  # when the chain had carried out every freeze job
    release_requested_ms: int | None
    released_ms: int | None
    updated_ms: int
    case_id: str | None = None  # the compliance case that decided it, if one did

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c for c in self.asset_codes.split(",") if c)

    @property
    def settled(self) -> bool:
        """Whether the chain has answered every job of the current phase."""
        return self.jobs_done + self.jobs_failed >= self.jobs_total


def job_done(f: Freeze, *, tx_id: str | None, height: int | None, now_ms: int) -> Freeze:
    """`f` after one job of its current phase committed."""
    done = f.jobs_done + 1
    complete = done + f.jobs_failed >= f.jobs_total and f.jobs_failed == 0
    if f.phase is Phase.FREEZE:
        out = dataclasses.replace(f, jobs_done=done, tx_id=tx_id or f.tx_id,
                                  height=height if height is not None else f.height,
                                  updated_ms=now_ms)
        if complete and f.status == FreezeStatus.REQUESTED:
            out = dataclasses.replace(out, status=FreezeStatus.FROZEN, frozen_ms=now_ms)
        return out
    out = dataclasses.replace(f, jobs_done=done, release_tx_id=tx_id or f.release_tx_id,
                              release_height=height if height is not None else f.release_height,
                              updated_ms=now_ms)
    if complete and f.status == FreezeStatus.RELEASING:
        out = dataclasses.replace(out, status=FreezeStatus.RELEASED, released_ms=now_ms)
    return out


def job_failed(f: Freeze, code: str, now_ms: int) -> Freeze:
    """`f` after the chain refused one job of its current phase for good. A refused
    freeze is `failed`; a refused release leaves the holdings frozen (`frozen`)."""
    status = FreezeStatus.FAILED if f.phase is Phase.FREEZE else FreezeStatus.FROZEN
    return dataclasses.replace(f, jobs_failed=f.jobs_failed + 1, status=status,
                               error_code=code[:64], updated_ms=now_ms)
