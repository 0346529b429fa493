"""The AML rules engine in the payment path's list of monitors (bootstrap.monitors_of):
present by default after the sanctions screener, absent when switched off, no monitor at
all for the benchmark's "off" leg, and what it finds is what the engine finds
(tests/platform/test_compliance_cases.py shows any monitor's findings hold or reject a
payment)."""

from __future__ import annotations

import dataclasses
import threading

from corridor.platform import bootstrap
from corridor.platform.config import Settings, load_settings
from corridor.platform.domain.monitoring import Movement, MovementKind, Outcome
from corridor.platform.services.ports import Deps
from tests.platform.conftest import settings  # noqa: F401  (fixture)

T0 = 1_780_000_000_000


def large(i: int) -> Movement:
    return Movement(id=f"p{i}", kind=MovementKind.PAYMENT, at_ms=T0 + i, sender="alice",
                    sender_country="GB", receiver=f"r{i}", receiver_country="GB",
                    receiver_name="Bo Wang", amount_minor=2_500_000, currency="USD",
                    usd_minor=2_500_000)


def test_the_aml_engine_joins_the_monitors_unless_switched_off(
        settings: Settings) -> None:  # noqa: F811
    off = bootstrap.monitors_of(_deps(dataclasses.replace(settings, aml_monitoring=False)))
    assert [m.name for m in off] == ["screening", "authenticity"]
    assert bootstrap.monitors_of(_deps(dataclasses.replace(settings, compliance_off=True))) \
        == ()
    platform = bootstrap.build(settings)
    on = platform.deps.monitors
    assert [m.name for m in on] == ["screening", "aml", "authenticity"]
    findings = on[1].evaluate(large(1))
    platform.close()
    large_value = [f for f in findings if f.typology == "large_value"]
    assert large_value and large_value[0].outcome >= Outcome.REVIEW
    assert "large_amount" in str(large_value[0].explanation)


def test_the_engine_is_shared_between_threads_one_evaluation_at_a_time(
        settings: Settings) -> None:  # noqa: F811
    platform = bootstrap.build(settings)
    aml = platform.deps.monitors[1]
    errors: list[BaseException] = []

    def work(base: int) -> None:
        try:
            for i in range(200):
                aml.evaluate(large(base + i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    platform.close()
    assert errors == []


def test_the_setting_reads_from_the_environment() -> None:
    assert load_settings({"CORRIDOR_AML_MONITORING": "0"}).aml_monitoring is False
    assert load_settings({}).aml_monitoring is True
    assert load_settings({}).compliance_off is False
    assert load_settings({"CORRIDOR_COMPLIANCE_OFF": "1"}).compliance_off is True


def _deps(settings: Settings) -> Deps:  # noqa: F811
    """A built platform's dependencies (monitors_of reads only its settings and makes a
    screener over it)."""
    platform = bootstrap.build(settings)
    platform.close()
    return platform.deps
