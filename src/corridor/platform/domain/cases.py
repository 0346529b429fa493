"""Working a compliance case (issue 16): its SLA timers and their escalation, and the
graph of money flows around its subject. Pure: values in, values out.

SLA. A case's severity is its most severe alert's outcome (decline and block are `high`,
review `normal`). Each severity has two due times counted from the case's opening, in
hours held as data (`SlaPolicy`, configurable with CORRIDOR_CASE_SLA): the first action
(an officer's first decision other than a note) and the resolution (the case closed).
A request for information sets a response deadline of its own, which stops running once
a decision follows it (a note recording the answer, or any other). Each due time passed is
a `Breach`, escalated once (a `CaseEscalation` row per case, breach and due time).

Graph. The subject's payments in and out over a window, and where cheap the payments of
its counterparties on the platform (the second hop), folded into one edge per (from, to,
currency) with a count and a sum: bounded in nodes and edges, so a busy customer's case
draws in the same time as a quiet one's.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterable, Mapping, Sequence

from corridor.platform.domain.compliance import Alert, CaseDecision, DecisionKind

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
INFO_DAYS_MIN = 1
INFO_DAYS_MAX = 30
ESCALATION_SCAN_MAX = 2_000  # open cases one escalation round looks at (oldest first)
OFFICERS_NOTIFIED_MAX = 200  # compliance officers told of one escalation
GRAPH_WINDOW_DAYS = 90  # the payments the graph reads: the last 90 days
GRAPH_PAYMENTS_MAX = 200  # payments read per party (newest first)
GRAPH_SECOND_HOP_PARTIES_MAX = 10  # counterparties on the platform whose payments are read
GRAPH_NODES_MAX = 40
GRAPH_EDGES_MAX = 80
assert GRAPH_EDGES_MAX >= GRAPH_NODES_MAX


class Severity(enum.StrEnum):
    HIGH = "high"  # an alert whose rules would block or decline
    NORMAL = "normal"  # review only


class BreachKind(enum.StrEnum):
    FIRST_ACTION = "first_action"
    RESOLUTION = "resolution"
    INFO_DEADLINE = "info_deadline"  # the customer did not answer a request in time


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SlaHours:
    first_action: int
    resolution: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SlaPolicy:
    """Hours to the first action and to the resolution, per severity; the default days a
    customer has to answer a request for information."""

    hours: Mapping[Severity, SlaHours]
    info_days: int

    def __post_init__(self) -> None:
        assert set(self.hours) == set(Severity), self.hours
        assert all(0 < h.first_action <= h.resolution for h in self.hours.values())
        assert INFO_DAYS_MIN <= self.info_days <= INFO_DAYS_MAX


# A held payment waits on its officer: high-severity cases are acted on within a working
# half-day and resolved within a day; review-only ones within a day and five days.
DEFAULT_POLICY = SlaPolicy(hours={Severity.HIGH: SlaHours(first_action=4, resolution=24),
                                  Severity.NORMAL: SlaHours(first_action=24, resolution=120)},
                           info_days=5)


def parse_policy(text: str) -> SlaPolicy:
    """A policy from its setting, e.g. "high=4/24,normal=24/120,info_days=5" (hours to the
    first action / to the resolution; any part left out keeps its default). Raises
    ValueError with the reason on a malformed setting."""
    hours = dict(DEFAULT_POLICY.hours)
    info_days = DEFAULT_POLICY.info_days
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, value = part.partition("=")
        name = name.strip()
        try:
            if name == "info_days":
                info_days = int(value)
                if not INFO_DAYS_MIN <= info_days <= INFO_DAYS_MAX:
                    raise ValueError
                continue
            first, _, resolution = value.partition("/")
            sla = SlaHours(first_action=int(first), resolution=int(resolution))
            if not 0 < sla.first_action <= sla.resolution:
                raise ValueError
            hours[Severity(name)] = sla
        except ValueError:
            raise ValueError(f"case SLA {part!r}: expected high=H/H, normal=H/H (hours to the "
                             f"first action / resolution) or info_days="
                             f"{INFO_DAYS_MIN}-{INFO_DAYS_MAX}") from None
    return SlaPolicy(hours=hours, info_days=info_days)


def severity(alerts: Iterable[Alert]) -> Severity:
    """The case's severity: high when any of its alerts would block or decline."""
    return (Severity.HIGH if any(a.outcome in ("block", "decline") for a in alerts)
            else Severity.NORMAL)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Breach:
    kind: BreachKind
    due_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Sla:
    """A case's timers at one moment. `first_action_ms`: when an officer first decided
    something other than a note (None: not yet)."""

    severity: Severity
    first_action_due_ms: int
    first_action_ms: int | None
    resolution_due_ms: int
    info_due_ms: int | None
    breaches: tuple[Breach, ...]

    @property
    def overdue(self) -> bool:
        return bool(self.breaches)


