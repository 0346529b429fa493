"""Synthetic payment traffic with planted money-laundering typologies (issue 16), for
measuring the AML rules: `corridor compliance aml-traffic` writes it as the CSV that
`corridor compliance eval-aml` reads, with the planted instances beside it.

Deterministic: a seed and `TrafficSettings` reproduce the stream exactly. The background
is made of people and businesses: a migrant worker is paid monthly by an employer and sends
part of it home (one to three family members abroad, a few times a month), pays merchants
in between, and now and then has a busy day; a business is paid by many customers and pays
suppliers at home and abroad. Amounts are log-normal around each party's own typical
amount, in the sender's currency, a share of them round. The planted instances are the
typologies the rules are meant to find, each with its own parties (or a background party
as the subject where the typology needs a history: a velocity spike, a large payment).

The generator knows nothing of the rules' thresholds except what a launderer would know
from the law (a 10,000 reporting threshold, the 1,000 travel-rule threshold), and its rates
differ a little from the monitor's reference rates, as two sources of rates do. Nothing
here imports the platform: rows are plain strings."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import itertools
import math
import random
from collections.abc import Callable

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# The generator's own world rates (USD per unit), a little off the monitor's on purpose.
WORLD_USD: dict[str, float] = {
    "USD": 1.0, "EUR": 1.15, "GBP": 1.31, "SGD": 0.765, "HKD": 0.128, "AED": 0.2723,
    "JPY": 0.0066, "CNY": 0.1395, "PHP": 0.0172, "INR": 0.0114, "MXN": 0.0545,
    "VND": 0.0000385, "KES": 0.00772, "NGN": 0.00066, "PKR": 0.00357, "CAD": 0.715,
    "AUD": 0.655, "KRW": 0.00069, "BRL": 0.183, "ZAR": 0.0565, "IRR": 0.0000238,
    "MMK": 0.00048, "KPW": 0.0011, "ISK": 0.0079, "CHF": 1.24,
}
CURRENCY_OF = {"US": "USD", "SG": "SGD", "HK": "HKD", "GB": "GBP", "DE": "EUR", "FR": "EUR",
               "AE": "AED", "JP": "JPY", "CN": "CNY", "PH": "PHP", "IN": "INR", "MX": "MXN",
               "VN": "VND", "KE": "KES", "NG": "NGN", "PK": "PKR", "CA": "CAD", "AU": "AUD",
               "KR": "KRW", "BR": "BRL", "ZA": "ZAR", "IR": "IRR", "MM": "MMK", "KP": "KPW",
               "IS": "ISK", "CH": "CHF"}
EXPONENT = {"JPY": 0, "VND": 0, "KRW": 0, "ISK": 0}
TYPOLOGIES = ("large_value", "structuring", "velocity_spike", "rapid_in_out", "fan_in",
              "fan_out", "cycle", "high_risk_jurisdiction", "dormant_reactivation",
              "travel_rule", "terrorist_financing_small_payments",
              "terrorist_financing_new_account")
# Where terrorist groups raise and move money, as a typology's author knows them (the
# generator's own list: it does not read the monitor's).
CONFLICT_REGIONS = ("SY", "YE", "SO", "AF", "IQ", "LY", "ML", "NE", "BF", "SD")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TrafficSettings:
    seed: int = 1
    days: int = 365
    customers: int = 1_500
    business_share: float = 0.12
    amount_scale: float = 1.0  # multiplies every background amount
    hosts: tuple[str, ...] = ("US", "SG", "HK", "GB", "DE", "AE", "JP")  # where people work
    homes: tuple[str, ...] = ("CN", "PH", "IN", "MX", "VN", "KE", "NG", "PK")  # send home to
    instances: int = 12  # planted per typology
    spread: float = 1.0  # stretches the planted instances' timing (hold-out: looser)


# Used for the tuning of the rules' defaults, and the settings never tuned on (docs).
TUNE = TrafficSettings()
HOLDOUT = (
    TrafficSettings(seed=7, days=330, customers=2_000, business_share=0.2, amount_scale=1.3,
                    hosts=("US", "CA", "AU", "GB", "CH", "KR"),
                    homes=("CN", "IN", "BR", "ZA", "VN", "MX", "KE"), spread=1.5),
    TrafficSettings(seed=23, days=300, customers=1_000, business_share=0.08,
                    amount_scale=0.7, spread=0.7),
)


@dataclasses.dataclass(frozen=True, slots=True)
class Row:
    id: str
    ts: str
    sender: str
    sender_country: str
    receiver: str
    receiver_country: str
    amount: str
    currency: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Instance:
    """One planted typology and the ids of its payments."""

    typology: str
    payment_ids: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Traffic:
    rows: tuple[Row, ...]
    instances: tuple[Instance, ...]
    background_ids: frozenset[str]

    def csv_text(self) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow([f.name for f in dataclasses.fields(Row)])
        for r in self.rows:
            w.writerow(dataclasses.astuple(r))
        return out.getvalue()


@dataclasses.dataclass(slots=True)
class _Raw:
    at_ms: int
    seq: int
    sender: str
    sender_country: str
    receiver: str
    receiver_country: str
    amount: float  # major units of currency
    currency: str
    tag: int  # -1 background, else the instance's index


@dataclasses.dataclass(slots=True)
class _Person:
    name: str
    country: str
    typical_usd: float
    family: list[tuple[str, str]]
    employer: str


class _Gen:
    def __init__(self, s: TrafficSettings) -> None:
        self.s = s
        self.rng = random.Random(s.seed)
        self.raw: list[_Raw] = []
        self.labels: list[str] = []
        self.seq = 0
        self.end_ms = s.days * DAY_MS

    def add(self, at_ms: int, sender: str, sc: str, receiver: str, rc: str, usd: float,
            currency: str | None = None, tag: int = -1, round_to: float | None = None
            ) -> None:
        currency = currency or CURRENCY_OF.get(sc, "USD")
        amount = usd / WORLD_USD[currency]
        if round_to is None:
            r = self.rng.random()
            round_to = 1000 if r < 0.03 and amount >= 2000 else 100 if r < 0.2 else \
                10 if r < 0.45 else 0.01
        places = EXPONENT.get(currency, 2)
        round_to = max(round_to, 10 ** -places)
        amount = max(round_to, round(amount / round_to) * round_to)
        self.seq += 1
        self.raw.append(_Raw(at_ms, self.seq, sender, sc, receiver, rc, amount, currency, tag))

    def lognormal(self, median: float, sigma: float = 0.6) -> float:
        return median * math.exp(self.rng.gauss(0, sigma))

    # -- background -------------------------------------------------------------------

    def background(self) -> tuple[list[_Person], list[str]]:
        s, rng = self.s, self.rng
        n_biz = max(5, int(s.customers * s.business_share))
        merchants = [f"m{i}" for i in range(n_biz)]
        biz_country = {m: rng.choice(s.hosts) for m in merchants}
        people: list[_Person] = []
        for i in range(s.customers - n_biz):
            home = rng.choice(s.homes)
            country = rng.choice(s.hosts)
            family = [(f"f{i}_{k}", home) for k in range(rng.choice((1, 1, 2, 3)))]
            people.append(_Person(name=f"c{i}", country=country, family=family,
                                  typical_usd=self.lognormal(350 * s.amount_scale, 0.5),
                                  employer=rng.choice(merchants)))
        weights = [1 / (k + 1) ** 0.9 for k in range(n_biz)]  # a few big merchants
        for p in people:
            self._person(p, merchants, weights, biz_country)
        for m in merchants:
            self._business(m, biz_country[m])
        return people, merchants

    def _person(self, p: _Person, merchants: list[str], weights: list[float],
                biz_country: dict[str, str]) -> None:
        rng, s = self.rng, self.s
        salary = p.typical_usd * rng.uniform(4, 8)
        start = rng.randrange(0, 40) * DAY_MS  # customers join over the first weeks
        pay_day = rng.randrange(1, 28)
        months = s.days // 30 + 1
        for month in range(months):
            base = month * 30 * DAY_MS
            t = base + pay_day * DAY_MS + rng.randrange(8, 18) * HOUR_MS
            if start <= t < self.end_ms:
                self.add(t, p.employer, biz_country[p.employer], p.name, p.country,
                         salary * rng.uniform(0.97, 1.03), round_to=0.01)
            for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):  # sending home
                t = base + rng.randrange(30 * DAY_MS)
                if start <= t < self.end_ms:
                    who, home = rng.choice(p.family)
                    self.add(t, p.name, p.country, who, home, self.lognormal(p.typical_usd))
            bills = rng.randrange(2, 9)
            busy = rng.random() < 0.1  # now and then a busy day: several payments at once
            busy_day = base + rng.randrange(30) * DAY_MS
            for k in range(bills + (rng.randrange(2, 5) if busy else 0)):
                t = (busy_day + rng.randrange(14 * HOUR_MS)) if busy and k >= bills else \
                    base + rng.randrange(30 * DAY_MS)
                if start <= t < self.end_ms:
                    m = rng.choices(merchants, weights)[0]
                    self.add(t, p.name, p.country, m, biz_country[m],
                             self.lognormal(45 * s.amount_scale, 0.9))

    def _business(self, m: str, country: str) -> None:
        rng, s = self.rng, self.s
        suppliers = [(f"{m}_s{k}", rng.choice((country, country, *s.homes)))
                     for k in range(rng.randrange(2, 10))]
        typical = self.lognormal(2500 * s.amount_scale, 0.6)
        for month in range(s.days // 30 + 1):
            for _ in range(rng.randrange(1, 6)):
                t = month * 30 * DAY_MS + rng.randrange(30 * DAY_MS)
                if t < self.end_ms:
                    who, rc = rng.choice(suppliers)
                    self.add(t, m, country, who, rc, self.lognormal(typical, 0.5))

    # -- planted ----------------------------------------------------------------------

    def plant(self, people: list[_Person]) -> None:
        plants: dict[str, Callable[[int, str, list[_Person]], None]] = {
            "large_value": self._large, "structuring": self._structuring,
            "velocity_spike": self._velocity, "rapid_in_out": self._rapid,
            "fan_in": self._fan_in, "fan_out": self._fan_out, "cycle": self._cycle,
            "high_risk_jurisdiction": self._high_risk, "dormant_reactivation": self._dormant,
            "travel_rule": self._travel, "terrorist_financing_small_payments": self._tf_small,
            "terrorist_financing_new_account": self._tf_new_account}
        for typology in TYPOLOGIES:
            for _ in range(self.s.instances):
                tag = len(self.labels)
                self.labels.append(typology)
                plants[typology](tag, f"x{tag}", people)

    def _when(self) -> int:
        return self.rng.randrange(60 * DAY_MS, self.end_ms - 10 * DAY_MS)

    def _hours(self, lo: float, hi: float) -> int:
        return int(self.rng.uniform(lo, hi) * self.s.spread * HOUR_MS)

    def _large(self, tag: int, x: str, people: list[_Person]) -> None:
        p = self.rng.choice(people)
        who, home = self.rng.choice(p.family)
        self.add(self._when(), p.name, p.country, who, home, self.rng.uniform(12_000, 80_000),
                 tag=tag)

    def _structuring(self, tag: int, x: str, people: list[_Person]) -> None:
        rng = self.rng
        country = rng.choice(("US", "DE", "SG", "HK", "GB"))
        currency = CURRENCY_OF[country]
        limit_usd = 10_000 * (WORLD_USD[currency] if currency in ("USD", "EUR") else 1)
        t = self._when()
        receivers = [f"{x}r{k}" for k in range(rng.choice((1, 2, 3)))]
        for _k in range(rng.randrange(3, 7)):
            self.add(t, x, country, rng.choice(receivers), rng.choice(self.s.homes),
                     limit_usd * rng.uniform(0.88, 0.99), currency=currency, tag=tag,
                     round_to=rng.choice((0.01, 10, 100)))
            t += self._hours(2, 20)

    def _velocity(self, tag: int, x: str, people: list[_Person]) -> None:
        rng = self.rng
        p = rng.choice(people)
        t = self._when()
        for k in range(rng.randrange(6, 14)):
            self.add(t, p.name, p.country, f"{x}r{k % 4}", rng.choice(self.s.homes),
                     self.lognormal(p.typical_usd), tag=tag)
            t += self._hours(0.2, 1.5)

    def _rapid(self, tag: int, x: str, people: list[_Person]) -> None:
        rng = self.rng
        country = rng.choice(self.s.hosts)
        t = self._when()
        total = 0.0
        for k in range(rng.choice((1, 1, 2, 3))):
            usd = rng.uniform(1_500, 9_000)
            total += usd
            self.add(t, f"{x}s{k}", rng.choice(self.s.hosts), x, country, usd, tag=tag)
            t += self._hours(0.2, 4)
        t += self._hours(1, 16)
        self.add(t, x, country, f"{x}o", rng.choice(self.s.homes),
                 total * rng.uniform(0.85, 0.98), tag=tag)

    def _fan_in(self, tag: int, x: str, people: list[_Person]) -> None:
        rng = self.rng
        country = rng.choice(self.s.hosts)
        t = self._when()
        for k in range(rng.randrange(10, 25)):
            self.add(t, f"{x}s{k}", rng.choice((country, *self.s.hosts)), x, country,
                     rng.uniform(100, 900), tag=tag)
            t += self._hours(0.1, 1.2)

    def _fan_out(self, tag: int, x: str, people: list[_Person]) -> None:
        rng = self.rng
        country = rng.choice(self.s.hosts)
        t = self._when()
        for k in range(rng.randrange(10, 20)):
            self.add(t, x, country, f"{x}r{k}", rng.choice(self.s.homes),
                     rng.uniform(200, 2_000), tag=tag)
            t += self._hours(0.1, 1.2)

    def _cycle(self, tag: int, x: str, people: list[_Person]) -> None:
        rng = self.rng
        hops = [f"{x}h{k}" for k in range(rng.randrange(2, 5))]
        countries = [rng.choice((*self.s.hosts, *self.s.homes)) for _ in hops]
        home = rng.choice(self.s.hosts)
        usd = rng.uniform(5_000, 40_000)
        t = self._when()
        path = [(x, home), *zip(hops, countries, strict=True), (x, home)]
        for (a, ac), (b, bc) in itertools.pairwise(path):
            self.add(t, a, ac, b, bc, usd, tag=tag, round_to=0.01)
            usd *= rng.uniform(0.93, 0.995)
            t += self._hours(1, 30)

    def _high_risk(self, tag: int, x: str, people: list[_Person]) -> None:
        rng = self.rng
        p = rng.choice(people)
        risky = rng.choice(("IR", "KP", "MM"))
        usd = self.lognormal(p.typical_usd * 2)
        if rng.random() < 0.5:
            self.add(self._when(), p.name, p.country, f"{x}r", risky, usd, tag=tag)
        else:
            self.add(self._when(), f"{x}s", risky, p.name, p.country, usd, tag=tag)

    def _dormant(self, tag: int, x: str, people: list[_Person]) -> None:
        rng = self.rng
        country = rng.choice(self.s.hosts)
        t = rng.randrange(0, 40 * DAY_MS)
        for _ in range(rng.randrange(2, 6)):
            self.add(t, x, country, f"{x}r", rng.choice(self.s.homes), rng.uniform(50, 400))
            t += rng.randrange(DAY_MS, 10 * DAY_MS)
        t += rng.randrange(190 * DAY_MS, 240 * DAY_MS)
        if t < self.end_ms:
            self.add(t, x, country, f"{x}n", rng.choice(self.s.homes),
                     rng.uniform(2_000, 30_000), tag=tag)
        else:
            self.labels[tag] = ""  # did not fit in the stream: not an instance

    def _travel(self, tag: int, x: str, people: list[_Person]) -> None:
        rng = self.rng
        p = rng.choice(people)
        who, home = rng.choice(p.family)
        drop_sender = rng.random() < 0.5
        self.add(self._when(), p.name, "" if drop_sender else p.country, who,
                 home if drop_sender else "", rng.uniform(1_100, 6_000), tag=tag)


    def _tf_small(self, tag: int, x: str, people: list[_Person]) -> None:
        """Small, frequent payments to a few people in conflict regions, by an established
        customer (half the time) or one of its own: sums too small to stand out alone."""
        rng = self.rng
        if rng.random() < 0.5:
            p = rng.choice(people)
            sender, country = p.name, p.country
        else:
            sender, country = x, rng.choice(self.s.hosts)
        receivers = [(f"{x}r{k}", rng.choice(CONFLICT_REGIONS))
                     for k in range(rng.choice((1, 2, 3, 4)))]
        t = self._when()
        for _ in range(rng.randrange(6, 14)):
            who, where = rng.choice(receivers)
            self.add(t, sender, country, who, where, rng.uniform(40, 700), tag=tag)
            t += self._hours(3, 18)

    def _tf_new_account(self, tag: int, x: str, people: list[_Person]) -> None:
        """A new account, funded by one or two payments in, pays many beneficiaries small
        sums within days of opening."""
        rng = self.rng
        country = rng.choice(self.s.hosts)
        t = self._when()
        n = rng.randrange(7, 16)
        amounts = [rng.uniform(150, 1_500) for _ in range(n)]
        funders = rng.choice((1, 2))
        for k in range(funders):
            share = sum(amounts) / funders * rng.uniform(1.0, 1.1)
            self.add(t, f"{x}s{k}", rng.choice(self.s.hosts), x, country, share, tag=tag)
            t += self._hours(1, 12)
        for k, usd in enumerate(amounts):
            where = rng.choice((*CONFLICT_REGIONS, *self.s.homes))
            self.add(t, x, country, f"{x}b{k}", where, usd, tag=tag)
            t += self._hours(1, 16)


def generate(settings: TrafficSettings = TUNE) -> Traffic:
    g = _Gen(settings)
    people, _ = g.background()
    g.plant(people)
    g.raw.sort(key=lambda r: (r.at_ms, r.seq))
    rows: list[Row] = []
    by_tag: list[list[str]] = [[] for _ in g.labels]
    background: set[str] = set()
    for n, r in enumerate(g.raw):
        ident = f"t{n:07d}"
        places = EXPONENT.get(r.currency, 2)
        ts = (START + dt.timedelta(milliseconds=r.at_ms)).isoformat().replace("+00:00", "Z")
        rows.append(Row(ident, ts, r.sender, r.sender_country, r.receiver, r.receiver_country,
                        f"{r.amount:.{places}f}", r.currency))
        if r.tag < 0:
            background.add(ident)
        else:
            by_tag[r.tag].append(ident)
    instances = tuple(Instance(typology=label, payment_ids=tuple(ids))
                      for label, ids in zip(g.labels, by_tag, strict=True) if label and ids)
    return Traffic(rows=tuple(rows), instances=instances, background_ids=frozenset(background))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Detection:
    """How many planted instances were flagged (any of their payments), by typology, and
    the share of background payments flagged."""

    instances: int
    detected: int
    by_typology: dict[str, tuple[int, int]]  # typology: (detected, instances)
    background: int
    background_flagged: int

    @property
    def detection_rate(self) -> float:
        return self.detected / self.instances if self.instances else 1.0

    @property
    def false_positive_rate(self) -> float:
        return self.background_flagged / self.background if self.background else 0.0

    def to_json(self) -> dict[str, object]:
        return {"instances": self.instances, "detected": self.detected,
                "detection_rate": round(self.detection_rate, 4),
                "background_payments": self.background,
                "background_flagged": self.background_flagged,
                "background_flagged_rate": round(self.false_positive_rate, 5),
                "by_typology": {k: {"detected": d, "instances": n}
                                for k, (d, n) in sorted(self.by_typology.items())}}


def detection(traffic: Traffic, flagged: set[str] | frozenset[str]) -> Detection:
    by: dict[str, tuple[int, int]] = {}
    detected = 0
    for inst in traffic.instances:
        hit = any(i in flagged for i in inst.payment_ids)
        detected += hit
        d, n = by.get(inst.typology, (0, 0))
        by[inst.typology] = (d + hit, n + 1)
    return Detection(instances=len(traffic.instances), detected=detected, by_typology=by,
                     background=len(traffic.background_ids),
                     background_flagged=len(traffic.background_ids & flagged))
