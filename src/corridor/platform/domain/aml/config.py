"""The AML rule set as data (issue 16): thresholds per currency, corridor and customer risk,
the FATF lists, the typologies' weights and thresholds, and which rules or typologies are in
shadow mode. A `RuleSet` is immutable; its `version` names it and `fingerprint` (a hash of
every value) changes whenever any threshold does, so every finding's explanation says
exactly which rules decided it.

Scoring follows Tazama: each rule returns a band (0 = did not fire, 1, 2 = stronger); a
typology gives each (rule, band) a weight; the sum against the typology's thresholds gives
the outcome (alert -> review, block -> block-and-review, decline -> refuse)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# Limits on the engine's memory and work (STYLE 12): what each party's window may hold.
HISTORY_MS_MAX = 60 * DAY_MS  # no rule looks further back than this
EDGES_PER_PARTY_MAX = 256  # movements kept per party and direction
BASELINE_DAYS_MAX = 60
CYCLE_DEPTH_MAX = 6
CYCLE_EXPANSIONS_MAX = 400  # edges one cycle search may visit

RULES = ("large_amount", "structuring", "velocity", "rapid_in_out", "fan_in", "fan_out",
         "cycle", "high_risk_country", "dormant", "round_amount", "travel_rule",
         "new_account", "in_profile", "small_high_risk", "new_account_fan_out")

# FATF public statements, October 2025 plenary: "call for action" (black) and "increased
# monitoring" (grey). Data, replaced when the FATF publishes (three times a year).
FATF_BLACK = frozenset({"KP", "IR", "MM"})
FATF_GREY = frozenset({"DZ", "AO", "BO", "BG", "CM", "CI", "CD", "HT", "KE", "LA", "LB",
                       "MC", "NA", "NP", "SS", "SY", "VE", "VN", "VG", "YE"})

# Counter-terrorist financing: regions where designated terrorist organisations operate and
# raise or move funds (UN 1267/1988/2368 monitoring team reports, FATF's 2015 "Emerging
# terrorist financing risks" and its ISIL/AQ/affiliates updates). With the FATF lists they
# are the destinations of the CFT typologies. Data, reviewed with the FATF lists.
CFT_REGIONS = frozenset({"AF", "BF", "CF", "IQ", "LY", "ML", "MZ", "NE", "NG", "PK", "PS",
                         "SD", "SO", "SY", "YE"})


def _canonical(value: object) -> object:
    """`value` with sets and mappings sorted: a repr that is the same in every process
    (a frozenset's order depends on the string hash seed)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, [(f.name, _canonical(getattr(value, f.name)))
                                       for f in dataclasses.fields(value)])
    if isinstance(value, Mapping):
        return sorted((repr(k), repr(_canonical(v))) for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return sorted(repr(v) for v in value)
    if isinstance(value, tuple):
        return [_canonical(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Amounts:
    """The USD-denominated thresholds (cents). Overridable per corridor, scaled by risk."""

    large_usd_minor: int = 1_000_000  # 10,000 USD: the large-value report
    report_usd_minor: int = 1_000_000  # the reporting threshold structuring stays under
    travel_rule_usd_minor: int = 100_000  # FATF R.16: 1,000 USD/EUR
    rapid_min_usd_minor: int = 200_000  # inflows worth watching pass through
    cycle_min_usd_minor: int = 100_000
    dormant_min_usd_minor: int = 100_000
    # CFT: "small" payments to high-risk regions (terrorist financing is mostly small sums)
    cft_small_usd_minor: int = 100_000


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Typology:
    """Weights per rule and band (index 0 is band 1), and the score thresholds. The first
    rule of `weights` is the typology's anchor: without it the typology is not scored (two
    supporting signals do not make a fan-out without a fan-out)."""

    name: str
    weights: Mapping[str, tuple[int, ...]]
    alert: int = 100
    block: int | None = None
    decline: int | None = None

    def __post_init__(self) -> None:
        assert self.weights and set(self.weights) <= set(RULES), self.weights
        assert all(1 <= len(w) <= 2 for w in self.weights.values())
        assert min(next(iter(self.weights.values()))) > 0, "the anchor rule weighs for"
        assert self.block is None or self.block >= self.alert
        assert self.decline is None or self.decline >= (self.block or self.alert)


DEFAULT_TYPOLOGIES: tuple[Typology, ...] = (
    # a large amount like several the sender made before (`in_profile`: a business paying
    # its suppliers) alerts only when very large or with another signal
    Typology(name="large_value", weights={"large_amount": (100, 200), "round_amount": (10, 20),
                                          "high_risk_country": (50, 400),
                                          "in_profile": (-60,)}, block=400),
    Typology(name="structuring", weights={"structuring": (100, 200), "round_amount": (10, 20)},
             block=300),
    Typology(name="velocity_spike", weights={"velocity": (100, 200), "dormant": (50, 50)},
             block=300),
    Typology(name="rapid_in_out", weights={"rapid_in_out": (100, 200), "fan_in": (30, 60),
                                           "new_account": (20, 20)}, block=300),
    Typology(name="fan_in", weights={"fan_in": (100, 200), "new_account": (20, 20)}),
    Typology(name="fan_out", weights={"fan_out": (100, 200), "new_account": (30, 30),
                                      "high_risk_country": (30, 100)}, block=300),
    Typology(name="cycle", weights={"cycle": (100, 200), "round_amount": (10, 20)}, block=300),
    Typology(name="high_risk_jurisdiction",
             weights={"high_risk_country": (40, 400), "large_amount": (60, 100),
                      "round_amount": (10, 20), "travel_rule": (60, 60),
                      "velocity": (60, 60), "fan_out": (60, 60), "in_profile": (-60,)},
             block=400),
    Typology(name="dormant_reactivation", weights={"dormant": (100, 150), "velocity": (50, 100),
                                                   "fan_out": (50, 100)}, block=300),
    Typology(name="travel_rule", weights={"travel_rule": (100, 100)}),
    # Counter-terrorist financing (issue 16): typologies of their own
    Typology(name="terrorist_financing_small_payments",
             weights={"small_high_risk": (100, 200), "new_account": (20, 20),
                      "high_risk_country": (0, 100)}, block=300),
    Typology(name="terrorist_financing_new_account",
             weights={"new_account_fan_out": (100, 200), "small_high_risk": (40, 80),
                      "high_risk_country": (20, 100)}, block=300),
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    """Every threshold of the AML rules. Replace fields with `dataclasses.replace`."""

    version: str = "aml-2026.12"
    amounts: Amounts = Amounts()
    # per currency: the reporting/large threshold in the currency's own minor units, where a
    # regulator sets one in that currency (it then replaces the USD equivalent for it)
    local_report_minor: Mapping[str, int] = dataclasses.field(
        default_factory=lambda: {"EUR": 1_000_000, "CNY": 5_000_000})
    # per corridor (sender country, receiver country): other USD thresholds
    corridor_amounts: Mapping[tuple[str, str], Amounts] = dataclasses.field(
        default_factory=dict)
    # per customer risk level: amount thresholds scale by percent (high risk: half)
    risk_percent: Mapping[str, int] = dataclasses.field(
        default_factory=lambda: {"low": 100, "medium": 100, "high": 50})
    fatf_black: frozenset[str] = FATF_BLACK
    fatf_grey: frozenset[str] = FATF_GREY
    structuring_window_ms: int = 3 * DAY_MS
    structuring_lower_percent: int = 85  # "just under": 85-100 % of the threshold
    structuring_count: tuple[int, int] = (3, 5)  # bands 1 and 2
    velocity_window_ms: int = DAY_MS
    velocity_baseline_days: int = 30
    velocity_history_days_min: int = 14  # a baseline needs this much history
    velocity_count_min: tuple[int, int] = (5, 10)
    velocity_factor: tuple[int, int] = (5, 10)  # times the daily baseline
    rapid_window_ms: int = DAY_MS
    rapid_out_percent: int = 80  # of the new inflows leaving again
    fan_window_ms: int = DAY_MS
    fan_count_min: tuple[int, int] = (8, 16)  # distinct counterparties in the window
    fan_factor: int = 4  # times the party's own daily baseline of movements
    cycle_window_ms: int = 7 * DAY_MS
    cycle_edges: tuple[int, int] = (3, 5)  # origin -> ... -> origin: edges, min and max
    cycle_keep_percent: int = 70  # each hop passes on at least this share of the last
    dormant_ms: int = 180 * DAY_MS
    round_units: tuple[int, int] = (100, 1_000)  # major units: bands 1 and 2
    round_min_units: int = 500
    new_account_ms: int = 7 * DAY_MS
    # in profile: the sender made at least this many payments of at least this share of the
    # amount in its window, or one to the same receiver (a large amount it makes routinely,
    # or to a counterparty it pays such sums)
    profile_count_min: int = 3
    profile_share_percent: int = 50
    # CFT, small payments: to a high-risk region (FATF lists and `cft_regions`), each at most
    # `Amounts.cft_small_usd_minor`, this many (bands 1 and 2) by one sender in the window
    cft_regions: frozenset[str] = CFT_REGIONS
    cft_window_ms: int = 7 * DAY_MS
    cft_count: tuple[int, int] = (5, 10)
    # CFT, a new account funding many beneficiaries: distinct receivers (bands 1 and 2)
    # paid by an account younger than `cft_new_account_ms`, each paid by at most
    # `cft_beneficiary_payers_max` parties (people, not the merchants everyone pays)
    cft_new_account_ms: int = 14 * DAY_MS
    cft_beneficiaries: tuple[int, int] = (6, 12)
    cft_beneficiary_payers_max: int = 3
    history_ms: int = 40 * DAY_MS  # how long a party's movements are kept
    typologies: tuple[Typology, ...] = DEFAULT_TYPOLOGIES
    shadow_rules: frozenset[str] = frozenset()
    shadow_typologies: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        assert self.history_ms <= HISTORY_MS_MAX
        for w in (self.structuring_window_ms, self.velocity_window_ms, self.rapid_window_ms,
                  self.fan_window_ms, self.cycle_window_ms, self.cft_window_ms,
                  self.cft_new_account_ms):
            assert 0 < w <= self.history_ms, w
        assert self.velocity_baseline_days <= BASELINE_DAYS_MAX
        assert 2 <= self.cycle_edges[0] <= self.cycle_edges[1] <= CYCLE_DEPTH_MAX
        assert 0 < self.structuring_lower_percent < 100
        assert self.shadow_rules <= set(RULES), self.shadow_rules
        assert self.shadow_typologies <= {t.name for t in self.typologies}

    @property
    def fingerprint(self) -> str:
        """A short hash of every value: two rule sets decide alike iff it is equal."""
        return hashlib.sha256(repr(_canonical(self)).encode()).hexdigest()[:12]

    @property
    def id(self) -> str:
        return f"{self.version}+{self.fingerprint}"

    def amounts_for(self, sender_country: str | None, receiver_country: str | None,
                    risk: str) -> Amounts:
        base = self.corridor_amounts.get((sender_country or "", receiver_country or ""),
                                         self.amounts)
        pct = self.risk_percent.get(risk, 100)
        if pct == 100:
            return base
        return Amounts(**{f.name: getattr(base, f.name) * pct // 100
                          for f in dataclasses.fields(Amounts)})
