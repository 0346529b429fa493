"""Suspicious-transaction reports (issue 16): drafted from a compliance case, reviewed by
a second officer, filed (numbered, hashed, immutable). Every step is a compliance
officer's (Perm.COMPLIANCE_REVIEW), audited, and idempotent under its Idempotency-Key.

Reads go through `may_read`: the permissions that may read reports are listed once
(`READ_PERMS`), so another reader (the regulator's read-only role) is one line there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from corridor.platform.domain import idempotency, money
from corridor.platform.domain import reports as dom
from corridor.platform.domain.compliance import Alert, Case, CaseDecision
from corridor.platform.domain.errors import Err, Problems, forbidden, not_found
from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import SubjectType
from corridor.platform.domain.kyc_fields import OWNERS_FIELD
from corridor.platform.domain.orgs import Organisation
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.reports import Report, ReportCounter, ReportKind, ReportState
from corridor.platform.domain.roles import Perm
from corridor.platform.services import idempotency as replay
from corridor.platform.services import kyc
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds

# Who may read reports. Writing is compliance officers' only (`_officer`).
READ_PERMS: tuple[Perm, ...] = (Perm.COMPLIANCE_REVIEW,)


def may_read(who: Principal | None) -> bool:
    """Whether `who` may read reports (None: the operator's own shell, the CLI)."""
    return who is None or any(who.staff_can(p) for p in READ_PERMS)


def _reader(who: Principal | None) -> None:
    if not may_read(who):
        raise forbidden()


def _officer(who: Principal) -> None:
    if not who.staff_can(Perm.COMPLIANCE_REVIEW):
        raise forbidden()


# --- reads ------------------------------------------------------------------------------------


def reports(deps: Deps, who: Principal | None, *, state: str | None = None,
            case_id: str | None = None, limit: int = 50,
            offset: int = 0) -> tuple[list[Report], int]:
    """Reports, newest first, filtered by state and case."""
    _reader(who)
    if state is not None and state not in tuple(ReportState):
        problems = Problems()
        problems.add("state", f"one of {', '.join(ReportState)}")
        problems.raise_if_any()
    limit, offset = page_bounds(limit, offset, dom.PAGE_MAX)
    eq: dict[str, Any] = {k: v for k, v in (("state", state), ("case_id", case_id)) if v}
    with deps.reader() as uow:
        repo = uow.repo(Report)
        return (repo.many(order_by="created_ms", descending=True, limit=limit,
                          offset=offset, **eq), repo.count(**eq))


def report(deps: Deps, who: Principal | None, report_id: str) -> Report:
    _reader(who)
    with deps.reader() as uow:
        found = uow.repo(Report).get(report_id[:dom.ID_LEN_MAX])
    if found is None:
        raise not_found("report")
    return found


# --- the prefill from the case ----------------------------------------------------------------


def _str(values: dict[str, object], key: str) -> str | None:
    v = values.get(key)
    return str(v) if v not in (None, "") else None


def _subject(deps: Deps, uow: UnitOfWork, case: Case) -> dict[str, Any]:
    """The subject as their KYC record gives them (the registered name without one)."""
    org = case.subject_type == SubjectType.ORG
    if org:
        o = uow.repo(Organisation).get(case.subject_id)
        registered = o.name if o else case.subject_id
    else:
        u = uow.repo(User).get(case.subject_id)
        registered = u.name if u else case.subject_id
    found = kyc.identity_values(deps, uow, case.subject_type, case.subject_id)
    out: dict[str, Any] = {"type": "organisation" if org else "person", "id": case.subject_id,
                           "name": registered, "kyc": None}
    if found is None:
        return out
    rec, v = found
    out["kyc"] = {"record_id": rec.id, "status": rec.status, "tier": rec.tier,
                  "risk": rec.risk}
    name = " ".join(kyc.name_of(case.subject_type, v).split())
    out["name"] = name or registered
    if org:
        owners = v.get(OWNERS_FIELD)
        out.update({
            "registration_number": _str(v, "organization.registration_number"),
            "registration_date": _str(v, "organization.registration_date"),
            "address": _str(v, "organization.registered_address"),
            "country": _str(v, "organization.address_country_code"),
            "email": _str(v, "organization.email"),
            "phone": _str(v, "organization.phone"),
            "director": _str(v, "organization.director_name"),
            "beneficial_owners": [
                {k: (str(o[k]) if o.get(k) is not None else None)
                 for k in ("name", "birth_date", "nationality", "ownership_percent")}
                for o in (owners if isinstance(owners, list) else ()) if isinstance(o, dict)],
        })
        return out
    out.update({
        "first_name": _str(v, "first_name"), "last_name": _str(v, "last_name"),
        "birth_date": _str(v, "birth_date"), "birth_country": _str(v, "birth_country_code"),
        "address": _str(v, "address"), "city": _str(v, "city"),
        "postal_code": _str(v, "postal_code"), "country": _str(v, "address_country_code"),
        "email": _str(v, "email_address"), "phone": _str(v, "mobile_number"),
        "occupation": _str(v, "occupation"),
        "id_document": {"type": _str(v, "id_type"), "number": _str(v, "id_number"),
                        "country": _str(v, "id_country_code"),
                        "issue_date": _str(v, "id_issue_date"),
                        "expiry_date": _str(v, "id_expiration_date")},
    })
    return out


def _transaction(p: Payment) -> dict[str, Any]:
    bank = p.recipient_bank or {}
    return {
        "payment_id": p.id, "uetr": p.uetr, "tx_id": p.tx_id, "height": p.height,
        "date": dom.iso(p.created_ms), "date_ms": p.created_ms, "status": p.status.value,
        "amount_minor": p.sell_amount_minor, "currency": p.sell_code,
        "amount": money.format_minor(p.sell_amount_minor, p.sell_code),
        "fee_minor": p.fee_minor, "received_amount_minor": p.buy_amount_minor,
        "received_currency": p.buy_code,
        "received_amount": money.format_minor(p.buy_amount_minor, p.buy_code),
        "rate": p.price, "memo": p.memo,
        "from": {"customer_type": p.owner_type.value, "customer_id": p.owner_id,
                 "name": p.sender_name, "wallet_id": p.sender_wallet_id},
        "to": {"type": p.recipient_type.value, "name": p.recipient_name,
               "customer_id": p.recipient_user_id, "address": p.recipient_address,
               "bank_country": str(bank.get("country") or "") or None,
               "bank_account": str(bank.get("iban") or bank.get("account_number") or "")
               or None},
    }


def _indicator(a: Alert) -> dict[str, Any]:
    """What fired: the rules with their values (AML), or the list hits (screening)."""
    e = a.explanation
    return {
        "alert_id": a.id, "monitor": a.monitor, "typology": a.typology, "outcome": a.outcome,
        "score_milli": a.score_milli, "date": dom.iso(a.created_ms),
        "payment_ids": list(a.movement_ids), "parties": list(a.parties),
        "rules": [{"rule": str(r.get("rule", "")), "version": str(r.get("version", "")),
                   "values": dict(r.get("values") or {})} for r in e.get("rules", ())],
        "list_hits": [{"list": str(h.get("list", "")), "source_id": str(h.get("source_id", "")),
                       "entry_name": str(h.get("entry_name", "")),
                       "matched_name": str(h.get("matched_name", "")),
                       "programmes": [str(x) for x in h.get("programmes", ())],
                       "score_milli": round(float(h.get("score", 0)) * 1000)}
                      for h in e.get("hits", ())],
        "screened_name": e.get("screened_name"),
    }


def prefill(deps: Deps, uow: UnitOfWork, case: Case) -> tuple[str, dict[str, Any]]:
    """The subject's name and the report's content, from the case as it stands."""
    alerts = uow.repo(Alert).many(case_id=case.id, order_by="created_ms")
    ids = sorted({a.source_id for a in alerts if a.source_type == "payment"}
                 | {i for a in alerts for i in a.movement_ids})
    pays = sorted((p for p in (uow.repo(Payment).get(i) for i in ids) if p is not None),
                  key=lambda p: (p.created_ms, p.id))
    decisions = uow.repo(CaseDecision).many(case_id=case.id, order_by="created_ms")
    subject = _subject(deps, uow, case)
    content = {
        "reporting_entity": {"id": str(deps.settings.report_entity_id),
                             "name": str(deps.settings.report_entity_name)},
        "subject": subject,
        "transactions": [_transaction(p) for p in pays],
        "indicators": [_indicator(a) for a in alerts],
        "actions": [{"kind": d.kind.value, "date": dom.iso(d.created_ms), "note": d.note,
                     "payment_ids": list(d.payment_ids)} for d in decisions],
    }
    return str(subject["name"])[:300], content


# --- steps -----------------------------------------------------------------------------------


def _audit(uow: UnitOfWork, who: Principal, action: str, r: Report,
           before: Report | None, after: dict[str, Any] | None = None) -> None:
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action=f"report.{action}",
              object_type="str_report", object_id=r.id, ip=who.ip,
              before=None if before is None else {"state": before.state},
              after={"state": r.state, "case_id": r.case_id, "number": r.number,
                     "content_hash": r.content_hash, **(after or {})})


