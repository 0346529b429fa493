"""Issue 15: every creating request carries an Idempotency-Key - quotes, refund requests and
staff decisions too - and a missing header is told apart from a malformed one by its code."""
# The fixtures of test_kyc_api.py are imported by name, so parameters redefine them:
# ruff: noqa: F811

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.errors import PlatformError, Problems
from corridor.platform.domain.idempotency import (
    IdempotentRequest,
    check_key,
    raise_if_any,
    request_hash,
)
from corridor.platform.domain.identity import User
from corridor.platform.domain.orgs import Department, Membership, Organisation
from corridor.platform.domain.payments import Quote
from corridor.platform.domain.wallets import Wallet
from corridor.platform.domain.webhooks import WebhookEndpoint
from tests.platform.conftest import Actor, give_kyc, make_staff, make_user
from tests.platform.payment_fakes import open_wallet
from tests.platform.test_kyc_api import (  # noqa: F401  (fixtures)
    BASIC,
    authorisations,
    officer,
    put,
)
from tests.platform.test_wallets import proven

QUOTE = {"sell_asset": "USD", "buy_asset": "EUR", "sell_amount": "10.00"}
X = "00000000-0000-0000-0000-000000000000"  # no such record: the key is checked first

MISSING, INVALID = "IDEMPOTENCY_KEY_MISSING", "IDEMPOTENCY_KEY_INVALID"  # the wire's codes


def creating_requests(customer: Actor, staff: Actor,
                      admin: Actor) -> list[tuple[Actor, str, dict[str, Any]]]:
    bank = {"name": "Acme", "account": "GB82WEST12345698765432", "country": "GB",
            "bank_code": "WESTGB2L"}
    return [
        (customer, "/v1/quotes", QUOTE),
        (customer, "/v1/payments", {"recipient": {"type": "user", "email": "d@example.com"},
                                    "asset": "USD", "amount": "1.00"}),
        (customer, "/v1/deposits", {"currency": "USD", "amount": "10.00"}),
        (customer, "/v1/withdrawals", {"currency": "USD", "amount": "1.00", "bank": bank}),
        (customer, f"/v1/payments/{X}/refund", {"kind": "wrong_payee", "reason": "wrong"}),
        (staff, f"/v1/staff/kyc/{X}/decision", {"decision": "reject", "reason": "no"}),
        (staff, f"/v1/staff/refunds/{X}/decision", {"decision": "reject", "reason": "no"}),
        (staff, f"/v1/staff/holds/{X}/decision", {"decision": "return", "note": "no"}),
        (staff, f"/v1/staff/compliance/cases/{X}/decisions", {"kind": "note", "note": "no"}),
        # the institution's records and staff accounts (issue 15: every creating request)
        (customer, "/v1/orgs", {"name": "Acme", "country": "GB"}),
        (customer, f"/v1/orgs/{X}/departments", {"name": "Ops"}),
        (customer, f"/v1/orgs/{X}/members", {"email": "d@example.com", "role": "viewer"}),
        (customer, f"/v1/orgs/{X}/wallets", {"label": "payouts"}),
        (customer, f"/v1/orgs/{X}/wallets/external/challenges", {"public_key": "p1"}),
        (customer, f"/v1/orgs/{X}/wallets/external", {"public_key": "p1", "label": "hsm",
                                                      "challenge_id": X, "signature": "00"}),
        (customer, f"/v1/orgs/{X}/webhooks", {"url": "https://hooks.example"}),
        (admin, "/v1/staff/users", {"email": "s@corridor.example", "name": "S",
                                    "password": "a long staff passphrase",
                                    "role": "auditor"}),
    ]


