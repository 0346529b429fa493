"""Webhook additions of issue 17: the event type registry and each endpoint's subscription
filter, the delivery log (each attempt: time, status, latency, answer excerpt) through the
API, and redelivery by hand under the same event id. SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.adapters.webhook_worker import WebhookWorker
from corridor.platform.config import Settings
from corridor.platform.domain import webhooks as dom
from corridor.platform.domain.payments import PaymentStatus
from corridor.platform.services import webhooks
from tests.platform.conftest import Actor, make_user
from tests.platform.payment_fakes import FakeClock
from tests.platform.test_apikeys import signed_in_again
from tests.platform.wallet_fakes import make_org
from tests.platform.webhook_fakes import (
    Receiver,
    deliveries,
    org_pay,
    webhook_chain,  # noqa: F401  (fixture `chain`)
    webhook_client,  # noqa: F401  (fixture `client`)
    webhook_clock,  # noqa: F401  (fixture `clock`)
    webhook_org,  # noqa: F401  (fixture `org`)
    webhook_platform,  # noqa: F401  (fixture `platform`)
    webhook_receiver,  # noqa: F401  (fixture `receiver`)
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, webhook_allow_networks=("127.0.0.1/32",))


def register(client: TestClient, who: Actor, org: str, url: str, events: list[str]) -> Any:
    return client.post(f"/v1/orgs/{org}/webhooks", headers=who.creating,
                       json={"url": url, "events": events})


def test_the_registry_covers_every_payment_state_and_the_new_families() -> None:
    assert {f"payment.{s.value}" for s in PaymentStatus} <= set(dom.EVENT_TYPES["payment"])
    for event in ("batch.completed", "payment.approval_required", "payment.approved",
                  "payment.rejected", "collection.paid", "checkout.paid"):
        assert event in dom.EVENT_TYPES[dom.family(event)]
    assert dom.check_events(["batch.*", "checkout.paid", "batch.*", "nope.*", "payment.x"]) == (
        ("batch.*", "checkout.paid"), ["nope.*", "payment.x"])
    assert dom.subscribed((), "anything.at_all")
    assert dom.subscribed(("batch.*",), "batch.completed")
    assert not dom.subscribed(("batch.*", "payment.credited"), "payment.ready")


def test_an_endpoint_receives_only_what_it_subscribed_to(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, org: str,
        receiver: Receiver) -> None:
    r = register(client, customer, org, receiver.url, ["payment.ready", "nope.thing"])
    assert r.status_code == 422 and "events" in r.json()["error"]["fields"]
    only_ready = register(client, customer, org, receiver.url, ["payment.ready", "batch.*"])
    assert only_ready.status_code == 201 and only_ready.json()["events"] == [
        "payment.ready", "batch.*"]
    everything = register(client, customer, org, receiver.url, []).json()
    org_pay(client, customer, org, "k")
    by_endpoint: dict[str, list[str]] = {}
    for d in deliveries(platform):
        by_endpoint.setdefault(d.endpoint_id, []).append(d.event)
    assert by_endpoint[only_ready.json()["id"]] == ["payment.ready"]
    assert len(by_endpoint[everything["id"]]) == 4
    # the other services' events go through the same filter
    with platform.deps.uow() as uow:
        assert webhooks.enqueue(platform.deps, uow, org, "batch.completed", {"batch": "b1"}) == 2
        assert webhooks.enqueue(platform.deps, uow, org, "collection.paid", {}) == 1
        uow.commit()
    types = client.get("/v1/webhooks/event-types", headers=customer.headers).json()
    assert "checkout.paid" in types["families"]["checkout"]


def test_the_delivery_log_and_redelivery(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        other_customer: Actor, org: str, receiver: Receiver, clock: FakeClock) -> None:
    hook = register(client, customer, org, receiver.url, ["payment.draft"]).json()
    receiver.secret = hook["secret"].encode()
    receiver.clock_ms = clock.now_ms
    org_pay(client, customer, org, "k")
    base = f"/v1/orgs/{org}/webhooks/{hook['id']}/deliveries"
    worker = WebhookWorker(platform.deps)
    try:
        receiver.fail_next = 1
        assert worker.run_once() == 1
        clock.advance(dom.BACKOFF_BASE_MS)
        assert worker.run_once() == 1
        listed = client.get(base, headers=customer.headers).json()["items"]
        assert [(d["event"], d["status"], d["attempts"]) for d in listed] == [
            ("payment.draft", "delivered", 2)]
        delivery_id = listed[0]["id"]
        one = client.get(f"{base}/{delivery_id}", headers=customer.headers).json()
        assert [a["status_code"] for a in one["log"]] == [500, 204]
        assert one["log"][0]["error"] == "HTTP 500" and one["log"][1]["error"] is None
        assert all(a["latency_ms"] >= 0 for a in one["log"])
        assert one["log"][0]["at_ms"] < one["log"][1]["at_ms"]

        # redelivery by hand: the same event id again, once however often it is asked
        first = client.post(f"{base}/{delivery_id}/redeliver", headers=customer.headers)
        again = client.post(f"{base}/{delivery_id}/redeliver", headers=customer.headers)
        assert first.status_code == again.status_code == 200
        assert first.json()["status"] == "pending" and first.json()["id"] == delivery_id
        assert worker.run_once() == 1
        assert worker.run_once() == 0
    finally:
        worker.close()
    assert [d["id"] for d in receiver.received] == [delivery_id, delivery_id]
    assert receiver.received[0] == receiver.received[1]  # the same body: receivers dedupe
    log = client.get(f"{base}/{delivery_id}", headers=customer.headers).json()["log"]
    assert [a["status_code"] for a in log] == [500, 204, 204]

    # authorisation: not a member -> not found; a viewer -> forbidden; another org's id
    assert client.get(base, headers=other_customer.headers).status_code == 404
    viewer = make_user(platform, email="viewer@example.com")
    org2 = make_org(platform, customer.user.id, {viewer.user.id: "viewer"})
    assert client.get(f"/v1/orgs/{org2}/webhooks/{hook['id']}/deliveries",
                      headers=viewer.headers).status_code == 403
    assert client.get(f"/v1/orgs/{org2}/webhooks/{hook['id']}/deliveries",
                      headers=customer.headers).status_code == 404
    assert client.post(f"{base}/nope/redeliver", headers=customer.headers).status_code == 404


def test_a_rotated_secret_signs_beside_the_new_one_for_the_overlap(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, org: str,
        receiver: Receiver, clock: FakeClock) -> None:
    hook = register(client, customer, org, receiver.url, ["payment.draft"]).json()
    old_secret = hook["secret"].encode()
    receiver.secret = old_secret  # the receiver has not switched yet
    receiver.clock_ms = clock.now_ms
    url = f"/v1/orgs/{org}/webhooks/{hook['id']}/rotate-secret"
    headers = customer.creating
    r = client.post(url, headers=headers, json={"overlap_hours": 1})
    again = client.post(url, headers=headers, json={"overlap_hours": 1})
    assert r.status_code == again.status_code == 200, r.text
    new_secret = r.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret.encode() != old_secret
    assert again.json()["secret"] == new_secret  # a retry rotates once
    r = client.post(url, headers=customer.creating, json={"overlap_hours": 10_000})
    assert r.status_code == 422
    worker = WebhookWorker(platform.deps)
    try:
        org_pay(client, customer, org, "k1")
        assert worker.run_once() == 1
        assert receiver.bad_signatures == 0 and len(receiver.received) == 1  # old verifies
        clock.advance(3_600_000)  # the overlap is over: only the new secret signs
        org_pay(client, signed_in_again(platform, customer), org, "k2")
        assert worker.run_once() == 1
        assert receiver.bad_signatures == 1
        receiver.secret = new_secret.encode()
        clock.advance(dom.BACKOFF_BASE_MS)
        assert worker.run_once() == 1
    finally:
        worker.close()
    assert receiver.bad_signatures == 1 and len(receiver.received) == 2
    body = b'{"x":1}'
    both = dom.signature_header(b"new", 5, body, b"old")
    assert both.count("v1=") == 2
    assert dom.verify(b"old", both, body, 5) and dom.verify(b"new", both, body, 5)
    assert not dom.verify(b"other", both, body, 5)
    assert not dom.verify(b"new", "t=5,t=6," + both.split(",", 1)[1], body, 5)
