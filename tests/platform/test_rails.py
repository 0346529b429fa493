"""The rails' webhook (signature, freshness, replay, malformed events), the simulated
bank (delivery over HTTP and in-process, retries, seeded failures), the rules of
domain/rails.py, and the production switches (dev API gone, default secret refused)."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.adapters.sim_bank import SimBank, SimBankConfig, in_process, over_http
from corridor.platform.config import RAIL_WEBHOOK_SECRET_FILE, Settings, production_problems
from corridor.platform.domain import rails as dom
from corridor.platform.domain.errors import Problems
from corridor.platform.domain.rails import RailEvent
from corridor.platform.services import rails
from tests.platform.conftest import Actor, make_staff
from tests.platform.rails_fakes import (
    IBAN_OK,
    create_deposit,
    grant_tier,
    rails_platform,  # noqa: F401  (the `platform` fixture: no node, deterministic keys)
    sim_of,
    transfers,
)

URL = "/v1/rails/sim-bank/webhook"
SECRET = b"a-rail-webhook-secret-the-tests-know-" + b"x" * 8


@pytest.fixture(name="settings")
def known_secret(settings: Settings) -> Settings:
    """The tests sign events themselves: the platform shares this secret with them."""
    return dataclasses.replace(settings, rail_webhook_secret=SECRET.decode())


def signed(event: dict[str, Any], *, at_s: int, secret: bytes = SECRET
           ) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {rails.TIMESTAMP_HEADER: str(at_s),
                  rails.SIGNATURE_HEADER: dom.sign(secret, at_s, body)}


def funds_event(reference: str, event_id: str = "evt-1", amount_minor: int = 25000
                ) -> dict[str, Any]:
    return {"id": event_id, "type": "transfer.received",
            "data": {"reference": reference, "amount_minor": amount_minor, "currency": "USD",
                     "rail_ref": "SBT1"}}


def now_s(platform: bootstrap.Platform) -> int:
    return platform.deps.clock.now_ms() // 1000


def events(platform: bootstrap.Platform) -> list[RailEvent]:
    with platform.deps.uow() as uow:
        return uow.repo(RailEvent).many()


def test_signed_event_is_handled_once(client: TestClient, platform: bootstrap.Platform,
                                      customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    d = create_deposit(client, customer)
    body, headers = signed(funds_event(d["reference"]), at_s=now_s(platform))
    r = client.post(URL, content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"event_id": "evt-1", "duplicate": False, "outcome": "deposit minting"}
    # The same bytes again (a replay inside the tolerance), and a fresh signature of the
    # same event id (the bank's redelivery): acknowledged, nothing done twice.
    assert client.post(URL, content=body, headers=headers).json()["duplicate"] is True
    body2, headers2 = signed(funds_event(d["reference"]), at_s=now_s(platform) + 1)
    assert client.post(URL, content=body2, headers=headers2).json()["duplicate"] is True
    assert len(transfers(platform)) == 1 and len(events(platform)) == 1


def test_bad_signatures_are_refused_and_change_nothing(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    d = create_deposit(client, customer)
    at = now_s(platform)
    body, headers = signed(funds_event(d["reference"]), at_s=at)
    tampered = body.replace(b"25000", b"99999")
    cases = [
        (body, {**headers, rails.SIGNATURE_HEADER: "v1=" + "0" * 64}, "WEBHOOK_SIGNATURE_INVALID"),
        (tampered, headers, "WEBHOOK_SIGNATURE_INVALID"),
        (body, {rails.SIGNATURE_HEADER: headers[rails.SIGNATURE_HEADER]},
         "WEBHOOK_SIGNATURE_INVALID"),  # no timestamp
        (body, {}, "WEBHOOK_SIGNATURE_INVALID"),
        # the timestamp is signed: moving it forward breaks the signature
        (body, {**headers, rails.TIMESTAMP_HEADER: str(at + 1)}, "WEBHOOK_SIGNATURE_INVALID"),
        (*signed(funds_event(d["reference"]), at_s=at, secret=b"not the secret"),
         "WEBHOOK_SIGNATURE_INVALID"),
        (*signed(funds_event(d["reference"]), at_s=at - dom.WEBHOOK_TOLERANCE_S - 1),
         "WEBHOOK_STALE"),
        (*signed(funds_event(d["reference"]), at_s=at + dom.WEBHOOK_TOLERANCE_S + 60),
         "WEBHOOK_STALE"),
    ]
    for content, hdrs, code in cases:
        r = client.post(URL, content=content, headers=hdrs)
        assert r.status_code == 401, (code, r.text)
        assert r.json()["error"]["code"] == code
    assert events(platform) == [] and transfers(platform) == []
    # at the edge of the tolerance it is still accepted
    ok = client.post(URL, content=body, headers=headers)
    assert ok.status_code == 200


def test_malformed_events_are_refused_and_unknown_types_acknowledged(
        client: TestClient, platform: bootstrap.Platform) -> None:
    at = now_s(platform)
    for event in ([1, 2], {"id": "", "type": "x", "data": {}},
                  {"id": "e", "type": "transfer.received", "data": {"reference": "RF1"}},
                  {"id": "e", "type": "payout.paid", "data": {"payout_id": 5, "rail_ref": "r"}},
                  {"id": "e", "type": "transfer.received",
                   "data": {"reference": "RF1", "amount_minor": True, "currency": "USD",
                            "rail_ref": "r"}}):
        body = json.dumps(event).encode()
        headers = {rails.TIMESTAMP_HEADER: str(at),
                   rails.SIGNATURE_HEADER: dom.sign(SECRET, at, body)}
        r = client.post(URL, content=body, headers=headers)
        assert r.status_code == 422 and r.json()["error"]["code"] == "WEBHOOK_EVENT_INVALID"
    body, headers = signed({"id": "e9", "type": "account.statement", "data": {}}, at_s=at)
    r = client.post(URL, content=body, headers=headers)
    assert r.status_code == 200 and r.json()["outcome"].startswith("ignored")
    body, headers = signed({"id": "e10", "type": "payout.paid",
                            "data": {"payout_id": "nope", "rail_ref": "SBP1"}}, at_s=at)
    assert client.post(URL, content=body, headers=headers).json()["outcome"].startswith(
        "unmatched")


def test_sim_bank_delivers_over_http_with_the_same_result(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A real bank's path: the signed bytes POSTed to the endpoint (httpx routed to the
    test client)."""
    def post(url: str, *, content: bytes, headers: dict[str, str], timeout: float
             ) -> httpx.Response:
        assert url == "http://platform" + URL
        reply = client.post(URL, content=content, headers=headers)
        return httpx.Response(reply.status_code)

    monkeypatch.setattr(httpx, "post", post)
    grant_tier(platform, customer.user.id)
    d = create_deposit(client, customer)
    sim = sim_of(platform)
    sim.deliver = over_http("http://platform" + URL)
    sim.send_transfer(reference=d["reference"], amount_minor=25000, currency="USD")
    assert sim.drain() == 1
    assert client.get(f"/v1/deposits/{d['id']}", headers=customer.headers).json()[
        "status"] == "minting"


