"""KYC over HTTP (A5): submission, review, decisions, uploads, and who may do what."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain import kyc as dom
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.orgs import Membership, Organisation
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services import kyc, wallets
from tests.platform.conftest import Actor, make_staff, make_user

JPEG = b"\xff\xd8\xff\xe0" + b"\x00JFIF" + bytes(200)
PDF = b"%PDF-1.7\n" + bytes(200)

BASIC = {"first_name": "Carol", "last_name": "Customer", "birth_date": "1990-02-03",
         "address_country_code": "GB", "email_address": "carol@example.com"}


@pytest.fixture
def authorisations(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stands in for custody (being written elsewhere): records each call."""
    calls: list[dict[str, Any]] = []

    def fake(deps: object, uow: object, **kw: Any) -> None:
        calls.append(kw)

    monkeypatch.setattr(wallets, "request_authorisation", fake)
    return calls


@pytest.fixture
def officer(platform: bootstrap.Platform) -> Actor:
    return make_staff(platform, "compliance_officer")


def upload(client: TestClient, who: Actor, data: bytes = JPEG, ctype: str = "image/jpeg",
           org_id: str | None = None) -> Any:
    form = {"org_id": org_id} if org_id else None
    return client.post("/v1/kyc/files", headers=who.headers, data=form,
                       files={"file": ("doc", data, ctype)})


def full_fields(client: TestClient, who: Actor) -> dict[str, object]:
    front = upload(client, who).json()["id"]
    proof = upload(client, who, PDF, "application/pdf").json()["id"]
    return {**BASIC, "address": "1 High St", "city": "London", "postal_code": "SW1A 1AA",
            "id_type": "passport", "id_country_code": "GB", "id_number": "123456789",
            "id_expiration_date": "2035-01-01", "photo_id_front": front,
            "photo_proof_residence": proof}


def put(client: TestClient, who: Actor, fields: dict[str, object], tier: int | None = None,
        path: str = "/v1/kyc/customer") -> Any:
    body: dict[str, Any] = {"fields": fields}
    if tier is not None:
        body["tier"] = tier
    return client.put(path, headers=who.headers, json=body)


def decide(client: TestClient, who: Actor, record_id: str, **body: Any) -> Any:
    return client.post(f"/v1/staff/kyc/{record_id}/decision", headers=who.creating, json=body)


def audit(platform: bootstrap.Platform, action: str) -> list[AuditEntry]:
    with platform.deps.uow() as uow:
        return uow.repo(AuditEntry).many(action=action)


def make_org(platform: bootstrap.Platform, members: dict[str, Actor]) -> str:
    deps = platform.deps
    now = deps.clock.now_ms()
    org_id = deps.rand.new_id()
    creator = next(iter(members.values())).user.id
    with deps.uow() as uow:
        uow.repo(Organisation).add(Organisation(
            id=org_id, name="Acme Ltd", country="GB", status="active", created_by=creator,
            created_ms=now, updated_ms=now))
        for role, actor in members.items():
            uow.repo(Membership).add(Membership(
                id=deps.rand.new_id(), org_id=org_id, user_id=actor.user.id, role=role,
                department_id=None, created_ms=now, updated_ms=now))
        uow.commit()
    return org_id


# --- the individual flow --------------------------------------------------------------


