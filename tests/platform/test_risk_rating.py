"""The customer risk rating as a pure function (issue 16): each factor group gives points
with its evidence, the thresholds give the level, overrides make a FATF "call for action"
country or an open sanctions hit high risk, the policy is data, and the level sets the
re-review interval. PEP entries are told by their list or programme."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from corridor.platform.domain import risk
from corridor.platform.domain.compliance import Alert, AlertState
from corridor.platform.domain.kyc import Risk
from corridor.platform.domain.risk import POLICY, RiskInputs, RiskPolicy
from corridor.platform.services import risk as risk_service

PLAIN = RiskInputs(corporate=False, country="GB", declared_usd_minor=500_000)


def names(r: risk.Rating) -> dict[str, int]:
    return {f.name: f.points for f in r.factors}


def test_a_plain_customer_is_low_with_no_factor() -> None:
    r = risk.rate(PLAIN)
    assert (r.level, r.points, r.factors, r.policy) == (Risk.LOW, 0, (), POLICY.version)


@pytest.mark.parametrize(("country", "level", "factor"), [
    ("KP", Risk.HIGH, "country_black"), ("ir", Risk.HIGH, "country_black"),
    ("VN", Risk.MEDIUM, "country_grey"), ("DE", Risk.LOW, None), (None, Risk.LOW, None)])
def test_the_country_of_residence_or_incorporation(country: str | None, level: Risk,
                                                   factor: str | None) -> None:
    r = risk.rate(dataclasses.replace(PLAIN, country=country))
    assert r.level == level
    if factor is None:
        assert r.factors == ()
    else:
        [f] = r.factors
        assert f.name == factor and f.evidence == {"country": (country or "").upper()}


def test_product_use_adds_up_to_medium() -> None:
    corporate = risk.rate(dataclasses.replace(PLAIN, corporate=True))
    assert names(corporate) == {"corporate": POLICY.corporate_points}
    assert corporate.level == Risk.LOW
    both = risk.rate(dataclasses.replace(PLAIN, corporate=True, cross_border_payments=3,
                                         country="VN"))
    assert names(both) == {"corporate": 10, "cross_border": 10, "country_grey": 25}
    assert both.points == 45 and both.level == Risk.MEDIUM
    [cross] = [f for f in both.factors if f.name == "cross_border"]
    assert cross.evidence == {"payments": 3, "window_days": POLICY.window_days}


@pytest.mark.parametrize(("volume", "factor"), [
    (100_000, None), (250_000, None), (250_001, "volume_half"), (500_000, "volume_half"),
    (500_001, "volume_over")])
def test_volume_against_what_the_tier_declares(volume: int, factor: str | None) -> None:
    r = risk.rate(dataclasses.replace(PLAIN, volume_usd_minor=volume))
    assert [f.name for f in r.factors] == ([factor] if factor else [])
    if factor:
        assert r.factors[0].evidence["volume_usd_minor"] == volume
        assert r.factors[0].evidence["declared_usd_minor"] == 500_000


def test_list_proximity() -> None:
    assert risk.rate(dataclasses.replace(PLAIN, open_hits=1)).level == Risk.HIGH
    cleared = risk.rate(dataclasses.replace(PLAIN, cleared_hits=2))
    assert names(cleared) == {"sanctions_cleared": 10} and cleared.level == Risk.LOW
    pep = risk.rate(dataclasses.replace(PLAIN, pep_hits=1))
    assert names(pep) == {"pep": 30} and pep.level == Risk.MEDIUM


def test_behaviour_points_are_capped() -> None:
    few = risk.rate(dataclasses.replace(PLAIN, alerts=1))
    assert names(few) == {"alerts": 10}
    many = risk.rate(dataclasses.replace(PLAIN, alerts=9, cases=5, holds=4))
    assert names(many) == {"alerts": 30, "cases": 20, "holds": 15}
    assert many.level == Risk.HIGH


def test_the_policy_is_data() -> None:
    strict = RiskPolicy(version="strict-1", medium_min=5, high_min=60)
    r = risk.rate(dataclasses.replace(PLAIN, alerts=1), strict)
    assert (r.level, r.policy) == (Risk.MEDIUM, "strict-1")
    with pytest.raises(AssertionError):
        RiskPolicy(medium_min=50, high_min=25)
    with pytest.raises(AssertionError):
        RiskPolicy(review_years=((Risk.HIGH, 3), (Risk.MEDIUM, 2), (Risk.LOW, 1)))


def test_the_level_sets_the_re_review_interval() -> None:
    at = int(dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC).timestamp() * 1000) + 7
    due = {level: dt.datetime.fromtimestamp(risk.review_due_ms(at, level) / 1000, dt.UTC)
           for level in Risk}
    assert due[Risk.HIGH] == dt.datetime(2025, 2, 28, 12, 0, 0, 7000, tzinfo=dt.UTC)
    assert due[Risk.MEDIUM].year == 2026 and due[Risk.LOW].year == 2027
    quick = RiskPolicy(review_years=((Risk.HIGH, 1), (Risk.MEDIUM, 1), (Risk.LOW, 1)))
    assert risk.review_due_ms(at, Risk.LOW, quick) == risk.review_due_ms(at, Risk.HIGH)


def test_higher_of_two_levels() -> None:
    assert risk.higher(Risk.LOW, Risk.HIGH) == Risk.HIGH
    assert risk.higher("medium", Risk.LOW) == Risk.MEDIUM
    assert risk.higher(None, Risk.LOW) == Risk.LOW and risk.higher(None, None) is None


@pytest.mark.parametrize(("list_name", "programmes", "pep"), [
    ("opensanctions-peps", [], True), ("eu-pep", [], True), ("us-csl", ["role.pep"], True),
    ("us-csl", ["CYBER2"], False), ("ofac-sdn", ["PEPPER-TRADING"], False),
    ("peppercorn", [], False)])
def test_pep_entries_are_told_by_list_or_programme(list_name: str, programmes: list[str],
                                                   pep: bool) -> None:
    alert = Alert(id="a", case_id="c", monitor="screening", typology="sanctions",
                  outcome="review", score_milli=900,
                  explanation={"hits": [{"list": list_name, "programmes": programmes}]},
                  movement_ids=(), parties=("p",), subject_type="user", subject_id="u",
                  source_type="kyc", source_id="k", state=AlertState.OPEN, created_ms=0,
                  updated_ms=0)
    assert risk_service.is_pep(alert) is pep
