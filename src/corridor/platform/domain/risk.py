"""Customer risk rating (issue 16): a pure, explained score of how risky a customer is, from
what the platform knows of them, which sets how soon their KYC record is reviewed again.

Five groups of factors each give points, and each factor says why with the values it
used: where the customer lives or is incorporated (FATF lists), the product they use
(an organisation; payments across borders), volume against what their tier declares,
proximity to the sanctions and PEP lists (list hits open or cleared), and behaviour (AML
alerts, compliance cases, held movements in the recent window). The points against the
policy's thresholds give the level; the level gives the re-review interval. A country on
the FATF "call for action" list, or an open sanctions hit, makes the customer high risk
whatever the rest says.

The policy is data (`RiskPolicy`), versioned, so a stored rating says by which rules it
was made. Everything here is pure: the services gather `RiskInputs` and store the result.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from corridor.platform.domain.aml.config import FATF_BLACK, FATF_GREY
from corridor.platform.domain.kyc import Risk

DAY_MS = 86_400_000
TRIGGER_LEN_MAX = 32


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RiskPolicy:
    """Points per factor, the level thresholds and re-review intervals: the rating's rules
    as data. `version` names them in every stored rating."""

    version: str = "risk-1"
    window_days: int = 90  # behaviour and volume look back this far
    fatf_black: frozenset[str] = FATF_BLACK
    fatf_grey: frozenset[str] = FATF_GREY
    country_black_points: int = 60
    country_grey_points: int = 25
    corporate_points: int = 10
    cross_border_points: int = 10
    volume_over_points: int = 25  # the window's volume above what the tier declares
    volume_half_points: int = 10  # above half of it
    open_hit_points: int = 60  # an open sanctions hit on the customer
    cleared_hit_points: int = 10  # a hit an officer cleared: still near a listed name
    pep_points: int = 30  # a hit on a politically exposed person's entry
    alert_points: int = 10  # each AML alert in the window ...
    alerts_points_max: int = 30  # ... up to this
    case_points: int = 10  # each case opened in the window ...
    cases_points_max: int = 20
    hold_points: int = 15  # any movement held in the window
    medium_min: int = 25  # points from which a customer is medium risk
    high_min: int = 50  # and high risk
    review_years: tuple[tuple[Risk, int], ...] = (
        (Risk.HIGH, 1), (Risk.MEDIUM, 2), (Risk.LOW, 3))

    def __post_init__(self) -> None:
        assert 0 < self.medium_min < self.high_min
        assert self.window_days > 0
        years = dict(self.review_years)
        assert set(years) == set(Risk)
        assert years[Risk.HIGH] <= years[Risk.MEDIUM] <= years[Risk.LOW]
        assert self.country_black_points >= self.high_min  # overrides, as documented
        assert self.open_hit_points >= self.high_min

    @property
    def window_ms(self) -> int:
        return self.window_days * DAY_MS

    def years_of(self, level: Risk) -> int:
        return dict(self.review_years)[level]


POLICY = RiskPolicy()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RiskInputs:
    """What the rating is computed from, gathered by the services. Volumes are minor units
    of USD; `declared_usd_minor` is what the customer's tier declares they may hold (its
    balance cap), the yardstick for the window's volume."""

    corporate: bool
    country: str | None  # residence or incorporation, ISO 3166 alpha-2
    cross_border_payments: int = 0  # in the window: remittances and bank payouts
    volume_usd_minor: int = 0  # sent in the window
    declared_usd_minor: int = 0
    open_hits: int = 0  # sanctions alerts still open
    cleared_hits: int = 0  # sanctions alerts cleared as false positives
    pep_hits: int = 0  # of those, hits on PEP entries
    alerts: int = 0  # other (AML) alerts in the window
    cases: int = 0  # compliance cases opened in the window
    holds: int = 0  # alerts in the window that held a movement


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Factor:
    """One reason for points: its name (a stable key the pages translate), the points,
    and the values it was judged on."""

    name: str
    points: int
    evidence: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Rating:
    """The outcome: the level, total points, every factor that gave points, and the rules."""

    level: Risk
    points: int
    factors: tuple[Factor, ...]
    policy: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RiskRating:
    """A rating as stored: one row per change of a customer's rating, with what caused
    its computation (`trigger`: kyc_accept, alert, case_close, list, review...)."""

    id: str
    subject_type: str
    subject_id: str
    level: Risk
    points: int
    factors: tuple[Factor, ...]
    policy: str
    trigger: str
    computed_ms: int