def test_submit_review_accept(client: TestClient, platform: bootstrap.Platform,
                              customer: Actor, officer: Actor,
                              authorisations: list[dict[str, Any]]) -> None:
    fields = full_fields(client, customer)
    r = put(client, customer, fields, tier=2)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["status"], out["tier"], out["requested_tier"]) == ("PROCESSING", 0, 2)
    assert out["fields"]["city"] == {"status": "PROCESSING", "reason": "", "required": True,
                                     "value": "London"}
    rid = out["id"]

    queue = client.get("/v1/staff/kyc/queue", headers=officer.headers).json()
    assert [i["id"] for i in queue["items"]] == [rid] and queue["total"] == 1

    seen = client.get(f"/v1/staff/kyc/{rid}", headers=officer.headers).json()
    assert seen["fields"]["id_number"]["value"] == "123456789"
    assert {f["id"] for f in seen["files"]} == {fields["photo_id_front"],
                                                fields["photo_proof_residence"]}
    doc = client.get(f"/v1/staff/kyc/{rid}/files/{fields['photo_id_front']}",
                     headers=officer.headers)
    assert doc.status_code == 200 and doc.content == JPEG
    assert doc.headers["content-type"] == "image/jpeg"

    r = decide(client, officer, rid, decision="accept", reason="passport verified", tier=2,
               risk="medium")
    assert r.status_code == 200, r.text
    assert authorisations == [{"owner_type": "user", "owner_id": customer.user.id,
                               "asset_codes": dom.DEMO_ASSETS, "actor_id": officer.user.id}]
    mine = client.get("/v1/kyc/customer", headers=customer.headers).json()
    assert (mine["status"], mine["tier"]) == ("ACCEPTED", 2)
    assert mine["limits"]["per_tx_minor"] == dom.limits_for(2).per_tx_minor
    assert mine["limits"]["asset_codes"] == list(dom.DEMO_ASSETS)
    assert {f["status"] for f in mine["fields"].values()} == {"ACCEPTED"}
    assert "risk" not in mine  # the rating is for compliance, not the customer
    assert client.get("/v1/staff/kyc/queue", headers=officer.headers).json()["items"] == []

    with platform.deps.uow() as uow:
        assert kyc.tier_of(uow, "user", customer.user.id) == 2
        assert kyc.risk_of(uow, "user", customer.user.id) == "medium"
        assert kyc.tier_of(uow, "user", "nobody") == 0
    [entry] = audit(platform, "kyc.decide")
    assert entry.actor_id == officer.user.id and entry.object_id == rid
    assert entry.before is not None and entry.before["status"] == "PROCESSING"
    assert entry.after is not None and entry.after["status"] == "ACCEPTED"
    assert entry.after["tier"] == 2 and entry.after["reason"] == "passport verified"
    assert audit(platform, "kyc.view") and audit(platform, "kyc.file.download")
    # Personal data never reaches the audit trail.
    with platform.deps.uow() as uow:
        trail = json.dumps([dataclasses.asdict(e) for e in uow.repo(AuditEntry).many()])
    assert "123456789" not in trail and "Carol" not in trail


def test_partial_update_merges_and_lists_what_is_missing(client: TestClient,
                                                         customer: Actor) -> None:
    empty = client.get("/v1/kyc/customer", headers=customer.headers).json()
    assert (empty["id"], empty["status"], empty["tier"]) == (None, "NEEDS_INFO", 0)
    assert empty["limits"]["balance_cap_minor"] == 0
    assert empty["fields"]["first_name"]["status"] == "NOT_PROVIDED"
    put(client, customer, {"first_name": "Carol"}, tier=1)
    out = put(client, customer, {"last_name": "Customer"}).json()
    assert out["status"] == "NEEDS_INFO" and out["requested_tier"] == 1
    assert out["fields"]["first_name"]["value"] == "Carol"
    assert out["fields"]["birth_date"]["status"] == "NOT_PROVIDED"
    assert "id_number" not in out["fields"]  # tier 1 does not need it


def test_needs_info_round_trip(client: TestClient, platform: bootstrap.Platform,
                               customer: Actor, officer: Actor,
                               authorisations: list[dict[str, Any]]) -> None:
    rid = put(client, customer, BASIC, tier=1).json()["id"]
    r = decide(client, officer, rid, decision="needs_info", reason="see fields",
               fields={"email_address": {"status": "VERIFICATION_REQUIRED",
                                         "reason": "mail bounced"}})
    assert r.status_code == 200, r.text
    mine = client.get("/v1/kyc/customer", headers=customer.headers).json()
    assert mine["status"] == "NEEDS_INFO"
    assert mine["fields"]["email_address"]["status"] == "VERIFICATION_REQUIRED"
    assert mine["fields"]["email_address"]["reason"] == "mail bounced"
    assert client.get("/v1/staff/kyc/queue", headers=officer.headers).json()["total"] == 0
    # Accepting while a field is outstanding is refused.
    assert decide(client, officer, rid, decision="accept", reason="ok", tier=1,
                  risk="low").status_code == 409

    out = put(client, customer, {"email_address": "carol.c@example.com"}).json()
    assert out["status"] == "PROCESSING"
    assert out["fields"]["email_address"]["status"] == "PROCESSING"
    r = decide(client, officer, rid, decision="accept", reason="ok", tier=1, risk="high")
    assert r.json()["status"] == "ACCEPTED" and r.json()["tier"] == 1
    assert authorisations[0]["asset_codes"] == dom.limits_for(1).asset_codes
    assert [e.after["decision"] for e in audit(platform, "kyc.decide")  # type: ignore[index]
            ] == ["needs_info", "accept"]