def test_unacknowledged_deliveries_are_retried_with_backoff(
        platform: bootstrap.Platform) -> None:
    clock = platform.deps.clock
    answers = [500, 0, 200]
    seen: list[bytes] = []

    def flaky(headers: dict[str, str], body: bytes) -> int:
        seen.append(body)
        return answers.pop(0)

    sim = SimBank(SECRET, clock, config=SimBankConfig(arrival_ms=0, retry_ms=1000),
                  deliver=flaky)
    sim.send_transfer(reference="RF18539007547034", amount_minor=1, currency="USD")
    now = clock.now_ms()
    assert sim.pump(now_ms=now) == 0 and sim.pending() == 1
    assert sim.pump(now_ms=now + 999) == 0 and len(seen) == 1  # not due yet
    assert sim.pump(now_ms=now + 1000) == 0 and len(seen) == 2
    assert sim.pump(now_ms=now + 1000 + 1999) == 0
    assert sim.pump(now_ms=now + 1000 + 2000) == 1 and sim.pending() == 0
    assert len(set(seen)) == 1  # the same event each time (same id: the platform dedups)

    dead = SimBank(SECRET, clock, deliver=lambda h, b: 503,
                   config=SimBankConfig(arrival_ms=0, delivery_attempts_max=2))
    dead.send_transfer(reference="RF18539007547034", amount_minor=1, currency="USD")
    dead.drain()
    assert dead.pending() == 0 and len(dead.dead_letters) == 1


