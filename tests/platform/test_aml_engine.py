"""The AML engine (issue 16): each rule fires on its typology and not on a near miss;
shadow mode; what a finding explains; thresholds per currency, corridor and risk; exact USD
conversion; the window stays bounded."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from corridor.platform.domain.aml import config as aml_config
from corridor.platform.domain.aml.config import DAY_MS, HOUR_MS, Amounts, RuleSet
from corridor.platform.domain.aml.engine import AmlEngine
from corridor.platform.domain.aml.rates import UsdRates
from corridor.platform.domain.monitoring import Finding, Movement, MovementKind, Outcome, outcome_of

T0 = 400 * DAY_MS  # well after the epoch, so "days of history" are counted from here
_ids = itertools.count()


def mv(sender: str, receiver: str, amount: str, *, at_h: float = 0, currency: str = "USD",
       sc: str | None = "US", rc: str | None = "GB", name: str | None = "Beneficiary",
       ident: str | None = None) -> Movement:
    whole, _, frac = amount.partition(".")
    places = {"JPY": 0, "KWD": 3}.get(currency, 2)
    minor = int(whole) * 10 ** places + int((frac + "000")[:places] or "0")
    return Movement(id=ident or f"m{next(_ids)}", kind=MovementKind.PAYMENT,
                    at_ms=T0 + int(at_h * HOUR_MS), sender=sender, sender_country=sc,
                    receiver=receiver, receiver_country=rc, receiver_name=name,
                    amount_minor=minor, currency=currency)


def typologies(findings: list[Finding] | tuple[Finding, ...]) -> set[str]:
    return {f.typology for f in findings if not f.shadow}


def run(engine: AmlEngine, movements: list[Movement]) -> list[Finding]:
    """Evaluates all; returns the last one's findings."""
    out: list[Finding] = []
    for m in movements:
        out = list(engine.evaluate(m))
    return out


def test_large_amount_at_the_threshold_not_a_cent_below() -> None:
    e = AmlEngine()
    assert "large_value" in typologies(e.evaluate(mv("a", "b", "10000.00")))
    assert typologies(e.evaluate(mv("c", "d", "9999.99"))) == set()


def test_large_amount_in_other_currencies_by_reference_rate() -> None:
    e = AmlEngine()
    # 1,600,000 JPY at 0.0065 = 10,400 USD; 1,500,000 JPY = 9,750 USD
    assert "large_value" in typologies(e.evaluate(mv("a", "b", "1600000", currency="JPY")))
    assert "large_value" not in typologies(e.evaluate(mv("c", "d", "1500000",
                                                         currency="JPY")))
    # EUR has its own threshold in euros (10,000 EUR), not the USD equivalent
    assert "large_value" in typologies(e.evaluate(mv("e", "f", "10000.00", currency="EUR")))
    assert "large_value" not in typologies(e.evaluate(mv("g", "h", "9999.99",
                                                         currency="EUR")))


def test_structuring_three_just_under_in_the_window() -> None:
    e = AmlEngine()
    got = run(e, [mv("s", "r1", "9400.00", at_h=0), mv("s", "r2", "9650.10", at_h=20),
                  mv("s", "r1", "9810.00", at_h=40)])
    assert "structuring" in typologies(got)
    f = next(f for f in got if f.typology == "structuring")
    assert len(f.movement_ids) == 3 and {"s", "r1", "r2"} <= set(f.parties)


@pytest.mark.parametrize("amounts,hours", [
    (("9400", "9650", "8000"), (0, 20, 40)),  # the last is not "just under" (< 85 %)
    (("9400", "9650", "9810"), (0, 40, 80)),  # spread beyond the 72 h window
    (("9400", "9650"), (0, 20)),  # only two
])
def test_structuring_near_misses(amounts: tuple[str, ...], hours: tuple[int, ...]) -> None:
    e = AmlEngine()
    got = run(e, [mv("s", "r", a, at_h=h) for a, h in zip(amounts, hours, strict=True)])
    assert "structuring" not in typologies(got)