def rate(inputs: RiskInputs, policy: RiskPolicy = POLICY) -> Rating:
    """The customer's rating from `inputs`, with every factor that gave points."""
    factors = [f for f in (*_country(inputs, policy), *_product(inputs, policy),
                           *_volume(inputs, policy), *_lists(inputs, policy),
                           *_behaviour(inputs, policy)) if f.points > 0]
    points = sum(f.points for f in factors)
    level = (Risk.HIGH if points >= policy.high_min
             else Risk.MEDIUM if points >= policy.medium_min else Risk.LOW)
    return Rating(level=level, points=points, factors=tuple(factors), policy=policy.version)


def _country(i: RiskInputs, p: RiskPolicy) -> list[Factor]:
    code = (i.country or "").upper()
    if code in p.fatf_black:
        return [Factor(name="country_black", points=p.country_black_points,
                       evidence={"country": code})]
    if code in p.fatf_grey:
        return [Factor(name="country_grey", points=p.country_grey_points,
                       evidence={"country": code})]
    return []


def _product(i: RiskInputs, p: RiskPolicy) -> list[Factor]:
    out = []
    if i.corporate:
        out.append(Factor(name="corporate", points=p.corporate_points, evidence={}))
    if i.cross_border_payments > 0:
        out.append(Factor(name="cross_border", points=p.cross_border_points,
                          evidence={"payments": i.cross_border_payments,
                                    "window_days": p.window_days}))
    return out


def _volume(i: RiskInputs, p: RiskPolicy) -> list[Factor]:
    evidence = {"volume_usd_minor": i.volume_usd_minor,
                "declared_usd_minor": i.declared_usd_minor, "window_days": p.window_days}
    if i.volume_usd_minor <= 0:
        return []
    if i.declared_usd_minor <= 0 or i.volume_usd_minor > i.declared_usd_minor:
        return [Factor(name="volume_over", points=p.volume_over_points, evidence=evidence)]
    if 2 * i.volume_usd_minor > i.declared_usd_minor:
        return [Factor(name="volume_half", points=p.volume_half_points, evidence=evidence)]
    return []


def _lists(i: RiskInputs, p: RiskPolicy) -> list[Factor]:
    out = []
    if i.open_hits:
        out.append(Factor(name="sanctions_open", points=p.open_hit_points,
                          evidence={"hits": i.open_hits}))
    if i.cleared_hits:
        out.append(Factor(name="sanctions_cleared", points=p.cleared_hit_points,
                          evidence={"hits": i.cleared_hits}))
    if i.pep_hits:
        out.append(Factor(name="pep", points=p.pep_points, evidence={"hits": i.pep_hits}))
    return out


def _behaviour(i: RiskInputs, p: RiskPolicy) -> list[Factor]:
    days = {"window_days": p.window_days}
    return [
        Factor(name="alerts", points=min(p.alerts_points_max, i.alerts * p.alert_points),
               evidence={"alerts": i.alerts, **days}),
        Factor(name="cases", points=min(p.cases_points_max, i.cases * p.case_points),
               evidence={"cases": i.cases, **days}),
        Factor(name="holds", points=p.hold_points if i.holds else 0,
               evidence={"holds": i.holds, **days}),
    ]


def higher(a: Risk | str | None, b: Risk | str | None) -> Risk | None:
    """The riskier of two levels (None counts as no opinion)."""
    order = (Risk.LOW, Risk.MEDIUM, Risk.HIGH)
    given = [Risk(x) for x in (a, b) if x is not None]
    return max(given, key=order.index) if given else None


def review_due_ms(decided_ms: int, level: Risk, policy: RiskPolicy = POLICY) -> int:
    """When a customer accepted at `decided_ms` with this level is due for re-review: the
    same instant, N calendar years on (29 February becomes 28 February)."""
    years = policy.years_of(level)
    at = dt.datetime.fromtimestamp(decided_ms // 1000, dt.UTC)
    try:
        later = at.replace(year=at.year + years)
    except ValueError:
        later = at.replace(year=at.year + years, day=28)
    return int(later.timestamp()) * 1000 + decided_ms % 1000


def same(a: Rating, b: RiskRating) -> bool:
    """Whether a fresh rating says what the stored one does (then nothing is stored)."""
    return (a.level, a.points, a.factors, a.policy) == (b.level, b.points, b.factors, b.policy)
