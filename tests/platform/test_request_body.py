"""Request bodies (issue 14, item 18): a body over the limit is 413 however it is sent
(before: a chunked one, without Content-Length, got 400), and a JSON object that names a
key twice is refused with 422 DUPLICATE_KEY on every route (before: the last value won)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from corridor.api.app import BODY_BYTES_MAX
from corridor.platform import bootstrap
from corridor.platform.domain import json_text
from corridor.platform.domain import rails as dom
from corridor.platform.domain.rails import Deposit, RailEvent
from corridor.platform.services import rails
from tests.platform.conftest import Actor
from tests.platform.rails_fakes import (
    grant_tier,
    key,
    rails_platform,  # noqa: F401  (the `platform` fixture: no node, deterministic keys)
)

JSON = {"content-type": "application/json"}


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"email": "'
    sent = 0
    while sent < total:
        yield b"a" * size
        sent += size
    yield b'"}'


def test_a_chunked_body_over_the_limit_is_413(client: TestClient, customer: Actor) -> None:
    for path, headers in (("/v1/auth/login", JSON),
                          ("/v1/deposits", {**JSON, **customer.headers, **key()})):
        r = client.post(path, content=_chunks(BODY_BYTES_MAX + 1), headers=headers)
        assert r.status_code == 413, (path, r.text)
        assert r.json()["error"]["code"] == "TOO_LARGE"


def test_a_declared_length_over_the_limit_is_413(client: TestClient) -> None:
    r = client.post("/v1/auth/login", content=b"{" + b" " * BODY_BYTES_MAX + b"}", headers=JSON)
    assert r.status_code == 413 and r.json()["error"]["code"] == "TOO_LARGE"


def test_a_key_given_twice_is_refused_and_changes_nothing(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    headers = {**JSON, **customer.headers}
    bodies = [
        ("/v1/deposits", b'{"currency": "USD", "amount": "1.00", "amount": "40000.00"}'),
        ("/v1/deposits", b'{"currency": "USD", "currency": "EUR", "amount": "1.00"}'),
        ("/v1/withdrawals", b'{"currency": "USD", "amount": "1.00", "bank": {"name": "C", '
                            b'"name": "D", "account": "12345678", "country": "DE", '
                            b'"bank_code": "COBADEFF"}}'),
        ("/v1/quotes", b'{"sell_asset": "USD", "buy_asset": "EUR", "buy_asset": "CNY", '
                       b'"sell_amount": "10"}'),
        ("/v1/auth/login", b'{"email": "a@example.com", "email": "b@example.com", '
                           b'"password": "x"}'),
    ]
    for path, raw in bodies:
        r = client.post(path, content=raw, headers={**headers, **key()})
        assert r.status_code == 422, (path, r.text)
        assert r.json()["error"]["code"] == "DUPLICATE_KEY", (path, r.text)
    with platform.deps.uow() as uow:
        assert uow.repo(Deposit).many() == []
    # the same bodies without the repeat are read as before
    r = client.post("/v1/deposits", content=b'{"currency": "USD", "amount": "1.00"}',
                    headers={**headers, **key()})
    assert r.status_code == 201, r.text


def test_nan_and_infinity_are_not_json(client: TestClient, customer: Actor) -> None:
    for raw in (b'{"currency": "USD", "amount": NaN}', b'{"currency": "USD", "amount": -Infinity}'):
        r = client.post("/v1/deposits", content=raw, headers={**JSON, **customer.headers, **key()})
        assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_JSON", r.text


def test_the_strict_decoder() -> None:
    assert json_text.loads(b'{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}') == {
        "a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}  # the same key in different objects
    with pytest.raises(json_text.DuplicateKey) as info:
        json_text.loads('{"a": [{"k": 1, "k": 2}]}')
    assert info.value.key == "k"
    for text in ("NaN", "[Infinity]", '{"a": -Infinity}'):
        with pytest.raises(json_text.NotJson):
            json_text.loads(text)


def test_a_signed_rail_event_with_a_key_given_twice_is_refused(
        client: TestClient, platform: bootstrap.Platform) -> None:
    # the amount a JSON reader keeps depends on the reader: the event is refused whole
    body = (b'{"id": "evt-1", "type": "transfer.received", "data": {"reference": "RF1", '
            b'"amount_minor": 100, "amount_minor": 30000000, "currency": "USD", '
            b'"rail_ref": "SBT1"}}')
    at = platform.deps.clock.now_ms() // 1000
    secret = platform.settings.rail_webhook_secret.encode()
    r = client.post("/v1/rails/sim-bank/webhook", content=body,
                    headers={rails.TIMESTAMP_HEADER: str(at),
                             rails.SIGNATURE_HEADER: dom.sign(secret, at, body)})
    assert r.status_code == 422 and r.json()["error"]["code"] == "DUPLICATE_KEY", r.text
    with platform.deps.uow() as uow:
        assert uow.repo(RailEvent).many() == []
