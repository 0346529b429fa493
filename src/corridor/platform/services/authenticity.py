"""Supporting documents of trade and service payments abroad (issue 16; the rule and the
records are domain/authenticity.py).

- `on_created` (payments._submit, in the payment's unit of work): a payment the
  authenticity monitor held gets its `Review` ("documents required") and the payer is told.
- `upload`: the payment's sender side (its owner, or an organisation member who may
  initiate payments) uploads an invoice, a contract or another document: JPEG, PNG or PDF
  by its bytes, within the upload limit, stored encrypted with its SHA-256. The same file
  twice is one document (a retried upload changes nothing).
- `record_check` (a compliance officer): amount, parties and purpose agree with the
  documents, or not (with a reason). Agreement lets the case release the hold
  (`check_releasable`, called by compliance._release); an inconsistency keeps it and asks
  the payer for better documents; the officer may return the funds instead, as for any hold.
- Reads: the sender side sees the review and its documents' names; officers also download
  the documents (audited) and see the travel-rule record. Nobody else learns the payment
  exists (NOT_FOUND)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

from corridor.platform.domain import authenticity as dom
from corridor.platform.domain import compliance as compliance_dom
from corridor.platform.domain import idempotency
from corridor.platform.domain.compliance import Alert, CaseNote
from corridor.platform.domain.errors import Err, Kind, PlatformError, Problems, forbidden, not_found
from corridor.platform.domain.kyc import FILE_KINDS, file_kind
from corridor.platform.domain.monitoring import Finding
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.payments import Payment, PaymentStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.travel_rule import TravelRule
from corridor.platform.domain.wallets import OwnerType
from corridor.platform.services import idempotency as replay
from corridor.platform.services import notifications as inbox
from corridor.platform.services import travel_rule
from corridor.platform.services.access import require_org
from corridor.platform.services.ports import Deps, UnitOfWork

S = PaymentStatus
ID_LEN_MAX = 64


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class View:
    """A payment's authenticity review as its reader may see it: the review (None: the
    payment needs no documents), its documents and checks; for officers, the travel-rule
    record too."""

    payment: Payment
    review: dom.Review | None
    documents: tuple[dom.PaymentDocument, ...]
    checks: tuple[dom.Check, ...]
    travel_rule: TravelRule | None = None

    @property
    def uploadable(self) -> bool:
        """Whether the payer may (still) upload documents."""
        return (self.review is not None and self.review.state in dom.UPLOADABLE
                and self.payment.status == S.ON_HOLD
                and len(self.documents) < dom.DOCUMENTS_PER_PAYMENT_MAX)

    @property
    def last_check(self) -> dom.Check | None:
        return self.checks[-1] if self.checks else None


# --- who may act -------------------------------------------------------------------------------


def _payment(uow: UnitOfWork, payment_id: str, *, for_update: bool = False) -> Payment:
    p = uow.repo(Payment).get(payment_id[:ID_LEN_MAX], for_update=for_update)
    if p is None:
        raise not_found("payment")
    return p


def _sender_side(uow: UnitOfWork, who: Principal, p: Payment, perm: Perm) -> None:
    """The caller is the payment's owner, or a member of the owning organisation whose role
    grants `perm`; anyone else (the recipient, another customer, staff) gets NOT_FOUND."""
    if p.owner_type == OwnerType.ORG:
        try:
            require_org(uow, who, p.owner_id, perm)
        except PlatformError as exc:
            if exc.kind in (Kind.NOT_FOUND, Kind.FORBIDDEN):
                raise not_found("payment") from None
            raise
        return
    if p.owner_id != who.user_id:
        raise not_found("payment")


def _officer(who: Principal | None) -> None:
    """A compliance officer, or None: the operator's own shell (the CLI reads)."""
    if who is not None and not who.staff_can(Perm.COMPLIANCE_REVIEW):
        raise forbidden()


def _view(deps: Deps, uow: UnitOfWork, p: Payment, *, officer: bool = False) -> View:
    return View(
        payment=p, review=uow.repo(dom.Review).get(p.id),
        documents=tuple(uow.repo(dom.PaymentDocument).many(
            payment_id=p.id, order_by="created_ms", limit=dom.DOCUMENTS_PER_PAYMENT_MAX)),
        checks=tuple(uow.repo(dom.Check).many(payment_id=p.id, order_by="created_ms")),
        travel_rule=travel_rule.of_payment(deps, p) if officer else None)