def test_in_process_delivery_maps_refusals_to_statuses(platform: bootstrap.Platform) -> None:
    deliver = in_process(platform.deps)
    body, headers = signed({"id": "x", "type": "t", "data": {}}, at_s=now_s(platform),
                           secret=b"wrong")
    assert deliver(headers, body) == 401
    body, headers = signed({"id": "x"}, at_s=now_s(platform))
    assert deliver(headers, body) == 422


def test_seeded_failure_rate_is_reproducible(platform: bootstrap.Platform) -> None:
    def fates(seed: int) -> list[str]:
        out: list[str] = []
        sim = SimBank(SECRET, platform.deps.clock,
                      config=SimBankConfig(failure_rate=0.5, seed=seed),
                      deliver=lambda h, b: out.append(json.loads(b)["type"]) or 200)
        for i in range(20):
            sim.request_payout(payout_id=f"p{i}", currency="USD", amount_minor=1,
                               bank={"account": "12345678"}, reference="r")
        sim.drain()
        return out

    first = fates(7)
    assert first == fates(7) and first != fates(8)
    assert {"payout.paid", "payout.failed"} == set(first)


def test_dev_api_is_gone_in_production(client: TestClient, platform: bootstrap.Platform,
                                       customer: Actor) -> None:
    body = {"reference": "RF18539007547034", "amount": "1.00", "currency": "USD"}
    r = client.post("/v1/dev/sim-bank/transfers", json=body, headers=customer.headers)
    assert r.status_code == 202
    platform.settings = dataclasses.replace(platform.settings, mode="production")
    for path, payload in (("/v1/dev/sim-bank/transfers", body), ("/v1/dev/sim-bank/flush", {})):
        r = client.post(path, json=payload, headers=customer.headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
        assert client.post(path, json=payload).status_code == 404  # before any session check


def test_sim_bank_is_for_staff_unless_development_opens_it(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    body = {"reference": "RF18539007547034", "amount": "1.00", "currency": "USD"}
    platform.settings = dataclasses.replace(platform.settings, dev_sim_bank=False)
    for path, payload in (("/v1/dev/sim-bank/transfers", body), ("/v1/dev/sim-bank/flush", {})):
        r = client.post(path, json=payload, headers=customer.headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "SIM_BANK_STAFF_ONLY"
        assert client.post(path, json=payload).status_code == 401
    assert sim_of(platform).pending() == 0  # nothing was sent
    operator = make_staff(platform, "operator")
    r = client.post("/v1/dev/sim-bank/transfers", json=body, headers=operator.headers)
    assert r.status_code == 202 and sim_of(platform).pending() == 1
    platform.settings = dataclasses.replace(platform.settings, dev_sim_bank=True)
    r = client.post("/v1/dev/sim-bank/transfers", json=body, headers=customer.headers)
    assert r.status_code == 202 and sim_of(platform).pending() == 2


def test_the_webhook_secret_is_generated_on_first_start(tmp_path: Any) -> None:
    dev = Settings(data_dir=tmp_path / "one")
    assert dev.rail_webhook_secret == ""  # no secret everyone knows
    dev.data_dir.mkdir()
    first = bootstrap.with_rail_secret(dev)
    path = dev.data_dir / RAIL_WEBHOOK_SECRET_FILE
    assert len(first.rail_webhook_secret) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert bootstrap.with_rail_secret(dev) == first  # kept across restarts
    other = Settings(data_dir=tmp_path / "two")
    other.data_dir.mkdir()
    assert bootstrap.with_rail_secret(other).rail_webhook_secret != first.rail_webhook_secret
    given = dataclasses.replace(dev, rail_webhook_secret="y" * 40)
    assert bootstrap.with_rail_secret(given) == given


def test_the_platform_signs_and_checks_with_its_generated_secret(
        tmp_path: Any, settings: Settings) -> None:
    p = bootstrap.build(dataclasses.replace(settings, rail_webhook_secret=""))
    try:
        stored = (settings.data_dir / RAIL_WEBHOOK_SECRET_FILE).read_text().strip()
        assert p.settings.rail_webhook_secret == stored
        assert sim_of(p).secret == stored.encode()
        assert rails.webhook_secret(p.deps) == stored.encode()
    finally:
        p.close()


def test_production_refuses_the_development_webhook_secret(tmp_path: Any) -> None:
    prod = Settings(mode="production", data_dir=tmp_path)
    assert any("webhook secret" in p for p in
               production_problems(prod, keyring_is_development=False))
    opened = dataclasses.replace(prod, rail_webhook_secret="x" * 40, dev_sim_bank=True)
    assert any("simulated bank" in p for p in
               production_problems(opened, keyring_is_development=False))
    short = dataclasses.replace(prod, rail_webhook_secret="short")
    assert any("webhook secret" in p for p in
               production_problems(short, keyring_is_development=False))
    good = dataclasses.replace(prod, rail_webhook_secret="x" * 40)
    assert production_problems(good, keyring_is_development=False) == []


# --- domain rules -------------------------------------------------------------------------


def test_references_and_ibans() -> None:
    ref = dom.rf_reference("539007547034")
    assert ref == "RF18539007547034"  # the ISO 11649 example
    assert dom.reference_ok(ref) and dom.reference_ok("rf18 5390 0754 7034")
    assert not dom.reference_ok("RF19539007547034") and not dom.reference_ok("X")
    assert dom.iban("GB", "WEST12345698765432") == IBAN_OK.replace(" ", "")
    problems = Problems()
    out = dom.check_bank({"name": " Carol  C ", "account": IBAN_OK.lower(), "country": "gb",
                          "bank_code": "westgb2l"}, problems)
    assert not problems and out == {"name": "Carol C", "account": "GB82WEST12345698765432",
                                    "country": "GB", "bank_code": "WESTGB2L"}
    dom.check_bank({"name": "C", "account": "GB83WEST12345698765432", "country": "GB",
                    "bank_code": "WESTGB2L"}, problems)
    assert set(problems.fields) == {"bank.account"}


def test_signature_round_trip() -> None:
    sig = dom.sign(b"k", 1_700_000_000, b"{}")
    assert dom.signature_problem(b"k", "1700000000", sig, b"{}", 1_700_000_000) is None
    assert dom.signature_problem(b"k", "1700000000", sig, b"{} ", 1_700_000_000) is not None
    assert dom.signature_problem(b"k", "-1", sig, b"{}", 1_700_000_000) is not None


def test_the_rail_worker_delivers_and_pays_out_in_the_background(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    d = create_deposit(client, customer)
    sim = sim_of(platform)
    sim.config = SimBankConfig(arrival_ms=0, settle_ms=0)
    platform.start_rail_worker()
    try:
        sim.send_transfer(reference=d["reference"], amount_minor=25000, currency="USD")
        deadline = time.monotonic() + 10
        while transfers(platform) == [] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.get(f"/v1/deposits/{d['id']}", headers=customer.headers).json()[
            "status"] == "minting"
    finally:
        platform.stop_workers()
    assert platform.rail_worker is None
