"""Deposits (F1): instructions, the bank's transfer through the signed webhook, the mint
through the settlement outbox, and the refusals (KYC tier, cap, idempotency, input,
authorisation)."""

from __future__ import annotations

import dataclasses

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain import rails as dom
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.rails import Deposit
from corridor.platform.domain.transfers import ISSUER, wallet_ref
from corridor.platform.domain.wallets import Authorisation
from corridor.platform.services.ledger_port import ChainAccount, ChainHolding
from tests.platform.conftest import Actor, make_staff, make_user
from tests.platform.rails_fakes import (
    create_deposit,
    credit,
    grant_tier,
    key,
    open_wallet,
    play,
    rails_platform,  # noqa: F401  (the `platform` fixture: no node, deterministic keys)
    sim_of,
    transfers,
)
from tests.platform.wallet_fakes import make_org, use_ledger


@pytest.fixture(name="settings")
def limits_alone(settings: Settings) -> Settings:
    """The limits on their own: the AML engine (on by default) would hold these large
    amounts for review before the limits are reached (tests/platform/test_movement_holds.py
    covers monitors and limits together)."""
    return dataclasses.replace(settings, aml_monitoring=False)



def deposits_in_db(platform: bootstrap.Platform) -> list[Deposit]:
    with platform.deps.uow() as uow:
        return uow.repo(Deposit).many()


def send(client: TestClient, who: Actor, reference: str, amount: str,
         currency: str = "USD") -> None:
    r = client.post("/v1/dev/sim-bank/transfers", headers=who.headers,
                    json={"reference": reference, "amount": amount, "currency": currency})
    assert r.status_code == 202, r.text