def test_every_creating_request_needs_a_key_and_says_which_mistake(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    give_kyc(platform, customer.user.id, tier=2)
    open_wallet(platform, customer.user.id)
    staff = make_staff(platform, "compliance_officer")  # reviews KYC, refunds and holds
    admin = make_staff(platform, "admin")  # manages staff accounts
    for who, path, body in creating_requests(customer, staff, admin):
        for headers, code, says in (
                (who.headers, MISSING, "missing"),
                ({**who.headers, "Idempotency-Key": "k" * 65}, INVALID, "invalid"),
                ({**who.headers, "Idempotency-Key": "a\tb"}, INVALID, "invalid")):
            r = client.post(path, headers=headers, json=body)
            assert r.status_code == 422, (path, r.text)
            error = r.json()["error"]
            assert error["code"] == code, (path, r.text)
            assert error["fields"]["Idempotency-Key"].startswith(says), (path, r.text)
            assert says in error["message"], (path, r.text)
    with platform.deps.uow() as uow:
        assert uow.repo(Quote).count() == 0
        assert uow.repo(Organisation).count() == 0
        assert uow.repo(User).count(kind="staff") == 2


CREATING_OPERATIONS = ("/v1/quotes", "/v1/payments", "/v1/deposits", "/v1/withdrawals",
                       "/v1/orgs/{org_id}/deposits", "/v1/orgs/{org_id}/withdrawals",
                       "/v1/payments/{payment_id}/refund",
                       "/v1/staff/kyc/{record_id}/decision",
                       "/v1/staff/refunds/{refund_id}/decision",
                       "/v1/staff/holds/{hold_id}/decision",
                       "/v1/staff/compliance/cases/{case_id}/decisions", "/v1/orgs",
                       "/v1/orgs/{org_id}/departments", "/v1/orgs/{org_id}/members",
                       "/v1/orgs/{org_id}/wallets", "/v1/orgs/{org_id}/webhooks",
                       "/v1/orgs/{org_id}/wallets/external/challenges",
                       "/v1/orgs/{org_id}/wallets/external",
                       "/v1/staff/users")


def test_the_openapi_document_lists_the_header_on_every_creating_operation(
        client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in CREATING_OPERATIONS:
        op = spec["paths"][path]["post"]
        names = {p["name"].lower() for p in op.get("parameters", []) if p["in"] == "header"}
        assert "idempotency-key" in names, path
        assert "422" in op["responses"] and "409" in op["responses"], path


def test_a_quote_retried_under_its_key_is_the_same_quote(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    give_kyc(platform, customer.user.id, tier=2)
    headers = {**customer.headers, "Idempotency-Key": "q-1"}
    first = client.post("/v1/quotes", headers=headers, json=QUOTE)
    again = client.post("/v1/quotes", headers=headers, json=QUOTE)
    assert first.status_code == again.status_code == 201, again.text
    assert first.json()["id"] == again.json()["id"]
    other = client.post("/v1/quotes", headers=headers, json={**QUOTE, "sell_amount": "11.00"})
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    fresh = client.post("/v1/quotes", headers={**customer.headers, "Idempotency-Key": "q-2"},
                        json=QUOTE)
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]
    with platform.deps.uow() as uow:
        assert uow.repo(Quote).count() == 2


def test_a_kyc_decision_retried_under_its_key_is_answered_not_refused(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, officer: Actor,
        authorisations: list[dict[str, Any]]) -> None:
    rid = put(client, customer, BASIC, tier=1).json()["id"]
    decision = {"decision": "accept", "reason": "checked", "tier": 1, "risk": "low"}
    headers = {**officer.headers, "Idempotency-Key": "d-1"}
    first = client.post(f"/v1/staff/kyc/{rid}/decision", headers=headers, json=decision)
    again = client.post(f"/v1/staff/kyc/{rid}/decision", headers=headers, json=decision)
    assert first.status_code == again.status_code == 200, again.text
    assert first.json()["status"] == again.json()["status"]
    assert len(authorisations) == 1  # acted once
    other = client.post(f"/v1/staff/kyc/{rid}/decision",
                        headers={**officer.headers, "Idempotency-Key": "d-2"}, json=decision)
    assert other.status_code == 409  # a second decision is not a retry


def test_institution_records_retried_under_their_key_are_made_once(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    """An organisation, a department, a member, a wallet, a webhook and a staff account:
    a retry under the same key is the first answer; another body under it is refused."""
    give_kyc(platform, customer.user.id, tier=1)
    make_user(platform, email="dan@example.com", name="Dan")

    def twice(who: Actor, path: str, body: dict[str, Any], key: str,
              **changed: str) -> dict[str, Any]:
        headers = {**who.headers, "Idempotency-Key": key}
        first = client.post(path, headers=headers, json=body)
        again = client.post(path, headers=headers, json=body)
        assert first.status_code == again.status_code == 201, (path, again.text)
        assert first.json() == again.json(), path
        other = client.post(path, headers=headers, json={**body, **changed})
        assert (other.status_code, other.json()["error"]["code"]) == (
            409, "IDEMPOTENCY_KEY_REUSED"), (path, other.text)
        out: dict[str, Any] = first.json()
        return out

    org = twice(customer, "/v1/orgs", {"name": "Acme", "country": "GB"}, "o-1",
                name="Acme 2")["id"]
    give_kyc(platform, org, tier=3, subject_type="org")
    twice(customer, f"/v1/orgs/{org}/departments", {"name": "Ops"}, "d-1", name="Ops 2")
    twice(customer, f"/v1/orgs/{org}/members", {"email": "dan@example.com", "role": "viewer"},
          "m-1", role="auditor")
    twice(customer, f"/v1/orgs/{org}/wallets", {"label": "payouts"}, "w-1",
          label="other")
    # a registered key: the retry is answered with the wallet, though its challenge is used
    twice(customer, f"/v1/orgs/{org}/wallets/external", proven(client, customer.headers, org),
          "x-1", label="other")
    hook = twice(customer, f"/v1/orgs/{org}/webhooks", {"url": "https://hooks.example/a"},
                 "h-1", url="https://hooks.example/b")
    assert hook["secret"].startswith("whsec_")  # the retry carried the same secret
    admin = make_staff(platform, "admin")
    twice(admin, "/v1/staff/users", {"email": "sam@corridor.example", "name": "Sam",
                                     "password": "a long staff passphrase",
                                     "role": "auditor"}, "s-1", name="Sam B")
    with platform.deps.uow() as uow:
        assert uow.repo(Organisation).count() == 1
        assert uow.repo(Department).count(org_id=org) == 1
        assert uow.repo(Membership).count(org_id=org) == 2
        assert uow.repo(WebhookEndpoint).count(org_id=org) == 1
        assert uow.repo(User).count(email="sam@corridor.example") == 1
        # the KYB acceptance opened no wallet here (give_kyc skips the decision): the
        # custodial one asked for and the registered key
        assert uow.repo(Wallet).count(owner_type="org", owner_id=org) == 2
        remembered = uow.repo(IdempotentRequest).many(operation="staff.create")
    # what is remembered of the request leaves the password out
    [staff_request] = remembered
    assert staff_request.request_hash == request_hash(
        {"email": "sam@corridor.example", "name": "Sam", "role": "auditor"})


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_a_missing_key_alone_or_among_other_problems(raw: str | None) -> None:
    with pytest.raises(PlatformError) as alone:
        check_key(raw)
    assert alone.value.code == MISSING
    problems = Problems()
    problems.add("amount", "not a number")
    check_key(raw, problems)
    with pytest.raises(PlatformError) as among:
        raise_if_any(problems)
    assert among.value.code == MISSING and set(among.value.fields) == {"amount",
                                                                        "Idempotency-Key"}
