"""Customer risk ratings (issue 16): gathered from the store, rated by domain/risk.py,
stored when they change, and fed back into the KYC record: a rating riskier than the one
the record holds raises it and brings its re-review date forward (never back).

Ratings are computed at KYC acceptance (kyc.decide) and again when their inputs change:
a new alert on the customer (monitoring.raise_alerts, also for list re-screens), a case
decision that clears or closes (compliance.decide), and a re-review. Only customers with a
granted tier are rated: before acceptance there is nothing to set an interval for."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from corridor.platform.domain import kyc, money
from corridor.platform.domain import risk as dom
from corridor.platform.domain.compliance import Alert, AlertState, Case
from corridor.platform.domain.errors import PlatformError, forbidden, not_found
from corridor.platform.domain.kyc import KycCustomer, SubjectType
from corridor.platform.domain.payments import Payment, PaymentKind, PaymentStatus, RecipientType
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import rates
from corridor.platform.services.ports import Deps, UnitOfWork

SANCTIONS = "sanctions"  # the screening findings' typology (services/monitoring.py)
ALERTS_READ_MAX = 500  # the most recent alerts a rating reads
CASES_READ_MAX = 50
HISTORY_PAGE_MAX = 20
# Payments that never left (or were given back) count for no volume.
_NOT_SENT = frozenset({PaymentStatus.DRAFT, PaymentStatus.REJECTED, PaymentStatus.FAILED,
                       PaymentStatus.EXPIRED, PaymentStatus.CANCELLED,
                       PaymentStatus.REFUNDED})


def _values(deps: Deps, rec: KycCustomer) -> dict[str, Any]:
    opened: dict[str, Any] = json.loads(deps.sealer.open(rec.data_enc,
                                                         kyc.record_context(rec.id)))
    return opened


def _country(rec: KycCustomer, values: dict[str, Any]) -> str | None:
    key = ("organization.address_country_code" if rec.subject_type == SubjectType.ORG
           else "address_country_code")
    code = values.get(key)
    return str(code) if code else None


def _usd(deps: Deps, amount_minor: int, code: str) -> int:
    """In USD minor units; a currency without a rate counts at face value (the rating
    must not fail on a missing rate, and every platform currency has 2 decimals)."""
    try:
        price = rates.mid(deps, code, kyc.REFERENCE_CURRENCY)
    except PlatformError:
        return amount_minor
    return money.convert(amount_minor, code, kyc.REFERENCE_CURRENCY, price, up=True)


_PEP = re.compile(r"(?<![a-z])peps?(?![a-z])")  # "pep", "peps", "role.pep", "eu-peps"


def is_pep(alert: Alert) -> bool:
    """A hit on a politically exposed person's entry, told by the list's name or the
    entry's programmes (OpenSanctions PEP datasets, lists named for PEPs)."""
    for hit in alert.explanation.get("hits") or ():
        words = " ".join([str(hit.get("list", "")), *map(str, hit.get("programmes") or ())])
        if _PEP.search(words.lower()):
            return True
    return False


def gather(deps: Deps, uow: UnitOfWork, rec: KycCustomer,
           policy: dom.RiskPolicy = dom.POLICY) -> dom.RiskInputs:
    """What the store says of the record's subject, for `domain.risk.rate`."""
    subject: dict[str, Any] = {"subject_type": rec.subject_type, "subject_id": rec.subject_id}
    since = deps.clock.now_ms() - policy.window_ms
    cross = volume = 0
    tally = uow.repo(Payment).tally(
        ("kind", "recipient_type", "status", "sell_code", "sell_amount_minor"),
        owner_type=rec.subject_type, owner_id=rec.subject_id, above={"created_ms": since})
    for (kind, recipient, status, code, amount), n in tally:
        if status in _NOT_SENT or kind == PaymentKind.EXCHANGE:
            continue
        volume += n * _usd(deps, amount, code)
        if kind == PaymentKind.REMITTANCE or recipient == RecipientType.EXTERNAL:
            cross += n
    alerts = uow.repo(Alert).many(order_by="created_ms", descending=True,
                                  limit=ALERTS_READ_MAX, **subject)
    sanctions = [a for a in alerts if a.typology == SANCTIONS]
    recent = [a for a in alerts if a.typology != SANCTIONS and a.created_ms > since]
    cases = uow.repo(Case).many(above={"opened_ms": since}, limit=CASES_READ_MAX, **subject)
    return dom.RiskInputs(
        corporate=rec.subject_type == SubjectType.ORG,
        country=_country(rec, _values(deps, rec)),
        cross_border_payments=cross, volume_usd_minor=volume,
        declared_usd_minor=kyc.limits_for(rec.tier).balance_cap_minor,
        open_hits=sum(a.state == AlertState.OPEN for a in sanctions),
        cleared_hits=sum(a.state == AlertState.CLEARED for a in sanctions),
        pep_hits=sum(a.state != AlertState.CLEARED and is_pep(a) for a in sanctions),
        alerts=len(recent), cases=len(cases),
        holds=sum(bool(a.movement_ids) and a.outcome in ("review", "block") for a in recent))


def latest(uow: UnitOfWork, subject_type: str, subject_id: str) -> dom.RiskRating | None:
    """The customer's current rating (None: never rated)."""
    found = uow.repo(dom.RiskRating).many(subject_type=subject_type, subject_id=subject_id,
                                          order_by="computed_ms", descending=True, limit=1)
    return found[0] if found else None


