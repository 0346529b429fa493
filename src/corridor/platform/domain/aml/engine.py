"""The real-time AML engine (issue 16): a `Monitor` that evaluates each movement against the
rules of a `RuleSet`, scores typologies the Tazama way, and then learns the movement into
its own window of history.

State is per party and bounded: each party keeps its last `EDGES_PER_PARTY_MAX` movements
in and out (and none older than `history_ms`), a day-bucketed baseline of
`BASELINE_DAYS_MAX` days, its first and last activity. Parties beyond `parties_max` are
forgotten least-recently-used first. Every rule reads only the two parties of the movement
(the cycle search a bounded number of others), so an evaluation costs the same with a
thousand or a million movements of history. No clock, no I/O: time is the movement's
`at_ms`. Not thread-safe: one engine per process, its evaluations serialised by the caller
(each takes a fraction of a millisecond)."""

from __future__ import annotations

import bisect
import dataclasses
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from corridor.platform.domain import travel_rule
from corridor.platform.domain.aml.config import (
    BASELINE_DAYS_MAX,
    CYCLE_EXPANSIONS_MAX,
    DAY_MS,
    EDGES_PER_PARTY_MAX,
    Amounts,
    RuleSet,
    Typology,
)
from corridor.platform.domain.aml.rates import UsdRates, exponent
from corridor.platform.domain.monitoring import Finding, Movement, MovementKind, Outcome

MONITOR = "aml"
# the movements the travel rule asks originator/beneficiary data of: transfers Corridor
# itself originates (a deposit or withdrawal carries the bank rail's)
TRAVEL_RULE_KINDS = frozenset({MovementKind.PAYMENT, MovementKind.REFUND})
PARTIES_MAX = 2_000_000
# The version of each rule's logic (its thresholds are versioned by the RuleSet's id).
RULE_VERSIONS: Mapping[str, int] = {
    "large_amount": 1, "structuring": 1, "velocity": 1, "rapid_in_out": 1, "fan_in": 1,
    "fan_out": 1, "cycle": 1, "high_risk_country": 1, "dormant": 1, "round_amount": 1,
    "travel_rule": 1, "new_account": 1, "in_profile": 1, "small_high_risk": 1,
    "new_account_fan_out": 1,
}

# An edge of the movement graph: (at_ms, id, sender, receiver, usd_minor, amount_minor,
# currency, receiver_country). One tuple is shared by the sender's `out` and the
# receiver's `inn`.
Edge = tuple[int, str, str, str, int | None, int, str, str | None]
AT: Final = 0
ID: Final = 1
SENDER: Final = 2
RECEIVER: Final = 3
USD: Final = 4
AMOUNT: Final = 5
CURRENCY: Final = 6
COUNTRY: Final = 7  # the receiver's


def _at(edge: Edge) -> int:
    return edge[AT]


