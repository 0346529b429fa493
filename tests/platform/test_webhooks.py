"""Webhooks to institutions: registration and its authorisation, one signed delivery per
state change of an organisation's payment, received by a real local HTTP server that
checks the signature, retries with exponential backoff, and a bound on attempts."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.adapters.webhook_worker import WebhookWorker
from corridor.platform.config import Settings
from corridor.platform.domain import webhooks as dom
from corridor.platform.domain.webhooks import WebhookDelivery
from tests.platform.conftest import Actor, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, commit, kyc, open_wallet
from tests.platform.wallet_fakes import CountingKeyGen, make_org


class Receiver:
    """A local HTTP endpoint that verifies each delivery's signature with the secret."""

    def __init__(self) -> None:
        self.secret = b""
        self.fail_next = 0  # answer 500 to this many requests first
        self.received: list[dict[str, Any]] = []
        self.bad_signatures = 0
        self.clock_ms = lambda: int(time.time() * 1000)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                ok = dom.verify(receiver.secret, self.headers[dom.SIGNATURE_HEADER], body,
                                receiver.clock_ms())
                if ok:
                    doc = json.loads(body)
                    assert doc["event"] == self.headers[dom.EVENT_HEADER]
                    assert doc["id"] == self.headers[dom.DELIVERY_HEADER]
                    receiver.received.append(doc)
                else:
                    receiver.bad_signatures += 1
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def platform(settings: Settings, clock: FakeClock,
             chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=clock,
                        extras={"ledger": chain, "keygen": CountingKeyGen()})
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


@pytest.fixture
def org(platform: bootstrap.Platform, customer: Actor, other_customer: Actor,
        chain: FakeChain) -> str:
    """Carol's organisation (tier 3, 1,000.00 USD on chain); Dave has a wallet to pay to."""
    org_id = make_org(platform, customer.user.id)
    kyc(platform, org_id, 3, owner_type="org")
    chain.fund(open_wallet(platform, org_id, owner_type="org").address, "USD", 1_000_00)
    kyc(platform, other_customer.user.id, 1)
    open_wallet(platform, other_customer.user.id)
    return org_id


def register(client: TestClient, who: Actor, org_id: str, url: str) -> Any:
    return client.post(f"/v1/orgs/{org_id}/webhooks", headers=who.headers, json={"url": url})


def org_pay(client: TestClient, who: Actor, org_id: str, key: str) -> dict[str, Any]:
    r = client.post("/v1/payments", headers={**who.headers, "Idempotency-Key": key},
                    json={"recipient": {"type": "user", "email": "dave@example.com"},
                          "asset": "USD", "amount": "10", "org_id": org_id})
    assert r.status_code == 201, r.text
    return dict(r.json())


def deliveries(platform: bootstrap.Platform) -> list[WebhookDelivery]:
    with platform.deps.uow() as uow:
        return uow.repo(WebhookDelivery).many(order_by="created_ms")


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
        "payment.draft", "payment.ready", "payment.submitted"]
    worker = WebhookWorker(platform.deps)
    try:
        assert worker.run_once() == 3
        commit(platform, chain, p["id"])
        assert worker.run_once() == 3
        assert worker.run_once() == 0
    finally:
        worker.close()
    assert receiver.bad_signatures == 0
    assert [d["event"] for d in receiver.received] == [
        "payment.draft", "payment.ready", "payment.submitted", "payment.included",
        "payment.final", "payment.credited"]
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
        receiver.fail_next = 3 * 2  # each of the three events fails twice
        assert worker.run_once() == 3
        first = deliveries(platform)[0]
        assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
        assert first.next_attempt_ms == clock.now + dom.BACKOFF_BASE_MS
        assert worker.run_once() == 0  # not due yet
        clock.advance(dom.BACKOFF_BASE_MS)
        assert worker.run_once() == 3
        assert deliveries(platform)[0].next_attempt_ms == clock.now + 2 * dom.BACKOFF_BASE_MS
        clock.advance(2 * dom.BACKOFF_BASE_MS)
        assert worker.run_once() == 3
        assert [d.status for d in deliveries(platform)] == ["delivered"] * 3
        assert [d.attempts for d in deliveries(platform)] == [3] * 3

        # an endpoint that never answers well: bounded attempts, then failed
        org_pay(client, customer, org, "k2")
        receiver.fail_next = 10**6
        for _ in range(dom.ATTEMPTS_MAX + 2):
            worker.run_once()
            clock.advance(dom.BACKOFF_MAX_MS)
        failed = [d for d in deliveries(platform) if d.status == "failed"]
        assert len(failed) == 3 and all(d.attempts == dom.ATTEMPTS_MAX for d in failed)
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
        while len(receiver.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        platform.stop_workers()
    assert platform.webhook_worker is None
    assert len(receiver.received) == 3