def test_reject_closes_the_record(client: TestClient, customer: Actor, officer: Actor,
                                  authorisations: list[dict[str, Any]]) -> None:
    rid = put(client, customer, BASIC, tier=1).json()["id"]
    assert decide(client, officer, rid, decision="reject", reason="").status_code == 422
    r = decide(client, officer, rid, decision="reject", reason="document forged")
    assert r.json()["status"] == "REJECTED" and r.json()["decision_reason"] == "document forged"
    assert authorisations == []
    r = put(client, customer, {"city": "Leeds"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "KYC_REJECTED"
    r = decide(client, officer, rid, decision="accept", reason="x", tier=1, risk="low")
    assert r.status_code == 409 and r.json()["error"]["code"] == "KYC_NOT_IN_REVIEW"


def test_changing_an_accepted_record_sends_it_back_to_review(
        client: TestClient, customer: Actor, officer: Actor,
        authorisations: list[dict[str, Any]]) -> None:
    rid = put(client, customer, BASIC, tier=1).json()["id"]
    decide(client, officer, rid, decision="accept", reason="ok", tier=1, risk="low")
    out = put(client, customer, {"last_name": "Smith"}).json()
    assert (out["status"], out["tier"]) == ("PROCESSING", 1)
    queue = client.get("/v1/staff/kyc/queue", headers=officer.headers).json()
    assert [i["id"] for i in queue["items"]] == [rid]


def test_bad_input_is_refused_with_every_problem_and_changes_nothing(
        client: TestClient, customer: Actor, other_customer: Actor) -> None:
    put(client, customer, BASIC, tier=1)
    before = client.get("/v1/kyc/customer", headers=customer.headers).json()
    theirs = upload(client, other_customer).json()["id"]
    r = put(client, customer, {"first_name": "Caroline", "birth_date": "2020-01-01",
                               "address_country_code": "ZZ", "id_type": "library_card",
                               "favourite_colour": "blue", "photo_id_front": theirs,
                               "id_expiration_date": "2001-01-01"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "INVALID_FIELDS"
    assert set(err["fields"]) == {"birth_date", "address_country_code", "id_type",
                                  "favourite_colour", "photo_id_front", "id_expiration_date"}
    r = put(client, customer, {}, tier=3)
    assert r.status_code == 422 and set(r.json()["error"]["fields"]) == {"tier"}
    r = client.put("/v1/kyc/customer", headers=customer.headers,
                   json={"fields": {}, "extra": 1})
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_REQUEST"
    after = client.get("/v1/kyc/customer", headers=customer.headers).json()
    assert after == before


def test_staff_decision_input_is_checked(client: TestClient, customer: Actor,
                                         officer: Actor) -> None:
    rid = put(client, customer, BASIC, tier=1).json()["id"]
    r = decide(client, officer, rid, decision="accept", reason="ok", tier=2, risk="huge")
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_DECISION"
    assert set(r.json()["error"]["fields"]) == {"tier", "risk"}
    r = decide(client, officer, rid, decision="needs_info", reason="ok")
    assert r.status_code == 422 and set(r.json()["error"]["fields"]) == {"fields"}
    assert decide(client, officer, "no-such-record", decision="reject",
                  reason="x").status_code == 404
    r = client.get("/v1/staff/kyc/queue?limit=1000", headers=officer.headers)
    assert r.status_code == 422


def test_due_lists_records_whose_re_review_date_has_come(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        other_customer: Actor, officer: Actor, authorisations: list[dict[str, Any]]) -> None:
    ids = []
    for who in (customer, other_customer):
        rid = put(client, who, {**BASIC, "email_address": f"{who.user.id[:8]}@example.com"},
                  tier=1).json()["id"]
        decide(client, officer, rid, decision="accept", reason="ok", tier=1, risk="high")
        ids.append(rid)
    assert client.get("/v1/staff/kyc/due", headers=officer.headers).json()["items"] == []
    with platform.deps.uow() as uow:  # a year passes for the first customer
        rec = uow.repo(KycCustomer).get(ids[0])
        assert rec is not None and rec.review_due_ms is not None
        year_ms = 365 * dom.DAY_MS
        assert year_ms <= rec.review_due_ms - rec.decided_ms <= year_ms + dom.DAY_MS  # type: ignore[operator]
        uow.repo(KycCustomer).update(dataclasses.replace(rec, review_due_ms=1))
        uow.commit()
    due = client.get("/v1/staff/kyc/due", headers=officer.headers).json()["items"]
    assert [i["id"] for i in due] == [ids[0]]


# --- uploads --------------------------------------------------------------------------


def test_upload_checks_type_and_size(client: TestClient, platform: bootstrap.Platform,
                                     customer: Actor) -> None:
    r = upload(client, customer)
    assert r.status_code == 201, r.text
    assert (r.json()["kind"], r.json()["size"]) == ("jpeg", len(JPEG))
    cases = [
        (b"", "image/jpeg", 422, "FILE_EMPTY"),
        (b"GIF89a" + bytes(50), "image/gif", 422, "FILE_TYPE_UNSUPPORTED"),
        (b"<html><script>", "text/html", 422, "FILE_TYPE_UNSUPPORTED"),
        (PDF, "image/jpeg", 422, "FILE_TYPE_MISMATCH"),
    ]
    for data, ctype, status, code in cases:
        r = upload(client, customer, data, ctype)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), ctype
    size_max = platform.settings.upload_bytes_max
    r = upload(client, customer, JPEG + bytes(size_max))
    assert r.status_code == 413 and r.json()["error"]["code"] in ("FILE_TOO_LARGE", "TOO_LARGE")
    r = upload(client, customer, JPEG + bytes(size_max - len(JPEG) + 1))
    assert r.status_code == 413 and r.json()["error"]["code"] == "FILE_TOO_LARGE"
    assert len(audit(platform, "kyc.file.upload")) == 1


def test_files_are_stored_encrypted(client: TestClient, platform: bootstrap.Platform,
                                    customer: Actor) -> None:
    marker = b"\xff\xd8\xff\xe0" + b"PASSPORT-SCAN-MARKER" * 10
    upload(client, customer, marker)
    stored = [p.read_bytes() for p in (platform.settings.data_dir / "files").rglob("*")
              if p.is_file()]
    assert stored and all(b"PASSPORT-SCAN-MARKER" not in s for s in stored)


# --- organisations --------------------------------------------------------------------


def test_org_kyc(client: TestClient, platform: bootstrap.Platform, customer: Actor,
                 other_customer: Actor, officer: Actor,
                 authorisations: list[dict[str, Any]]) -> None:
    viewer = make_user(platform, email="vic@example.com")
    org_id = make_org(platform, {"owner": customer, "viewer": viewer})
    path = f"/v1/orgs/{org_id}/kyc"
    inc = upload(client, customer, PDF, "application/pdf", org_id=org_id).json()["id"]
    addr = upload(client, customer, PDF, "application/pdf", org_id=org_id).json()["id"]
    mine = upload(client, customer).json()["id"]  # the owner's own, not the company's
    fields = {
        "organization.name": "Acme Ltd", "organization.registration_number": "01234567",
        "organization.registration_date": "2001-04-01",
        "organization.registered_address": "2 Low St, London",
        "organization.address_country_code": "GB", "organization.director_name": "Carol C",
        "organization.email": "kyc@acme.example", "organization.photo_incorporation_doc": inc,
        "organization.photo_proof_address": mine,
        "organization.beneficial_owners": [
            {"name": "Carol C", "birth_date": "1980-01-01", "nationality": "GB",
             "ownership_percent": 75}],
    }
    r = put(client, customer, fields, path=path)
    assert r.status_code == 422
    assert set(r.json()["error"]["fields"]) == {"organization.photo_proof_address"}
    r = put(client, customer, {"first_name": "Carol"}, path=path)
    assert r.status_code == 422 and "first_name" in r.json()["error"]["fields"]
    out = put(client, customer, {**fields, "organization.photo_proof_address": addr},
              path=path).json()
    assert (out["status"], out["subject_type"], out["requested_tier"]) == ("PROCESSING",
                                                                           "org", 3)
    # A viewer may not submit (or read) it; a non-member learns nothing.
    assert put(client, viewer, {"organization.name": "X"}, path=path).status_code == 403
    assert upload(client, viewer, org_id=org_id).status_code == 403
    assert client.get(path, headers=other_customer.headers).status_code == 404
    assert put(client, other_customer, {}, path=path).status_code == 404
    assert upload(client, other_customer, org_id=org_id).status_code == 404

    r = decide(client, officer, out["id"], decision="accept", reason="registry checked",
               tier=3, risk="low")
    assert r.status_code == 200, r.text
    assert authorisations == [{"owner_type": "org", "owner_id": org_id,
                               "asset_codes": dom.limits_for(3).asset_codes,
                               "actor_id": officer.user.id}]
    assert client.get(path, headers=customer.headers).json()["tier"] == 3
    # The organisation's first wallet (a chain account) opens with its accepted KYB.
    with platform.deps.uow() as uow:
        [wallet] = uow.repo(Wallet).many(owner_type="org", owner_id=org_id)
    assert (wallet.custodial, wallet.status) == (True, "opening")
    # The individual's own record is separate.
    assert client.get("/v1/kyc/customer", headers=customer.headers).json()["tier"] == 0


# --- who may do what ------------------------------------------------------------------


def test_every_endpoint_needs_a_session(client: TestClient) -> None:
    calls = [("get", "/v1/kyc/customer"), ("put", "/v1/kyc/customer"),
             ("get", "/v1/orgs/x/kyc"), ("put", "/v1/orgs/x/kyc"), ("post", "/v1/kyc/files"),
             ("get", "/v1/kyc/tiers"), ("get", "/v1/staff/kyc/queue"),
             ("get", "/v1/staff/kyc/due"), ("get", "/v1/staff/kyc/x"),
             ("get", "/v1/staff/kyc/x/files/y"), ("post", "/v1/staff/kyc/x/decision")]
    for method, path in calls:
        r = client.request(method, path, json={} if method != "get" else None)
        assert r.status_code == 401, (method, path, r.status_code)


def test_customers_see_only_their_own_and_cannot_use_staff_endpoints(
        client: TestClient, customer: Actor, other_customer: Actor) -> None:
    fields = full_fields(client, customer)
    rid = put(client, customer, fields, tier=2).json()["id"]
    theirs = client.get("/v1/kyc/customer", headers=other_customer.headers).json()
    assert theirs["id"] is None and "Carol" not in json.dumps(theirs)
    for who in (customer, other_customer):
        for path in ("/v1/staff/kyc/queue", "/v1/staff/kyc/due", f"/v1/staff/kyc/{rid}",
                     f"/v1/staff/kyc/{rid}/files/{fields['photo_id_front']}"):
            assert client.get(path, headers=who.headers).status_code == 403, path
        r = decide(client, who, rid, decision="accept", reason="me", tier=2, risk="low")
        assert r.status_code == 403
    # A file id from another record's subject is not found through this record.
    other_rid = put(client, other_customer, BASIC, tier=1).json()["id"]
    assert other_rid != rid


def test_staff_roles(client: TestClient, platform: bootstrap.Platform, customer: Actor,
                     officer: Actor, authorisations: list[dict[str, Any]]) -> None:
    fields = full_fields(client, customer)
    rid = put(client, customer, fields, tier=2).json()["id"]
    file_path = f"/v1/staff/kyc/{rid}/files/{fields['photo_id_front']}"
    support = make_staff(platform, "support_agent")
    auditor = make_staff(platform, "auditor")
    regulator = make_staff(platform, "regulator")
    for reader in (auditor, officer):
        assert client.get(f"/v1/staff/kyc/{rid}", headers=reader.headers).status_code == 200
        assert client.get(file_path, headers=reader.headers).status_code == 200
        assert client.get("/v1/staff/kyc/queue", headers=reader.headers).status_code == 200
    for role in (support, auditor, regulator):
        r = decide(client, role, rid, decision="reject", reason="no")
        assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    # the regulator reads KYC only as a case's evidence, through the audited supervision
    for role in (support, regulator):
        assert client.get(f"/v1/staff/kyc/{rid}", headers=role.headers).status_code == 403
    # Staff have no customer record of their own.
    assert client.get("/v1/kyc/customer", headers=officer.headers).status_code == 403
    # A file of another subject is not reachable through this record.
    other = make_user(platform, email="erin@example.com")
    foreign = upload(client, other).json()["id"]
    assert client.get(f"/v1/staff/kyc/{rid}/files/{foreign}",
                      headers=officer.headers).status_code == 404
    assert client.get(f"/v1/staff/kyc/{rid}", headers=officer.headers).json()["status"] \
        == "PROCESSING"


def test_tiers_are_published(client: TestClient, customer: Actor) -> None:
    tiers = client.get("/v1/kyc/tiers", headers=customer.headers).json()
    assert [t["level"] for t in tiers] == [0, 1, 2, 3]
    assert tiers[3]["subject_type"] == "org"
    assert "organization.beneficial_owners" in tiers[3]["required_fields"]
    assert tiers[0]["limits"]["asset_codes"] == []