def test_deposit_flow_to_credited(client: TestClient, platform: bootstrap.Platform,
                                  customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    d = create_deposit(client, customer, "250.00")
    assert d["status"] == "awaiting_funds" and d["amount"] == "250.00"
    assert dom.reference_ok(d["reference"]) and d["instructions"]["reference"] == d["reference"]
    account = d["instructions"]["account"]
    assert account.startswith("GB") and d["instructions"]["bank_code"] == "SIMBGB2L"
    assert len(d["uetr"]) == 36

    send(client, customer, d["reference"].lower(), "250.00")  # case does not matter
    assert transfers(platform) == []  # asynchronous: nothing until the bank delivers
    assert sim_of(platform).drain() == 1
    mid = client.get(f"/v1/deposits/{d['id']}", headers=customer.headers).json()
    assert mid["status"] == "minting" and mid["received"] == "250.00"
    (mint,) = transfers(platform, ref_id=d["id"])
    assert (mint.purpose, mint.source, mint.status) == ("deposit", ISSUER, "queued")
    assert [(leg.source, leg.destination, leg.code, leg.amount_minor)
            for leg in mint.leg_list()] == [(ISSUER, wallet_ref(d["wallet_id"]), "USD", 25000)]

    play(platform, mint.id)
    done = client.get(f"/v1/deposits/{d['id']}", headers=customer.headers).json()
    assert done["status"] == "credited" and done["height"] == 42 and done["tx_id"]
    assert [h["status"] for h in done["history"]] == [
        "awaiting_funds", "received", "minting", "credited"]
    assert all(isinstance(h["at_ms"], int) for h in done["history"])
    play(platform, mint.id)  # a replayed outcome changes nothing
    assert client.get(f"/v1/deposits/{d['id']}", headers=customer.headers).json() == done
    with platform.deps.uow() as uow:
        actions = [e.action for e in uow.repo(AuditEntry).many(object_id=d["id"])]
    assert actions == ["deposit.create", "deposit.received", "deposit.credited"]

    page = client.get("/v1/deposits", headers=customer.headers).json()
    assert page["total"] == 1 and page["items"][0]["id"] == d["id"]


def test_a_different_amount_is_credited_as_received_and_noted(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    d = create_deposit(client, customer, "250.00")
    send(client, customer, d["reference"], "200.50")
    sim_of(platform).drain()
    (mint,) = transfers(platform, ref_id=d["id"])
    assert mint.leg_list()[0].amount_minor == 20050
    play(platform, mint.id)
    out = client.get(f"/v1/deposits/{d['id']}", headers=customer.headers).json()
    assert out["status"] == "credited" and out["received"] == "200.50"
    assert "instructed 250.00, received 200.50" in out["note"]
    (rec,) = deposits_in_db(platform)
    assert rec.flagged  # less than instructed is flagged too (issue 14, item 1)


def test_a_refused_mint_fails_the_deposit_and_flags_it(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    d = create_deposit(client, customer)
    send(client, customer, d["reference"], d["amount"])
    sim_of(platform).drain()
    (mint,) = transfers(platform, ref_id=d["id"])
    play(platform, mint.id, committed=False)
    out = client.get(f"/v1/deposits/{d['id']}", headers=customer.headers).json()
    assert out["status"] == "failed" and out["reason_code"] == "UNDERFUNDED"
    (rec,) = deposits_in_db(platform)
    assert rec.flagged


def test_funds_twice_or_in_the_wrong_currency_are_never_minted(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    d = create_deposit(client, customer)
    send(client, customer, d["reference"], d["amount"])
    send(client, customer, d["reference"], d["amount"])  # the customer paid twice
    send(client, customer, "RF18539007547034", "10.00")  # matches no deposit
    sim_of(platform).drain()
    assert len(transfers(platform)) == 1
    with platform.deps.uow() as uow:
        flags = {e.action for e in uow.repo(AuditEntry).many() if e.actor_kind == "system"}
    assert {"deposit.funds.extra", "rail.funds.unmatched"} <= flags

    other = create_deposit(client, customer, "10.00")
    send(client, customer, other["reference"], "10.00", currency="EUR")
    sim_of(platform).drain()
    out = client.get(f"/v1/deposits/{other['id']}", headers=customer.headers).json()
    assert out["status"] == "failed" and out["reason_code"] == "CURRENCY_MISMATCH"
    assert len(transfers(platform)) == 1


def test_idempotency(client: TestClient, platform: bootstrap.Platform,
                     customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    headers = {**customer.headers, **key()}
    body = {"currency": "USD", "amount": "100.00"}
    first = client.post("/v1/deposits", json=body, headers=headers)
    again = client.post("/v1/deposits", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = client.post("/v1/deposits", json={**body, "amount": "100.01"}, headers=headers)
    assert other.status_code == 409 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    missing = client.post("/v1/deposits", json=body, headers=customer.headers)
    assert missing.status_code == 422
    assert missing.json()["error"]["fields"].keys() == {"Idempotency-Key"}
    assert len(deposits_in_db(platform)) == 1


def test_kyc_tier_currency_limit_and_balance_cap(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        other_customer: Actor) -> None:
    def post(who: Actor, amount: str, currency: str = "USD") -> tuple[int, str]:
        r = client.post("/v1/deposits", json={"currency": currency, "amount": amount},
                        headers={**who.headers, **key()})
        return r.status_code, r.json().get("error", {}).get("code", "")

    assert post(other_customer, "10.00") == (422, "CURRENCY_NOT_ALLOWED")  # no KYC: tier 0
    grant_tier(platform, customer.user.id, tier=1)  # basic: USD/EUR, 1,000 a time, cap 5,000
    assert post(customer, "10.00", "CNY") == (422, "CURRENCY_NOT_ALLOWED")
    assert post(customer, "1000.01") == (422, "LIMIT_EXCEEDED")
    credit(client, platform, customer, "1000.00")
    for _ in range(3):  # open deposits reserve room under the cap
        assert post(customer, "1000.00") == (201, "")
    assert post(customer, "1000.01") == (422, "LIMIT_EXCEEDED")
    assert post(customer, "1000.00") == (201, "")
    assert post(customer, "0.01") == (422, "LIMIT_EXCEEDED")
    assert len(deposits_in_db(platform)) == 5


def test_bad_input_is_refused_with_every_problem(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    cases = [
        ({"currency": "XXX", "amount": "1.00"}, "INVALID_FIELDS", {"currency"}),
        ({"currency": "USD", "amount": "1.001"}, "INVALID_FIELDS", {"amount"}),
        ({"currency": "USD", "amount": "-5"}, "INVALID_FIELDS", {"amount"}),
        ({"currency": "USD", "amount": "abc"}, "INVALID_FIELDS", {"amount"}),
        ({"currency": "USD", "amount": 5}, "INVALID_REQUEST", {"amount"}),  # never a float
        ({"currency": "USD", "amount": "1", "extra": 1}, "INVALID_REQUEST", {"extra"}),
    ]
    for body, code, fields in cases:
        r = client.post("/v1/deposits", json=body, headers={**customer.headers, **key()})
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["code"] == code, body
        assert set(r.json()["error"]["fields"]) == fields, body
    r = client.post("/v1/deposits", json={"currency": "XXX", "amount": "x"},
                    headers=customer.headers)
    assert set(r.json()["error"]["fields"]) == {"currency", "Idempotency-Key"}
    assert deposits_in_db(platform) == []


def test_authorisation(client: TestClient, platform: bootstrap.Platform, customer: Actor,
                       other_customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    d = create_deposit(client, customer)
    for method, path in [("POST", "/v1/deposits"), ("GET", "/v1/deposits"),
                         ("GET", f"/v1/deposits/{d['id']}"),
                         ("POST", "/v1/dev/sim-bank/transfers")]:
        assert client.request(method, path, json={}).status_code == 401, path
    assert client.get(f"/v1/deposits/{d['id']}",
                      headers=other_customer.headers).status_code == 404
    assert client.get("/v1/deposits", headers=other_customer.headers).json()["total"] == 0
    staff = make_staff(platform, "support_agent")
    r = client.post("/v1/deposits", json={"currency": "USD", "amount": "1.00"},
                    headers={**staff.headers, **key()})
    assert r.status_code == 403


def test_org_deposits_need_pay_initiate(client: TestClient, platform: bootstrap.Platform,
                                        customer: Actor, other_customer: Actor) -> None:
    viewer = make_user(platform, email="vera@example.com")
    org_id = make_org(platform, customer.user.id, {viewer.user.id: "viewer"})
    grant_tier(platform, org_id, tier=3, subject_type="org")
    path = f"/v1/orgs/{org_id}/deposits"
    d = create_deposit(client, customer, "5000.00", path=path)
    assert d["owner_type"] == "org" and d["owner_id"] == org_id
    body = {"currency": "USD", "amount": "1.00"}
    r = client.post(path, json=body, headers={**viewer.headers, **key()})
    assert r.status_code == 403
    r = client.post(path, json=body, headers={**other_customer.headers, **key()})
    assert r.status_code == 404
    assert client.get(path, headers=viewer.headers).json()["total"] == 1
    assert client.get(f"/v1/deposits/{d['id']}", headers=viewer.headers).status_code == 200
    assert client.get(f"/v1/deposits/{d['id']}",
                      headers=other_customer.headers).status_code == 404
    assert client.get(path, headers=other_customer.headers).status_code == 404


# --- a wallet that cannot receive (issue 14, item 15) -------------------------------------


@dataclasses.dataclass
class FrozenNode:
    """A node on which every account holds a frozen USD holding."""

    def account(self, address: str) -> ChainAccount | None:
        return ChainAccount(address=address, sequence=1, holdings=(ChainHolding(
            code="USD", issuer="cISSUER", balance_minor=0, authorised=True, frozen=True),))


def test_a_wallet_that_cannot_receive_gets_no_instructions(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    wallet_id = open_wallet(platform, customer.user.id)
    first = create_deposit(client, customer, "10.00")
    with platform.deps.uow() as uow:  # made after the customer was verified: asked for now
        auth = uow.repo(Authorisation).one(wallet_id=wallet_id, asset_code="USD")
        assert auth is not None and auth.status == "requested"
        uow.repo(Authorisation).update(dataclasses.replace(auth, status="failed"))
        uow.commit()
    r = client.post("/v1/deposits", json={"currency": "USD", "amount": "10.00"},
                    headers={**customer.headers, **key()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "WALLET_CANNOT_RECEIVE"
    assert "not authorised" in r.json()["error"]["fields"]["currency"]
    # the money of the first deposit arrives after the failure: held, not minted to fail
    send(client, customer, first["reference"], "10.00")
    sim_of(platform).drain()
    held = client.get(f"/v1/deposits/{first['id']}", headers=customer.headers).json()
    assert held["status"] == "held" and held["reason_code"] == "WALLET_CANNOT_RECEIVE"
    assert transfers(platform) == []

    with platform.deps.uow() as uow:
        fixed = uow.repo(Authorisation).one(wallet_id=wallet_id, asset_code="USD")
        assert fixed is not None
        uow.repo(Authorisation).update(dataclasses.replace(fixed, status="authorised"))
        uow.commit()
    use_ledger(platform, FrozenNode())
    r = client.post("/v1/deposits", json={"currency": "USD", "amount": "10.00"},
                    headers={**customer.headers, **key()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "WALLET_CANNOT_RECEIVE"
    assert "frozen" in r.json()["error"]["fields"]["currency"]
    assert len(deposits_in_db(platform)) == 1
