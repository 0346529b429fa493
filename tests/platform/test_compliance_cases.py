"""Compliance in the payment path (issue 16), on both databases: a payment to a listed
name is held with an alert in its sender's case; release settles it once, return rejects
it and ends the reservation; a cleared (entry, party) pair is not held again until the
party's name changes; four-eyes on closing; roles; idempotent decisions; KYC screening."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.identity import User
from corridor.platform.domain.monitoring import Finding, Movement, Outcome
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.domain.transfers import Transfer, TransferStatus
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services import funds, screening
from corridor.platform.services.screening import ListFiles
from tests.platform.conftest import Actor, keyed, make_staff, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, commit, kyc, open_wallet
from tests.platform.wallet_fakes import CountingKeyGen

LIST = ListFiles(file_name="consolidated.csv", main=(
    b"_id,source,name,type,alt_names,dates_of_birth,nationalities,programs\n"
    b'"a2","OFAC","KHOROSHEV, Dmitry Yuryevich","Individual","LOCKBITSUPP",1993-04-17,'
    b'RU,"CYBER2"\n'))
LISTED = "Dmitry Khoroshev"


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def platform(settings: Settings, chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=FakeClock(), ledger=chain, keygen=CountingKeyGen())
    screening.import_list(p.deps, None, LIST, ListFormat.CSL)
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


@dataclasses.dataclass
class World:
    alice: Actor
    alice_wallet: Wallet
    bob: Actor  # bears a listed name
    officer: Actor
    second: Actor


@pytest.fixture
def world(platform: bootstrap.Platform, chain: FakeChain) -> World:
    alice = make_user(platform, email="carol@example.com", name="Carol Customer")
    bob = make_user(platform, email="dave@example.com", name=LISTED)
    kyc(platform, alice.user.id, 2)
    kyc(platform, bob.user.id, 2)
    wallet = open_wallet(platform, alice.user.id)
    open_wallet(platform, bob.user.id)
    chain.fund(wallet.address, "USD", 100_000)
    return World(alice, wallet, bob, make_staff(platform, "compliance_officer"),
                 make_staff(platform, "compliance_officer", "second@corridor.example"))


def pay(client: TestClient, who: Actor, amount: str = "100.00") -> dict[str, Any]:
    r = client.post("/v1/payments", headers=who.creating,
                    json={"recipient": {"type": "user", "email": "dave@example.com"},
                          "asset": "USD", "amount": amount})
    assert r.status_code == 201, r.text
    return dict(r.json())


def only_case(client: TestClient, officer: Actor) -> dict[str, Any]:
    r = client.get("/v1/staff/compliance/cases", headers=officer.headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 1
    detail = client.get(f"/v1/staff/compliance/cases/{items[0]['id']}", headers=officer.headers)
    assert detail.status_code == 200
    return dict(detail.json())


def decide(client: TestClient, who: Actor, case_id: str, key: str | None = None,
           **body: Any) -> Any:
    headers = keyed(who.headers) if key is None else {**who.headers, "Idempotency-Key": key}
    return client.post(f"/v1/staff/compliance/cases/{case_id}/decisions", headers=headers,
                       json={"note": "checked the evidence", **body})


def available(platform: bootstrap.Platform, wallet: Wallet) -> int:
    with platform.deps.uow() as uow:
        return funds.available_minor(platform.deps, uow, wallet, "USD")


def transfer(platform: bootstrap.Platform, transfer_id: str) -> Transfer:
    with platform.deps.uow() as uow:
        t = uow.repo(Transfer).get(transfer_id)
    assert t is not None
    return t


def statuses(p: dict[str, Any]) -> list[str]:
    return [h["status"] for h in p["history"]]


def actions(platform: bootstrap.Platform, object_id: str) -> list[str]:
    with platform.deps.uow() as uow:
        return [e.action for e in uow.repo(AuditEntry).many(object_id=object_id,
                                                            order_by="seq")]


def test_a_clean_payment_passes_screening_and_is_submitted(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    with platform.deps.uow() as uow:
        uow.repo(User).update(dataclasses.replace(world.bob.user, name="Dave Customer"))
        uow.commit()
    p = pay(client, world.alice)
    assert statuses(p) == ["draft", "screening", "ready", "submitted"]
    r = client.get("/v1/staff/compliance/alerts", headers=world.officer.headers)
    assert r.json()["total"] == 0


def test_a_payment_to_a_listed_name_is_held_then_released_and_settles_once(
        client: TestClient, platform: bootstrap.Platform, world: World,
        chain: FakeChain) -> None:
    p = pay(client, world.alice, "600.00")
    assert p["status"] == "on_hold" and statuses(p) == ["draft", "screening", "on_hold"]
    # reserved: the held debit counts against what the sender may still spend
    fee = 100_000 - 60_000 - available(platform, world.alice_wallet)
    assert 0 <= fee < 1_000
    with platform.deps.uow() as uow:
        held = uow.repo(Transfer).many(ref_id=p["id"])
    assert [t.status for t in held] == [TransferStatus.HELD]
    r = client.post("/v1/payments", headers=world.alice.creating,
                    json={"recipient": {"type": "user", "email": "dave@example.com"},
                          "asset": "USD", "amount": "600.00"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "INSUFFICIENT_FUNDS"

    alerts = client.get("/v1/staff/compliance/alerts?state=open&typology=sanctions",
                        headers=world.officer.headers).json()
    assert alerts["total"] == 1  # the refused attempt left no alert
    case = only_case(client, world.officer)
    assert case["case"]["subject_id"] == world.alice.user.id
    assert case["customer_name"] == "Carol Customer" and case["kyc"]["tier"] == 2
    alert = case["alerts"][0]
    assert alert["monitor"] == "screening" and alert["source_id"] == p["id"]
    hit = alert["explanation"]["hits"][0]
    assert hit["source_id"] == "a2" and hit["score"] >= 0.8 and hit["tokens"]
    assert alert["explanation"]["screened_name"] == LISTED
    assert [x["id"] for x in case["payments"]] == [p["id"]]

    released = decide(client, world.officer, case["case"]["id"], kind="release")
    assert released.status_code == 200, released.text
    paid = client.get(f"/v1/payments/{p['id']}", headers=world.alice.headers).json()
    assert statuses(paid)[-3:] == ["on_hold", "ready", "submitted"]
    assert transfer(platform, held[0].id).status == TransferStatus.QUEUED
    commit(platform, chain, p["id"], height=7)
    commit(platform, chain, p["id"], height=8)  # a replayed outcome changes nothing
    done = client.get(f"/v1/payments/{p['id']}", headers=world.alice.headers).json()
    assert done["status"] == "credited" and done["height"] == 7
    assert statuses(done).count("credited") == 1
    again = decide(client, world.officer, case["case"]["id"], kind="release")
    assert again.status_code == 409 and again.json()["error"]["code"] == "NOTHING_HELD"
    assert "payment.released" in actions(platform, p["id"])
    assert "compliance.release" in actions(platform, case["case"]["id"])


def test_return_rejects_the_payment_and_the_balance_is_whole(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    p = pay(client, world.alice, "250.00")
    assert available(platform, world.alice_wallet) < 100_000 - 25_000 + 1
    case = only_case(client, world.officer)
    key = "return-1"
    r = decide(client, world.officer, case["case"]["id"], key, kind="return")
    assert r.status_code == 200, r.text
    retried = decide(client, world.officer, case["case"]["id"], key, kind="return")
    assert retried.status_code == 200 and retried.json() == r.json()  # done once
    reused = decide(client, world.officer, case["case"]["id"], key, kind="release")
    assert reused.status_code == 409
    assert reused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    got = client.get(f"/v1/payments/{p['id']}", headers=world.alice.headers).json()
    assert got["status"] == "rejected" and got["reason_code"] == "COMPLIANCE_RETURNED"
    assert available(platform, world.alice_wallet) == 100_000
    assert [d["kind"] for d in r.json()["decisions"]] == ["return"]
    assert r.json()["alerts"][0]["state"] == "returned"


def test_a_cleared_pair_is_not_held_again_until_the_name_changes(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    first = pay(client, world.alice)
    case = only_case(client, world.officer)
    cleared = decide(client, world.officer, case["case"]["id"], kind="clear",
                     alert_id=case["alerts"][0]["id"], note="another Dmitry Khoroshev")
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["alerts"][0]["state"] == "cleared"
    assert decide(client, world.officer, case["case"]["id"], kind="release").status_code == 200
    assert client.get(f"/v1/payments/{first['id']}",
                      headers=world.alice.headers).json()["status"] == "submitted"

    assert pay(client, world.alice)["status"] == "submitted"  # suppressed
    with platform.deps.uow() as uow:
        uow.repo(User).update(dataclasses.replace(world.bob.user, name="Dmitrii Khoroshev"))
        uow.commit()
    assert pay(client, world.alice)["status"] == "on_hold"  # another name: screened anew
    again = only_case(client, world.officer)  # the customer's open case, reused
    assert again["case"]["id"] == case["case"]["id"]
    assert sorted(a["state"] for a in again["alerts"]) == ["open", "released"]


def test_four_eyes_close_and_a_closed_case_takes_no_decision(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    pay(client, world.alice)
    case_id = only_case(client, world.officer)["case"]["id"]
    early = decide(client, world.officer, case_id, kind="close")
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "CASE_HOLDS_PAYMENTS"
    assert decide(client, world.officer, case_id, kind="release").status_code == 200
    mine = decide(client, world.officer, case_id, kind="close")
    assert mine.status_code == 403 and mine.json()["error"]["code"] == "FOUR_EYES"
    closed = decide(client, world.second, case_id, kind="close")
    assert closed.status_code == 200 and closed.json()["case"]["state"] == "closed"
    assert closed.json()["case"]["closed_by"] == world.second.user.id
    late = decide(client, world.second, case_id, kind="note")
    assert late.status_code == 409 and late.json()["error"]["code"] == "CASE_CLOSED"
    # a new alert opens a new case for the customer
    pay(client, world.alice)
    open_cases = client.get("/v1/staff/compliance/cases", headers=world.officer.headers).json()
    assert open_cases["total"] == 1 and open_cases["items"][0]["id"] != case_id


def test_request_info_reaches_the_customers_inbox_and_notes_are_kept(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    pay(client, world.alice)
    case_id = only_case(client, world.officer)["case"]["id"]
    r = decide(client, world.officer, case_id, kind="request_info",
               message="Please send an invoice for this payment.")
    assert r.status_code == 200, r.text
    inbox = client.get("/v1/me/notifications", headers=world.alice.headers).json()["items"]
    assert any(n["topic"] == "compliance.info_requested" for n in inbox)
    noted = decide(client, world.officer, case_id, kind="note", note="called the customer")
    assert [n["text"] for n in noted.json()["notes"]] == ["called the customer"]
    assigned = decide(client, world.officer, case_id, kind="assign",
                      officer_id=world.second.user.id)
    assert assigned.json()["case"]["assigned_to"] == world.second.user.id
    bad = decide(client, world.officer, case_id, kind="assign", officer_id=world.alice.user.id)
    assert bad.status_code == 422
    missing = decide(client, world.officer, case_id, kind="request_info", note="")
    assert missing.status_code == 422
    assert set(missing.json()["error"]["fields"]) == {"note", "message"}


def test_only_compliance_officers(client: TestClient, platform: bootstrap.Platform,
                                  world: World) -> None:
    pay(client, world.alice)
    case_id = only_case(client, world.officer)["case"]["id"]
    for who in (make_staff(platform, "support_agent"), make_staff(platform, "auditor"),
                world.alice):
        assert client.get("/v1/staff/compliance/alerts", headers=who.headers).status_code == 403
        assert client.get(f"/v1/staff/compliance/cases/{case_id}",
                          headers=who.headers).status_code == 403
        assert decide(client, who, case_id, kind="release").status_code == 403
    assert client.get("/v1/staff/compliance/cases").status_code == 401


def test_a_listed_name_at_kyc_submission_raises_an_alert_and_decides_nothing(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    eve = make_user(platform, email="eve@example.com", name="Eve")
    r = client.put("/v1/kyc/customer", headers=eve.headers, json={"tier": 1, "fields": {
        "first_name": "Dmitry", "last_name": "Khoroshev", "birth_date": "1993-04-17",
        "address_country_code": "GB", "email_address": "eve@example.com"}})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "PROCESSING"  # still the reviewer's to decide
    found = client.get(f"/v1/staff/compliance/alerts?customer={eve.user.id}",
                       headers=world.officer.headers).json()
    assert found["total"] == 1 and found["items"][0]["source_type"] == "kyc"


def test_the_sender_cannot_cancel_a_held_payment(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    p = pay(client, world.alice)
    r = client.post(f"/v1/payments/{p['id']}/cancel", headers=world.alice.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "NOT_CANCELLABLE"
    assert client.get(f"/v1/payments/{p['id']}",
                      headers=world.alice.headers).json()["status"] == "on_hold"


@dataclasses.dataclass
class Rules:
    """A monitor as the AML engine will be one: declines large amounts, and trials a rule
    in shadow mode on every payment (recorded, never acted on)."""

    name: str = "aml"
    seen: list[Movement] = dataclasses.field(default_factory=list)

    def evaluate(self, movement: Movement) -> list[Finding]:
        self.seen.append(movement)
        found = [Finding(monitor=self.name, outcome=Outcome.REVIEW, typology="round_amount",
                         score=0.4, explanation={"rule": "round", "amount": 1},
                         movement_ids=(movement.id,), shadow=True)]
        if movement.amount_minor >= 50_000:
            found.append(Finding(monitor=self.name, outcome=Outcome.DECLINE,
                                 typology="large_amount", score=0.9,
                                 explanation={"rule": "large", "usd_minor": movement.usd_minor},
                                 movement_ids=(movement.id,),
                                 parties=(movement.sender, movement.receiver)))
        return found


def test_any_monitor_plugs_in_a_decline_rejects_and_shadow_findings_only_record(
        platform: bootstrap.Platform, world: World) -> None:
    rules = Rules()
    platform.deps = dataclasses.replace(platform.deps, monitors=(*platform.deps.monitors,
                                                                 rules))
    with platform.deps.uow() as uow:
        uow.repo(User).update(dataclasses.replace(world.bob.user, name="Dave Customer"))
        uow.commit()
    with TestClient(create_app(platform)) as client:
        small = pay(client, world.alice, "10.00")
        assert small["status"] == "submitted"  # the shadow finding did not act
        big = pay(client, world.alice, "600.00")
        assert statuses(big) == ["draft", "screening", "rejected"]
        assert big["reason_code"] == "COMPLIANCE_DECLINED"
        found = client.get("/v1/staff/compliance/alerts", headers=world.officer.headers).json()
    assert [m.id for m in rules.seen] == [small["id"], big["id"]]
    assert all(a["source_id"] == big["id"] for a in found["items"])  # a trial opens no case
    assert "compliance.shadow_finding" in actions(platform, small["id"])
    assert rules.seen[1].receiver == world.bob.user.id and rules.seen[1].usd_minor
    by_typology = {a["typology"]: a for a in found["items"] if a["source_id"] == big["id"]}
    assert by_typology["large_amount"]["outcome"] == "decline"
    assert by_typology["large_amount"]["state"] == "open"
    assert by_typology["round_amount"]["state"] == "closed"  # shadow: recorded only
    with platform.deps.uow() as uow:
        assert uow.repo(Transfer).many(ref_id=big["id"]) == []  # nothing queued or held
    assert available(platform, world.alice_wallet) == 100_000 - 1_000 - small_fee(small)


def small_fee(p: dict[str, Any]) -> int:
    return int(p["fee"].replace(".", ""))


def test_a_bank_beneficiary_bearing_a_listed_name_is_held_and_released_to_the_payout(
        client: TestClient, platform: bootstrap.Platform, world: World,
        chain: FakeChain) -> None:
    bank = {"type": "external", "name": "Khoroshev Dmitry", "iban": "DE89 3704 0044 0532 0130 00",
            "country": "DE", "bank_code": "COBADEFFXXX"}
    r = client.post("/v1/payments", headers=world.alice.creating,
                    json={"recipient": bank, "asset": "USD", "amount": "20.00"})
    assert r.status_code == 201 and r.json()["status"] == "on_hold", r.text
    p = r.json()
    case = only_case(client, world.officer)
    party = case["alerts"][0]["parties"][0]
    assert party.startswith("ext:") and "3704" not in party  # the account is not readable
    assert decide(client, world.officer, case["case"]["id"], kind="release").status_code == 200
    commit(platform, chain, p["id"])
    assert "payment.payout_requested" in actions(platform, p["id"])