# --- the hold ---------------------------------------------------------------------------------


def on_created(deps: Deps, uow: UnitOfWork, p: Payment, acting: Sequence[Finding],
               parties: travel_rule.Parties) -> None:
    """A payment just recorded: when the authenticity monitor's finding held it, its review
    starts ("documents required") and the payer is asked for the documents."""
    found = dom.finding_of(acting)
    if found is None or p.status != S.ON_HOLD:
        return
    now = deps.clock.now_ms()
    assert p.purpose is not None, f"payment {p.id} held for documents without a purpose"
    usd = found.explanation.get("usd_minor")
    uow.repo(dom.Review).add(dom.Review(
        id=p.id, owner_type=p.owner_type, owner_id=p.owner_id, purpose=dom.Purpose(p.purpose),
        usd_minor=int(usd) if usd is not None else 0,
        threshold_usd_minor=int(found.explanation["threshold_usd_minor"]),
        sender_country=parties.sender_country, receiver_country=parties.receiver_country,
        state=dom.ReviewState.REQUIRED, created_ms=now, updated_ms=now))
    inbox.record(deps, uow, user_id=inbox.user_of(p.owner_type, p.owner_id, p.created_by),
                 topic=Topic.DOCUMENTS_REQUESTED, subject_type=SubjectType.PAYMENT,
                 subject_id=p.id, event=f"{p.id}:required",
                 params={"amount_minor": p.sell_amount_minor, "currency": p.sell_code})


def check_releasable(uow: UnitOfWork, payment_ids: Sequence[str]) -> None:
    """Refuses (DOCUMENTS_NOT_VERIFIED) a release of payments one of which is held for
    documents an officer has not found in agreement."""
    problems = {pid: review.state for pid in payment_ids
                if (review := uow.repo(dom.Review).get(pid)) is not None
                and review.state != dom.ReviewState.AGREED}
    if problems:
        raise Err.DOCUMENTS_NOT_VERIFIED.error(fields={k: f"documents: {v}"
                                                       for k, v in problems.items()})


# --- the payer's side --------------------------------------------------------------------------


def _file_context(payment_id: str, document_id: str) -> str:
    return f"payment-document:{payment_id}:{document_id}"


def upload(deps: Deps, who: Principal, payment_id: str, *, kind: str, data: bytes,
           content_type: str) -> tuple[dom.PaymentDocument, bool]:
    """Stores one supporting document of a payment held for documents; returns it and
    whether it is new (the same file again is the document already stored)."""
    size_max: int = deps.settings.upload_bytes_max
    with deps.uow() as uow:
        p = _payment(uow, payment_id, for_update=True)
        _sender_side(uow, who, p, Perm.PAY_INITIATE)
        problems = Problems()
        if kind not in tuple(dom.DocumentKind):
            problems.add("kind", f"one of {', '.join(dom.DocumentKind)}")
        problems.raise_if_any()
        sha = hashlib.sha256(data).hexdigest()
        same = uow.repo(dom.PaymentDocument).one(payment_id=p.id, sha256=sha)
        if same is not None:  # a retried upload: its first answer, whatever happened since
            return same, False
        review = uow.repo(dom.Review).get(p.id, for_update=True)
        if review is None or p.status != S.ON_HOLD or review.state not in dom.UPLOADABLE:
            raise Err.DOCUMENTS_NOT_EXPECTED.error()
        if not data:
            raise Err.FILE_EMPTY.error("the file is empty", {"file": "empty"})
        if len(data) > size_max:
            raise Err.FILE_TOO_LARGE.error(f"files may be at most {size_max} bytes",
                                           {"file": f"at most {size_max} bytes"})
        found_kind = file_kind(data, content_type)  # by its bytes, agreeing with the label
        if uow.repo(dom.PaymentDocument).count(payment_id=p.id) \
                >= dom.DOCUMENTS_PER_PAYMENT_MAX:
            raise Err.DOCUMENTS_LIMIT.error(
                f"at most {dom.DOCUMENTS_PER_PAYMENT_MAX} documents a payment")
        now = deps.clock.now_ms()
        doc_id = deps.rand.new_id()
        ref = deps.files.put(data, context=_file_context(p.id, doc_id))
        doc = dom.PaymentDocument(
            id=doc_id, payment_id=p.id, owner_type=p.owner_type, owner_id=p.owner_id,
            kind=dom.DocumentKind(kind), file_kind=found_kind,
            content_type=FILE_KINDS[found_kind][1], size=len(data), sha256=sha, ref=ref,
            uploaded_by=who.user_id, created_ms=now)
        uow.repo(dom.PaymentDocument).add(doc)
        uow.repo(dom.Review).update(dataclasses.replace(
            review, state=dom.ReviewState.RECEIVED, updated_ms=now))
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
                  action="payment.document.upload", object_type="payment", object_id=p.id,
                  before={"state": review.state},
                  after={"document_id": doc_id, "kind": kind, "file_kind": found_kind,
                         "size": len(data), "sha256": sha, "state": dom.ReviewState.RECEIVED},
                  ip=who.ip)
        uow.commit()
        return doc, True