def _baseline(e: AmlEngine, party: str, days: int = 30, every_h: float = 48) -> float:
    """`party` pays once every `every_h` hours for `days` days, ending at T0 - 1 day."""
    start = -days * 24
    h = start
    while h < -24:
        e.evaluate(mv(party, f"{party}-shop", "40.00", at_h=h))
        h += every_h
    return h


def test_velocity_spike_against_own_baseline() -> None:
    e = AmlEngine()
    _baseline(e, "v")  # 0.5 payments a day
    got = run(e, [mv("v", f"new{k}", "80.00", at_h=k * 0.5) for k in range(5)])
    assert "velocity_spike" in typologies(got)
    hit = next(r for f in got for r in f.explanation["rules"] if r["rule"] == "velocity")
    assert hit["values"]["count"] == 5 and hit["values"]["baseline_per_day"] == 0.5


def test_velocity_near_miss_and_a_busy_party_is_not_a_spike() -> None:
    e = AmlEngine()
    _baseline(e, "v")
    assert "velocity_spike" not in typologies(
        run(e, [mv("v", f"new{k}", "80.00", at_h=k * 0.5) for k in range(4)]))
    busy = AmlEngine()
    _baseline(busy, "b", every_h=8)  # 3 a day: 6 in a day is only twice its normal
    assert "velocity_spike" not in typologies(
        run(busy, [mv("b", f"n{k}", "80.00", at_h=k) for k in range(6)]))


def test_rapid_in_and_out() -> None:
    e = AmlEngine()
    e.evaluate(mv("x", "y", "20.00", at_h=-24 * 40))  # an account with some past
    run(e, [mv("s1", "mule", "3000.00", at_h=0), mv("s2", "mule", "2500.00", at_h=1)])
    assert "rapid_in_out" in typologies(e.evaluate(mv("mule", "out", "5000.00", at_h=5)))
    e2 = AmlEngine()
    run(e2, [mv("s1", "m2", "3000.00", at_h=0), mv("s2", "m2", "2500.00", at_h=1)])
    # near misses: only 60 % leaves; and the same amount leaving two days later
    assert "rapid_in_out" not in typologies(e2.evaluate(mv("m2", "out", "3300.00", at_h=5)))
    e3 = AmlEngine()
    run(e3, [mv("s1", "m3", "3000.00", at_h=0), mv("s2", "m3", "2500.00", at_h=1)])
    assert "rapid_in_out" not in typologies(e3.evaluate(mv("m3", "out", "5000.00", at_h=50)))


def test_fan_in_and_fan_out_at_eight_counterparties_not_seven() -> None:
    e = AmlEngine()
    fan_in = [mv(f"s{k}", "collector", "300.00", at_h=k) for k in range(8)]
    assert "fan_in" not in typologies(run(e, fan_in[:7]))
    got = e.evaluate(fan_in[7])
    assert "fan_in" in typologies(got)
    f = next(f for f in got if f.typology == "fan_in")
    assert len(f.movement_ids) == 8 and "collector" in f.parties
    e = AmlEngine()
    fan_out = [mv("hub", f"r{k}", "300.00", at_h=k) for k in range(8)]
    assert "fan_out" not in typologies(run(e, fan_out[:7]))
    assert "fan_out" in typologies(e.evaluate(fan_out[7]))


def test_cycle_back_to_origin_through_intermediaries() -> None:
    e = AmlEngine()
    run(e, [mv("o", "h1", "10000.00", at_h=0), mv("h1", "h2", "9800.00", at_h=5)])
    got = e.evaluate(mv("h2", "o", "9600.00", at_h=9))
    assert "cycle" in typologies(got)
    f = next(f for f in got if f.typology == "cycle")
    assert set(f.parties) == {"o", "h1", "h2"} and len(f.movement_ids) == 3
    rule = next(r for r in f.explanation["rules"] if r["rule"] == "cycle")
    assert rule["values"]["edges"] == 3 and rule["values"]["origin"] == "o"