def draft(deps: Deps, who: Principal, case_id: str, kind: str,
          idempotency_key: str | None) -> Report:
    """A new draft from the case (open or closed), prefilled; one report in draft or in
    review per case at a time (REPORT_OPEN)."""
    _officer(who)
    key = idempotency.check_key(idempotency_key)
    if kind not in tuple(ReportKind):
        problems = Problems()
        problems.add("kind", f"one of {', '.join(ReportKind)}")
        problems.raise_if_any()
    asked = {"case_id": case_id, "kind": kind}
    with deps.uow() as uow:
        case = uow.repo(Case).get(case_id[:dom.ID_LEN_MAX], for_update=True)
        if case is None:
            raise not_found("case")
        seen = replay.prior(uow, who.user_id, key, "report.draft", asked)
        if seen is not None:
            found = uow.repo(Report).get(seen)
            assert found is not None, f"remembered report {seen} is gone"
            return found
        if uow.repo(Report).count(case_id=case.id, state=tuple(dom.OPEN)):
            raise Err.REPORT_OPEN.error()
        now = deps.clock.now_ms()
        name, content = prefill(deps, uow, case)
        r = Report(id=deps.rand.new_id(), case_id=case.id, kind=ReportKind(kind),
                   state=ReportState.DRAFT, subject_type=case.subject_type,
                   subject_id=case.subject_id, subject_name=name, content=content,
                   narrative="", authors=(who.user_id,), drafted_by=who.user_id,
                   submitted_by=None, filed_by=None, returned_reason=None, number=None,
                   year=None, seq=None, content_hash=None, created_ms=now,
                   submitted_ms=None, filed_ms=None, updated_ms=now)
        uow.repo(Report).add(r)
        _audit(uow, who, "draft", r, None, {"kind": r.kind,
                                            "transactions": len(content["transactions"]),
                                            "indicators": len(content["indicators"])})
        replay.remember(deps, uow, who.user_id, key, "report.draft", asked, r.id)
        uow.commit()
    return r


