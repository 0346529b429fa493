"""The AML window remembers (issue 16): rebuilt from the store's records at start, so a
platform restarted over the same database flags structuring that spans the restart; kept up
with the records of other processes, so two engines over one database see each other's
movements, each learned once; partial history said in the findings while warming."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.aml.config import DAY_MS
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.monitoring import Movement, MovementKind
from corridor.platform.services import aml_window
from corridor.platform.services.aml_window import AmlWindow, MemoryMovementLog, read_since
from tests.platform.conftest import Actor, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.wallet_fakes import CountingKeyGen

T0 = 1_780_000_000_000


def move(i: int, at_ms: int, sender: str = "alice", receiver: str = "bob",
         usd: int = 950_000) -> Movement:
    """A payment of `usd` cents: 9,500 USD is just under the 10,000 reporting threshold."""
    return Movement(id=f"m{i}", kind=MovementKind.PAYMENT, at_ms=at_ms, sender=sender,
                    sender_country="GB", receiver=receiver, receiver_country="GB",
                    receiver_name="Bob Receiver", amount_minor=usd, currency="USD",
                    usd_minor=usd)


class Clock:
    def __init__(self, now_ms: int) -> None:
        self.now = now_ms

    def now_ms(self) -> int:
        return self.now


def typologies(findings: Sequence[Any]) -> set[str]:
    return {f.typology for f in findings}


# --- the port and the cursor ------------------------------------------------------------------


def test_reading_since_pages_through_records_of_one_instant_without_loss_or_repeat() -> None:
    log = MemoryMovementLog()
    for i in range(23):  # many records share a time: the offset walks through them
        log.add(move(i, T0 + (i // 7) * 1000))
    got = [m.id for m in read_since(log, T0, page_max=3)]
    assert sorted(got) == sorted(f"m{i}" for i in range(23))
    assert len(got) == len(set(got)) == 23
    assert [m.id for m in read_since(log, T0 + 2000, page_max=4)] == \
        [m.id for m in log.page(T0 + 2000, offset=0, limit=100)]


def test_the_rebuilt_window_flags_what_began_before_it_and_names_no_one() -> None:
    log, clock = MemoryMovementLog(), Clock(T0 + DAY_MS)
    for i in range(3):
        log.add(move(i, T0 + i * 3_600_000))
    assert all(m.receiver_name is None for m in log.records)  # names are not kept
    window = AmlWindow(log, clock)
    window.warm(background=False)
    assert window.status().state == aml_window.WARM and window.status().learned == 3
    findings = window.evaluate(move(9, clock.now))
    assert "structuring" in typologies(findings)
    s = next(f for f in findings if f.typology == "structuring")
    assert {"m0", "m1", "m2", "m9"} <= set(s.movement_ids)
    assert "history" not in s.explanation  # warm: the whole history was there
    blind = AmlWindow(MemoryMovementLog(), clock)
    blind.warm(background=False)
    assert "structuring" not in typologies(blind.evaluate(move(9, clock.now)))


def test_old_records_give_activity_only_so_a_dormant_account_is_known_as_one() -> None:
    log, clock = MemoryMovementLog(), Clock(T0 + 200 * DAY_MS)
    log.add(move(1, T0, usd=20_000))  # 200 days ago: outside the 40-day window
    window = AmlWindow(log, clock)
    window.warm(background=False)
    assert window.engine.stats()["edges"] == 0  # not kept as an edge ...
    findings = window.evaluate(move(2, clock.now, receiver="carol", usd=600_000))
    dormant = [f for f in findings if f.typology == "dormant_reactivation"]
    assert dormant, typologies(findings)  # ... but the party's last activity is known


def test_a_second_engine_catches_up_with_the_first_and_learns_each_movement_once() -> None:
    log, clock = MemoryMovementLog(), Clock(T0)
    a, b = AmlWindow(log, clock, catch_up_ms=0), AmlWindow(log, clock, catch_up_ms=0)
    a.warm(background=False)
    b.warm(background=False)
    for i in range(2):  # two just under the threshold through engine a, recorded
        clock.now += 3_600_000
        m = move(i, clock.now)
        a.evaluate(m)
        log.add(m)
    clock.now += 3_600_000
    findings = b.evaluate(move(5, clock.now))  # b's catch-up reads a's two first
    assert "structuring" in typologies(findings)
    log.add(move(5, clock.now))
    assert b.catch_up() == 0  # its own, and a's, already learned: nothing twice
    assert a.catch_up() == 1  # b's movement, once
    assert a.catch_up() == 0
    edges = a.engine.stats()["edges"]
    assert edges == 6  # three movements, each an edge of its sender and its receiver


def test_the_timer_catches_up_only_once_warm_and_until_closed() -> None:
    log, clock = MemoryMovementLog(), Clock(T0)
    window = AmlWindow(log, clock)
    log.add(move(1, T0))
    assert window.tick() == 0  # cold: the rebuild reads the store, not the timer
    window.warm(background=False)
    assert window.status().learned == 1
    log.add(move(2, T0 + 1))
    assert window.tick() == 1 and window.tick() == 0
    window.close()
    log.add(move(3, T0 + 2))
    assert window.tick() == 0


def test_a_started_platform_keeps_its_window_caught_up_on_a_timer(sides: Sides) -> None:
    side = sides.open()
    side.platform.warm_monitors()
    timer = side.platform.aml_catch_up
    assert timer is not None and timer.running and timer.window is side.window
    side.platform.stop_workers()
    assert side.platform.aml_catch_up is None and not timer.running


class _Gated(MemoryMovementLog):
    """A store whose first read waits for the test's word: the window stays warming."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()

    def page(self, since_ms: int, *, offset: int, limit: int) -> Sequence[Movement]:
        assert self.go.wait(10)
        return super().page(since_ms, offset=offset, limit=limit)