def mine(deps: Deps, who: Principal, payment_id: str) -> View:
    """The review of a payment the caller sent (or their organisation did)."""
    with deps.reader() as uow:
        p = _payment(uow, payment_id)
        _sender_side(uow, who, p, Perm.ORG_READ)
        return _view(deps, uow, p)


def travel_rule_of(deps: Deps, who: Principal, payment_id: str) -> TravelRule | None:
    """The payment's travel-rule record, for its sender side only (the originator's own
    data, and the beneficiary as the sender gave it)."""
    with deps.reader() as uow:
        p = _payment(uow, payment_id)
        _sender_side(uow, who, p, Perm.ORG_READ)
    return travel_rule.of_payment(deps, p)


# --- the officer's side ------------------------------------------------------------------------


def staff_view(deps: Deps, who: Principal | None, payment_id: str) -> View:
    """A payment's review with its documents, checks and travel-rule record (audited: it
    shows personal data)."""
    _officer(who)
    with deps.uow() as uow:
        p = _payment(uow, payment_id)
        view = _view(deps, uow, p, officer=True)
        uow.audit(actor_id=who.user_id if who else None,
                  actor_kind=who.kind.value if who else "system",
                  action="payment.authenticity.view", object_type="payment", object_id=p.id,
                  ip=who.ip if who else "")
        uow.commit()
    return view


def staff_document(deps: Deps, who: Principal, payment_id: str,
                   document_id: str) -> tuple[dom.PaymentDocument, bytes]:
    """One supporting document, decrypted and checked against its SHA-256 (audited)."""
    _officer(who)
    with deps.uow() as uow:
        p = _payment(uow, payment_id)
        doc = uow.repo(dom.PaymentDocument).get(document_id[:ID_LEN_MAX])
        if doc is None or doc.payment_id != p.id:
            raise not_found("document")
        data = deps.files.get(doc.ref, context=_file_context(p.id, doc.id))
        assert hashlib.sha256(data).hexdigest() == doc.sha256, f"document {doc.id} changed"
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
                  action="payment.document.download", object_type="payment",
                  object_id=p.id, after={"document_id": doc.id, "sha256": doc.sha256},
                  ip=who.ip)
        uow.commit()
    return doc, data


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CheckRequest:
    """An officer's check: whether each of amount, parties and purpose agrees with the
    documents, and why (required)."""

    amount_agrees: bool
    parties_agree: bool
    purpose_agrees: bool
    reason: str

    def asked(self, payment_id: str) -> dict[str, object]:
        return {"payment_id": payment_id, **dataclasses.asdict(self)}


def _case_id(uow: UnitOfWork, p: Payment) -> str | None:
    alerts = uow.repo(Alert).many(source_id=p.id, typology=dom.TYPOLOGY, limit=1)
    return alerts[0].case_id if alerts else None


