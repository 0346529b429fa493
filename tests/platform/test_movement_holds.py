"""Deposits, withdrawals and refunds through the compliance monitors (issue 16), on both
databases: a screening hit holds each kind (the money stays where it is, an alert opens
in the customer's case with the record as its source); the case's release lets it go on
exactly once, its return gives the money back exactly once (balances exact); a monitor's
decline refuses it at once; decisions replay under their Idempotency-Key; a held record
survives a restart; only compliance officers decide."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.adapters import sim_bank
from corridor.platform.config import Settings
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.monitoring import Finding, Movement, MovementKind, Outcome
from corridor.platform.domain.rails import Deposit
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.domain.transfers import Transfer, TransferStatus
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services import funds, screening, supervision
from tests.platform.conftest import Actor, keyed, make_staff, make_user
from tests.platform.payment_records import make_payment, make_wallet, payment
from tests.platform.rails_fakes import (
    IBAN_OK,
    create_deposit,
    credit,
    grant_tier,
    open_wallet,
    play,
    sim_of,
    transfers,
)
from tests.platform.test_compliance_cases import LIST, LISTED
from tests.platform.test_rails import SECRET, URL, signed
from tests.platform.wallet_fakes import CountingKeyGen

CASES = "/v1/staff/compliance/cases"


def build(settings: Settings) -> bootstrap.Platform:
    """A platform on the simulated bank without a node (balances from the rails'
    records), with a sanctions list naming LISTED."""
    return bootstrap.build(settings, ledger=None, keygen=CountingKeyGen())


@pytest.fixture(name="settings")
def known_secret(settings: Settings) -> Settings:
    """The rail's events may be signed by a test too (a malformed remitter name)."""
    return dataclasses.replace(settings, rail_webhook_secret=SECRET.decode())


@pytest.fixture
def platform(settings: Settings) -> Iterator[bootstrap.Platform]:
    p = build(settings)
    screening.import_list(p.deps, None, LIST, ListFormat.CSL)
    yield p
    p.close()


@pytest.fixture
def officer(platform: bootstrap.Platform) -> Actor:
    return make_staff(platform, "compliance_officer")


@pytest.fixture
def funded(client: TestClient, platform: bootstrap.Platform, customer: Actor) -> Actor:
    """A tier-2 customer with an open wallet and 500.00 USD credited."""
    grant_tier(platform, customer.user.id)
    open_wallet(platform, customer.user.id)
    credit(client, platform, customer, "500.00")
    return customer


@dataclasses.dataclass
class Decline:
    """A monitor refusing every movement of one kind at once."""

    kind: MovementKind
    name: str = "aml"

    def evaluate(self, movement: Movement) -> list[Finding]:
        if movement.kind is not self.kind:
            return []
        return [Finding(monitor=self.name, outcome=Outcome.DECLINE, typology="large_amount",
                        score=0.9, explanation={"rule": "large"}, movement_ids=(movement.id,),
                        parties=(movement.sender, movement.receiver))]


def declining(platform: bootstrap.Platform, kind: MovementKind) -> TestClient:
    """A client of the platform with the declining monitor added (the simulated bank
    delivers its events to the same)."""
    platform.deps = dataclasses.replace(platform.deps,
                                        monitors=(*platform.deps.monitors, Decline(kind)))
    sim_of(platform).deliver = sim_bank.in_process(platform.deps)
    return TestClient(create_app(platform))


# --- helpers --------------------------------------------------------------------------------


def withdraw(client: TestClient, who: Actor, amount: str, name: str = LISTED
             ) -> dict[str, Any]:
    bank = {"name": name, "account": IBAN_OK, "country": "GB", "bank_code": "WESTGB2L"}
    r = client.post("/v1/withdrawals", headers=keyed(who.headers),
                    json={"currency": "USD", "amount": amount, "bank": bank})
    assert r.status_code == 201, r.text
    return dict(r.json())