def test_while_warming_findings_say_history_was_partial() -> None:
    log, clock = _Gated(), Clock(T0)
    window = AmlWindow(log, clock)
    findings = window.evaluate(move(1, T0, usd=5_000_000))  # starts the rebuild
    assert window.status().state == aml_window.WARMING
    large = next(f for f in findings if f.typology == "large_value")
    assert large.explanation["history"] == "partial"
    log.go.set()
    assert window.wait_warm(10)
    after = window.evaluate(move(2, T0 + 1, usd=5_000_000, receiver="carol"))
    assert "history" not in next(f for f in after if f.typology == "large_value").explanation
    window.close()


# --- over the platform's database -------------------------------------------------------------


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@dataclasses.dataclass
class Side:
    platform: bootstrap.Platform
    client: TestClient

    @property
    def window(self) -> AmlWindow:
        found = [m for m in self.platform.deps.monitors if isinstance(m, AmlWindow)]
        assert len(found) == 1
        return found[0]


class Sides:
    """Platforms (API processes) over one database, opened and closed as a test says."""

    def __init__(self, settings: Settings, chain: FakeChain) -> None:
        self.settings, self.chain, self.clock = settings, chain, FakeClock()
        self.open_now: list[Side] = []

    def open(self) -> Side:
        p = bootstrap.build(self.settings, clock=self.clock, ledger=self.chain,
                            keygen=CountingKeyGen())
        side = Side(p, TestClient(create_app(p)))
        side.client.__enter__()
        self.open_now.append(side)
        return side

    def close(self, side: Side) -> None:
        self.open_now.remove(side)
        side.client.__exit__(None, None, None)
        side.platform.close()


@pytest.fixture
def sides(settings: Settings, chain: FakeChain) -> Iterator[Sides]:
    made = Sides(settings, chain)
    yield made
    for side in list(made.open_now):
        made.close(side)


def pay(side: Side, who: Actor, amount: str) -> dict[str, Any]:
    r = side.client.post("/v1/payments", headers=who.creating,
                         json={"recipient": {"type": "user", "email": "erin@example.com"},
                               "asset": "USD", "amount": amount})
    assert r.status_code == 201, r.text
    return dict(r.json())


def verified(platform: bootstrap.Platform, user_id: str, country: str) -> None:
    """Tier 2 with a name and an address: the travel rule's originator/beneficiary data."""
    kyc(platform, user_id, 2)
    deps = platform.deps
    with deps.uow() as uow:
        rec = uow.repo(KycCustomer).one(subject_type="user", subject_id=user_id)
        assert rec is not None
        data = json.dumps({"first_name": "Pat", "last_name": "Customer",
                           "address_country_code": country, "address": "1 Main Street",
                           "city": "Capital", "postal_code": "10001"}).encode()
        uow.repo(KycCustomer).update(dataclasses.replace(
            rec, data_enc=deps.sealer.seal(data, f"kyc-customer:{rec.id}")))
        uow.commit()


def alert_typologies(side: Side, payment_id: str) -> set[str]:
    from corridor.platform.domain.compliance import Alert

    with side.platform.deps.uow() as uow:
        return {a.typology for a in uow.repo(Alert).many(source_id=payment_id)}


def test_a_restarted_platform_holds_structuring_that_spans_the_restart(
        sides: Sides, chain: FakeChain) -> None:
    first = sides.open()
    alice = make_user(first.platform, email="frank@example.com", name="Frank Sender")
    erin = make_user(first.platform, email="erin@example.com", name="Erin Receiver")
    verified(first.platform, alice.user.id, "GB")
    verified(first.platform, erin.user.id, "DE")
    wallet = open_wallet(first.platform, alice.user.id)
    open_wallet(first.platform, erin.user.id)
    chain.fund(wallet.address, "USD", 5_000_000)
    for _ in range(2):  # two just under the reporting threshold: not yet a pattern
        p = pay(first, alice, "9500.00")
        assert p["status"] == "submitted", _explained(first, p["id"])
    sides.close(first)
    second = sides.open()  # the restart: a new process over the same database
    second.window.warm()
    assert second.window.wait_warm(30)
    assert second.window.status().learned == 2
    p = pay(second, alice, "9500.00")
    assert p["status"] == "on_hold", p
    assert "structuring" in alert_typologies(second, p["id"])


def test_two_platforms_over_one_database_see_each_others_movements(
        sides: Sides) -> None:
    a, b = sides.open(), sides.open()
    for side in (a, b):
        side.window.warm(background=False)
    deps = a.platform.deps
    now = deps.clock.now_ms()

    def through(side: Side, m: Movement) -> set[str]:
        found = typologies(side.window.evaluate(m))
        with side.platform.deps.uow() as uow:  # what the payment path records
            aml_window.remember(uow, m)
            uow.commit()
        return found

    assert "structuring" not in through(a, move(1, now))
    assert "structuring" not in through(b, move(2, now + 1))
    b.window.catch_up()
    assert "structuring" in through(b, move(3, now + 2))  # a's first, its own second
    a.window.catch_up()
    assert "structuring" in through(a, move(4, now + 3))  # b's two
    assert a.window.catch_up() == 0 and b.window.catch_up() == 1  # a's fourth, once


def _explained(side: Side, payment_id: str) -> list[object]:
    from corridor.platform.domain.compliance import Alert

    with side.platform.deps.uow() as uow:
        return [a.explanation for a in uow.repo(Alert).many(source_id=payment_id)]