@pytest.mark.parametrize("back", [
    ("h2", "p", "9600.00", 9),  # to someone else: no cycle
    ("h2", "o", "15000.00", 9),  # more came back than went out: not the same money
    ("h2", "o", "9600.00", 24 * 8),  # beyond the 7-day window
])
def test_cycle_near_misses(back: tuple[str, str, str, int]) -> None:
    e = AmlEngine()
    run(e, [mv("o", "h1", "10000.00", at_h=0), mv("h1", "h2", "9800.00", at_h=5)])
    s, r, a, h = back
    assert "cycle" not in typologies(e.evaluate(mv(s, r, a, at_h=h)))


def test_two_party_round_trip_is_not_a_cycle() -> None:
    e = AmlEngine()  # a loan and its repayment: one intermediary is not layering
    e.evaluate(mv("a", "b", "5000.00"))
    assert "cycle" not in typologies(e.evaluate(mv("b", "a", "5000.00", at_h=30)))


def test_high_risk_jurisdictions() -> None:
    e = AmlEngine()
    black = e.evaluate(mv("a", "b", "150.00", rc="IR"))
    assert "high_risk_jurisdiction" in typologies(black)
    assert outcome_of(black) == Outcome.BLOCK
    grey = e.evaluate(mv("c", "d", "150.00", rc="VN"))  # grey list alone: no alert
    assert "high_risk_jurisdiction" not in typologies(grey)
    grey_large = e.evaluate(mv("e", "f", "12000.00", rc="VN", ident="gl"))
    assert "high_risk_jurisdiction" in typologies(grey_large)


def test_dormant_account_suddenly_active() -> None:
    e = AmlEngine()
    e.evaluate(mv("d", "r", "50.00", at_h=-24 * 200))
    assert "dormant_reactivation" in typologies(e.evaluate(mv("d", "n", "2500.00")))
    e2 = AmlEngine()
    e2.evaluate(mv("d", "r", "50.00", at_h=-24 * 100))  # 100 days idle: not dormant
    assert "dormant_reactivation" not in typologies(e2.evaluate(mv("d", "n", "2500.00")))
    e3 = AmlEngine()
    e3.evaluate(mv("d", "r", "50.00", at_h=-24 * 200))  # dormant, but a small payment
    assert "dormant_reactivation" not in typologies(e3.evaluate(mv("d", "n", "80.00")))


def test_round_amount_adds_weight_but_never_alerts_alone() -> None:
    e = AmlEngine()
    assert e.evaluate(mv("a", "b", "5000.00")) == []
    got = e.evaluate(mv("c", "d", "20000.00"))
    large = next(f for f in got if f.typology == "large_value")
    rules = {r["rule"]: r for r in large.explanation["rules"]}
    assert rules["round_amount"]["band"] == 2 and rules["large_amount"]["band"] == 1
    assert large.explanation["score"] == 120
    plain = next(f for f in e.evaluate(mv("g", "h", "20000.37")) if f.typology == "large_value")
    assert plain.explanation["score"] == 100


def test_travel_rule_completeness() -> None:
    e = AmlEngine()
    got = e.evaluate(mv("a", "b", "1000.00", rc=None))
    assert "travel_rule" in typologies(got)
    rule = next(f for f in got if f.typology == "travel_rule").explanation["rules"][0]
    assert rule["values"]["missing"] == ["receiver_country"]
    assert e.evaluate(mv("a", "b", "999.99", rc=None)) == []
    assert "travel_rule" not in typologies(e.evaluate(mv("a", "b", "1000.00")))
    missing_name = e.evaluate(mv("c", "d", "3000.00", name=None, sc=None))
    rule = next(f for f in missing_name if f.typology == "travel_rule").explanation["rules"][0]
    assert rule["values"]["missing"] == ["sender_country", "receiver_name"]