class _Party:
    """One party's window. Mutable, owned by the engine alone."""

    __slots__ = ("days", "first_ms", "inn", "last_ms", "out")

    def __init__(self, at_ms: int) -> None:
        # lists, not deques: an empty deque costs 600 bytes and most parties hold a few
        # edges; `add` trims them to their bounds (amortised, at most 256 moved)
        self.out: list[Edge] = []
        self.inn: list[Edge] = []
        self.days: list[list[int]] = []  # [day, out, in], oldest first
        self.first_ms = at_ms
        self.last_ms: int | None = None  # None: never active yet

    def count(self, index: int, day: int, days: int) -> int:
        """Movements (1 = out, 2 = in) on the `days` whole days before `day`."""
        n, first = 0, day - days
        for d in reversed(self.days):  # newest first: stop at the first day too old
            if d[0] < first:
                break
            if d[0] < day:
                n += d[index]
        return n

    def prune(self, before_ms: int) -> None:
        for q in (self.out, self.inn):
            if q and q[0][AT] < before_ms:
                i = 1
                while i < len(q) and q[i][AT] < before_ms:
                    i += 1
                del q[:i]

    def add(self, q: list[Edge], edge: Edge, day: int, index: int) -> None:
        at = edge[AT]
        if not q or q[-1][AT] <= at:
            q.append(edge)
        else:  # out of order (another process's movement, learned late): kept in time order
            bisect.insort(q, edge, key=_at)
        if len(q) > EDGES_PER_PARTY_MAX:
            del q[:len(q) - EDGES_PER_PARTY_MAX]
        self.seen(at)
        days = self.days
        if not days or days[-1][0] < day:
            days.append([day, 0, 0])
            if len(days) > BASELINE_DAYS_MAX + 1:
                del days[0]
            days[-1][index] += 1
            return
        # out of order: its own day's bucket, made in place (the buckets stay in day order,
        # which `count` relies on); a day older than the baseline keeps is not counted
        for i in range(len(days) - 1, -1, -1):
            if days[i][0] == day:
                days[i][index] += 1
                return
            if days[i][0] < day:
                days.insert(i + 1, [day, 0, 0])
                days[i + 1][index] += 1
                break
        else:
            if len(days) <= BASELINE_DAYS_MAX:
                days.insert(0, [day, 0, 0])
                days[0][index] += 1
        if len(days) > BASELINE_DAYS_MAX + 1:
            del days[0]

    def seen(self, at_ms: int) -> None:
        """Active at `at_ms`: its first and last activity include it."""
        if self.last_ms is None or at_ms > self.last_ms:
            self.last_ms = at_ms
        if at_ms < self.first_ms:
            self.first_ms = at_ms


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RuleHit:
    """A rule that fired: its band (1 or 2), the values it saw, what it involved."""

    rule: str
    band: int
    values: Mapping[str, Any]
    movement_ids: tuple[str, ...] = ()
    parties: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Ctx:
    m: Movement
    usd: int | None
    s: _Party  # the sender's window (before this movement)
    r: _Party
    amounts: Amounts
    risk_percent: int  # scales thresholds in local currency as `amounts` are scaled
    day: int


def _recent(q: list[Edge], since_ms: int) -> list[Edge]:
    """The edges of `q` at or after `since_ms` (newest last), read from the new end."""
    out: list[Edge] = []
    for e in reversed(q):
        if e[AT] < since_ms:
            break
        out.append(e)
    out.reverse()
    return out


def _ids(edges: Iterable[Edge], m: Movement) -> tuple[str, ...]:
    return (*(e[ID] for e in edges), m.id)


