"""Movements before the chain (issue 16): each monitor in `deps.monitors` evaluates a
movement; screening hits an officer cleared for the same (list entry, party, name) are
dropped; what remains decides the movement's outcome (domain/monitoring.outcome_of) and
becomes alerts in the subject customer's open case.

The hot path stays cheap: with no finding nothing here touches the database. The sanctions
screener is one monitor among any (`ScreeningMonitor`, over the recipient's name); the
composition root lists them (bootstrap.monitors_of)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from corridor.platform.domain import compliance as dom
from corridor.platform.domain.compliance import Alert, AlertState, Case, CaseState, Clearance
from corridor.platform.domain.monitoring import Finding, Movement, Outcome
from corridor.platform.domain.screening.entries import EntityKind, is_terrorist
from corridor.platform.domain.screening.index import ScreeningIndex
from corridor.platform.domain.screening.matcher import THRESHOLD, Hit, Query
from corridor.platform.services import risk
from corridor.platform.services.ports import Deps, UnitOfWork
from corridor.platform.services.screening import Screener

SCREENING = "screening"
SANCTIONS = "sanctions"
TERRORIST_FINANCING = "terrorist_financing"  # a hit on a terrorist designation (CFT)
SCREENING_TYPOLOGIES = (SANCTIONS, TERRORIST_FINANCING)
LISTS_CHECK_MS = 1_000  # how stale the screening index may be after another process imports
BLOCK_SCORE = 0.95  # a hit this sure is flagged as one the rules would refuse


def evaluate(deps: Deps, movement: Movement) -> tuple[Finding, ...]:
    """Every monitor's findings on the movement, in the monitors' order."""
    found: list[Finding] = []
    for monitor in deps.monitors:
        found.extend(monitor.evaluate(movement))
    return tuple(found)


# --- the sanctions screener as a monitor ----------------------------------------------------


def hit_json(hit: Hit) -> dict[str, Any]:
    """A hit as an alert keeps it: the entry, the names and tokens that matched, the score."""
    e = hit.entry
    return {
        "list": e.list_name, "source_id": e.source_id, "fingerprint": e.fingerprint(),
        "entry_name": e.name, "kind": str(e.kind), "programmes": list(e.programmes),
        "terrorist": is_terrorist(e),
        "score": round(hit.score, 4), "name_score": round(hit.name_score, 4),
        "matched_name": hit.matched_name, "is_alias": hit.is_alias,
        "tokens": [{"query": t.query, "listed": t.listed, "how": t.how,
                    "similarity": round(t.similarity, 4)} for t in hit.tokens],
        "unmatched_query": list(hit.unmatched_query),
        "unmatched_listed": list(hit.unmatched_listed),
        "evidence": [{"detail": ev.detail, "delta": round(ev.delta, 4)} for ev in hit.evidence],
        "text": hit.explain(),
    }


def screening_finding(name: str, party: str, hits: Sequence[Hit],
                      movement_ids: tuple[str, ...] = ()) -> Finding:
    best = max(h.score for h in hits)
    typology = TERRORIST_FINANCING if any(is_terrorist(h.entry) for h in hits) else SANCTIONS
    return Finding(monitor=SCREENING, outcome=Outcome.BLOCK if best >= BLOCK_SCORE
                   else Outcome.REVIEW, typology=typology, score=round(best, 4),
                   explanation={"screened_name": name, "party": party,
                                "hits": [hit_json(h) for h in hits]},
                   movement_ids=movement_ids, parties=(party,))


class ScreeningMonitor:
    """The recipient's name (and a deposit's remitter's) against the current sanctions
    lists. The index is the screener's; whether the lists changed is asked at most every
    LISTS_CHECK_MS, so a payment costs one index lookup and no database read."""

    name = SCREENING

    def __init__(self, screener: Screener, threshold: float = THRESHOLD) -> None:
        self.screener = screener
        self.threshold = threshold
        self._lock = threading.Lock()
        self._index: ScreeningIndex | None = None
        self._checked = 0.0

    def index(self) -> ScreeningIndex:
        now = time.monotonic()
        with self._lock:
            if self._index is not None and now - self._checked < LISTS_CHECK_MS / 1000:
                return self._index
        index = self.screener.index()
        with self._lock:
            self._index, self._checked = index, now
        return index

    def refresh(self) -> None:
        """Forget the cached index: the next screening asks for the current lists."""
        with self._lock:
            self._index = None

    def screen(self, name: str, kind: EntityKind | None = None) -> list[Hit]:
        name = " ".join(name.split())
        index = self.index()
        if not name or not index.entries:  # no list loaded: nothing to normalise the name for
            return []
        return index.screen(Query(name=name, kind=kind), threshold=self.threshold)

    def evaluate(self, movement: Movement) -> Sequence[Finding]:
        found: list[Finding] = []
        for name, party in ((movement.receiver_name, movement.receiver),
                            (movement.sender_name, movement.sender)):
            hits = self.screen(name) if name else []
            if name and hits:
                found.append(screening_finding(name, party, hits, (movement.id,)))
        return tuple(found)


# --- findings to alerts -------------------------------------------------------------------------


def _cleared(uow: UnitOfWork, party: str, name: str) -> set[tuple[str, str, str]]:
    key = dom.name_key(name)
    return {(c.list_name, c.source_id, c.entry_fingerprint)
            for c in uow.repo(Clearance).many(party=party[:128]) if c.party_name == key}


def acting(uow: UnitOfWork, findings: Sequence[Finding]) -> list[Finding]:
    """The findings less the screening hits cleared for the same entry (unchanged) and the
    same party under the same name; a screening finding left with no hit goes."""
    out: list[Finding] = []
    for f in findings:
        hits = f.explanation.get("hits") if f.typology in SCREENING_TYPOLOGIES else None
        if not hits:
            out.append(f)
            continue
        party = str(f.explanation.get("party", ""))
        cleared = _cleared(uow, party, str(f.explanation.get("screened_name", "")))
        left = [h for h in hits
                if (h["list"], h["source_id"], h["fingerprint"]) not in cleared]
        if len(left) == len(hits):
            out.append(f)
        elif left:
            typology = TERRORIST_FINANCING if any(h.get("terrorist") for h in left) \
                else SANCTIONS
            out.append(Finding(monitor=f.monitor, outcome=f.outcome, typology=typology,
                               score=max(float(h["score"]) for h in left),
                               explanation={**f.explanation, "hits": left},
                               movement_ids=f.movement_ids, parties=f.parties,
                               shadow=f.shadow))
    return out


def case_for(deps: Deps, uow: UnitOfWork, subject_type: str, subject_id: str) -> Case:
    """The customer's open case (a new one when none is open)."""
    repo = uow.repo(Case)
    found = repo.one(subject_type=subject_type, subject_id=subject_id, state=CaseState.OPEN)
    if found is not None:
        return found
    now = deps.clock.now_ms()
    case = Case(id=deps.rand.new_id(), subject_type=subject_type, subject_id=subject_id,
                state=CaseState.OPEN, assigned_to=None, released_by=None, opened_ms=now,
                closed_ms=None, closed_by=None, updated_ms=now)
    repo.add(case)
    uow.audit(actor_id=None, actor_kind="system", action="compliance.case_open",
              object_type="compliance_case", object_id=case.id,
              after={"subject_type": subject_type, "subject_id": subject_id})
    return case