def record_check(deps: Deps, who: Principal, payment_id: str, req: CheckRequest,
                 idempotency_key: str | None) -> View:
    """Records an officer's check of a held payment's documents. Agreement lets its case
    release it; an inconsistency keeps it held and asks the payer for documents that agree
    (their inbox says why). A retry under the same Idempotency-Key records nothing more."""
    _officer(who)
    key = idempotency.check_key(idempotency_key)
    reason = compliance_dom.clean_text(req.reason, dom.REASON_LEN_MAX)
    if reason is None:
        problems = Problems()
        problems.add("reason", f"why, in 1-{dom.REASON_LEN_MAX} printable characters")
        problems.raise_if_any()
    assert reason is not None
    asked = req.asked(payment_id)
    with deps.uow() as uow:
        p = _payment(uow, payment_id, for_update=True)
        if replay.prior(uow, who.user_id, key, "authenticity.check", asked) is not None:
            return _view(deps, uow, p, officer=True)
        review = uow.repo(dom.Review).get(p.id, for_update=True)
        if review is None or p.status != S.ON_HOLD:
            raise Err.DOCUMENTS_NOT_EXPECTED.error()
        outcome = dom.outcome_of(req.amount_agrees, req.parties_agree, req.purpose_agrees)
        if uow.repo(dom.PaymentDocument).count(payment_id=p.id) == 0 and (
                outcome is dom.CheckOutcome.AGREE):
            raise Err.DOCUMENTS_MISSING.error()
        now = deps.clock.now_ms()
        check = dom.Check(id=deps.rand.new_id(), payment_id=p.id, officer_id=who.user_id,
                          amount_agrees=req.amount_agrees, parties_agree=req.parties_agree,
                          purpose_agrees=req.purpose_agrees, outcome=outcome, reason=reason,
                          created_ms=now)
        uow.repo(dom.Check).add(check)
        state = (dom.ReviewState.AGREED if outcome is dom.CheckOutcome.AGREE
                 else dom.ReviewState.INCONSISTENT)
        uow.repo(dom.Review).update(dataclasses.replace(review, state=state, updated_ms=now))
        case_id = _case_id(uow, p)
        if case_id is not None:  # the case's history shows the check beside its decisions
            disagree = ", ".join(dom.disagreements(check)) or "-"
            uow.repo(CaseNote).add(CaseNote(
                id=deps.rand.new_id(), case_id=case_id, author_id=who.user_id,
                text=f"documents of {p.id}: {outcome} (not agreeing: {disagree}). {reason}"
                     [:compliance_dom.NOTE_LEN_MAX], created_ms=now))
        if outcome is dom.CheckOutcome.INCONSISTENT:
            inbox.record(deps, uow,
                         user_id=inbox.user_of(p.owner_type, p.owner_id, p.created_by),
                         topic=Topic.DOCUMENTS_REQUESTED, subject_type=SubjectType.PAYMENT,
                         subject_id=p.id, event=f"{p.id}:{check.id}",
                         params={"amount_minor": p.sell_amount_minor, "currency": p.sell_code,
                                 "outcome": "inconsistent",
                                 "message": reason[:dom.MESSAGE_LEN_MAX]})
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value,
                  action="payment.authenticity.check", object_type="payment", object_id=p.id,
                  before={"state": review.state},
                  after={"state": state, "outcome": outcome, "check_id": check.id,
                         "not_agreeing": list(dom.disagreements(check)), "reason": reason,
                         "case_id": case_id}, ip=who.ip)
        replay.remember(deps, uow, who.user_id, key, "authenticity.check", asked, check.id)
        view = _view(deps, uow, p, officer=True)
        uow.commit()
    return view


def queue(deps: Deps, who: Principal | None, *, state: str | None = None,
          limit: int = 50) -> list[dom.Review]:
    """Reviews by state (default: documents received, waiting for a check), oldest first."""
    _officer(who)
    wanted = state or dom.ReviewState.RECEIVED
    if wanted not in tuple(dom.ReviewState):
        problems = Problems()
        problems.add("state", f"one of {', '.join(dom.ReviewState)}")
        problems.raise_if_any()
    with deps.reader() as uow:
        return uow.repo(dom.Review).many(state=wanted, order_by="created_ms",
                                         limit=max(1, min(limit, 100)))