def _store(deps: Deps, uow: UnitOfWork, rec: KycCustomer, rating: dom.Rating,
           trigger: str) -> dom.RiskRating:
    """The rating, added when it differs from the latest. Ratings are CDD records: the
    history is kept, and grows only when a rating changes."""
    last = latest(uow, rec.subject_type, rec.subject_id)
    if last is not None and dom.same(rating, last):
        return last
    row = dom.RiskRating(id=deps.rand.new_id(), subject_type=rec.subject_type,
                         subject_id=rec.subject_id, level=rating.level, points=rating.points,
                         factors=rating.factors, policy=rating.policy,
                         trigger=trigger[:dom.TRIGGER_LEN_MAX],
                         # strictly after the last: the latest is the last by time
                         computed_ms=max(deps.clock.now_ms(),
                                         last.computed_ms + 1 if last else 0))
    uow.repo(dom.RiskRating).add(row)
    uow.audit(actor_id=None, actor_kind="system", action="risk.rate",
              object_type="kyc_customer", object_id=rec.id,
              before=None if last is None else {"level": last.level, "points": last.points},
              after={"level": rating.level, "points": rating.points, "trigger": trigger,
                     "policy": rating.policy,
                     "factors": {f.name: f.points for f in rating.factors}})
    return row


def applied(rec: KycCustomer, rating: dom.Rating | dom.RiskRating,
            policy: dom.RiskPolicy = dom.POLICY) -> KycCustomer:
    """The record with a rating taken into account: its risk becomes the riskier of the
    officer's and the rating's, and its re-review comes no later than that level's
    interval from the last decision allows."""
    level = dom.higher(rec.risk, rating.level)
    assert level is not None
    if rec.decided_ms is None or rec.review_due_ms is None:
        return rec
    due = min(rec.review_due_ms, dom.review_due_ms(rec.decided_ms, level, policy))
    if (level, due) == (rec.risk, rec.review_due_ms):
        return rec
    return dataclasses.replace(rec, risk=level, review_due_ms=due)


def on_accept(deps: Deps, uow: UnitOfWork, rec: KycCustomer) -> KycCustomer:
    """At acceptance: the customer rated, the record's risk and re-review date set from
    the riskier of the officer's level and the rating (the caller saves the record)."""
    assert rec.status == kyc.KycStatus.ACCEPTED and rec.decided_ms is not None
    rating = dom.rate(gather(deps, uow, rec))
    _store(deps, uow, rec, rating, "kyc_accept")
    level = dom.higher(rec.risk, rating.level)
    assert level is not None
    return dataclasses.replace(rec, risk=level,
                               review_due_ms=dom.review_due_ms(rec.decided_ms, level))


def recompute(deps: Deps, uow: UnitOfWork, subject_type: str, subject_id: str,
              trigger: str) -> dom.RiskRating | None:
    """The customer rated again after an input changed; a riskier level raises their
    record's risk and brings its re-review forward. None for a customer without a granted
    tier (not rated)."""
    found = uow.repo(KycCustomer).one(subject_type=subject_type, subject_id=subject_id)
    if found is None or found.tier < 1:
        return None
    row = _store(deps, uow, found, dom.rate(gather(deps, uow, found)), trigger)
    if applied(found, row) is found:
        return row  # nothing to change: the record is not locked (this runs on hot paths)
    rec = uow.repo(KycCustomer).get(found.id, for_update=True)
    assert rec is not None
    new = applied(rec, row)  # again, on the locked record
    if new is not rec:
        uow.repo(KycCustomer).update(dataclasses.replace(new, updated_ms=deps.clock.now_ms()))
        uow.audit(actor_id=None, actor_kind="system", action="kyc.risk_raised",
                  object_type="kyc_customer", object_id=rec.id,
                  before={"risk": rec.risk, "review_due_ms": rec.review_due_ms},
                  after={"risk": new.risk, "review_due_ms": new.review_due_ms,
                         "trigger": trigger})
    return row


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RiskView:
    """A customer's rating as officers see it: the latest, the ones before, and the
    record's effective risk and re-review date."""

    subject_type: str
    subject_id: str
    record: KycCustomer | None
    current: dom.RiskRating | None
    history: tuple[dom.RiskRating, ...]


def view(deps: Deps, who: Principal, subject_type: str, subject_id: str) -> RiskView:
    """A customer's rating with its factors, for KYC_READ staff (audited)."""
    if not who.staff_can(Perm.KYC_READ):
        raise forbidden()
    with deps.uow() as uow:
        rec = uow.repo(KycCustomer).one(subject_type=subject_type, subject_id=subject_id[:64])
        return _view(uow, who, subject_type, subject_id[:64], rec)


def record_view(deps: Deps, who: Principal, record_id: str) -> RiskView:
    """The rating of a KYC record's customer, for KYC_READ staff (audited)."""
    if not who.staff_can(Perm.KYC_READ):
        raise forbidden()
    with deps.uow() as uow:
        rec = uow.repo(KycCustomer).get(record_id[:64])
        if rec is None:
            raise not_found("KYC record")
        return _view(uow, who, rec.subject_type, rec.subject_id, rec)


def _view(uow: UnitOfWork, who: Principal, subject_type: str, subject_id: str,
          rec: KycCustomer | None) -> RiskView:
    rows = uow.repo(dom.RiskRating).many(subject_type=subject_type, subject_id=subject_id,
                                         order_by="computed_ms", descending=True,
                                         limit=HISTORY_PAGE_MAX)
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="risk.view",
              object_type="kyc_customer", object_id=rec.id if rec else subject_id, ip=who.ip)
    uow.commit()
    return RiskView(subject_type=subject_type, subject_id=subject_id, record=rec,
                    current=rows[0] if rows else None, history=tuple(rows[1:]))
