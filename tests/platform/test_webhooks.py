"""Webhooks to institutions: registration and its authorisation, one signed delivery per
state change of an organisation's payment, received by a real local HTTP server that
checks the signature, retries with exponential backoff, and a bound on attempts."""

from __future__ import annotations

import dataclasses
import time

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.adapters.webhook_worker import WebhookWorker
from corridor.platform.config import Settings
from corridor.platform.domain import webhooks as dom
from tests.platform.conftest import Actor, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, commit
from tests.platform.wallet_fakes import make_org
from tests.platform.webhook_fakes import (
    Receiver,
    deliveries,
    org_pay,
    register,
    webhook_chain,  # noqa: F401  (fixture `chain`)
    webhook_client,  # noqa: F401  (fixture `client`)
    webhook_clock,  # noqa: F401  (fixture `clock`)
    webhook_org,  # noqa: F401  (fixture `org`)
    webhook_platform,  # noqa: F401  (fixture `platform`)
    webhook_receiver,  # noqa: F401  (fixture `receiver`)
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The receiver is on this machine: allowed explicitly (webhooks reach only public
    addresses otherwise; test_webhook_targets.py)."""
    return dataclasses.replace(settings, webhook_allow_networks=("127.0.0.1/32",))



def test_registration_and_its_authorisation(client: TestClient, platform: bootstrap.Platform,
                                            customer: Actor, other_customer: Actor,
                                            org: str) -> None:
    viewer = make_user(platform, email="viewer@example.com")
    org2 = make_org(platform, customer.user.id, {viewer.user.id: "viewer"})
    assert client.post(f"/v1/orgs/{org}/webhooks", json={"url": "https://x.example"}
                       ).status_code == 401
    assert client.get(f"/v1/orgs/{org}/webhooks").status_code == 401
    assert register(client, other_customer, org, "https://x.example").status_code == 404
    assert client.get(f"/v1/orgs/{org}/webhooks", headers=other_customer.headers
                      ).status_code == 404
    assert register(client, viewer, org2, "https://x.example").status_code == 403
    for bad in ("ftp://x.example", "https://user:pw@x.example/", "not a url", "https://"):
        r = register(client, customer, org, bad)
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_URL", bad
    r = register(client, customer, org, "https://hooks.example/corridor")
    assert r.status_code == 201
    assert r.json()["secret"].startswith("whsec_")
    listed = client.get(f"/v1/orgs/{org}/webhooks", headers=customer.headers).json()["items"]
    assert [(e["url"], e["secret"]) for e in listed] == [("https://hooks.example/corridor", None)]


def test_each_state_change_is_delivered_signed(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, org: str,
        chain: FakeChain, receiver: Receiver, clock: FakeClock) -> None:
    receiver.secret = register(client, customer, org, receiver.url).json()["secret"].encode()
    receiver.clock_ms = clock.now_ms
    p = org_pay(client, customer, org, "k")
    assert [d.event for d in deliveries(platform)] == [
        "payment.draft", "payment.screening", "payment.ready", "payment.submitted"]
    worker = WebhookWorker(platform.deps)
    try:
        assert worker.run_once() == 4
        commit(platform, chain, p["id"])
        assert worker.run_once() == 3
        assert worker.run_once() == 0
    finally:
        worker.close()
    assert receiver.bad_signatures == 0
    assert [d["event"] for d in receiver.received] == [
        "payment.draft", "payment.screening", "payment.ready", "payment.submitted",
        "payment.included", "payment.final", "payment.credited"]
    assert receiver.received[-1]["data"]["payment"]["id"] == p["id"]
    assert receiver.received[-1]["data"]["payment"]["status"] == "credited"
    assert all(d.status == "delivered" and d.attempts == 1 for d in deliveries(platform))


def test_a_wrong_secret_does_not_verify() -> None:
    body = b'{"x":1}'
    header = dom.signature_header(b"right", 1_000, body)
    assert dom.verify(b"right", header, body, 1_000)
    assert not dom.verify(b"wrong", header, body, 1_000)
    assert not dom.verify(b"right", header, body + b" ", 1_000)
    assert not dom.verify(b"right", header, body, 1_000 + dom.SIGNATURE_TOLERANCE_MS + 1)


def test_failures_are_retried_with_backoff_then_given_up(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, org: str,
        receiver: Receiver, clock: FakeClock) -> None:
    receiver.secret = register(client, customer, org, receiver.url).json()["secret"].encode()
    receiver.clock_ms = clock.now_ms
    org_pay(client, customer, org, "k")
    worker = WebhookWorker(platform.deps)
    try:
        receiver.fail_next = 4 * 2  # each of the four events fails twice
        assert worker.run_once() == 4
        first = deliveries(platform)[0]
        assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
        assert first.next_attempt_ms == clock.now + dom.BACKOFF_BASE_MS
        assert worker.run_once() == 0  # not due yet
        clock.advance(dom.BACKOFF_BASE_MS)
        assert worker.run_once() == 4
        assert deliveries(platform)[0].next_attempt_ms == clock.now + 2 * dom.BACKOFF_BASE_MS
        clock.advance(2 * dom.BACKOFF_BASE_MS)
        assert worker.run_once() == 4
        assert [d.status for d in deliveries(platform)] == ["delivered"] * 4
        assert [d.attempts for d in deliveries(platform)] == [3] * 4

        # an endpoint that never answers well: bounded attempts, then failed
        org_pay(client, customer, org, "k2")
        receiver.fail_next = 10**6
        for _ in range(dom.ATTEMPTS_MAX + 2):
            worker.run_once()
            clock.advance(dom.BACKOFF_MAX_MS)
        failed = [d for d in deliveries(platform) if d.status == "failed"]
        assert len(failed) == 4 and all(d.attempts == dom.ATTEMPTS_MAX for d in failed)
    finally:
        worker.close()
    assert [dom.backoff_ms(n) for n in (1, 2, 3)] == [1_000, 2_000, 4_000]
    assert dom.backoff_ms(30) == dom.BACKOFF_MAX_MS


def test_the_platform_runs_the_worker(client: TestClient, platform: bootstrap.Platform,
                                      customer: Actor, org: str, receiver: Receiver,
                                      clock: FakeClock) -> None:
    receiver.secret = register(client, customer, org, receiver.url).json()["secret"].encode()
    receiver.clock_ms = clock.now_ms
    platform.start_workers()
    try:
        assert platform.webhook_worker is not None and platform.webhook_worker.running
        org_pay(client, customer, org, "k")
        deadline = time.monotonic() + 10
        while len(receiver.received) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        platform.stop_workers()
    assert platform.webhook_worker is None
    assert len(receiver.received) == 4