Acted = tuple[Report, dict[str, Any]]  # the report after a step, and what to audit
Step = Callable[[Deps, UnitOfWork, Principal, Report], Acted]


def _step(deps: Deps, who: Principal, report_id: str, operation: str,
          asked: dict[str, Any], idempotency_key: str | None, act: Step) -> Report:
    """One step on a report in its own unit of work: locked, replayed under the same key
    (the report as it stands), refused once filed, audited."""
    _officer(who)
    key = idempotency.check_key(idempotency_key)
    with deps.uow() as uow:
        found = uow.repo(Report).get(report_id[:dom.ID_LEN_MAX], for_update=True)
        if found is None:
            raise not_found("report")
        if replay.prior(uow, who.user_id, key, f"report.{operation}",
                        {"report_id": found.id, **asked}) is not None:
            return found
        if found.state == ReportState.FILED:
            raise Err.REPORT_FILED.error()
        done, extra = act(deps, uow, who, found)
        done = dataclasses.replace(done, updated_ms=deps.clock.now_ms())
        uow.repo(Report).update(done)
        _audit(uow, who, operation, done, found, extra)
        replay.remember(deps, uow, who.user_id, key, f"report.{operation}",
                        {"report_id": found.id, **asked}, found.id)
        uow.commit()
    return done