def arrive(client: TestClient, platform: bootstrap.Platform, who: Actor, amount: str,
           remitter: str | None = LISTED, instructed: str | None = None) -> dict[str, Any]:
    """A deposit's instructions (for `instructed`, by default what arrives), then the
    customer's bank transfer of `amount` from `remitter`."""
    d = create_deposit(client, who, instructed or amount)
    body = {"reference": d["reference"], "amount": amount, "currency": "USD",
            **({"remitter_name": remitter} if remitter else {})}
    r = client.post("/v1/dev/sim-bank/transfers", headers=who.headers, json=body)
    assert r.status_code == 202, r.text
    assert sim_of(platform).drain() == 1
    return get(client, who, f"/v1/deposits/{d['id']}")


def get(client: TestClient, who: Actor, path: str) -> dict[str, Any]:
    r = client.get(path, headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def only_case(client: TestClient, officer: Actor) -> dict[str, Any]:
    items = get(client, officer, CASES)["items"]
    assert len(items) == 1
    return get(client, officer, f"{CASES}/{items[0]['id']}")


def decide(client: TestClient, who: Actor, case_id: str, kind: str,
           key: str | None = None) -> Any:
    headers = keyed(who.headers) if key is None else {**who.headers, "Idempotency-Key": key}
    return client.post(f"{CASES}/{case_id}/decisions", headers=headers,
                       json={"kind": kind, "note": "checked the evidence"})


def available(platform: bootstrap.Platform, owner_id: str) -> int:
    with platform.deps.uow() as uow:
        wallet = uow.repo(Wallet).one(owner_id=owner_id)
        assert wallet is not None
        return funds.available_minor(platform.deps, uow, wallet, "USD")


def audited(platform: bootstrap.Platform, action: str) -> list[AuditEntry]:
    with platform.deps.uow() as uow:
        return uow.repo(AuditEntry).many(action=action, order_by="seq")


def steps(record: dict[str, Any]) -> list[str]:
    return [h["status"] for h in record["history"]]


# --- withdrawals ----------------------------------------------------------------------------


def test_a_withdrawal_to_a_listed_name_is_held_then_released_and_burns_once(
        client: TestClient, platform: bootstrap.Platform, funded: Actor,
        officer: Actor) -> None:
    w = withdraw(client, funded, "100.00")
    assert (w["status"], w["reason_code"]) == ("held", "COMPLIANCE_HOLD")
    (burn,) = transfers(platform, ref_id=w["id"])
    assert burn.status == TransferStatus.HELD
    assert available(platform, funded.user.id) == 40_000  # the reservation stays
    over = client.post("/v1/withdrawals", headers=keyed(funded.headers), json={
        "currency": "USD", "amount": "450.00",
        "bank": {"name": "Carol Customer", "account": IBAN_OK, "country": "GB",
                 "bank_code": "WESTGB2L"}})
    assert over.status_code == 409 and over.json()["error"]["code"] == "INSUFFICIENT_FUNDS"

    case = only_case(client, officer)
    (alert,) = case["alerts"]
    assert (alert["source_type"], alert["source_id"]) == ("withdrawal", w["id"])
    assert alert["explanation"]["screened_name"] == LISTED
    assert alert["parties"][0].startswith("ext:") and "5432" not in alert["parties"][0]
    assert [(m["kind"], m["id"], m["held"], m["amount"]) for m in case["held"]] == [
        ("withdrawal", w["id"], True, "100.00")]

    key = "release-w"
    released = decide(client, officer, case["case"]["id"], "release", key)
    assert released.status_code == 200, released.text
    again = decide(client, officer, case["case"]["id"], "release", key)
    assert again.status_code == 200 and again.json() == released.json()  # decided once
    assert released.json()["held"] == [] and released.json()["alerts"][0]["state"] == "released"
    assert [d["payment_ids"] for d in released.json()["decisions"]] == [[w["id"]]]
    seen = get(client, funded, f"/v1/withdrawals/{w['id']}")
    assert steps(seen) == ["held", "requested"] and seen["reason_code"] is None
    (burn,) = transfers(platform, ref_id=w["id"])
    assert burn.status == TransferStatus.QUEUED
    play(platform, burn.id)
    assert get(client, funded, f"/v1/withdrawals/{w['id']}")["status"] == "burned"
    assert available(platform, funded.user.id) == 40_000
    late = decide(client, officer, case["case"]["id"], "release")
    assert late.status_code == 409 and late.json()["error"]["code"] == "NOTHING_HELD"
    assert len(transfers(platform, ref_id=w["id"])) == 1
    (entry,) = audited(platform, "withdrawal.released")
    assert (entry.actor_id, entry.object_id) == (officer.user.id, w["id"])
    assert entry.after is not None and entry.after["transfer_id"] == burn.id
    # the regulator's live feed shows the hold and its release (services/supervision.py)
    events, _ = supervision.feed_after(platform.deps, None, 0)
    assert [e.kind for e in events if e.object_id == w["id"]] == ["hold", "release"]


def test_a_returned_withdrawal_is_rejected_and_the_balance_is_whole(
        client: TestClient, platform: bootstrap.Platform, funded: Actor,
        officer: Actor) -> None:
    w = withdraw(client, funded, "120.00")
    assert available(platform, funded.user.id) == 38_000
    case_id = only_case(client, officer)["case"]["id"]
    asked = client.post(f"{CASES}/{case_id}/decisions", headers=keyed(officer.headers),
                        json={"kind": "request_info", "note": "source of funds",
                              "message": "Please tell us who holds the receiving account."})
    assert asked.status_code == 200, asked.text
    (info,) = [n for n in get(client, funded, "/v1/me/notifications")["items"]
               if n["topic"] == "compliance.info_requested"]
    assert (info["subject_type"], info["subject_id"]) == ("withdrawal", w["id"])
    r = decide(client, officer, case_id, "return", "return-w")
    assert r.status_code == 200, r.text
    assert decide(client, officer, case_id, "return", "return-w").json() == r.json()
    seen = get(client, funded, f"/v1/withdrawals/{w['id']}")
    assert (seen["status"], seen["reason_code"]) == ("rejected", "COMPLIANCE_RETURNED")
    (burn,) = transfers(platform, ref_id=w["id"])
    assert (burn.status, burn.result_code) == (TransferStatus.REJECTED, "COMPLIANCE_RETURNED")
    assert available(platform, funded.user.id) == 50_000  # exactly whole, once
    inbox = get(client, funded, "/v1/me/notifications")["items"]
    assert [n["topic"] for n in inbox].count("withdrawal.failed") == 1
    assert withdraw(client, funded, "500.00", "Carol Customer")["status"] == "requested"


def test_a_declined_withdrawal_is_refused_at_once(
        platform: bootstrap.Platform, funded: Actor, officer: Actor) -> None:
    with declining(platform, MovementKind.WITHDRAWAL) as client:
        w = withdraw(client, funded, "50.00", "Carol Customer")
        assert (w["status"], w["reason_code"]) == ("rejected", "COMPLIANCE_DECLINED")
        assert steps(w) == ["rejected"]
        alerts = get(client, officer, "/v1/staff/compliance/alerts")["items"]
    assert [(a["source_type"], a["outcome"]) for a in alerts] == [("withdrawal", "decline")]
    (burn,) = transfers(platform, ref_id=w["id"])
    assert burn.status == TransferStatus.REJECTED  # never signed
    assert available(platform, funded.user.id) == 50_000


# --- deposits -------------------------------------------------------------------------------


def test_a_deposit_from_a_listed_remitter_is_held_then_released_and_credited_once(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        officer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    open_wallet(platform, customer.user.id)
    d = arrive(client, platform, customer, "250.00")
    assert (d["status"], d["reason_code"]) == ("held", "COMPLIANCE_HOLD")
    assert transfers(platform) == []  # not minted
    case = only_case(client, officer)
    (alert,) = case["alerts"]
    assert (alert["source_type"], alert["source_id"]) == ("deposit", d["id"])
    assert alert["explanation"]["screened_name"] == LISTED
    assert [m["kind"] for m in case["held"]] == ["deposit"]
    # the limits' review queue does not own it: one review at a time
    assert get(client, officer, "/v1/staff/holds")["total"] == 0

    key = "release-d"
    assert decide(client, officer, case["case"]["id"], "release", key).status_code == 200
    assert decide(client, officer, case["case"]["id"], "release", key).status_code == 200
    (mint,) = transfers(platform, ref_id=d["id"])
    assert mint.legs[0].amount_minor == 25_000
    play(platform, mint.id)
    play(platform, mint.id)  # a replayed outcome changes nothing
    done = get(client, customer, f"/v1/deposits/{d['id']}")
    assert done["status"] == "credited" and steps(done).count("credited") == 1
    assert steps(done) == ["awaiting_funds", "received", "held", "minting", "credited"]
    assert available(platform, customer.user.id) == 25_000


def test_a_returned_deposit_goes_back_through_the_rail_once(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        officer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    open_wallet(platform, customer.user.id)
    d = arrive(client, platform, customer, "80.00")
    case_id = only_case(client, officer)["case"]["id"]
    r = decide(client, officer, case_id, "return", "return-d")
    assert r.status_code == 200, r.text
    assert decide(client, officer, case_id, "return", "return-d").json() == r.json()
    seen = get(client, customer, f"/v1/deposits/{d['id']}")
    assert (seen["status"], seen["reason_code"]) == ("returned", "COMPLIANCE_RETURNED")
    returns = list(sim_of(platform).returns.values())
    assert [(x["amount_minor"], x["currency"]) for x in returns] == [(8_000, "USD")]
    assert [e.object_id for e in audited(platform, "deposit.returned")] == [d["id"]]
    assert transfers(platform) == [] and available(platform, customer.user.id) == 0


@pytest.mark.parametrize("name", ["", "x" * 141, "bell\x07", 7])
def test_a_malformed_remitter_name_is_refused_with_its_field(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, name: object) -> None:
    grant_tier(platform, customer.user.id)
    d = create_deposit(client, customer)
    event = {"id": "evt-1", "type": "transfer.received",
             "data": {"reference": d["reference"], "amount_minor": 25_000, "currency": "USD",
                      "rail_ref": "SBT1", "remitter_name": name}}
    body, headers = signed(event, at_s=platform.deps.clock.now_ms() // 1000)
    r = client.post(URL, content=body, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "WEBHOOK_EVENT_INVALID"
    assert set(r.json()["error"]["fields"]) == {"remitter_name"}
    assert get(client, customer, f"/v1/deposits/{d['id']}")["status"] == "awaiting_funds"


def test_a_declined_deposit_is_returned_at_once_and_an_unnamed_one_is_credited(
        platform: bootstrap.Platform, customer: Actor, officer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    open_wallet(platform, customer.user.id)
    with TestClient(create_app(platform)) as client:
        clean = arrive(client, platform, customer, "30.00", remitter=None)
        assert clean["status"] == "minting"  # nothing to screen, nothing held
    with declining(platform, MovementKind.DEPOSIT) as client:
        d = arrive(client, platform, customer, "40.00", remitter="Carol Customer")
        assert (d["status"], d["reason_code"]) == ("returned", "COMPLIANCE_DECLINED")
        assert steps(d)[-2:] == ["held", "returned"]
        assert get(client, officer, "/v1/staff/compliance/alerts")["total"] == 1
    assert [x["amount_minor"] for x in sim_of(platform).returns.values()] == [4_000]
    assert [t.ref_id for t in transfers(platform)] == [clean["id"]]


def test_a_released_deposit_over_the_limits_is_held_for_the_limits_instead(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        officer: Actor) -> None:
    grant_tier(platform, customer.user.id, tier=2)  # 50k a time
    open_wallet(platform, customer.user.id)
    d = arrive(client, platform, customer, "60000.00", instructed="10.00")
    case_id = only_case(client, officer)["case"]["id"]
    assert decide(client, officer, case_id, "release").status_code == 200
    seen = get(client, customer, f"/v1/deposits/{d['id']}")
    assert (seen["status"], seen["reason_code"]) == ("held", "LIMIT_EXCEEDED")
    (hold,) = get(client, officer, "/v1/staff/holds")["items"]
    assert (hold["subject_id"], hold["amount"]) == (d["id"], "60000.00")
    assert transfers(platform) == []
    assert get(client, officer, f"{CASES}/{case_id}")["held"] == []


# --- refunds --------------------------------------------------------------------------------


@dataclasses.dataclass
class Refundable:
    payment_id: str
    refund_id: str


@pytest.fixture
def approved(client: TestClient, platform: bootstrap.Platform, customer: Actor,
             other_customer: Actor) -> Refundable:
    """A credited payment whose sender bears the listed name, its refund asked and approved
    by support."""
    p = make_payment(platform, make_wallet(platform, customer.user.id),
                     recipient=make_wallet(platform, other_customer.user.id),
                     recipient_user_id=other_customer.user.id, sender_name=LISTED)
    asked = client.post(f"/v1/payments/{p.id}/refund", headers=keyed(customer.headers),
                        json={"kind": "revocation", "reason": "sent by mistake"})
    assert asked.status_code == 201, asked.text
    agent = make_staff(platform, "support_agent")
    r = client.post(f"/v1/staff/refunds/{asked.json()['id']}/decision",
                    headers=keyed(agent.headers),
                    json={"decision": "approve", "reason": "payee agreed"})
    assert r.status_code == 200, r.text
    return Refundable(p.id, asked.json()["id"])


def refund_transfer(platform: bootstrap.Platform, refund_id: str) -> Transfer | None:
    found = transfers(platform, ref_id=refund_id)
    return found[0] if found else None


def test_a_refund_to_a_listed_sender_is_held_then_released_and_refunded_once(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, officer: Actor,
        approved: Refundable) -> None:
    r = get(client, customer, f"/v1/refunds/{approved.refund_id}")
    assert r["status"] == "held"
    t = refund_transfer(platform, approved.refund_id)
    assert t is not None and t.status == TransferStatus.HELD  # nothing leaves
    assert payment(platform, approved.payment_id).status == "refund_requested"
    case = only_case(client, officer)
    assert case["case"]["subject_id"] == customer.user.id
    assert [(m["kind"], m["id"]) for m in case["held"]] == [("refund", approved.refund_id)]
    assert decide(client, officer, case["case"]["id"], "release", "rel-r").status_code == 200
    assert decide(client, officer, case["case"]["id"], "release", "rel-r").status_code == 200
    t = refund_transfer(platform, approved.refund_id)
    assert t is not None and t.status == TransferStatus.QUEUED
    assert get(client, customer, f"/v1/refunds/{approved.refund_id}")["status"] == "processing"
    play(platform, t.id)
    play(platform, t.id)
    assert get(client, customer, f"/v1/refunds/{approved.refund_id}")["status"] == "refunded"
    assert payment(platform, approved.payment_id).status == "refunded"
    assert len(transfers(platform, ref_id=approved.refund_id)) == 1


def test_a_returned_refund_is_rejected_and_the_payment_credited_again(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, officer: Actor,
        approved: Refundable) -> None:
    case_id = only_case(client, officer)["case"]["id"]
    assert decide(client, officer, case_id, "return", "ret-r").status_code == 200
    assert decide(client, officer, case_id, "return", "ret-r").status_code == 200
    r = get(client, customer, f"/v1/refunds/{approved.refund_id}")
    assert (r["status"], r["failure_code"]) == ("rejected", "COMPLIANCE_RETURNED")
    t = refund_transfer(platform, approved.refund_id)
    assert t is not None and t.status == TransferStatus.REJECTED
    assert payment(platform, approved.payment_id).status == "credited"
    inbox = get(client, customer, "/v1/me/notifications")["items"]
    assert [n["topic"] for n in inbox].count("refund.decided") == 1


def test_a_declined_refund_is_rejected_at_once(
        platform: bootstrap.Platform, customer: Actor, other_customer: Actor) -> None:
    p = make_payment(platform, make_wallet(platform, customer.user.id),
                     recipient=make_wallet(platform, other_customer.user.id))
    with declining(platform, MovementKind.REFUND) as client:
        asked = client.post(f"/v1/payments/{p.id}/refund", headers=keyed(customer.headers),
                            json={"kind": "revocation", "reason": "sent by mistake"}).json()
        agent = make_staff(platform, "support_agent")
        r = client.post(f"/v1/staff/refunds/{asked['id']}/decision",
                        headers=keyed(agent.headers),
                        json={"decision": "approve", "reason": "payee agreed"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["failure_code"]) == ("rejected", "COMPLIANCE_DECLINED")
    assert r.json()["transfer_id"] is None and transfers(platform, ref_id=asked["id"]) == []
    assert payment(platform, p.id).status == "credited"


# --- every kind in one case, restarts, roles ---------------------------------------------------


def test_one_release_acts_on_every_kind_held_in_the_case_after_a_restart(
        settings: Settings) -> None:
    first = build(settings)
    screening.import_list(first.deps, None, LIST, ListFormat.CSL)
    with TestClient(create_app(first)) as client:
        carol = make_user(first, email="carol@example.com", name="Carol Customer")
        officer = make_staff(first, "compliance_officer")
        grant_tier(first, carol.user.id)
        open_wallet(first, carol.user.id)
        credit(client, first, carol, "500.00")
        w = withdraw(client, carol, "100.00")
        d = arrive(client, first, carol, "70.00")
        case_id = only_case(client, officer)["case"]["id"]
    first.close()  # the process stops with both held

    again = build(settings)
    try:
        with TestClient(create_app(again)) as client:
            case = get(client, officer, f"{CASES}/{case_id}")
            assert sorted(m["kind"] for m in case["held"]) == ["deposit", "withdrawal"]
            r = decide(client, officer, case_id, "release")
            assert r.status_code == 200, r.text
            assert sorted(r.json()["decisions"][0]["payment_ids"]) == sorted([w["id"],
                                                                              d["id"]])
            assert get(client, carol, f"/v1/withdrawals/{w['id']}")["status"] == "requested"
            assert get(client, carol, f"/v1/deposits/{d['id']}")["status"] == "minting"
            closed = decide(client, officer, case_id, "close")
            assert closed.json()["error"]["code"] == "FOUR_EYES"  # they released a hold
        with again.deps.uow() as uow:
            dep = uow.repo(Deposit).get(d["id"])
        assert dep is not None and dep.flagged  # operations see it was held
    finally:
        again.close()


def test_only_compliance_officers_decide_and_a_refusal_changes_nothing(
        client: TestClient, platform: bootstrap.Platform, funded: Actor,
        officer: Actor) -> None:
    w = withdraw(client, funded, "100.00")
    case_id = only_case(client, officer)["case"]["id"]
    for who in (make_staff(platform, "support_agent"), make_staff(platform, "auditor"),
                funded):
        assert client.get(f"{CASES}/{case_id}", headers=who.headers).status_code == 403
        assert decide(client, who, case_id, "release").status_code == 403
        assert decide(client, who, case_id, "return").status_code == 403
    assert get(client, funded, f"/v1/withdrawals/{w['id']}")["status"] == "held"
    (burn,) = transfers(platform, ref_id=w["id"])
    assert burn.status == TransferStatus.HELD
