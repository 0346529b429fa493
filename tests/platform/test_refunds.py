"""Refunds (P3) over HTTP: the three cases end to end with the chain played by
`settlement.record_outcome`, evidence uploads, staff review, and who may do what."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.refunds import Refund
from corridor.platform.domain.transfers import (
    TREASURY,
    Purpose,
    Transfer,
    TransferStatus,
    wallet_ref,
)
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services import refunds, settlement
from tests.platform.conftest import Actor, make_staff, make_user
from tests.platform.payment_records import (
    JPEG,
    PDF,
    make_org,
    make_payment,
    make_wallet,
    payment,
    transfer,
    upload,
)


@pytest.fixture
def officer(platform: bootstrap.Platform) -> Actor:
    return make_staff(platform, "compliance_officer")


@pytest.fixture
def agent(platform: bootstrap.Platform) -> Actor:
    return make_staff(platform, "support_agent")


@dataclasses.dataclass
class Pair:
    sender: Wallet
    recipient: Wallet


@pytest.fixture
def wallets(platform: bootstrap.Platform, customer: Actor, other_customer: Actor) -> Pair:
    return Pair(make_wallet(platform, customer.user.id),
                make_wallet(platform, other_customer.user.id))


def ask(client: TestClient, who: Actor, payment_id: str, **body: Any) -> Any:
    body = {"kind": "revocation", "reason": "sent by mistake", **body}
    return client.post(f"/v1/payments/{payment_id}/refund", headers=who.creating, json=body)


def decide(client: TestClient, who: Actor, refund_id: str, **body: Any) -> Any:
    return client.post(f"/v1/staff/refunds/{refund_id}/decision", headers=who.creating,
                       json=body)


def audit(platform: bootstrap.Platform, action: str) -> list[AuditEntry]:
    with platform.deps.uow() as uow:
        return uow.repo(AuditEntry).many(action=action, order_by="seq")


def refund_transfers(platform: bootstrap.Platform) -> list[Transfer]:
    with platform.deps.uow() as uow:
        return uow.repo(Transfer).many(purpose=Purpose.REFUND)


def statuses(p: Payment) -> list[str]:
    return [h.status for h in p.history]


# --- case 1: not included ----------------------------------------------------------------


def test_failed_payment_is_released_automatically(client: TestClient,
                                                  platform: bootstrap.Platform,
                                                  customer: Actor, wallets: Pair) -> None:
    p = make_payment(platform, wallets.sender, recipient=wallets.recipient, status="failed",
                     statuses=["draft", "ready", "submitted", "failed"])
    r = ask(client, customer, p.id)
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["kind"], out["status"], out["amount"]) == ("not_included", "refunded", "101.50")
    assert out["transfer_id"] is None and refund_transfers(platform) == []
    after = payment(platform, p.id)
    assert after.status == "refunded"
    assert statuses(after)[-3:] == ["failed", "refund_requested", "refunded"]
    again = ask(client, customer, p.id)
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_REFUNDED"
    with platform.deps.uow() as uow:  # the release itself is idempotent
        assert refunds.release_not_included(platform.deps, uow, after).id == out["id"]
    [entry] = audit(platform, "refund.release")
    assert entry.actor_kind == "system" and entry.after is not None
    assert entry.after["sender_moved"] is False


def test_expired_payments_are_swept_and_stay_expired(platform: bootstrap.Platform,
                                                     wallets: Pair) -> None:
    p = make_payment(platform, wallets.sender, recipient=wallets.recipient, status="expired")
    assert refunds.sweep_not_included(platform.deps) == 1
    assert refunds.sweep_not_included(platform.deps) == 0  # once per payment
    with platform.deps.uow() as uow:
        [r] = uow.repo(Refund).many(payment_id=p.id)
    assert (r.kind, r.status, r.open_payment_id) == ("not_included", "refunded", None)
    assert payment(platform, p.id).status == "expired"


def test_failed_payment_whose_sender_leg_moved_is_returned_on_chain(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        wallets: Pair) -> None:
    now = platform.deps.clock.now_ms()
    moved = Transfer(id="t-pay-1", purpose=Purpose.PAYMENT, ref_id="x", source=TREASURY,
                     legs=(), memo="", status=TransferStatus.COMMITTED, sequence=1, tx_id="cd" * 32,
                     tx_hex=None, height=3, result_code=None, result_message=None,
                     attempts=1, created_ms=now, updated_ms=now)
    with platform.deps.uow() as uow:
        uow.repo(Transfer).add(moved)
        uow.commit()
    p = make_payment(platform, wallets.sender, recipient=wallets.recipient, status="failed",
                     transfer_id=moved.id)
    out = ask(client, customer, p.id).json()
    assert (out["kind"], out["status"]) == ("not_included", "processing")
    t = transfer(platform, out["transfer_id"])
    assert t.ref_id == out["id"] and t.leg_list()[0].destination == wallet_ref(
        wallets.sender.id)
    assert [(leg.code, leg.amount_minor) for leg in t.leg_list()] == [("USD", 10_150)]
    assert payment(platform, p.id).status == "refund_requested"
    settlement.record_outcome(platform.deps, t.id, committed=True, tx_id="ef" * 32, height=9)
    done = client.get(f"/v1/refunds/{out['id']}", headers=customer.headers).json()
    assert (done["status"], done["tx_id"], done["height"]) == ("refunded", "ef" * 32, 9)
    assert payment(platform, p.id).status == "refunded"


# --- case 2: wrong payee -----------------------------------------------------------------


def test_wrong_payee_return_end_to_end(client: TestClient, platform: bootstrap.Platform,
                                       customer: Actor, other_customer: Actor,
                                       officer: Actor, wallets: Pair) -> None:
    p = make_payment(platform, wallets.sender, recipient=wallets.recipient,
                     recipient_user_id=other_customer.user.id)
    ev1 = upload(client, customer).json()["id"]
    ev2 = upload(client, customer, PDF, "application/pdf").json()["id"]
    r = ask(client, customer, p.id, kind="wrong_payee", reason="typo in the e-mail",
            evidence=[ev1, ev2])
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert r.json()["status"] == "requested"
    assert payment(platform, p.id).status == "refund_requested"
    assert ask(client, customer, p.id).json()["error"]["code"] == "REFUND_OPEN"

    queue = client.get("/v1/staff/refunds/queue", headers=officer.headers).json()
    assert [i["id"] for i in queue["items"]] == [rid] and queue["total"] == 1
    seen = client.get(f"/v1/staff/refunds/{rid}", headers=officer.headers).json()
    assert {f["id"] for f in seen["files"]} == {ev1, ev2}
    assert seen["payment"]["uetr"] == p.uetr and seen["payment"]["sell_amount"] == "101.50"
    doc = client.get(f"/v1/staff/refunds/{rid}/files/{ev1}", headers=officer.headers)
    assert doc.status_code == 200 and doc.content == JPEG

    r = decide(client, officer, rid, decision="approve", reason="platform resolved the "
               "wrong account", platform_error=True)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["status"], out["amount"], out["recover_minor"]) == ("processing", "101.50",
                                                                     72_000)
    t = transfer(platform, out["transfer_id"])
    assert (t.purpose, t.ref_id, t.source) == ("refund", rid, TREASURY)
    assert [(leg.source, leg.destination, leg.code, leg.amount_minor)
            for leg in t.leg_list()] == [
        (wallet_ref(wallets.recipient.id), TREASURY, "CNY", 72_000),
        (TREASURY, wallet_ref(wallets.sender.id), "USD", 10_150),
    ]
    assert p.transfer_id is None or t.id != p.transfer_id  # a new transfer, never an edit

    settlement.record_outcome(platform.deps, t.id, committed=True, tx_id="12" * 32, height=11)
    mine = client.get(f"/v1/refunds/{rid}", headers=customer.headers).json()
    assert (mine["status"], mine["tx_id"], mine["height"]) == ("refunded", "12" * 32, 11)
    after = payment(platform, p.id)
    assert after.status == "refunded" and after.tx_id == p.tx_id  # the original untouched
    assert statuses(after)[-3:] == ["credited", "refund_requested", "refunded"]
    # a replayed outcome changes nothing
    assert settlement.record_outcome(platform.deps, t.id, committed=True, tx_id="12" * 32,
                                     height=11) is None

    [entry] = audit(platform, "refund.decide")
    assert entry.actor_id == officer.user.id and entry.object_id == rid
    assert entry.before is not None and entry.before["status"] == "requested"
    assert entry.after is not None and entry.after["status"] == "processing"
    assert entry.after["decision"] == "approve" and entry.after["platform_error"] is True
    assert audit(platform, "refund.request") and audit(platform, "refund.view")
    assert audit(platform, "refund.file.download") and audit(platform, "refund.settle")


def test_payee_outside_the_platform_only_on_platform_error(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, agent: Actor,
        wallets: Pair) -> None:
    p = make_payment(platform, wallets.sender, recipient_address="cEXTERNAL000000000000")
    rid = ask(client, customer, p.id, kind="wrong_payee").json()["id"]
    r = decide(client, agent, rid, decision="approve", reason="ok")
    assert r.status_code == 409 and r.json()["error"]["code"] == "RECIPIENT_NOT_RECOVERABLE"
    r = decide(client, agent, rid, decision="approve", reason="our resolver erred",
               platform_error=True)
    assert r.status_code == 200, r.text
    legs = transfer(platform, r.json()["transfer_id"]).leg_list()
    assert [(leg.source, leg.amount_minor) for leg in legs] == [(TREASURY, 10_150)]


# --- case 3: revocation ------------------------------------------------------------------


def test_revocation_approved_then_refused_by_chain_then_asked_again(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, agent: Actor,
        wallets: Pair) -> None:
    p = make_payment(platform, wallets.sender, recipient=wallets.recipient)
    rid = ask(client, customer, p.id).json()["id"]
    out = decide(client, agent, rid, decision="approve", reason="payee agreed").json()
    # the customer's own mistake: the fee for the delivered service is kept
    assert (out["amount_minor"], out["platform_error"]) == (10_000, False)
    settlement.record_outcome(platform.deps, out["transfer_id"], committed=False, tx_id=None,
                              code="UNDERFUNDED", message="the payee spent it")
    failed = client.get(f"/v1/refunds/{rid}", headers=customer.headers).json()
    assert (failed["status"], failed["failure_code"]) == ("failed", "UNDERFUNDED")
    assert payment(platform, p.id).status == "credited"
    again = ask(client, customer, p.id)  # the payment is free for a new request
    assert again.status_code == 201 and again.json()["id"] != rid
    listed = client.get(f"/v1/payments/{p.id}/refunds", headers=customer.headers).json()
    assert [x["status"] for x in listed] == ["requested", "failed"]


def test_rejection_credits_the_payment_again(client: TestClient, platform: bootstrap.Platform,
                                             customer: Actor, officer: Actor,
                                             wallets: Pair) -> None:
    p = make_payment(platform, wallets.sender, recipient=wallets.recipient)
    rid = ask(client, customer, p.id).json()["id"]
    r = decide(client, officer, rid, decision="reject", reason="goods were delivered")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["decision_reason"]) == ("rejected",
                                                                  "goods were delivered")
    assert payment(platform, p.id).status == "credited" and refund_transfers(platform) == []
    again = decide(client, officer, rid, decision="approve", reason="changed my mind")
    assert again.status_code == 409 and again.json()["error"]["code"] == "REFUND_DECIDED"
    [entry] = audit(platform, "refund.decide")
    assert entry.before is not None and entry.before["status"] == "requested"
    assert entry.after is not None and entry.after["status"] == "rejected"
    assert entry.after["reason"] == "goods were delivered"
    assert ask(client, customer, p.id).status_code == 201  # may ask again


@pytest.mark.parametrize(("status", "code"), [
    ("draft", "USE_CANCEL"), ("ready", "USE_CANCEL"), ("submitted", "PAYMENT_NOT_FINAL"),
    ("final", "PAYMENT_NOT_FINAL"), ("rejected", "NOTHING_TO_REFUND"),
    ("cancelled", "NOTHING_TO_REFUND"), ("refunded", "ALREADY_REFUNDED"),
])
def test_states_that_cannot_be_refunded(client: TestClient, platform: bootstrap.Platform,
                                        customer: Actor, wallets: Pair, status: str,
                                        code: str) -> None:
    p = make_payment(platform, wallets.sender, recipient=wallets.recipient, status=status)
    r = ask(client, customer, p.id)
    assert r.status_code == 409 and r.json()["error"]["code"] == code
    if code == "USE_CANCEL":
        assert f"/v1/payments/{p.id}/cancel" in r.json()["error"]["message"]


def test_bad_requests_and_decisions(client: TestClient, platform: bootstrap.Platform,
                                    customer: Actor, other_customer: Actor, agent: Actor,
                                    wallets: Pair) -> None:
    p = make_payment(platform, wallets.sender, recipient=wallets.recipient)
    r = ask(client, customer, p.id, kind="because", reason=" ")
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_FIELDS"
    assert set(r.json()["error"]["fields"]) == {"kind", "reason"}
    theirs = upload(client, other_customer).json()["id"]
    r = ask(client, customer, p.id, evidence=[theirs, "nope"])
    assert r.status_code == 422 and set(r.json()["error"]["fields"]) == {"evidence.0",
                                                                         "evidence.1"}
    r = ask(client, customer, p.id, unknown=1)
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_REQUEST"
    assert payment(platform, p.id).status == "credited"  # nothing saved on refusal
    rid = ask(client, customer, p.id).json()["id"]
    r = decide(client, agent, rid, decision="maybe", reason="")
    assert r.status_code == 422 and set(r.json()["error"]["fields"]) == {"decision", "reason"}
    r = decide(client, agent, "no-such-refund", decision="reject", reason="x")
    assert r.status_code == 404


# --- evidence ----------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "ctype", "status", "code"), [
    (b"", "image/jpeg", 422, "FILE_EMPTY"),
    (b"GIF89a" + bytes(50), "image/gif", 422, "FILE_TYPE_UNSUPPORTED"),
    (b"<html><script>", "text/html", 422, "FILE_TYPE_UNSUPPORTED"),
    (PDF, "image/jpeg", 422, "FILE_TYPE_MISMATCH"),
])
def test_evidence_of_a_bad_type_is_refused(client: TestClient, customer: Actor, data: bytes,
                                           ctype: str, status: int, code: str) -> None:
    r = upload(client, customer, data, ctype)
    assert r.status_code == status and r.json()["error"]["code"] == code


def test_evidence_too_large_is_refused(client: TestClient, platform: bootstrap.Platform,
                                       customer: Actor) -> None:
    size_max = platform.settings.upload_bytes_max
    r = upload(client, customer, JPEG + bytes(size_max))
    assert r.status_code == 413 and r.json()["error"]["code"] in ("FILE_TOO_LARGE", "TOO_LARGE")


def test_evidence_is_encrypted_at_rest(client: TestClient, platform: bootstrap.Platform,
                                       customer: Actor) -> None:
    marker = b"\xff\xd8\xff\xe0" + b"SECRET-EVIDENCE-MARKER" * 10
    assert upload(client, customer, marker).status_code == 201
    blobs = [f.read_bytes() for f in (platform.settings.data_dir / "files").rglob("*")
             if f.is_file()]
    assert blobs and all(b"SECRET-EVIDENCE-MARKER" not in b for b in blobs)


# --- who may do what ---------------------------------------------------------------------


def test_only_the_sender_side_may_ask_or_see(client: TestClient, platform: bootstrap.Platform,
                                             customer: Actor, other_customer: Actor,
                                             wallets: Pair) -> None:
    p = make_payment(platform, wallets.sender, recipient=wallets.recipient,
                     recipient_user_id=other_customer.user.id)
    # the recipient and strangers learn nothing
    for who in (other_customer, make_user(platform, email="eve@example.com")):
        assert ask(client, who, p.id).status_code == 404
        assert client.get(f"/v1/payments/{p.id}/refunds", headers=who.headers).status_code \
            == 404
    rid = ask(client, customer, p.id).json()["id"]
    assert client.get(f"/v1/refunds/{rid}", headers=other_customer.headers).status_code == 404
    assert client.get(f"/v1/refunds/{rid}", headers=customer.headers).status_code == 200
    assert ask(client, customer, "no-such-payment").status_code == 404


def test_customers_cannot_decide_and_staff_roles_are_checked(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, wallets: Pair) -> None:
    p = make_payment(platform, wallets.sender, recipient=wallets.recipient)
    rid = ask(client, customer, p.id).json()["id"]
    for who in (customer, make_staff(platform, "regulator"), make_staff(platform, "operator"),
                make_staff(platform, "auditor")):
        assert decide(client, who, rid, decision="approve", reason="x").status_code == 403
        assert client.get("/v1/staff/refunds/queue", headers=who.headers).status_code == 403
        assert client.get(f"/v1/staff/refunds/{rid}", headers=who.headers).status_code == 403
    assert payment(platform, p.id).status == "refund_requested"
    for path in ("/v1/staff/refunds/queue", f"/v1/refunds/{rid}",
                 f"/v1/payments/{p.id}/refunds"):
        assert client.get(path).status_code == 401
    assert client.post(f"/v1/payments/{p.id}/refund", json={}).status_code == 401
    assert client.post("/v1/refunds/files", files={"file": ("e", JPEG, "image/jpeg")}
                       ).status_code == 401
    staff = make_staff(platform, "support_agent", "s2@corridor.example")
    assert upload(client, staff).status_code == 403  # staff have no payments to refund


def test_organisation_payments(client: TestClient, platform: bootstrap.Platform,
                               customer: Actor, other_customer: Actor, agent: Actor) -> None:
    viewer = make_user(platform, email="viv@example.com")
    org_id = make_org(platform, {"initiator": customer, "viewer": viewer})
    sender = make_wallet(platform, org_id, owner_type="org")
    p = make_payment(platform, sender, recipient=make_wallet(platform, other_customer.user.id),
                     created_by=customer.user.id)
    assert ask(client, viewer, p.id).status_code == 403  # a member, but may not initiate
    assert upload(client, viewer, org_id=org_id).status_code == 403
    assert upload(client, other_customer, org_id=org_id).status_code == 404
    ev = upload(client, customer, org_id=org_id).json()["id"]
    mine = upload(client, customer).json()["id"]  # the customer's own, not the org's
    r = ask(client, customer, p.id, evidence=[mine])
    assert r.status_code == 422
    r = ask(client, customer, p.id, evidence=[ev])
    assert r.status_code == 201, r.text
    # a viewer may follow it
    assert client.get(f"/v1/refunds/{r.json()['id']}", headers=viewer.headers).status_code \
        == 200