def edit(deps: Deps, who: Principal, report_id: str, *, narrative: str,
         kind: str | None, idempotency_key: str | None) -> Report:
    """Changes a draft's narrative (and kind); the editor becomes one of its authors."""
    problems = Problems()
    text = dom.clean_narrative(narrative)
    if text is None:
        problems.add("narrative", f"what happened and why it is suspicious, in 1-"
                                  f"{dom.NARRATIVE_LEN_MAX} characters")
    if kind is not None and kind not in tuple(ReportKind):
        problems.add("kind", f"one of {', '.join(ReportKind)}")
    problems.raise_if_any()
    assert text is not None

    def act(deps: Deps, uow: UnitOfWork, who: Principal, r: Report) -> Acted:
        if r.state != ReportState.DRAFT:
            raise Err.REPORT_STATE.error("only a draft can be edited")
        return dataclasses.replace(r, narrative=text,
                                   kind=ReportKind(kind) if kind else r.kind,
                                   authors=dom.with_author(r.authors, who.user_id)), \
            {"narrative_chars": len(text), "kind": kind or r.kind}

    return _step(deps, who, report_id, "edit", {"narrative": text, "kind": kind},
                 idempotency_key, act)


def submit(deps: Deps, who: Principal, report_id: str, idempotency_key: str | None) -> Report:
    """A draft with a narrative goes to review; its submitter counts as an author."""
    def act(deps: Deps, uow: UnitOfWork, who: Principal, r: Report) -> Acted:
        if r.state != ReportState.DRAFT:
            raise Err.REPORT_STATE.error("only a draft can be submitted for review")
        if not r.narrative:
            raise Err.INVALID_FIELDS.error(fields={"narrative": "write the narrative first"})
        return dataclasses.replace(r, state=ReportState.IN_REVIEW, submitted_by=who.user_id,
                                   submitted_ms=deps.clock.now_ms(), returned_reason=None,
                                   authors=dom.with_author(r.authors, who.user_id)), {}

    return _step(deps, who, report_id, "submit", {}, idempotency_key, act)


def _reviewing(r: Report, who: Principal) -> None:
    if r.state != ReportState.IN_REVIEW:
        raise Err.REPORT_STATE.error("the report is not in review")
    if not dom.may_review(r, who.user_id):
        raise Err.FOUR_EYES_REQUIRED.error("you wrote or submitted this report: a second "
                                           "officer reviews it")


def send_back(deps: Deps, who: Principal, report_id: str, reason: str,
              idempotency_key: str | None) -> Report:
    """The reviewer returns the report to draft, saying why."""
    text = " ".join(reason.split())
    if not text or len(text) > dom.REASON_LEN_MAX or not text.isprintable():
        raise Err.INVALID_FIELDS.error(fields={
            "reason": f"what to change, in 1-{dom.REASON_LEN_MAX} printable characters"})

    def act(deps: Deps, uow: UnitOfWork, who: Principal, r: Report) -> Acted:
        _reviewing(r, who)
        return dataclasses.replace(r, state=ReportState.DRAFT, returned_reason=text,
                                   submitted_by=None, submitted_ms=None), {"reason": text}

    return _step(deps, who, report_id, "send_back", {"reason": text}, idempotency_key, act)


def _file(deps: Deps, uow: UnitOfWork, who: Principal, r: Report) -> Acted:
    _reviewing(r, who)
    now = deps.clock.now_ms()
    counters = uow.repo(ReportCounter)
    counter = counters.get(dom.COUNTER_ID, for_update=True)  # serialises every filing
    assert counter is not None, "migration 0017 makes the report counter"
    counter = dom.next_number(counter, now)
    counters.update(counter)
    filed = dataclasses.replace(r, state=ReportState.FILED, filed_by=who.user_id,
                                filed_ms=now, year=counter.year, seq=counter.last,
                                number=dom.number_text(counter.year, counter.last),
                                updated_ms=now)
    digest = dom.content_hash(dom.document(filed))
    filed = dataclasses.replace(filed, content_hash=digest)
    doc = dom.document(filed)
    assert dom.content_hash(doc) == doc["content_hash"], "a filed report's hash must verify"
    return filed, {"filed_ms": now}


def file(deps: Deps, who: Principal, report_id: str, idempotency_key: str | None) -> Report:
    """A second officer files the report in review: numbered (the year's next number),
    hashed, immutable from now on."""
    return _step(deps, who, report_id, "file", {}, idempotency_key, _file)


def verify(r: Report) -> bool:
    """Whether a filed report's record still matches its content hash."""
    return r.state == ReportState.FILED and r.content_hash == dom.content_hash(dom.document(r))
