"""The synthetic AML traffic: deterministic by seed, every typology planted, and the
production rules find the planted instances without flagging much of the background (a
small run; the full figures come from `corridor bench aml`)."""

from __future__ import annotations

import dataclasses

from corridor.platform.domain.aml import stream
from corridor.sim import aml_traffic

SMALL = dataclasses.replace(aml_traffic.TUNE, seed=5, customers=150, days=300, instances=3)


def test_deterministic_by_seed_and_every_typology_planted() -> None:
    a, b = aml_traffic.generate(SMALL), aml_traffic.generate(SMALL)
    assert a.csv_text() == b.csv_text()
    assert aml_traffic.generate(dataclasses.replace(SMALL, seed=6)).csv_text() != a.csv_text()
    assert {i.typology for i in a.instances} == set(aml_traffic.TYPOLOGIES)
    planted = {p for i in a.instances for p in i.payment_ids}
    assert not planted & a.background_ids
    assert len(planted) + len(a.background_ids) == len(a.rows)


def test_rules_find_the_planted_instances() -> None:
    traffic = aml_traffic.generate(SMALL)
    result = stream.evaluate(stream.read_stream(traffic.csv_text()))
    assert result.evaluated == len(traffic.rows)
    d = aml_traffic.detection(traffic, set(result.flagged_payment_ids))
    assert d.detection_rate >= 0.9, d.to_json()
    assert d.false_positive_rate <= 0.02, d.to_json()
