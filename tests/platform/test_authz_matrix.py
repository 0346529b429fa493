"""Authorisation across every endpoint, found from the app itself so a new endpoint is
covered the day it is added: no session → 401; a customer on any staff endpoint → 403;
a staff member lacking the endpoint's permission → 403; a suspended organisation moves
no money on any endpoint; no route shows payments to a key claimed without proof."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from starlette.testclient import TestClient

from corridor.ledger import keys
from corridor.ledger.keys import KeyPair
from corridor.platform import bootstrap
from corridor.platform.domain.wallets import Wallet
from tests.platform.conftest import Actor, make_staff
from tests.platform.payment_fakes import kyc, open_wallet
from tests.platform.payment_records import JPEG, make_org, make_payment, make_wallet

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


# --- organisations' suspended state (issue 14/2) -------------------------------------------

UNPROVEN_KEY = {"public_key": keys.encode_public_key(KeyPair.from_seed(bytes(31) + b"\x05")
                                                    .public_key),
                "label": "hsm", "challenge_id": "none", "signature": "00" * 64}
# Every write an organisation's money takes, with a body that passes the HTTP layer's
# validation (so the use case decides). Paths: {org_id} is the organisation, {payment_id}
# a payment it sent.
MONEY_WRITES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("POST", "/v1/quotes"): {"sell_asset": "USD", "buy_asset": "EUR", "sell_amount": "10.00"},
    ("POST", "/v1/payments/preview"): {"recipient": {"type": "user",
                                                     "email": "dave@example.com"},
                                       "asset": "USD", "amount": "1.00"},
    ("POST", "/v1/payments"): {"recipient": {"type": "user", "email": "dave@example.com"},
                               "asset": "USD", "amount": "1.00"},
    ("POST", "/v1/orgs/{org_id}/deposits"): {"currency": "USD", "amount": "10.00"},
    ("POST", "/v1/orgs/{org_id}/withdrawals"): {
        "currency": "USD", "amount": "1.00",
        "bank": {"name": "Acme", "account": "GB82WEST12345698765432", "country": "GB",
                 "bank_code": "WESTGB2L"}},
    ("POST", "/v1/orgs/{org_id}/wallets"): {"label": "payouts"},
    ("POST", "/v1/batches"): None,  # a batch upload (multipart): reserves money
    ("POST", "/v1/orgs/{org_id}/wallets/external/challenges"): {
        "public_key": UNPROVEN_KEY["public_key"]},
    ("POST", "/v1/orgs/{org_id}/wallets/external"): UNPROVEN_KEY,
    ("POST", "/v1/refunds/files"): None,  # multipart, below
    ("POST", "/v1/payments/{payment_id}/refund"): {"kind": "wrong_payee",
                                                   "reason": "sent to the wrong person"},
    ("POST", "/v1/payments/{payment_id}/cancel"): {},
}
# Writes about an organisation that move no money, and why they stay open when suspended
# (or are refused by their own rule).
NOT_MONEY_WRITES = {
    ("PATCH", "/v1/orgs/{org_id}"),  # rename: refused while suspended (ORG_SUSPENDED)
    ("POST", "/v1/orgs/{org_id}/departments"),  # likewise
    ("DELETE", "/v1/orgs/{org_id}/departments/{department_id}"),  # tidying only
    ("POST", "/v1/orgs/{org_id}/members"),  # refused while suspended
    ("PATCH", "/v1/orgs/{org_id}/members/{user_id}"),  # likewise
    ("DELETE", "/v1/orgs/{org_id}/members/{user_id}"),  # removing access reduces risk
    ("PUT", "/v1/orgs/{org_id}/kyc"),  # a suspended business may still answer compliance
    ("POST", "/v1/kyc/files"),  # its documents, likewise
    ("POST", "/v1/orgs/{org_id}/webhooks"),  # notifications, no money
    # API keys (issue 17): a key moves money only through the payment endpoints, which
    # refuse a suspended organisation themselves; revoking reduces risk
    ("POST", "/v1/orgs/{org_id}/api-keys"),
    ("POST", "/v1/orgs/{org_id}/api-keys/{key_id}/rotate"),
    ("POST", "/v1/orgs/{org_id}/api-keys/{key_id}/revoke"),
    ("POST", "/v1/orgs/{org_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"),
    ("POST", "/v1/orgs/{org_id}/webhooks/{webhook_id}/rotate-secret"),
    # a held payment's supporting documents: answering compliance moves no money (its
    # release is an officer's decision)
    ("POST", "/v1/payment-documents/{payment_id}"),
    # approvals (issue 17): the policy and the beneficiary book move no money; deciding on
    # a payment's approval does, and is refused while suspended (pay.approve and
    # pay.initiate are money permissions) once the payment has an approval to decide:
    # tests/platform/test_approvals.py, since the payments here have none
    ("PUT", "/v1/orgs/{org_id}/approval-policy"),
    ("POST", "/v1/orgs/{org_id}/beneficiaries"),
    ("POST", "/v1/orgs/{org_id}/beneficiaries/{beneficiary_id}/bank-details"),
    ("POST", "/v1/payments/{payment_id}/approve"),
    ("POST", "/v1/payments/{payment_id}/reject"),
    ("POST", "/v1/payments/{payment_id}/requote-consent"),
}

# Writes that move an organisation's money only through payments.create (whose
# acting_owner refuses a suspended organisation, tested above through /v1/payments) and
# need a record of theirs first (a request to pay, a paid order to refund), so the sweep
# below cannot reach them with a made-up id (issue 17's collections and merchants).
MONEY_VIA_PAYMENTS = {
    ("POST", "/v1/collections/requests/{request_id}/pay"),
    ("POST", "/v1/orgs/{org_id}/merchant/orders/{order_id}/refunds"),
}
# A request for money, a merchant account and its checkout links move none.
NOT_MONEY_WRITES |= {
    ("POST", "/v1/collections/requests"),
    ("POST", "/v1/orgs/{org_id}/merchant"),
    ("POST", "/v1/orgs/{org_id}/merchant/checkouts"),
}


def _org_writes(client: TestClient) -> set[tuple[str, str]]:
    """Every write route of the app that acts for an organisation: an {org_id} or
    {payment_id} in its path, or an org_id in its body, form or query."""
    doc = client.get("/openapi.json").json()
    schemas = doc.get("components", {}).get("schemas", {})

    def props(body: dict[str, Any]) -> set[str]:
        out: set[str] = set()
        for media in body.get("content", {}).values():
            ref = media.get("schema", {}).get("$ref", "")
            schema = schemas.get(ref.rsplit("/", 1)[-1], media.get("schema", {}))
            out |= set(schema.get("properties", {}))
        return out

    found = set()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method.upper() not in ("POST", "PUT", "PATCH", "DELETE"):
                continue
            if path.startswith("/v1/staff/"):
                continue
            names = props(op.get("requestBody", {})) | {
                p["name"] for p in op.get("parameters", [])}
            if "{org_id}" in path or "{payment_id}" in path or "org_id" in names:
                found.add((method.upper(), path))
    return found


def test_every_org_write_is_classified_as_moving_money_or_not(client: TestClient) -> None:
    """A new endpoint acting for an organisation must say whether it moves money, so the
    suspended-state test below covers it the day it is added."""
    writes = _org_writes(client)
    known = set(MONEY_WRITES) | NOT_MONEY_WRITES | MONEY_VIA_PAYMENTS
    assert writes == known, ("unclassified:", writes - known, "gone:", known - writes)


def _call(client: TestClient, who: Actor, method: str, template: str, org_id: str,
          payment_id: str, n: int) -> Any:
    path = template.replace("{org_id}", org_id).replace("{payment_id}", payment_id)
    headers = {**who.headers, "Idempotency-Key": f"k-{n}"}
    if template == "/v1/batches":
        return client.post(path, headers=headers, data={"org_id": org_id}, files={"file": (
            "b.csv", b"reference,currency,amount,recipient_type,email\n"
                     b"r1,USD,1.00,user,dave@example.com\n", "text/csv")})
    if template == "/v1/refunds/files":
        return client.post(path, headers=who.headers, data={"org_id": org_id},
                           files={"file": ("e", JPEG, "image/jpeg")})
    body = dict(MONEY_WRITES[(method, template)] or {})
    if "{org_id}" not in template and "{payment_id}" not in template:
        body["org_id"] = org_id
    return client.request(method, path, json=body, headers=headers)


def test_a_suspended_org_moves_no_money_on_any_endpoint_until_reinstated(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        other_customer: Actor) -> None:
    org_id = make_org(platform, {"owner": customer})
    kyc(platform, org_id, 3, owner_type="org")
    sender = open_wallet(platform, org_id, owner_type="org")
    paid = make_payment(platform, sender, status="credited",
                        recipient=open_wallet(platform, other_customer.user.id))
    draft = make_payment(platform, sender, status="ready")
    admin = make_staff(platform, "admin")
    r = client.post(f"/v1/staff/orgs/{org_id}/suspend", headers=admin.headers)
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    for n, (method, template) in enumerate(sorted(MONEY_WRITES)):
        pid = draft.id if template.endswith("/cancel") else paid.id
        r = _call(client, customer, method, template, org_id, pid, n)
        assert (r.status_code, r.json()["error"]["code"]) == (409, "ORG_SUSPENDED"), (
            method, template, r.status_code, r.text)
    r = client.post(f"/v1/staff/orgs/{org_id}/unsuspend", headers=admin.headers)
    assert r.status_code == 200 and r.json()["status"] == "active"
    for n, (method, template) in enumerate(sorted(MONEY_WRITES), start=100):
        pid = draft.id if template.endswith("/cancel") else paid.id
        r = _call(client, customer, method, template, org_id, pid, n)
        code = r.json().get("error", {}).get("code") if r.status_code >= 400 else None
        assert code != "ORG_SUSPENDED", (method, template, r.text)
        if template in ("/v1/quotes", "/v1/orgs/{org_id}/wallets",
                        "/v1/orgs/{org_id}/wallets/external/challenges",
                        "/v1/refunds/files", "/v1/payments/{payment_id}/cancel"):
            assert r.status_code in (200, 201), (method, template, r.text)


# --- ownership of claimed keys (issue 14/3a, 5) --------------------------------------------


def test_no_route_shows_an_org_the_payments_to_a_key_it_claimed_without_proof(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        other_customer: Actor) -> None:
    """A wallet registered before proofs existed (an unproven claim on someone's key):
    payments to its address are not the organisation's to read, on any route."""
    org_id = make_org(platform, {"owner": customer})
    claimed = make_wallet(platform, org_id, owner_type="org", custodial=False)
    with platform.deps.uow() as uow:
        uow.repo(Wallet).update(dataclasses.replace(claimed, proven=False))
        uow.commit()
    sender = open_wallet(platform, other_customer.user.id)
    p = make_payment(platform, sender, recipient=claimed, memo="marker-7f3a")
    reads = [(m, path) for m, path in _endpoints(client)
             if m == "GET" and not path.startswith("/v1/staff/")
             and (m, re.sub(SOME_ID, "{id}", path)) not in PUBLIC]
    assert reads
    for method, path in reads:
        url = path.replace(SOME_ID, p.id)
        for params in ({}, {"org_id": org_id}):
            r = client.request(method, url, params=params, headers=customer.headers)
            assert p.id not in r.text and "marker-7f3a" not in r.text, (method, url, params)
    # The control: once its owner is proven, the same payment is theirs to read.
    with platform.deps.uow() as uow:
        uow.repo(Wallet).update(dataclasses.replace(claimed, proven=True))
        uow.commit()
    assert client.get(f"/v1/payments/{p.id}", headers=customer.headers).status_code == 200
    r = client.get("/v1/history", params={"org_id": org_id}, headers=customer.headers)
    assert p.id in r.text
