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
from corridor.platform.domain.idempotency import check_key, raise_if_any
from corridor.platform.domain.payments import Quote
from tests.platform.conftest import Actor, give_kyc, make_staff
from tests.platform.payment_fakes import open_wallet
from tests.platform.test_kyc_api import (  # noqa: F401  (fixtures)
    BASIC,
    authorisations,
    officer,
    put,
)

QUOTE = {"sell_asset": "USD", "buy_asset": "EUR", "sell_amount": "10.00"}
X = "00000000-0000-0000-0000-000000000000"  # no such record: the key is checked first

MISSING, INVALID = "IDEMPOTENCY_KEY_MISSING", "IDEMPOTENCY_KEY_INVALID"  # the wire's codes


def creating_requests(customer: Actor, staff: Actor) -> list[tuple[Actor, str, dict[str, Any]]]:
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
    ]


def test_every_creating_request_needs_a_key_and_says_which_mistake(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    give_kyc(platform, customer.user.id, tier=2)
    open_wallet(platform, customer.user.id)
    staff = make_staff(platform, "compliance_officer")  # reviews KYC, refunds and holds
    for who, path, body in creating_requests(customer, staff):
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


CREATING_OPERATIONS = ("/v1/quotes", "/v1/payments", "/v1/deposits", "/v1/withdrawals",
                       "/v1/orgs/{org_id}/deposits", "/v1/orgs/{org_id}/withdrawals",
                       "/v1/payments/{payment_id}/refund",
                       "/v1/staff/kyc/{record_id}/decision",
                       "/v1/staff/refunds/{refund_id}/decision",
                       "/v1/staff/holds/{hold_id}/decision")


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
