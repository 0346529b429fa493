"""Fixtures and helpers for webhook tests: a local receiver that checks signatures, a
platform on a fake chain and clock, an organisation with funds, and request helpers."""

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
from corridor.platform.config import Settings
from corridor.platform.domain import webhooks as dom
from corridor.platform.domain.webhooks import WebhookDelivery
from tests.platform.conftest import Actor
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
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


@pytest.fixture(name="receiver")
def webhook_receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(name="clock")
def webhook_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(name="chain")
def webhook_chain() -> FakeChain:
    return FakeChain()


@pytest.fixture(name="platform")
def webhook_platform(settings: Settings, clock: FakeClock,
             chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=clock,
                        ledger=chain, keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture(name="client")
def webhook_client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


@pytest.fixture(name="org")
def webhook_org(platform: bootstrap.Platform, customer: Actor, other_customer: Actor,
        chain: FakeChain) -> str:
    """Carol's organisation (tier 3, 1,000.00 USD on chain); Dave has a wallet to pay to."""
    org_id = make_org(platform, customer.user.id)
    kyc(platform, org_id, 3, owner_type="org")
    chain.fund(open_wallet(platform, org_id, owner_type="org").address, "USD", 1_000_00)
    kyc(platform, other_customer.user.id, 1)
    open_wallet(platform, other_customer.user.id)
    return org_id


def register(client: TestClient, who: Actor, org_id: str, url: str) -> Any:
    return client.post(f"/v1/orgs/{org_id}/webhooks", headers=who.creating, json={"url": url})


def org_pay(client: TestClient, who: Actor, org_id: str, key: str) -> dict[str, Any]:
    r = client.post("/v1/payments", headers={**who.headers, "Idempotency-Key": key},
                    json={"recipient": {"type": "user", "email": "dave@example.com"},
                          "asset": "USD", "amount": "10", "org_id": org_id})
    assert r.status_code == 201, r.text
    return dict(r.json())


def deliveries(platform: bootstrap.Platform) -> list[WebhookDelivery]:
    with platform.deps.uow() as uow:
        return uow.repo(WebhookDelivery).many(order_by="created_ms")