class AmlEngine:
    """`Monitor` of money movements by AML rules; see the module docstring."""

    name = MONITOR

    def __init__(self, rules: RuleSet | None = None, rates: UsdRates | None = None, *,
                 parties_max: int = PARTIES_MAX) -> None:
        assert parties_max > 0
        self.rules = rules or RuleSet()
        self.rates = rates or UsdRates()
        self.parties_max = parties_max
        self._parties: OrderedDict[str, _Party] = OrderedDict()
        self._risk: dict[str, str] = {}
        self._ruleset_id = self.rules.id
        self._rule_fns: tuple[Callable[[_Ctx], RuleHit | None], ...] = (
            self._large_amount, self._structuring, self._velocity, self._rapid_in_out,
            self._fan_in, self._fan_out, self._cycle, self._high_risk_country,
            self._dormant, self._round_amount, self._travel_rule, self._new_account,
            self._in_profile, self._small_high_risk, self._new_account_fan_out)
        self._high_risk = self.rules.fatf_black | self.rules.fatf_grey | self.rules.cft_regions

    # -- the Monitor port ---------------------------------------------------------------

    def evaluate(self, movement: Movement) -> Sequence[Finding]:
        """The findings on `movement` given the history so far; then learns it."""
        usd = self.usd_of(movement)
        hits = self.rule_hits(movement, usd)
        findings = self._score(movement, hits) if hits else []
        self._learn(movement, usd)
        return findings

    def set_risk(self, party: str, level: str) -> None:
        """The customer's risk rating (low/medium/high): scales its amount thresholds."""
        self._risk[party] = level

    # -- rules --------------------------------------------------------------------------

    def usd_of(self, m: Movement) -> int | None:
        return m.usd_minor if m.usd_minor is not None else self.rates.usd_minor(
            m.amount_minor, m.currency)

    def rule_hits(self, m: Movement, usd: int | None = None) -> list[RuleHit]:
        """Every rule that fires on `m` against the history (which it does not change);
        `usd` is `usd_of(m)` when the caller has it already."""
        empty = _Party(m.at_ms)
        s = self._parties.get(m.sender, empty)
        r = self._parties.get(m.receiver, empty)
        risk = max((self._risk.get(m.sender, "low"), self._risk.get(m.receiver, "low")),
                   key=lambda lv: -self.rules.risk_percent.get(lv, 100))
        ctx = _Ctx(m=m, usd=self.usd_of(m) if usd is None else usd, s=s, r=r,
                   day=m.at_ms // DAY_MS, risk_percent=self.rules.risk_percent.get(risk, 100),
                   amounts=self.rules.amounts_for(m.sender_country, m.receiver_country, risk))
        return [h for fn in self._rule_fns if (h := fn(ctx)) is not None]

    def _large_amount(self, c: _Ctx) -> RuleHit | None:
        local = self.rules.local_report_minor.get(c.m.currency)
        if local is not None:
            amount, threshold, unit = c.m.amount_minor, local * c.risk_percent // 100, \
                c.m.currency
        elif c.usd is not None:
            amount, threshold, unit = c.usd, c.amounts.large_usd_minor, "USD"
        else:
            return None
        if amount < threshold:
            return None
        return RuleHit(rule="large_amount", band=2 if amount >= 5 * threshold else 1,
                       values={"amount_minor": amount, "threshold_minor": threshold,
                               "unit": unit, "usd_minor": c.usd},
                       movement_ids=(c.m.id,), parties=(c.m.sender, c.m.receiver))

    def _just_under(self, amount_minor: int, currency: str, usd: int | None,
                    report_usd: int, risk_percent: int) -> bool:
        local = self.rules.local_report_minor.get(currency)
        if local is not None:
            local = local * risk_percent // 100
        amount, threshold = (amount_minor, local) if local is not None else (usd, report_usd)
        if amount is None:
            return False
        return threshold * self.rules.structuring_lower_percent <= amount * 100 \
            and amount < threshold

    def _structuring(self, c: _Ctx) -> RuleHit | None:
        report = c.amounts.report_usd_minor
        pct = c.risk_percent
        if not self._just_under(c.m.amount_minor, c.m.currency, c.usd, report, pct):
            return None
        since = c.m.at_ms - self.rules.structuring_window_ms
        best: list[Edge] = []
        for q in (c.s.out, c.r.inn):
            under = [e for e in _recent(q, since)
                     if self._just_under(e[AMOUNT], e[CURRENCY], e[USD], report, pct)]
            if len(under) > len(best):
                best = under
        n = len(best) + 1
        lo, hi = self.rules.structuring_count
        if n < lo:
            return None
        parties = dict.fromkeys((c.m.sender, c.m.receiver, *(e[SENDER] for e in best),
                                 *(e[RECEIVER] for e in best)))
        return RuleHit(rule="structuring", band=2 if n >= hi else 1,
                       values={"count": n, "window_ms": self.rules.structuring_window_ms,
                               "report_usd_minor": report,
                               "lower_percent": self.rules.structuring_lower_percent,
                               "total_usd_minor": sum(e[USD] or 0 for e in best)
                               + (c.usd or 0)},
                       movement_ids=_ids(best, c.m), parties=tuple(parties))

    def _baseline(self, p: _Party, index: int, c: _Ctx) -> tuple[int, int] | None:
        """(movements on the baseline days, number of days) or None without history."""
        history_days = (c.m.at_ms - p.first_ms) // DAY_MS
        if p.last_ms is None or history_days < self.rules.velocity_history_days_min:
            return None
        days = min(self.rules.velocity_baseline_days, history_days)
        return p.count(index, c.day, days), days

    def _velocity(self, c: _Ctx) -> RuleHit | None:
        base = self._baseline(c.s, 1, c)
        if base is None:
            return None
        window = _recent(c.s.out, c.m.at_ms - self.rules.velocity_window_ms)
        n = len(window) + 1
        (c1, c2), (f1, f2) = self.rules.velocity_count_min, self.rules.velocity_factor
        count, days = base
        # n per window against factor x the daily mean (count / days), in integers
        band = 2 if n >= c2 and n * days >= f2 * count else \
            1 if n >= c1 and n * days >= f1 * count else 0
        if not band:
            return None
        return RuleHit(rule="velocity", band=band,
                       values={"count": n, "window_ms": self.rules.velocity_window_ms,
                               "baseline_per_day": round(count / days, 3),
                               "baseline_days": days},
                       movement_ids=_ids(window, c.m), parties=(c.m.sender,))

    def _fan(self, c: _Ctx, out: bool) -> RuleHit | None:
        p, q = (c.s, c.s.out) if out else (c.r, c.r.inn)
        window = _recent(q, c.m.at_ms - self.rules.fan_window_ms)
        others = [e[RECEIVER] for e in window] if out else [e[SENDER] for e in window]
        distinct = dict.fromkeys((*others, c.m.receiver if out else c.m.sender))
        n = len(distinct)
        lo, hi = self.rules.fan_count_min
        if n < lo:
            return None
        base = self._baseline(p, 1 if out else 2, c)
        count, days = base if base is not None else (0, 1)
        if n * days < self.rules.fan_factor * count:
            return None
        subject = c.m.sender if out else c.m.receiver
        return RuleHit(rule="fan_out" if out else "fan_in", band=2 if n >= hi else 1,
                       values={"counterparties": n, "window_ms": self.rules.fan_window_ms,
                               "baseline_per_day": round(count / days, 3)},
                       movement_ids=_ids(window, c.m), parties=(subject, *distinct))

    def _fan_in(self, c: _Ctx) -> RuleHit | None:
        return self._fan(c, out=False)

    def _fan_out(self, c: _Ctx) -> RuleHit | None:
        return self._fan(c, out=True)

    def _rapid_in_out(self, c: _Ctx) -> RuleHit | None:
        if c.usd is None or c.s.last_ms is None:
            return None
        since = c.m.at_ms - self.rules.rapid_window_ms
        inflows = _recent(c.s.inn, since)
        if not inflows:
            return None
        known = {e[SENDER] for e in c.s.inn if e[AT] < since} | \
            {e[RECEIVER] for e in c.s.out if e[AT] < since}
        new_in = [e for e in inflows if e[SENDER] not in known and e[USD] is not None]
        if c.m.receiver in {e[SENDER] for e in new_in}:
            return None  # money sent back where it came from: a refund, or a cycle's business
        in_usd = sum(e[USD] or 0 for e in new_in)
        floor = c.amounts.rapid_min_usd_minor
        if in_usd < floor:
            return None
        first = new_in[0][AT]
        outflows = [e for e in _recent(c.s.out, first)]
        out_usd = sum(e[USD] or 0 for e in outflows) + c.usd
        if out_usd * 100 < self.rules.rapid_out_percent * in_usd:
            return None
        return RuleHit(rule="rapid_in_out", band=2 if in_usd >= 5 * floor else 1,
                       values={"in_usd_minor": in_usd, "out_usd_minor": out_usd,
                               "window_ms": self.rules.rapid_window_ms,
                               "minutes_since_first_inflow": (c.m.at_ms - first) // 60_000},
                       movement_ids=(*(e[ID] for e in new_in), *_ids(outflows, c.m)),
                       parties=tuple(dict.fromkeys((c.m.sender, *(e[SENDER] for e in new_in),
                                                    *(e[RECEIVER] for e in outflows),
                                                    c.m.receiver))))

    def _cycle(self, c: _Ctx) -> RuleHit | None:
        """Money returning to its origin: a path origin -> ... -> sender in the window, each
        hop later than the one before and passing on most of what it got, closed by this
        movement (sender -> origin)."""
        if c.usd is None or c.usd < c.amounts.cycle_min_usd_minor:
            return None
        origin, (min_edges, max_edges) = c.m.receiver, self.rules.cycle_edges
        since, keep = c.m.at_ms - self.rules.cycle_window_ms, self.rules.cycle_keep_percent
        budget = [CYCLE_EXPANSIONS_MAX]

        def back(node: str, at_ms: int, usd: int, path: list[Edge]) -> list[Edge] | None:
            p = c.s if node == c.m.sender else self._parties.get(node)
            if p is None:
                return None
            for e in reversed(p.inn):
                if e[AT] < since:
                    break
                budget[0] -= 1
                if budget[0] < 0:
                    return None
                e_usd = e[USD]
                # the earlier hop carried at least what this one did (less the fees), and
                # this one passed on at least `keep` percent of it
                if e[AT] > at_ms or e_usd is None or e_usd * 100 > usd * 10_000 // keep \
                        or e_usd * 100 < usd * 95:
                    continue
                edges = len(path) + 2  # e, the path after it, and this movement
                if e[SENDER] == origin and edges >= min_edges:
                    return [e, *path]
                if edges < max_edges and e[SENDER] not in (origin, c.m.sender) and \
                        all(e[SENDER] != x[RECEIVER] for x in path):
                    found = back(e[SENDER], e[AT], e_usd, [e, *path])
                    if found is not None:
                        return found
            return None

        if c.m.sender == origin:
            return None
        path = back(c.m.sender, c.m.at_ms, c.usd, [])
        if path is None:
            return None
        n = len(path) + 1
        parties = (origin, *(e[RECEIVER] for e in path))
        return RuleHit(rule="cycle", band=2 if n >= 4 else 1,
                       values={"edges": n, "origin": origin,
                               "out_usd_minor": path[0][USD], "back_usd_minor": c.usd,
                               "hours": (c.m.at_ms - path[0][AT]) // 3_600_000},
                       movement_ids=_ids(path, c.m), parties=parties)

    def _high_risk_country(self, c: _Ctx) -> RuleHit | None:
        countries = [x for x in (c.m.sender_country, c.m.receiver_country) if x]
        black = [x for x in countries if x in self.rules.fatf_black]
        grey = [x for x in countries if x in self.rules.fatf_grey]
        if not black and not grey:
            return None
        return RuleHit(rule="high_risk_country", band=2 if black else 1,
                       values={"fatf_black": black, "fatf_grey": grey},
                       movement_ids=(c.m.id,), parties=(c.m.sender, c.m.receiver))

    def _dormant(self, c: _Ctx) -> RuleHit | None:
        last = c.s.last_ms
        if last is None or c.usd is None or c.m.at_ms - last < self.rules.dormant_ms:
            return None
        floor = c.amounts.dormant_min_usd_minor
        if c.usd < floor:
            return None
        return RuleHit(rule="dormant", band=2 if c.usd >= 5 * floor else 1,
                       values={"idle_days": (c.m.at_ms - last) // DAY_MS, "usd_minor": c.usd},
                       movement_ids=(c.m.id,), parties=(c.m.sender,))

    def _round_amount(self, c: _Ctx) -> RuleHit | None:
        unit = 10 ** exponent(c.m.currency)
        amount = c.m.amount_minor
        if amount < self.rules.round_min_units * unit:
            return None
        small, big = self.rules.round_units
        band = 2 if amount % (big * unit) == 0 else 1 if amount % (small * unit) == 0 else 0
        if not band:
            return None
        return RuleHit(rule="round_amount", band=band,
                       values={"amount_minor": amount, "currency": c.m.currency},
                       movement_ids=(c.m.id,), parties=(c.m.sender,))

    def _travel_rule(self, c: _Ctx) -> RuleHit | None:
        # a transfer Corridor originates: deposits and withdrawals carry the bank rail's
        # originator and beneficiary data, not the platform's
        if c.m.kind not in TRAVEL_RULE_KINDS:
            return None
        if c.usd is not None and c.usd < c.amounts.travel_rule_usd_minor:
            return None
        m = c.m
        missing = [name for name, v in (("sender", m.sender), ("sender_country",
                                        m.sender_country), ("receiver_name", m.receiver_name),
                                        ("receiver_country", m.receiver_country)) if not v]
        if m.originator is not None or m.beneficiary is not None:  # the payment's own data
            missing += travel_rule.missing(m.originator, m.beneficiary)
        if not missing:
            return None
        return RuleHit(rule="travel_rule", band=1,
                       values={"missing": missing, "usd_minor": c.usd,
                               "rate": "none" if c.usd is None else "reference",
                               "threshold_usd_minor": c.amounts.travel_rule_usd_minor},
                       movement_ids=(m.id,), parties=(m.sender, m.receiver))

    def _new_account(self, c: _Ctx) -> RuleHit | None:
        if c.s.last_ms is not None and c.m.at_ms - c.s.first_ms >= self.rules.new_account_ms:
            return None
        return RuleHit(rule="new_account", band=1,
                       values={"age_ms": c.m.at_ms - c.s.first_ms}, parties=(c.m.sender,))

    def _in_profile(self, c: _Ctx) -> RuleHit | None:
        """A large amount like several the sender made before: its usual business."""
        if c.usd is None or 2 * c.usd < c.amounts.large_usd_minor:
            return None  # only large amounts are weighed against the profile
        floor = c.usd * self.rules.profile_share_percent // 100
        like = [e for e in c.s.out if (e[USD] or 0) >= floor]
        known = [e for e in like if e[RECEIVER] == c.m.receiver]
        if len(like) < self.rules.profile_count_min and not known:
            return None
        return RuleHit(rule="in_profile", band=1,
                       values={"comparable": len(like), "to_this_receiver": len(known),
                               "floor_usd_minor": floor, "history_ms": self.rules.history_ms},
                       movement_ids=tuple(e[ID] for e in like[-5:]), parties=(c.m.sender,))

    def _small_high_risk(self, c: _Ctx) -> RuleHit | None:
        """CFT: small payments, frequent, to high-risk regions (FATF lists, CFT regions)."""
        small = c.amounts.cft_small_usd_minor
        if c.m.receiver_country not in self._high_risk or c.usd is None or c.usd > small:
            return None
        window = [e for e in _recent(c.s.out, c.m.at_ms - self.rules.cft_window_ms)
                  if e[COUNTRY] in self._high_risk and e[USD] is not None and e[USD] <= small]
        n = len(window) + 1
        lo, hi = self.rules.cft_count
        if n < lo:
            return None
        return RuleHit(rule="small_high_risk", band=2 if n >= hi else 1,
                       values={"count": n, "window_ms": self.rules.cft_window_ms,
                               "small_usd_minor": small,
                               "countries": sorted({e[COUNTRY] or "" for e in window}
                                                   | {c.m.receiver_country}),
                               "total_usd_minor": sum(e[USD] or 0 for e in window) + c.usd},
                       movement_ids=_ids(window, c.m),
                       parties=tuple(dict.fromkeys((c.m.sender, *(e[RECEIVER] for e in window),
                                                    c.m.receiver))))

    def _new_account_fan_out(self, c: _Ctx) -> RuleHit | None:
        """CFT: a new account funding many beneficiaries."""
        age = c.m.at_ms - c.s.first_ms
        if c.s.last_ms is not None and age >= self.rules.cft_new_account_ms:
            return None
        out = _recent(c.s.out, c.s.first_ms)
        lo, hi = self.rules.cft_beneficiaries
        if len(out) + 1 < lo:
            return None
        # beneficiaries, not merchants: receivers few others pay
        payers_max = self.rules.cft_beneficiary_payers_max
        beneficiaries = {r: None for r in (*(e[RECEIVER] for e in out), c.m.receiver)
                         if self._payers(r, payers_max + 1) <= payers_max}
        n = len(beneficiaries)
        if n < lo:
            return None
        return RuleHit(rule="new_account_fan_out", band=2 if n >= hi else 1,
                       values={"beneficiaries": n, "age_ms": age,
                               "funded_usd_minor": sum(e[USD] or 0 for e in c.s.inn),
                               "paid_usd_minor": sum(e[USD] or 0 for e in out) + (c.usd or 0)},
                       movement_ids=_ids(out, c.m), parties=(c.m.sender, *beneficiaries))

    def _payers(self, party: str, stop: int) -> int:
        """Distinct senders in `party`'s window (counted up to `stop`)."""
        p = self._parties.get(party)
        if p is None:
            return 0
        seen: set[str] = set()
        for e in reversed(p.inn):
            seen.add(e[SENDER])
            if len(seen) >= stop:
                break
        return len(seen)

    # -- typologies ---------------------------------------------------------------------

    def _score(self, m: Movement, hits: list[RuleHit]) -> list[Finding]:
        by_rule = {h.rule: h for h in hits}
        shadow_rules = self.rules.shadow_rules
        findings = []
        for t in self.rules.typologies:
            anchor = next(iter(t.weights))
            if anchor not in by_rule:
                continue  # the anchor rule did not fire
            total = acting = 0
            fired: list[tuple[RuleHit, int]] = []
            for rule, weights in t.weights.items():
                h = by_rule.get(rule)
                if h is None:
                    continue
                w = weights[min(h.band, len(weights)) - 1]
                total += w
                if rule not in shadow_rules:
                    acting += w
                fired.append((h, w))
            if total < t.alert:
                continue
            # on trial: the typology, its anchor rule, or the weight that carried it over
            shadow = t.name in self.rules.shadow_typologies or anchor in shadow_rules \
                or acting < t.alert
            findings.append(self._finding(m, t, fired, total, acting, shadow))
        return findings

    def _finding(self, m: Movement, t: Typology, fired: list[tuple[RuleHit, int]],
                 total: int, acting: int, shadow: bool) -> Finding:
        score = total if shadow else acting
        outcome = Outcome.DECLINE if t.decline is not None and score >= t.decline else \
            Outcome.BLOCK if t.block is not None and score >= t.block else Outcome.REVIEW
        ids = dict.fromkeys((m.id, *(i for h, _ in fired for i in h.movement_ids)))
        parties = dict.fromkeys(p for h, _ in fired for p in h.parties)
        top = t.decline or t.block or 2 * t.alert
        explanation = {
            "ruleset": self._ruleset_id, "typology": t.name, "score": score,
            "thresholds": {"alert": t.alert, "block": t.block, "decline": t.decline},
            "rules": [{"rule": h.rule, "version": f"{h.rule}/{RULE_VERSIONS[h.rule]}",
                       "band": h.band, "weight": w, "shadow": h.rule in self.rules.shadow_rules,
                       "values": dict(h.values), "movement_ids": list(h.movement_ids),
                       "parties": list(h.parties)} for h, w in fired],
        }
        return Finding(monitor=MONITOR, outcome=outcome, typology=t.name,
                       score=min(1.0, score / top), explanation=explanation,
                       movement_ids=tuple(ids), parties=tuple(parties), shadow=shadow)

    # -- the window -----------------------------------------------------------------------

    def _party(self, name: str, at_ms: int) -> _Party:
        p = self._parties.get(name)
        if p is None:
            p = self._parties[name] = _Party(at_ms)
            while len(self._parties) > self.parties_max:
                self._parties.popitem(last=False)
        else:
            self._parties.move_to_end(name)
        return p

    def learn(self, m: Movement) -> None:
        """Adds `m` to the history of its parties (what `evaluate` does after the rules).
        Movements may come a little out of time order (another process's, learned late):
        each party's edges and day buckets stay in time order."""
        self._learn(m, self.usd_of(m))

    def learn_activity(self, m: Movement) -> None:
        """Only that its parties were active at `m.at_ms`: for movements older than the
        window keeps (`history_ms`), which still tell a dormant account from a new one."""
        self._party(m.sender, m.at_ms).seen(m.at_ms)
        self._party(m.receiver, m.at_ms).seen(m.at_ms)

    @property
    def lookback_ms(self) -> int:
        """How far back the rules look: the movements a rebuilt window needs (the full
        window, and parties' activity as far back as the new-account rule asks, and twice
        the dormancy period: an account idle for up to that long is known as dormant, not
        taken for a new one)."""
        return max(self.rules.history_ms, 2 * self.rules.dormant_ms,
                   self.rules.new_account_ms)

    def _learn(self, m: Movement, usd: int | None) -> None:
        edge: Edge = (m.at_ms, m.id, m.sender, m.receiver, usd, m.amount_minor, m.currency,
                      m.receiver_country)
        day = m.at_ms // DAY_MS
        before = m.at_ms - self.rules.history_ms
        s = self._party(m.sender, m.at_ms)
        s.prune(before)
        s.add(s.out, edge, day, 1)
        r = self._party(m.receiver, m.at_ms)
        r.prune(before)
        r.add(r.inn, edge, day, 2)

    @property
    def parties(self) -> int:
        return len(self._parties)

    def stats(self) -> dict[str, int]:
        """How much the window holds: parties and edges (each edge counted per side)."""
        return {"parties": len(self._parties),
                "edges": sum(len(p.out) + len(p.inn) for p in self._parties.values())}