def sla(*, opened_ms: int, closed_ms: int | None, info_due_ms: int | None,
        alerts: Sequence[Alert], decisions: Sequence[CaseDecision], policy: SlaPolicy,
        now_ms: int) -> Sla:
    """The case's timers and the due times passed by `now_ms` (none once closed)."""
    sev = severity(alerts)
    hours = policy.hours[sev]
    first = min((d.created_ms for d in decisions if d.kind != DecisionKind.NOTE), default=None)
    first_due = opened_ms + hours.first_action * HOUR_MS
    resolution_due = opened_ms + hours.resolution * HOUR_MS
    breaches: list[Breach] = []
    if closed_ms is None:
        if (first is None and now_ms > first_due) or (first is not None and first > first_due):
            breaches.append(Breach(kind=BreachKind.FIRST_ACTION, due_ms=first_due))
        if now_ms > resolution_due:
            breaches.append(Breach(kind=BreachKind.RESOLUTION, due_ms=resolution_due))
        if info_due_ms is not None and now_ms > info_due_ms and not _answered(decisions):
            breaches.append(Breach(kind=BreachKind.INFO_DEADLINE, due_ms=info_due_ms))
    return Sla(severity=sev, first_action_due_ms=first_due, first_action_ms=first,
               resolution_due_ms=resolution_due, info_due_ms=info_due_ms,
               breaches=tuple(breaches))


def _answered(decisions: Sequence[CaseDecision]) -> bool:
    """Whether the last request for information was followed by a decision (a note
    recording the answer, or any decision but an assignment): its deadline no longer
    runs."""
    asked = max((d.created_ms for d in decisions if d.kind == DecisionKind.REQUEST_INFO),
                default=None)
    return asked is not None and any(
        d.created_ms > asked and d.kind not in (DecisionKind.ASSIGN, DecisionKind.REQUEST_INFO)
        for d in decisions)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CaseEscalation:
    """One breach of a case's SLA, escalated once: to every compliance officer's inbox,
    the case flagged (`Case.escalated_ms`) and listed first in the queue."""

    id: str
    case_id: str
    breach: BreachKind
    due_ms: int
    escalated_ms: int


# --- the graph of flows ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    """One payment as the graph reads it: from whom to whom, what and how much."""

    payment_id: str
    source: str  # a party key: "user:<id>", "org:<id>", "bank:<name>", "address:<a>"
    target: str
    code: str
    amount_minor: int
    status: str
    created_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    key: str
    label: str
    hop: int  # 0: the case's subject; 1: its counterparties; 2: theirs
    x: int  # where the picture draws it (user units)
    y: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    source: str
    target: str
    code: str
    count: int
    amount_minor: int
    held: int  # payments on hold among them
    width: int  # stroke width in the picture, 1..6, by amount within its currency


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Graph:
    subject: str
    since_ms: int
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    truncated: bool  # parties or edges were left out to keep it bounded
    width: int
    height: int


GRAPH_WIDTH = 480
GRAPH_HEIGHT = 380
_RINGS = (0, 105, 160)  # radius of each hop's ring


def graph(subject: str, flows: Iterable[Flow], labels: Mapping[str, str], *,
          since_ms: int, truncated: bool = False) -> Graph:
    """The flows folded into edges (one per from, to and currency), the parties placed on
    rings around the subject by hop, the biggest edges kept first within the bounds."""
    folded: dict[tuple[str, str, str], list[int]] = {}
    seen: set[str] = set()
    for f in flows:
        if f.payment_id in seen or f.source == f.target:
            continue
        seen.add(f.payment_id)
        cell = folded.setdefault((f.source, f.target, f.code), [0, 0, 0])
        cell[0] += 1
        cell[1] += f.amount_minor
        cell[2] += f.status == "on_hold"
    ranked = sorted(folded.items(), key=lambda kv: (
        subject not in kv[0][:2], -kv[1][1], kv[0]))  # the subject's own edges first
    kept: list[tuple[tuple[str, str, str], list[int]]] = []
    parties = {subject}
    for key, cell in ranked:
        grown = parties | set(key[:2])
        if len(kept) >= GRAPH_EDGES_MAX or len(grown) > GRAPH_NODES_MAX:
            truncated = True
            continue
        kept.append((key, cell))
        parties = grown
    hop = {p: 2 for p in parties}
    for s, t, _ in (k for k, _c in kept):
        if subject in (s, t):
            hop[t if s == subject else s] = 1
    hop[subject] = 0
    top: dict[str, int] = {}
    for (_s, _t, code), cell in kept:
        top[code] = max(top.get(code, 0), cell[1])
    edges = tuple(Edge(source=s, target=t, code=code, count=c[0], amount_minor=c[1],
                       held=c[2], width=1 + (5 * c[1]) // top[code] if top[code] else 1)
                  for (s, t, code), c in kept)
    nodes = _placed(subject, sorted(parties, key=lambda p: (hop.get(p, 2), labels.get(p, p), p)),
                    hop, labels)
    return Graph(subject=subject, since_ms=since_ms, nodes=nodes, edges=edges,
                 truncated=truncated, width=GRAPH_WIDTH, height=GRAPH_HEIGHT)


def _placed(subject: str, parties: Sequence[str], hop: Mapping[str, int],
            labels: Mapping[str, str]) -> tuple[Node, ...]:
    cx, cy = GRAPH_WIDTH // 2, GRAPH_HEIGHT // 2
    rings: dict[int, list[str]] = {0: [subject], 1: [], 2: []}
    for p in parties:
        if p != subject:
            rings[min(2, max(1, hop.get(p, 2)))].append(p)
    out = []
    for h, members in rings.items():
        for i, p in enumerate(members):
            angle = 2 * math.pi * i / max(1, len(members)) - math.pi / 2 + h * 0.3
            out.append(Node(key=p, label=labels.get(p, p), hop=h,
                            x=cx + round(_RINGS[h] * math.cos(angle)),
                            y=cy + round(_RINGS[h] * math.sin(angle) * 0.9)))
    return tuple(out)
