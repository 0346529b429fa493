"""The table of what happens when something outside a request decides a record's fate:
the chain commits or refuses a transfer, a payment's money reaches the treasury, a refund
settles, staff decide a hold. Each area exposes plain functions; the composition root
(bootstrap.HANDLERS) lists them here, typed, and nothing registers itself at import
time, so the path from a request to its outcome reads top-down in one place
(docs/architecture.md, "A payment, from request to credited").

Every handler runs inside the unit of work that records the event, and must be idempotent
in effect: an outcome may be replayed after a crash (the outbox resumes from its cursor).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from corridor.platform.domain.approvals import Approval
from corridor.platform.domain.holds import Hold
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.refunds import Refund
from corridor.platform.domain.transfers import Purpose, Transfer

if TYPE_CHECKING:
    from corridor.platform.services.ports import Deps, UnitOfWork

# A transfer's outcome (committed or rejected), a credited payment to pay out through a
# rail, a refund as recorded (refunded or failed).
TransferHandler = Callable[["Deps", "UnitOfWork", Transfer], None]
PaymentHandler = Callable[["Deps", "UnitOfWork", Payment], None]
RefundHandler = Callable[["Deps", "UnitOfWork", Refund], None]
# release(deps, uow, hold, staff) -> None; give back(deps, uow, hold, staff) -> the rail's ref
HoldRelease = Callable[["Deps", "UnitOfWork", Hold, Principal], None]
HoldGiveBack = Callable[["Deps", "UnitOfWork", Hold, Principal], str]
# what an approval's outcome does to its subject (services/approvals.py, issue 17)
ApprovalHandler = Callable[["Deps", "UnitOfWork", Approval], None]
# whether the subject's price moved beyond `tolerance_bp` since it was made
PriceMoved = Callable[["Deps", "UnitOfWork", Approval, int], bool]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalSubject:
    """One kind of subject approvals are opened for (a payment, a batch, a change of a
    beneficiary's bank details): what each outcome does to it. Each runs in the unit of
    work that records the decision, on a subject the approval still holds open."""

    approved: ApprovalHandler  # every level approved (and, when asked, the new price)
    refused: ApprovalHandler  # rejected or expired: release whatever it reserved
    price_moved: PriceMoved | None = None  # None: the subject has no price to re-check
    requote: ApprovalHandler | None = None  # the payer consented: take the price of now


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HoldHandlers:
    """What a staff decision does to the held subject's own record."""

    release: HoldRelease
    give_back: HoldGiveBack


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Handlers:
    """The composition root's table. Handlers of one event run in the order listed."""

    transfer_outcome: Mapping[Purpose, tuple[TransferHandler, ...]] = dataclasses.field(
        default_factory=dict)
    payout_requested: tuple[PaymentHandler, ...] = ()
    refund_settled: tuple[RefundHandler, ...] = ()
    hold_decision: Mapping[str, HoldHandlers] = dataclasses.field(default_factory=dict)
    approval_subjects: Mapping[str, ApprovalSubject] = dataclasses.field(default_factory=dict)

    def on_transfer(self, purpose: str) -> tuple[TransferHandler, ...]:
        """The handlers of a transfer's outcome; none for a purpose nobody listed (a test's
        own transfers)."""
        try:
            return self.transfer_outcome.get(Purpose(purpose), ())
        except ValueError:
            return ()
