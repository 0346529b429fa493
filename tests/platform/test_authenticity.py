"""Authenticity review and travel-rule data (issue 16), through the API on both databases:
a trade payment abroad at or above the threshold is held until its documents are uploaded
and an officer finds them in agreement, then released and settled once; inconsistent
documents keep the hold and a return gives the money back exactly, once; only the payer
uploads and only officers download; bad files are refused with stable codes and change
nothing; small, domestic and personal payments are not held; travel-rule data is stored
sealed with the payment and reaches the monitors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.authenticity import (
    DOCUMENTS_PER_PAYMENT_MAX,
    AuthenticityMonitor,
    PaymentDocument,
    Purpose,
)
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.monitoring import Movement, MovementKind, Outcome
from corridor.platform.domain.notifications import Notification
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.transfers import Transfer, TransferStatus
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services import funds
from tests.platform.conftest import Actor, keyed, make_staff, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, commit, open_wallet
from tests.platform.payment_records import JPEG, PDF
from tests.platform.wallet_fakes import CountingKeyGen

UPLOAD_MAX = 4096
FUNDED_MINOR = 5_000_000  # 50,000.00 USD
ALICE = {"first_name": "Alice", "last_name": "Trader", "birth_date": "1980-01-02",
         "address_country_code": "GB", "address": "1 High Street", "city": "London",
         "postal_code": "SW1A 1AA", "id_type": "passport", "id_number": "123456789"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, upload_bytes_max=UPLOAD_MAX)


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def platform(settings: Settings, chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=FakeClock(), ledger=chain, keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


def verified(platform: bootstrap.Platform, owner_id: str, values: dict[str, str]) -> None:
    """An accepted tier-2 verification holding `values` (sealed as the KYC service does)."""
    deps = platform.deps
    now = deps.clock.now_ms()
    rec_id = deps.rand.new_id()
    with deps.uow() as uow:
        uow.repo(KycCustomer).add(KycCustomer(
            id=rec_id, subject_type="user", subject_id=owner_id, status="ACCEPTED",
            requested_tier=2, tier=2, risk="low",
            data_enc=deps.sealer.seal(json.dumps(values).encode(), f"kyc-customer:{rec_id}"),
            field_status={}, submitted_ms=now, decided_ms=now, decided_by=None,
            decision_reason="test", review_due_ms=None, created_ms=now, updated_ms=now))
        uow.commit()


@dataclasses.dataclass
class World:
    alice: Actor  # GB, pays
    wallet: Wallet
    bob: Actor  # CN: abroad
    carol: Actor  # GB: at home
    officer: Actor
    support: Actor


@pytest.fixture
def world(platform: bootstrap.Platform, chain: FakeChain) -> World:
    alice = make_user(platform, email="alice@example.com", name="Alice T")
    bob = make_user(platform, email="bob@example.com", name="Bob Importer")
    carol = make_user(platform, email="carol@example.com", name="Carol Home")
    verified(platform, alice.user.id, ALICE)
    verified(platform, bob.user.id, {"first_name": "Bob", "last_name": "Importer",
                                     "address_country_code": "CN"})
    verified(platform, carol.user.id, {"first_name": "Carol", "last_name": "Home",
                                       "address_country_code": "GB"})
    wallet = open_wallet(platform, alice.user.id)
    open_wallet(platform, bob.user.id)
    open_wallet(platform, carol.user.id)
    chain.fund(wallet.address, "USD", FUNDED_MINOR)
    return World(alice, wallet, bob, carol, make_staff(platform, "compliance_officer"),
                 make_staff(platform, "support_agent"))


def pay(client: TestClient, who: Actor, *, to: str = "bob@example.com",
        amount: str = "6000.00", purpose: str | None = "GDDS") -> Any:
    body: dict[str, Any] = {"recipient": {"type": "user", "email": to}, "asset": "USD",
                            "amount": amount}
    if purpose is not None:
        body["purpose"] = purpose
    return client.post("/v1/payments", headers=who.creating, json=body)


def held(client: TestClient, world: World) -> dict[str, Any]:
    r = pay(client, world.alice)
    assert r.status_code == 201, r.text
    p = dict(r.json())
    assert p["status"] == "on_hold" and p["purpose"] == "GDDS"
    return p


def upload(client: TestClient, who: Actor, payment_id: str, data: bytes = PDF,
           ctype: str = "application/pdf", kind: str = "invoice") -> Any:
    return client.post(f"/v1/payment-documents/{payment_id}", headers=who.headers,
                       data={"kind": kind}, files={"file": ("invoice.pdf", data, ctype)})


def check(client: TestClient, who: Actor, payment_id: str, key: str | None = None,
          **agree: bool) -> Any:
    body = {"amount_agrees": True, "parties_agree": True, "purpose_agrees": True,
            "reason": "invoice 2026-118 matches amount, buyer and seller", **agree}
    headers = keyed(who.headers) if key is None else {**who.headers, "Idempotency-Key": key}
    return client.post(f"/v1/staff/authenticity/{payment_id}/checks", headers=headers,
                       json=body)


def case_of(client: TestClient, officer: Actor) -> dict[str, Any]:
    items = client.get("/v1/staff/compliance/cases", headers=officer.headers).json()["items"]
    assert len(items) == 1
    return dict(client.get(f"/v1/staff/compliance/cases/{items[0]['id']}",
                           headers=officer.headers).json())


def decide(client: TestClient, officer: Actor, case_id: str, kind: str) -> Any:
    return client.post(f"/v1/staff/compliance/cases/{case_id}/decisions",
                       headers=keyed(officer.headers), json={"kind": kind, "note": "checked"})


def review(client: TestClient, who: Actor, payment_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/payments/{payment_id}/documents", headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def available(platform: bootstrap.Platform, wallet: Wallet) -> int:
    with platform.deps.uow() as uow:
        return funds.available_minor(platform.deps, uow, wallet, "USD")


def error(r: Any) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def topics(platform: bootstrap.Platform, user_id: str) -> list[str]:
    with platform.deps.uow() as uow:
        return [n.topic for n in uow.repo(Notification).many(user_id=user_id,
                                                             order_by="created_ms")]


def test_held_without_documents_released_after_upload_and_check_settles_once(
        client: TestClient, platform: bootstrap.Platform, world: World,
        chain: FakeChain) -> None:
    p = held(client, world)
    assert available(platform, world.wallet) == FUNDED_MINOR - int(
        p["sell_amount"].replace(".", ""))  # reserved, exactly
    case = case_of(client, world.officer)
    alert = case["alerts"][0]
    assert (alert["typology"], alert["monitor"]) == ("authenticity", "authenticity")
    assert alert["explanation"]["reason"] == "documents required"
    assert alert["explanation"]["sender_country"] == "GB"
    assert alert["explanation"]["receiver_country"] == "CN"
    assert review(client, world.alice, p["id"])["state"] == "documents_required"
    assert "payment.documents_requested" in topics(platform, world.alice.user.id)

    refused = decide(client, world.officer, case["case"]["id"], "release")
    assert error(refused) == (409, "DOCUMENTS_NOT_VERIFIED")
    assert error(check(client, world.officer, p["id"])) == (409, "DOCUMENTS_MISSING")

    first = upload(client, world.alice, p["id"])
    assert first.status_code == 201, first.text
    again = upload(client, world.alice, p["id"])  # the same file: the same document
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    mine = review(client, world.alice, p["id"])
    assert mine["state"] == "documents_received" and len(mine["documents"]) == 1
    assert mine["documents"][0]["content_type"] == "application/pdf"

    staff_view = client.get(f"/v1/staff/authenticity/{p['id']}", headers=world.officer.headers)
    assert staff_view.status_code == 200
    assert staff_view.json()["travel_rule"]["originator"]["name"] == "Alice Trader"
    got = client.get(f"/v1/staff/authenticity/{p['id']}/documents/{first.json()['id']}",
                     headers=world.officer.headers)
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    with platform.deps.uow() as uow:  # encrypted at rest: the store never holds the bytes
        doc = uow.repo(PaymentDocument).get(first.json()["id"])
    assert doc is not None and doc.sha256 == hashlib.sha256(PDF).hexdigest()
    stored = [f for f in (platform.settings.data_dir / "files").rglob("*") if f.is_file()]
    assert stored and all(b"%PDF-1.7" not in f.read_bytes() for f in stored)

    agreed = check(client, world.officer, p["id"])
    assert agreed.status_code == 200, agreed.text
    assert agreed.json()["state"] == "agreed"
    released = decide(client, world.officer, case["case"]["id"], "release")
    assert released.status_code == 200, released.text
    commit(platform, chain, p["id"], height=7)
    commit(platform, chain, p["id"], height=8)  # replayed: nothing more
    done = client.get(f"/v1/payments/{p['id']}", headers=world.alice.headers).json()
    assert done["status"] == "credited" and done["height"] == 7
    assert [h["status"] for h in done["history"]].count("credited") == 1
    assert error(upload(client, world.alice, p["id"], JPEG, "image/jpeg")) == (
        409, "DOCUMENTS_NOT_EXPECTED")  # released: nothing more to upload
    late_retry = upload(client, world.alice, p["id"])  # the first upload, retried late
    assert late_retry.status_code == 200 and late_retry.json()["id"] == first.json()["id"]
    note = case_of(client, world.officer)["notes"]
    assert any("agree" in n["text"] for n in note)


def test_inconsistent_documents_keep_the_hold_and_a_return_restores_the_money_once(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    p = held(client, world)
    assert upload(client, world.alice, p["id"]).status_code == 201
    key = "check-1"
    bad = check(client, world.officer, p["id"], key, amount_agrees=False)
    assert bad.status_code == 200, bad.text
    assert bad.json()["state"] == "inconsistent"
    retried = check(client, world.officer, p["id"], key, amount_agrees=False)
    assert retried.status_code == 200 and len(retried.json()["checks"]) == 1  # once
    assert error(check(client, world.officer, p["id"], key)) == (409,
                                                                 "IDEMPOTENCY_KEY_REUSED")
    mine = review(client, world.alice, p["id"])
    assert mine["uploadable"] and mine["checks"][0]["amount_agrees"] is False
    assert topics(platform, world.alice.user.id).count("payment.documents_requested") == 2
    case = case_of(client, world.officer)
    assert error(decide(client, world.officer, case["case"]["id"], "release")) == (
        409, "DOCUMENTS_NOT_VERIFIED")
    assert client.get(f"/v1/payments/{p['id']}",
                      headers=world.alice.headers).json()["status"] == "on_hold"

    returned = decide(client, world.officer, case["case"]["id"], "return")
    assert returned.status_code == 200, returned.text
    assert available(platform, world.wallet) == FUNDED_MINOR
    assert error(decide(client, world.officer, case["case"]["id"], "return")) == (
        409, "NOTHING_HELD")
    assert available(platform, world.wallet) == FUNDED_MINOR
    with platform.deps.uow() as uow:
        transfers = uow.repo(Transfer).many(ref_id=p["id"])
    assert [t.status for t in transfers] == [TransferStatus.REJECTED]
    got = client.get(f"/v1/payments/{p['id']}", headers=world.alice.headers).json()
    assert got["status"] == "rejected" and got["reason_code"] == "COMPLIANCE_RETURNED"


def test_only_the_payer_uploads_and_only_officers_download(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    p = held(client, world)
    doc = upload(client, world.alice, p["id"]).json()
    for other in (world.bob, world.carol, world.officer):
        assert error(upload(client, other, p["id"], JPEG, "image/jpeg")) == (404, "NOT_FOUND")
        r = client.get(f"/v1/payments/{p['id']}/documents", headers=other.headers)
        assert error(r) == (404, "NOT_FOUND")
        r = client.get(f"/v1/payments/{p['id']}/travel-rule", headers=other.headers)
        assert error(r) == (404, "NOT_FOUND")
    url = f"/v1/staff/authenticity/{p['id']}/documents/{doc['id']}"
    for who in (world.alice, world.bob, world.support):
        assert error(client.get(url, headers=who.headers)) == (403, "FORBIDDEN")
        assert error(check(client, who, p["id"])) == (403, "FORBIDDEN")
    assert error(client.get(f"/v1/staff/authenticity/{p['id']}/documents/nope",
                            headers=world.officer.headers)) == (404, "NOT_FOUND")
    assert len(review(client, world.alice, p["id"])["documents"]) == 1


def test_bad_files_are_refused_with_stable_codes_and_change_nothing(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    p = held(client, world)
    cases = [(b"", "application/pdf", "invoice", (422, "FILE_EMPTY")),
             (b"MZ\x90\x00 not a document", "application/pdf", "invoice",
              (422, "FILE_TYPE_UNSUPPORTED")),
             (JPEG, "application/pdf", "invoice", (422, "FILE_TYPE_MISMATCH")),
             (PDF + bytes(UPLOAD_MAX), "application/pdf", "invoice", (413, "FILE_TOO_LARGE")),
             (PDF, "application/pdf", "receipt", (422, "INVALID_FIELDS"))]
    for data, ctype, kind, expected in cases:
        assert error(upload(client, world.alice, p["id"], data, ctype, kind)) == expected
    mine = review(client, world.alice, p["id"])
    assert mine["state"] == "documents_required" and mine["documents"] == []
    for n in range(DOCUMENTS_PER_PAYMENT_MAX):
        r = upload(client, world.alice, p["id"], PDF + bytes([n]), kind="contract")
        assert r.status_code == 201, r.text
    assert error(upload(client, world.alice, p["id"], PDF + b"extra")) == (
        409, "DOCUMENTS_LIMIT")
    assert len(review(client, world.alice, p["id"])["documents"]) == DOCUMENTS_PER_PAYMENT_MAX
    small = pay(client, world.alice, amount="10.00").json()
    assert small["status"] == "submitted"
    assert error(upload(client, world.alice, small["id"])) == (409, "DOCUMENTS_NOT_EXPECTED")


def test_below_threshold_domestic_and_personal_payments_are_not_held(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    for kwargs in ({"amount": "4000.00"}, {"to": "carol@example.com"},
                   {"purpose": "FAMI"}, {"purpose": None}):
        r = pay(client, world.alice, **kwargs)  # type: ignore[arg-type]
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "submitted", kwargs
        assert review(client, world.alice, r.json()["id"])["state"] == "none"
    bad = pay(client, world.alice, purpose="XXXX")
    assert error(bad) == (422, "INVALID_FIELDS") and "purpose" in bad.json()["error"]["fields"]
    assert client.get("/v1/staff/compliance/alerts",
                      headers=world.officer.headers).json()["total"] == 0


def test_travel_rule_data_is_stored_sealed_with_the_payment(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    big = pay(client, world.alice, amount="1500.00", purpose="FAMI").json()
    r = client.get(f"/v1/payments/{big['id']}/travel-rule", headers=world.alice.headers)
    assert r.status_code == 200, r.text
    tr = r.json()
    assert tr["missing"] == []
    assert tr["originator"]["name"] == "Alice Trader"
    assert tr["originator"]["account"] == world.wallet.address
    assert tr["originator"]["address"] == "1 High Street, London, SW1A 1AA"
    assert tr["originator"]["national_id"] == "passport 123456789"
    assert tr["originator"]["country"] == "GB"
    assert tr["beneficiary"]["name"] == "Bob Importer"
    assert tr["beneficiary"]["country"] == "CN"
    with platform.deps.uow() as uow:
        row = uow.repo(Payment).get(big["id"])
    assert row is not None and row.travel_rule_sealed is not None
    assert "High Street" not in row.travel_rule_sealed  # sealed, not plain JSON

    small = pay(client, world.alice, amount="900.00", purpose="FAMI").json()
    r = client.get(f"/v1/payments/{small['id']}/travel-rule", headers=world.alice.headers)
    assert r.status_code == 200 and r.json() is None

    bank = client.post("/v1/payments", headers=world.alice.creating, json={
        "recipient": {"type": "external", "name": "Acme Ltd", "country": "GB",
                      "iban": "GB82WEST12345698765432", "bank_code": "WESTGB2L"},
        "asset": "USD", "amount": "1200.00", "purpose": "OTHR"})
    assert bank.status_code == 201, bank.text
    tr = client.get(f"/v1/payments/{bank.json()['id']}/travel-rule",
                    headers=world.alice.headers).json()
    assert tr["beneficiary"] == {"name": "Acme Ltd", "account": "GB82WEST12345698765432",
                                 "bank_code": "WESTGB2L", "country": "GB"}


def test_the_monitor_and_the_aml_travel_rule_use_the_movement_fields() -> None:
    from corridor.platform.domain.aml.engine import AmlEngine

    base = Movement(id="m1", kind=MovementKind.PAYMENT, at_ms=1, sender="s",
                    sender_country="GB", receiver="r", receiver_country="CN",
                    receiver_name="Bob", amount_minor=600_000, currency="USD",
                    usd_minor=600_000, purpose=Purpose.SCVE)
    monitor = AuthenticityMonitor(500_000)
    (found,) = monitor.evaluate(base)
    assert found.outcome is Outcome.REVIEW and found.typology == "authenticity"
    for quiet in (dataclasses.replace(base, usd_minor=499_999),
                  dataclasses.replace(base, receiver_country="GB"),
                  dataclasses.replace(base, purpose=Purpose.FAMI),
                  dataclasses.replace(base, kind=MovementKind.WITHDRAWAL)):
        assert monitor.evaluate(quiet) == ()
    assert monitor.evaluate(dataclasses.replace(base, receiver_country=None))  # unknown

    complete = dataclasses.replace(
        base, id="m2", purpose=None,
        originator={"name": "Alice", "account": "c1", "address": "1 High St"},
        beneficiary={"name": "Bob", "account": "c2"})
    engine = AmlEngine()
    assert not [f for f in engine.evaluate(complete) if f.typology == "travel_rule"]
    lacking = dataclasses.replace(complete, id="m3", sender="s2",
                                  originator={"name": "Alice", "account": "c1"})
    (rule,) = [f for f in engine.evaluate(lacking) if f.typology == "travel_rule"]
    assert "originator.identification" in json.dumps(dict(rule.explanation))


def test_the_cli_lists_and_shows_payments_held_for_documents(
        client: TestClient, platform: bootstrap.Platform, settings: Settings,
        world: World) -> None:
    from typer.testing import CliRunner

    from corridor.cli.main import app as cli_app

    p = held(client, world)
    assert upload(client, world.alice, p["id"]).status_code == 201
    where = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url]
    runner = CliRunner()
    out = runner.invoke(cli_app, ["compliance", "documents", "list", *where])
    assert out.exit_code == 0, out.output
    assert p["id"] in out.output and "GB->CN" in out.output
    out = runner.invoke(cli_app, ["compliance", "documents", "list", "--state", "agreed",
                                  *where])
    assert out.exit_code == 0 and "(no payments)" in out.output
    out = runner.invoke(cli_app, ["compliance", "documents", "show", p["id"], *where])
    assert out.exit_code == 0, out.output
    shown = json.loads(out.output)
    assert shown["review"]["state"] == "documents_received"
    assert shown["documents"][0]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert shown["travel_rule"]["originator"]["name"] == "Alice Trader"
    bad = runner.invoke(cli_app, ["compliance", "documents", "list", "--state", "x", *where])
    assert bad.exit_code != 0
