"""Webhooks reach public addresses only (issue 14, item 7): loopback, private, link-local,
multicast, reserved and unspecified addresses are refused when the URL is saved, and
again at each delivery after resolving the host (DNS rebinding), and the worker connects
to the address it checked. An allow-list setting admits a local receiver in development.
Before: 127.0.0.1, 10.x, 169.254.169.254, [::1] and localhost were saved and delivered to."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.adapters.webhook_worker import WebhookWorker
from corridor.platform.config import ConfigError, load_settings, production_problems
from corridor.platform.domain import webhooks as dom
from tests.platform.conftest import Actor
from tests.platform.payment_fakes import FakeClock
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

INTERNAL_URLS = [
    "http://127.0.0.1/hook", "https://127.0.0.1:8443/hook", "http://127.1/", "http://2130706433/",
    "http://0x7f000001/", "http://0177.0.0.1/", "http://10.0.0.5/", "http://172.16.3.4/",
    "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/",
    "http://[::1]/", "http://[::]/", "http://[::ffff:127.0.0.1]/", "http://[fe80::1]/",
    "http://[fd00::1]/", "http://224.0.0.1/", "http://240.0.0.1/", "http://100.64.0.1/",
    "http://localhost/", "http://LOCALHOST:8080/", "http://localhost./", "http://api.localhost/",
    "http://[2002:7f00:1::]/",
]


def test_internal_addresses_are_refused_when_saved(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, org: str) -> None:
    for url in INTERNAL_URLS:
        r = register(client, customer, org, url)
        assert r.status_code == 422, (url, r.text)
        assert r.json()["error"]["code"] == "URL_NOT_PUBLIC", (url, r.text)
    for url in ("https://hooks.example/corridor", "https://93.184.215.14/hook",
                "https://[2606:4700::1111]/hook"):
        assert register(client, customer, org, url).status_code == 201, url
    assert register(client, customer, org, "https://x.example:99999/").json()["error"][
        "code"] == "INVALID_URL"


def test_the_address_rules() -> None:
    allow = dom.networks(["127.0.0.1/32", "10.1.0.0/16"])
    for text in ("127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "fc00::1", "::ffff:10.0.0.1",
                 "0.0.0.0", "255.255.255.255", "ff02::1", "198.18.0.1"):
        assert dom.address_refusal(ipaddress.ip_address(text)) is not None, text
    for text in ("93.184.215.14", "2606:4700::1111", "8.8.8.8"):
        assert dom.address_refusal(ipaddress.ip_address(text)) is None, text
    assert dom.address_refusal(ipaddress.ip_address("127.0.0.1"), allow) is None
    assert dom.address_refusal(ipaddress.ip_address("10.1.2.3"), allow) is None
    assert dom.address_refusal(ipaddress.ip_address("127.0.0.2"), allow) is not None
    assert dom.host_refusal("localhost", allow) is None
    assert dom.host_refusal("bad_name!", allow) is not None


class Recording(httpx.BaseTransport):
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(204)


def test_a_name_that_resolves_to_an_internal_address_is_never_sent_to(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, org: str) -> None:
    assert register(client, customer, org, "https://hooks.example/corridor").status_code == 201
    org_pay(client, customer, org, "k")
    transport = Recording()
    # saved while the name was public; now it answers with the metadata service and a
    # public address: one internal answer is enough to refuse
    worker = WebhookWorker(platform.deps, transport=transport,
                           resolver=lambda host, port: ["93.184.215.14", "169.254.169.254"])
    try:
        assert worker.run_once() == 4  # draft, screening, ready, submitted
    finally:
        worker.close()
    assert transport.requests == []
    assert all(d.status == "pending" and d.attempts == 1 and "169.254.169.254" in (
        d.last_error or "") for d in deliveries(platform))


def test_the_worker_connects_to_the_address_it_checked(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, org: str) -> None:
    assert register(client, customer, org, "https://hooks.example:8443/c").status_code == 201
    org_pay(client, customer, org, "k")
    transport = Recording()
    answers = iter([["93.184.215.14"]] + [["127.0.0.1"]] * 10)  # rebinding after the check
    worker = WebhookWorker(platform.deps, transport=transport,
                           resolver=lambda host, port: next(answers))
    try:
        assert worker.run_once() == 4  # draft, screening, ready, submitted
    finally:
        worker.close()
    first = transport.requests[0]
    assert (first.url.host, first.url.port) == ("93.184.215.14", 8443)
    assert first.headers["Host"] == "hooks.example:8443"
    assert first.extensions["sni_hostname"] == "hooks.example"
    assert len(transport.requests) == 1  # the two later ones resolved to 127.0.0.1


def test_the_allow_list_admits_a_local_receiver(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, org: str,
        receiver: Receiver, clock: FakeClock) -> None:
    port = receiver.server.server_address[1]
    url = f"http://receiver.test:{port}/hooks"
    receiver.secret = register(client, customer, org, url).json()["secret"].encode()
    receiver.clock_ms = clock.now_ms
    org_pay(client, customer, org, "k")

    def resolve(host: str, port: int) -> list[str]:
        assert host == "receiver.test"
        return ["127.0.0.1"]

    refused = WebhookWorker(platform.deps, resolver=resolve)
    try:
        assert refused.run_once() == 4  # draft, screening, ready, submitted
    finally:
        refused.close()
    assert receiver.received == []
    clock.advance(dom.BACKOFF_BASE_MS)
    deps = dataclasses.replace(platform.deps, settings=dataclasses.replace(
        platform.deps.settings, webhook_allow_networks=("127.0.0.1/32",)))
    allowed = WebhookWorker(deps, resolver=resolve)
    try:
        assert allowed.run_once() == 4  # draft, screening, ready, submitted
    finally:
        allowed.close()
    assert len(receiver.received) == 4 and receiver.bad_signatures == 0


def test_the_allow_list_setting() -> None:
    s = load_settings({"CORRIDOR_WEBHOOK_ALLOW_NETWORKS": "127.0.0.1/32, ::1"})
    assert s.webhook_allow_networks == ("127.0.0.1/32", "::1")
    with pytest.raises(ConfigError):
        load_settings({"CORRIDOR_WEBHOOK_ALLOW_NETWORKS": "not-a-network"})
    production = dataclasses.replace(s, mode="production")
    assert any("webhook_allow_networks" in p for p in
               production_problems(production, keyring_is_development=False))


@pytest.fixture(autouse=True)
def _no_real_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Nothing here may ask DNS (the workers are given a resolver); connecting to an
    address literal still goes through getaddrinfo, which needs no DNS for it."""
    real = socket.getaddrinfo

    def numeric_only(host: str, *args: Any, **kwargs: Any) -> Any:
        ipaddress.ip_address(host)  # ValueError: a name was looked up
        return real(host, *args, **kwargs)

    monkeypatch.setattr("socket.getaddrinfo", numeric_only)
    yield