def test_unrated_currency_is_treated_conservatively() -> None:
    e = AmlEngine()  # a valid ISO 4217 code with no reference rate: amounts unknown
    got = e.evaluate(mv("a", "b", "50.00", currency="FJD", rc=None))
    rule = next(f for f in got if f.typology == "travel_rule").explanation["rules"][0]
    assert rule["values"]["rate"] == "none" and rule["values"]["usd_minor"] is None
    assert "large_value" not in typologies(e.evaluate(mv("c", "d", "99999.00",
                                                         currency="FJD")))


def test_usd_conversion_is_exact_decimal() -> None:
    rates = UsdRates()
    assert rates.usd_minor(1_000_000, "JPY") == 650_000  # 1,000,000 JPY x 0.0065 = 6,500.00
    assert rates.usd_minor(1_000, "KWD") == 326  # 1.000 KWD x 3.26
    assert rates.usd_minor(333, "EUR") == 386  # 3.33 x 1.16 = 3.8628, rounded down
    assert rates.usd_minor(5, "XXX") is None
    assert rates.minor_of_usd(1_000_000, "CNY") == 7_092_198  # 10,000 / 0.141


def test_the_quote_rate_wins_over_the_reference_rate() -> None:
    e = AmlEngine()
    m = dataclasses.replace(mv("a", "b", "100.00", currency="HKD"), usd_minor=1_500_000)
    assert "large_value" in typologies(e.evaluate(m))


def test_thresholds_per_corridor_and_customer_risk() -> None:
    rules = RuleSet(corridor_amounts={("US", "MX"): Amounts(large_usd_minor=300_000)})
    e = AmlEngine(rules)
    assert "large_value" in typologies(e.evaluate(mv("a", "b", "3000.00", rc="MX")))
    assert "large_value" not in typologies(e.evaluate(mv("a", "b", "3000.00", rc="GB")))
    e.set_risk("risky", "high")  # high risk: half the amount thresholds
    assert "large_value" in typologies(e.evaluate(mv("risky", "c", "5000.00")))
    assert "large_value" not in typologies(e.evaluate(mv("calm", "c", "5000.00")))
    # in a currency with its own threshold too (EUR 10,000 -> 5,000)
    # (to another receiver: a second such sum to "c" would be in the sender's profile)
    assert "large_value" in typologies(e.evaluate(mv("risky", "d", "5000.00",
                                                     currency="EUR")))
    assert "large_value" not in typologies(e.evaluate(mv("calm", "d", "5000.00",
                                                         currency="EUR")))


def test_shadow_rule_is_recorded_but_never_acts() -> None:
    e = AmlEngine(RuleSet(shadow_rules=frozenset({"large_amount"})))
    got = e.evaluate(mv("a", "b", "20000.00"))
    large = next(f for f in got if f.typology == "large_value")
    assert large.shadow and outcome_of(got) == Outcome.APPROVE
    rule = next(r for r in large.explanation["rules"] if r["rule"] == "large_amount")
    assert rule["shadow"] is True
    # the other rules still act
    assert "travel_rule" in typologies(e.evaluate(mv("a", "b", "2000.00", rc=None)))


def test_a_typology_whose_anchor_is_in_shadow_does_not_act() -> None:
    e = AmlEngine(RuleSet(shadow_rules=frozenset({"high_risk_country"})))
    # large (60) + travel rule (60) would carry high_risk_jurisdiction without its anchor
    got = e.evaluate(mv("a", "b", "12000.37", rc="VN", name=None))
    hrj = [f for f in got if f.typology == "high_risk_jurisdiction"]
    assert [f.shadow for f in hrj] == [True]
    assert {f.typology for f in got if not f.shadow} == {"large_value", "travel_rule"}


def test_shadow_typology() -> None:
    e = AmlEngine(RuleSet(shadow_typologies=frozenset({"travel_rule"})))
    got = e.evaluate(mv("a", "b", "2000.00", rc=None))
    assert [f.shadow for f in got if f.typology == "travel_rule"] == [True]
    assert outcome_of(got) == Outcome.APPROVE
    assert outcome_of(e.evaluate(mv("a", "b", "20000.00"))) == Outcome.REVIEW


