"""Authorisation across every endpoint, found from the app itself so a new endpoint is
covered the day it is added: no session → 401; a customer on any staff endpoint → 403;
a staff member lacking the endpoint's permission → 403."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from corridor.platform import bootstrap
from tests.platform.conftest import Actor, make_staff

PUBLIC = {
    ("GET", "/v1/health"),
    ("GET", "/v1/auth/terms"),
    ("POST", "/v1/auth/register"),
    ("POST", "/v1/auth/verify"),
    ("POST", "/v1/auth/verify/resend"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/login/verify"),
    ("POST", "/v1/auth/recover"),
    ("POST", "/v1/auth/recover/reset"),
    ("POST", "/v1/auth/recover/identity-check"),
    ("POST", "/v1/auth/unlock"),  # the owner of a blocked account, who cannot sign in
    ("POST", "/v1/auth/unlock/verify"),
    ("POST", "/v1/rails/sim-bank/webhook"),  # authenticated by its HMAC signature instead
}
SOME_ID = "00000000-0000-4000-8000-000000000000"


def _endpoints(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) the app documents, with path parameters filled in."""
    out = []
    for template, ops in client.get("/openapi.json").json()["paths"].items():
        path = re.sub(r"\{(\w+)\}", lambda m: "email" if m.group(1) == "channel" else SOME_ID,
                      template)
        out.extend((m.upper(), path) for m in sorted(ops))
    assert len(out) > 20, "the app's routes were not found"
    return out


def test_every_non_public_endpoint_needs_a_session(client: TestClient) -> None:
    for method, path in _endpoints(client):
        if (method, re.sub(SOME_ID, "{id}", path)) in PUBLIC or (method, path) in PUBLIC:
            continue
        for headers in ({}, {"Authorization": "Bearer not-a-session"}):
            r = client.request(method, path, json={}, headers=headers)
            assert r.status_code == 401, (method, path, r.status_code, r.text)
            assert r.json()["error"]["code"] in ("UNAUTHENTICATED", "SESSION_INVALID")


def test_customers_get_403_on_every_staff_endpoint(client: TestClient, customer: Actor) -> None:
    staff_endpoints = [(m, p) for m, p in _endpoints(client) if p.startswith("/v1/staff/")]
    assert staff_endpoints
    for method, path in staff_endpoints:
        r = client.request(method, path, json={}, headers=customer.headers)
        assert r.status_code == 403, (method, path, r.status_code, r.text)


def test_a_regulator_cannot_change_anything_staff_side(
    client: TestClient, platform: bootstrap.Platform
) -> None:
    """The read-only role: every staff write endpoint refuses it."""
    regulator = make_staff(platform, "regulator")
    writes = [(m, p) for m, p in _endpoints(client)
              if p.startswith("/v1/staff/") and m in ("POST", "PUT", "PATCH", "DELETE")]
    assert writes
    for method, path in writes:
        r = client.request(method, path, json={}, headers=regulator.headers)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
