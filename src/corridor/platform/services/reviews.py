"""KYC re-reviews (issue 16): the risk rating sets when an accepted customer is reviewed
again (services/risk.py); when that date comes, `run` opens the review.

Opening a review: an accepted record goes to REVIEW_DUE (one already back in review stays
there), the customer is told in their inbox and by e-mail in their language, and until an
officer accepts them again they are limited (`check_not_limited`): no new outbound
payments or withdrawals; receiving money stays allowed. The customer answers by sending
their details again (changed or not): the record goes back to the review queue and its
name is screened again (services/kyc.put_customer, the re-review screening point).

A review is opened once per due date: the record's `review_opened_ms` marks it, and the
next acceptance sets a new date and clears the mark. `run` is what the platform's
ReviewWorker does every round and `corridor compliance reviews run` does once."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from corridor.platform.domain import kyc
from corridor.platform.domain import notifications as note
from corridor.platform.domain.errors import Err, forbidden
from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import KycCustomer, KycStatus, SubjectType
from corridor.platform.domain.orgs import Membership
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import OrgRole, Perm
from corridor.platform.services import codes, mail_text, risk
from corridor.platform.services import notifications as inbox
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds

BATCH = 100  # records opened per round (each in its own transaction)
PAGE_MAX = 100
# Records whose review can come due: granted, not closed.
_OPEN_STATES = (KycStatus.ACCEPTED, KycStatus.PROCESSING, KycStatus.NEEDS_INFO)
# Who hears about an organisation's review: those who may answer it (ORG_KYC).
_ORG_TOLD = (OrgRole.OWNER, OrgRole.ADMIN)


def _may(who: Principal | None, perm: Perm) -> None:
    """Staff with `perm`, or None: the platform itself (its worker, the operator's CLI)."""
    if who is not None and not who.staff_can(perm):
        raise forbidden()


def due(deps: Deps, who: Principal | None, *, limit: int = 50,
        offset: int = 0) -> list[KycCustomer]:
    """Records whose re-review date has come, most overdue first: those not yet opened
    (the next `run` opens them) and those waiting for the customer or an officer."""
    _may(who, Perm.KYC_READ)
    limit, offset = page_bounds(limit, offset, PAGE_MAX)
    now = deps.clock.now_ms()
    with deps.reader() as uow:
        return uow.repo(KycCustomer).many(
            status=(*_OPEN_STATES, KycStatus.REVIEW_DUE), below={"review_due_ms": now + 1},
            order_by="review_due_ms", limit=limit, offset=offset)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Opened:
    """What a round did: the records whose review it opened."""

    record_ids: tuple[str, ...] = ()


def run(deps: Deps, who: Principal | None = None, *, batch: int = BATCH) -> Opened:
    """Opens the review of every record due now, up to `batch` of them (the next round
    takes the rest). Running it again opens nothing twice."""
    _may(who, Perm.KYC_REVIEW)
    now = deps.clock.now_ms()
    with deps.reader() as uow:
        candidates = uow.repo(KycCustomer).many(
            status=_OPEN_STATES, review_opened_ms=None, below={"review_due_ms": now + 1},
            order_by="review_due_ms", limit=batch)
    opened = [c.id for c in candidates
              if c.tier > 0 and deps.write(_opener(deps, who, c.id, now))]
    return Opened(record_ids=tuple(opened))


def _opener(deps: Deps, who: Principal | None, record_id: str,
            now_ms: int) -> Callable[[UnitOfWork], bool]:
    def work(uow: UnitOfWork) -> bool:
        rec = uow.repo(KycCustomer).get(record_id, for_update=True)
        if rec is None or not kyc.is_review_due(rec, now_ms):
            return False  # decided or opened meanwhile
        new = kyc.reopen(rec, now_ms)
        uow.repo(KycCustomer).update(new)
        uow.audit(actor_id=who.user_id if who else None,
                  actor_kind=who.kind.value if who else "system", action="kyc.review_due",
                  object_type="kyc_customer", object_id=rec.id, before=kyc.summary(rec),
                  after=kyc.summary(new))
        _tell(deps, uow, new)
        risk.recompute(deps, uow, new.subject_type, new.subject_id, "review")
        return True
    return work


def _told(uow: UnitOfWork, rec: KycCustomer) -> list[User]:
    if rec.subject_type == SubjectType.USER:
        ids = [rec.subject_id]
    else:
        ids = [m.user_id for m in uow.repo(Membership).many(org_id=rec.subject_id,
                                                            role=_ORG_TOLD, limit=50)]
    return [u for u in (uow.repo(User).get(i) for i in ids) if u is not None]


def _tell(deps: Deps, uow: UnitOfWork, rec: KycCustomer) -> None:
    """The customer (an organisation's owners and admins) told in their inbox and by
    e-mail, once per due date."""
    assert rec.review_due_ms is not None
    org = rec.subject_type == SubjectType.ORG
    for user in _told(uow, rec):
        inbox.record(deps, uow, user_id=user.id, topic=note.Topic.KYC_REVIEW_DUE,
                     subject_type=note.SubjectType.KYC, subject_id=rec.id,
                     event=f"{rec.id}:{rec.review_due_ms}",
                     params={"outcome": "org" if org else "user"})
        codes.notify_user(deps, uow, user, mail_text.Mail.KYC_REVIEW_DUE)


def check_not_limited(uow: UnitOfWork, owner_type: str, owner_id: str) -> None:
    """Refuses outbound money (a new payment, a withdrawal) of an owner whose due
    re-review is open: KYC_REVIEW_DUE until they are accepted again."""
    rec = uow.repo(KycCustomer).one(subject_type=owner_type, subject_id=owner_id)
    if kyc.review_limited(rec):
        raise Err.KYC_REVIEW_DUE.error()