def test_explanation_names_ruleset_rules_values_payments_parties() -> None:
    rules = RuleSet()
    e = AmlEngine(rules)
    f = next(f for f in e.evaluate(mv("alice", "bob", "60000.00", ident="p-1"))
             if f.typology == "large_value")
    x = f.explanation
    assert x["ruleset"] == rules.id and x["ruleset"].startswith("aml-2026.12+")
    assert x["typology"] == "large_value" and x["thresholds"]["alert"] == 100
    large = next(r for r in x["rules"] if r["rule"] == "large_amount")
    assert large["version"] == "large_amount/1" and large["band"] == 2
    assert large["values"]["amount_minor"] == 6_000_000
    assert large["values"]["threshold_minor"] == 1_000_000
    assert large["movement_ids"] == ["p-1"] and large["parties"] == ["alice", "bob"]
    assert f.movement_ids == ("p-1",) and f.parties == ("alice", "bob")
    assert f.monitor == "aml" and 0 < f.score <= 1


def test_ruleset_id_changes_with_any_threshold_and_is_stable() -> None:
    a, b = RuleSet(), RuleSet()
    assert a.id == b.id
    assert dataclasses.replace(a, fan_count_min=(9, 16)).id != a.id
    assert dataclasses.replace(a, fatf_grey=a.fatf_grey | {"PA"}).id != a.id


def test_window_memory_is_bounded() -> None:
    e = AmlEngine(parties_max=50)
    for k in range(aml_config.EDGES_PER_PARTY_MAX + 200):
        e.learn(mv("busy", f"r{k % 500}", "10.00", at_h=k * 0.01))
    stats = e.stats()
    assert stats["parties"] == 50  # the least recently used forgotten
    busy = e._parties["busy"]
    assert len(busy.out) == aml_config.EDGES_PER_PARTY_MAX
    assert len(busy.days) <= aml_config.BASELINE_DAYS_MAX + 1
    # and nothing older than the history window is kept
    e.learn(mv("busy", "late", "10.00", at_h=24 * 45))
    assert [edge[3] for edge in busy.out] == ["late"]


def test_evaluation_does_not_change_what_rules_see_before_learning() -> None:
    e = AmlEngine()
    m = mv("a", "b", "9500.00")
    assert e.rule_hits(m) == e.rule_hits(m)
    assert e.stats() == {"parties": 0, "edges": 0}


def test_stream_amounts_exact_and_every_bad_line_named() -> None:
    from corridor.platform.domain.aml import stream

    head = "id,ts,sender,sender_country,receiver,receiver_country,amount,currency,note\n"
    ok = list(stream.read_stream(head + "a,2026-01-01T00:00:00.250Z,s,us,r,,1.234,KWD,x\n"
                                 "b,2026-01-01T00:00:01+00:00,s,US,r,PH,1200,JPY,\n"))
    assert [(m.amount_minor, m.currency, m.sender_country, m.receiver_country)
            for m in ok] == [(1234, "KWD", "US", None), (1200, "JPY", "US", "PH")]
    assert ok[0].at_ms % 1000 == 250
    bad = (head + "a,2026-01-01T08:00:00+08:00,s,US,r,PH,10,USD,\n"
           "b,2026-01-01T09:00:00Z,s,US,r,XX,10,USD,\n"
           "c,2026-01-01T09:00:00Z,s,US,r,PH,10.5,JPY,\n"
           "c,2026-01-01T09:00:00Z,s,US,r,PH,-1,USD,\n")
    with pytest.raises(stream.StreamError) as err:
        list(stream.read_stream(bad))
    text = str(err.value)
    for expected in ("line 2: ts", "line 3: receiver_country 'XX'",
                     "line 4: amount '10.5' has more decimals than JPY",
                     "line 5: id 'c' appears twice"):
        assert expected in text, text