def raise_alerts(deps: Deps, uow: UnitOfWork, findings: Sequence[Finding], *,
                 subject: tuple[str, str], source: tuple[str, str]) -> list[Alert]:
    """An alert per finding, in the subject's open case; audited. Shadow findings (rules on
    trial) are recorded, never acted on: beside acting ones as closed alerts; alone, in the
    audit log only, so a rule on trial opens no case."""
    if not findings:
        return []
    if all(f.shadow for f in findings):
        for f in findings:
            uow.audit(actor_id=None, actor_kind="system", action="compliance.shadow_finding",
                      object_type=source[0], object_id=source[1],
                      after={"monitor": f.monitor, "typology": f.typology, "score": f.score,
                             "explanation": dict(f.explanation)})
        return []
    case = case_for(deps, uow, *subject)
    now = deps.clock.now_ms()
    made = []
    for f in findings:
        alert = Alert(id=deps.rand.new_id(), case_id=case.id, monitor=f.monitor[:32],
                      typology=f.typology[:64], outcome=Outcome(f.outcome).name.lower(),
                      score_milli=round(f.score * 1000), explanation=dict(f.explanation),
                      movement_ids=tuple(f.movement_ids), parties=tuple(f.parties),
                      subject_type=subject[0], subject_id=subject[1], source_type=source[0],
                      source_id=source[1],
                      state=AlertState.CLOSED if f.shadow else AlertState.OPEN, created_ms=now,
                      updated_ms=now)
        uow.repo(Alert).add(alert)
        uow.audit(actor_id=None, actor_kind="system", action="compliance.alert",
                  object_type="alert", object_id=alert.id,
                  after={"case_id": case.id, "monitor": alert.monitor,
                         "typology": alert.typology, "outcome": alert.outcome,
                         "score": alert.score, "source_type": source[0],
                         "source_id": source[1], "shadow": f.shadow})
        made.append(alert)
    # the customer's risk rating follows its inputs (services/risk.py)
    risk.recompute(deps, uow, *subject, trigger="list" if source[0] == "list" else "alert")
    return made


def screen_customer(deps: Deps, uow: UnitOfWork, *, subject: tuple[str, str], name: str,
                    kind: EntityKind, source: tuple[str, str]) -> list[Alert]:
    """A customer's own name through every screening monitor (KYC submission): a hit not
    cleared for this customer and name becomes an alert on them; it decides nothing."""
    findings: list[Finding] = []
    for monitor in deps.monitors:
        if isinstance(monitor, ScreeningMonitor):
            hits = monitor.screen(name, kind)
            if hits:
                findings.append(screening_finding(" ".join(name.split()), subject[1], hits))
    return raise_alerts(deps, uow, acting(uow, findings), subject=subject, source=source)