def test_a_large_amount_in_the_senders_profile_alerts_only_when_very_large() -> None:
    e = AmlEngine()
    assert "large_value" in typologies(e.evaluate(mv("biz", "supplier", "12000.00")))
    # the same supplier again, a like sum: its usual business
    again = e.evaluate(mv("biz", "supplier", "11000.00", at_h=200))
    assert "large_value" not in typologies(again)
    # a like sum to someone new, after three like ones: in profile too
    e.evaluate(mv("biz", "other", "9000.00", at_h=300))
    assert "large_value" not in typologies(e.evaluate(mv("biz", "new", "12500.00", at_h=400)))
    # five times its usual: out of profile, and very large
    huge = next(f for f in e.evaluate(mv("biz", "supplier", "60000.00", at_h=500))
                if f.typology == "large_value")
    assert "in_profile" not in [r["rule"] for r in huge.explanation["rules"]]
    # in profile: a grey-listed country is not enough; a black-listed one still is, the
    # mitigation shown with its weight
    assert "large_value" not in typologies(
        e.evaluate(mv("biz", "supplier", "11234.56", rc="KE", at_h=600)))
    risky = next(f for f in e.evaluate(mv("biz", "supplier", "11234.56", rc="IR", at_h=700))
                 if f.typology == "large_value")
    weights = {r["rule"]: r["weight"] for r in risky.explanation["rules"]}
    assert weights == {"large_amount": 100, "high_risk_country": 400, "in_profile": -60}
    f = next(iter(e.evaluate(mv("person", "family", "15234.56", at_h=500))))
    assert f.typology == "large_value"
    assert [r["rule"] for r in f.explanation["rules"]] == ["large_amount"]


def test_small_frequent_payments_to_high_risk_regions_are_terrorist_financing() -> None:
    e = AmlEngine()
    # four small sums to Somalia and Yemen in a few days: below the count
    for k in range(4):
        assert not typologies(e.evaluate(mv("s", f"r{k % 2}", "300.00", rc="SO" if k % 2
                                            else "YE", at_h=10 * k)))
    got = e.evaluate(mv("s", "r0", "250.00", rc="YE", at_h=45))
    tf = next(f for f in got if f.typology == "terrorist_financing_small_payments")
    rule = tf.explanation["rules"][0]
    assert rule["rule"] == "small_high_risk" and rule["values"]["count"] == 5
    assert rule["values"]["countries"] == ["SO", "YE"]
    assert len(tf.movement_ids) == 5
    # the same rhythm home to a country on no list, or in large sums, is not
    calm = AmlEngine()
    for k in range(8):
        assert not typologies(calm.evaluate(mv("m", "mum", "300.00", rc="PH", at_h=10 * k)))
    big = AmlEngine()
    for k in range(6):
        found = typologies(big.evaluate(mv("b", "x", "2500.00", rc="YE", at_h=10 * k)))
        assert "terrorist_financing_small_payments" not in found


def test_a_new_account_funding_many_beneficiaries_is_terrorist_financing() -> None:
    e = AmlEngine()
    e.evaluate(mv("funder", "fresh", "5000.00", at_h=0))
    got: set[str] = set()
    for k in range(6):
        got = typologies(e.evaluate(mv("fresh", f"b{k}", "700.00", rc="PK", at_h=2 + 5 * k)))
        if k < 5:
            assert "terrorist_financing_new_account" not in got
    assert "terrorist_financing_new_account" in got
    # paying six merchants many others pay is a new customer's shopping, not funding
    shop = AmlEngine()
    for m in range(6):
        for k in range(4):
            shop.evaluate(mv(f"other{k}", f"shop{m}", "40.00", at_h=-100))
    for m in range(6):
        got = typologies(shop.evaluate(mv("newbie", f"shop{m}", "40.00", at_h=m)))
    assert "terrorist_financing_new_account" not in got
    # an old account paying six people is not new
    old = AmlEngine()
    old.evaluate(mv("old", "x", "10.00", at_h=0))
    for k in range(6):
        got = typologies(old.evaluate(mv("old", f"p{k}", "700.00", rc="PK", at_h=24 * 20 + k)))
    assert "terrorist_financing_new_account" not in got
