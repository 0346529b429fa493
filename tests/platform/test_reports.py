"""Suspicious-transaction reports (issue 16), on both databases: drafted from a held
payment's case with the subject's KYC identity, the payment and the list hit; edited,
submitted, sent back and filed by a second officer (four-eyes); filed reports numbered
gap-free under concurrent filing, hashed and immutable; exports (JSON, XML validated
against the schema); roles; idempotency; every step audited."""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
import xmlschema
from starlette.testclient import TestClient
from typer.testing import CliRunner

from corridor.api.app import create_app
from corridor.cli.main import app as cli_app
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain import reports as dom
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.compliance import Case, CaseState
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.reports import Report, ReportKind, ReportState
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.services import report_export, reports
from tests.platform import report_world
from tests.platform.conftest import Actor, keyed, make_staff, make_user
from tests.platform.payment_fakes import FakeChain
from tests.platform.test_compliance_cases import LISTED, World, only_case, pay

IDENTITY = {"first_name": "Carol", "last_name": "Customer", "birth_date": "1980-05-17",
            "birth_country_code": "GB", "address": "1 High Street", "city": "London",
            "postal_code": "SW1A 1AA", "address_country_code": "GB",
            "id_type": "passport", "id_number": "X1234567", "id_country_code": "GB",
            "id_issue_date": "2020-01-02", "id_expiration_date": "2030-01-01",
            "occupation": "Trader"}



@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def platform(settings: Settings, chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = report_world.build(settings, chain)
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


@pytest.fixture
def world(platform: bootstrap.Platform, chain: FakeChain) -> World:
    return report_world.world(platform, chain)

def give_identity(platform: bootstrap.Platform, user_id: str) -> None:
    """The customer's KYC record with real field values (the fakes seal an empty one)."""
    deps = platform.deps
    with deps.uow() as uow:
        rec = uow.repo(KycCustomer).one(subject_type="user", subject_id=user_id)
        assert rec is not None
        sealed = deps.sealer.seal(json.dumps(IDENTITY).encode(), f"kyc-customer:{rec.id}")
        uow.repo(KycCustomer).update(dataclasses.replace(rec, data_enc=sealed))
        uow.commit()


def held_case(client: TestClient, platform: bootstrap.Platform, world: World) -> dict[str, Any]:
    give_identity(platform, world.alice.user.id)
    p = pay(client, world.alice)
    assert p["status"] == "on_hold"
    return only_case(client, world.officer)


def post(client: TestClient, who: Actor, path: str, key: str | None = None,
         **body: Any) -> Any:
    headers = keyed(who.headers) if key is None else {**who.headers, "Idempotency-Key": key}
    return client.post(f"/v1/staff/compliance{path}", headers=headers, json=body)


def put(client: TestClient, who: Actor, report_id: str, **body: Any) -> Any:
    return client.put(f"/v1/staff/compliance/reports/{report_id}",
                      headers=keyed(who.headers), json=body)


def actions(platform: bootstrap.Platform, object_id: str) -> list[str]:
    with platform.deps.uow() as uow:
        return [e.action for e in uow.repo(AuditEntry).many(object_id=object_id,
                                                            order_by="seq")]


def test_a_report_is_drafted_from_the_case_reviewed_and_filed(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    case = held_case(client, platform, world)
    r = post(client, world.officer, f"/cases/{case['case']['id']}/reports", kind="STR")
    assert r.status_code == 201, r.text
    draft = r.json()
    doc = draft["document"]
    assert draft["state"] == "draft" and draft["number"] is None
    assert doc["schema"] == dom.SCHEMA
    assert doc["reporting_entity"]["id"] == "corridor"
    subject = doc["subject"]
    assert (subject["first_name"], subject["last_name"]) == ("Carol", "Customer")
    assert subject["id_document"]["number"] == "X1234567"
    assert subject["kyc"]["tier"] == 2
    [tx] = doc["transactions"]
    held = case["payments"][0]
    assert tx["uetr"] == held["uetr"] and tx["payment_id"] == held["id"]
    assert (tx["amount"], tx["currency"]) == (held["sell_amount"], "USD")
    assert tx["received_amount_minor"] == 10_000 and tx["amount_minor"] == 10_000 + tx["fee_minor"]
    assert tx["to"]["name"] == LISTED
    [ind] = doc["indicators"]
    assert ind["typology"] == "sanctions"
    assert ind["list_hits"][0]["source_id"] == "a2" and ind["list_hits"][0]["score_milli"] > 0

    rid = draft["id"]
    # no narrative yet: not submitted, and no XML
    r = post(client, world.officer, f"/reports/{rid}/submit")
    assert r.status_code == 422 and "narrative" in r.json()["error"]["fields"]
    r = put(client, world.officer, rid, narrative="  ")
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_FIELDS"
    r = put(client, world.officer, rid, narrative="Payment to a listed person.\n\nHeld.")
    assert r.status_code == 200 and r.json()["narrative"].endswith("\n\nHeld.")
    r = post(client, world.officer, f"/reports/{rid}/submit")
    assert r.status_code == 200 and r.json()["state"] == "in_review"
    # the drafter neither files nor sends back (four-eyes); a draft-only step is refused
    for step, body in (("file", {}), ("send-back", {"reason": "mine"})):
        r = post(client, world.officer, f"/reports/{rid}/{step}", **body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "FOUR_EYES_REQUIRED"
    r = put(client, world.second, rid, narrative="changed in review")
    assert r.status_code == 409 and r.json()["error"]["code"] == "REPORT_STATE"
    # the second officer sends it back; the drafter amends and submits again
    r = post(client, world.second, f"/reports/{rid}/send-back", reason="Name the list.")
    assert r.status_code == 200
    assert (r.json()["state"], r.json()["returned_reason"]) == ("draft", "Name the list.")
    assert put(client, world.officer, rid,
               narrative="Payment to a person on the US CSL (OFAC CYBER2).").status_code == 200
    assert post(client, world.officer, f"/reports/{rid}/submit").status_code == 200
    r = post(client, world.second, f"/reports/{rid}/file")
    assert r.status_code == 200, r.text
    filed = r.json()
    year = dom.year_of(platform.deps.clock.now_ms())
    assert filed["state"] == "filed" and filed["number"] == f"{year}-000001"
    assert filed["filed_by"] == world.second.user.id
    assert filed["document"]["content_hash"] == filed["content_hash"]
    assert dom.content_hash(filed["document"]) == filed["content_hash"]
    assert reports.verify(reports.report(platform.deps, None, rid))
    # immutable
    for r in (put(client, world.officer, rid, narrative="later"),
              post(client, world.officer, f"/reports/{rid}/submit"),
              post(client, world.officer, f"/reports/{rid}/file")):
        assert r.status_code == 409 and r.json()["error"]["code"] == "REPORT_FILED"
    assert actions(platform, rid) == ["report.draft", "report.edit", "report.submit",
                                      "report.send_back", "report.edit", "report.submit",
                                      "report.file"]
    # exports
    r = client.get(f"/v1/staff/compliance/reports/{rid}/export?format=json",
                   headers=world.officer.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert f"report-{year}-000001.json" in r.headers["content-disposition"]
    assert dom.content_hash(r.json()) == filed["content_hash"]
    r = client.get(f"/v1/staff/compliance/reports/{rid}/export?format=xml",
                   headers=world.officer.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/xml"
    xmlschema.XMLSchema(str(report_export.XSD)).validate(r.text)
    root = ET.fromstring(r.content)
    assert root.findtext("report_code") == "STR"
    assert root.findtext("entity_reference") == f"{year}-000001"
    assert root.findtext("transaction/transactionnumber") == held["uetr"]
    assert root.findtext("transaction/t_from_my_client/t_person/last_name") == "Customer"
    assert root.findtext("transaction/t_to_my_client/t_person/last_name") == "Khoroshev"
    assert "typology:sanctions" in [i.text for i in root.iter("indicator")]
    assert root.findtext("reason") == "Payment to a person on the US CSL (OFAC CYBER2)."


def test_drafting_is_idempotent_and_one_open_report_per_case(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    case_id = held_case(client, platform, world)["case"]["id"]
    key = uuid.uuid4().hex
    first = post(client, world.officer, f"/cases/{case_id}/reports", key=key, kind="SAR")
    again = post(client, world.officer, f"/cases/{case_id}/reports", key=key, kind="SAR")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"] and first.json()["kind"] == "SAR"
    r = post(client, world.officer, f"/cases/{case_id}/reports", key=key, kind="STR")
    assert r.status_code == 409 and r.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    r = post(client, world.second, f"/cases/{case_id}/reports", kind="STR")
    assert r.status_code == 409 and r.json()["error"]["code"] == "REPORT_OPEN"
    r = post(client, world.officer, f"/cases/{case_id}/reports", kind="CTR")
    assert r.status_code == 422 and "kind" in r.json()["error"]["fields"]
    r = post(client, world.officer, "/cases/nope/reports", kind="STR")
    assert r.status_code == 404
    page = client.get(f"/v1/staff/compliance/reports?case_id={case_id}",
                      headers=world.officer.headers).json()
    assert page["total"] == 1 and actions(platform, first.json()["id"]) == ["report.draft"]


def test_other_roles_are_refused(client: TestClient, platform: bootstrap.Platform,
                                 world: World) -> None:
    case_id = held_case(client, platform, world)["case"]["id"]
    rid = post(client, world.officer, f"/cases/{case_id}/reports", kind="STR").json()["id"]
    others = [world.alice, make_staff(platform, "support_agent"),
              make_staff(platform, "auditor"), make_staff(platform, "operator")]
    for who in others:
        assert client.get("/v1/staff/compliance/reports",
                          headers=who.headers).status_code == 403
        assert client.get(f"/v1/staff/compliance/reports/{rid}/export",
                          headers=who.headers).status_code == 403
        assert post(client, who, f"/cases/{case_id}/reports", kind="STR").status_code == 403
        assert post(client, who, f"/reports/{rid}/file").status_code == 403
    # the services check again, whatever the caller
    staff = others[1].user
    support = Principal(user_id=staff.id, kind=UserKind.STAFF,
                        staff_role=StaffRole.SUPPORT_AGENT, session_id="")
    with pytest.raises(PlatformError) as exc:
        reports.report(platform.deps, support, rid)
    assert exc.value.code == "FORBIDDEN"
    assert reports.may_read(None) and not reports.may_read(support)


def _in_review(platform: bootstrap.Platform, drafter: str, n: int) -> list[str]:
    """n reports in review, each of its own case (written directly: the cases' alerts
    are not what this test is about)."""
    deps, now = platform.deps, platform.deps.clock.now_ms()
    ids = []
    with deps.uow() as uow:
        for i in range(n):
            subject = drafter  # any user: the subject's records are not read here
            case = Case(id=deps.rand.new_id(), subject_type="user", subject_id=subject,
                        state=CaseState.CLOSED, assigned_to=None, released_by=None,
                        opened_ms=now, closed_ms=now, closed_by=None, updated_ms=now)
            uow.repo(Case).add(case)
            r = Report(id=deps.rand.new_id(), case_id=case.id, kind=ReportKind.SAR,
                       state=ReportState.IN_REVIEW, subject_type="user", subject_id=subject,
                       subject_name=f"Subject {i}", content={}, narrative=f"narrative {i}",
                       authors=(drafter,), drafted_by=drafter, submitted_by=drafter,
                       filed_by=None, returned_reason=None, number=None, year=None,
                       seq=None, content_hash=None, created_ms=now, submitted_ms=now,
                       filed_ms=None, updated_ms=now)
            uow.repo(Report).add(r)
            ids.append(r.id)
        uow.commit()
    return ids


def test_numbers_are_gap_free_under_concurrent_filing(
        platform: bootstrap.Platform) -> None:
    drafter = make_staff(platform, "compliance_officer")
    filer = make_staff(platform, "compliance_officer", "filer@corridor.example").user
    who = Principal(user_id=filer.id, kind=UserKind.STAFF,
                    staff_role=StaffRole.COMPLIANCE_OFFICER, session_id="")
    ids = _in_review(platform, drafter.user.id, 12)
    errors: list[BaseException] = []

    def file(rid: str) -> None:
        try:
            reports.file(platform.deps, who, rid, uuid.uuid4().hex)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=file, args=(rid,)) for rid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    filed = [reports.report(platform.deps, None, rid) for rid in ids]
    year = dom.year_of(platform.deps.clock.now_ms())
    assert sorted(r.seq or 0 for r in filed) == list(range(1, 13))
    assert {r.number for r in filed} == {dom.number_text(year, s) for s in range(1, 13)}
    assert all(reports.verify(r) for r in filed)
    # SAR without transactions: the XML names the subject as an activity, and validates
    root = ET.fromstring(report_export.xml_bytes(filed[0]))
    assert root.find("activity/report_parties/report_party") is not None


def test_a_new_year_starts_at_one() -> None:
    counter = dom.ReportCounter(id=dom.COUNTER_ID, year=2026, last=41)
    jan = 1798761600000  # 2027-01-01T00:00:00Z
    assert dom.next_number(counter, jan - 1) == dataclasses.replace(counter, last=42)
    assert dom.next_number(counter, jan) == dataclasses.replace(counter, year=2027, last=1)
    assert dom.number_text(2027, 1) == "2027-000001"


def test_a_changed_record_no_longer_verifies(platform: bootstrap.Platform) -> None:
    drafter = make_user(platform, email="d@corridor.example", name="D", kind="staff",
                        staff_role="compliance_officer")
    filer = make_staff(platform, "compliance_officer")
    who = Principal(user_id=filer.user.id, kind=UserKind.STAFF,
                    staff_role=StaffRole.COMPLIANCE_OFFICER, session_id="")
    [rid] = _in_review(platform, drafter.user.id, 1)
    filed = reports.file(platform.deps, who, rid, uuid.uuid4().hex)
    assert reports.verify(filed)
    assert not reports.verify(dataclasses.replace(filed, narrative="rewritten"))


def test_the_cli_lists_shows_and_exports(client: TestClient, platform: bootstrap.Platform,
                                         world: World, settings: Settings,
                                         tmp_path: Any) -> None:
    case_id = held_case(client, platform, world)["case"]["id"]
    rid = post(client, world.officer, f"/cases/{case_id}/reports", kind="STR").json()["id"]
    where = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url]
    runner = CliRunner()
    out = runner.invoke(cli_app, ["compliance", "reports", "list", *where])
    assert out.exit_code == 0 and rid in out.output and "draft" in out.output, out.output
    out = runner.invoke(cli_app, ["compliance", "reports", "list", "--state", "filed", *where])
    assert out.exit_code == 0 and out.output.strip() == "(no reports)"
    out = runner.invoke(cli_app, ["compliance", "reports", "show", rid, *where])
    assert out.exit_code == 0 and json.loads(out.stdout)["id"] == rid
    out = runner.invoke(cli_app, ["compliance", "reports", "export", rid, "--format", "xml",
                                  *where])
    assert out.exit_code == 1 and "REPORT_STATE" in out.output  # no narrative yet
    assert put(client, world.officer, rid, narrative="Listed recipient.").status_code == 200
    target = tmp_path / "report.xml"
    out = runner.invoke(cli_app, ["compliance", "reports", "export", rid, "--format", "xml",
                                  "--out", str(target), *where])
    assert out.exit_code == 0, out.output
    xmlschema.XMLSchema(str(report_export.XSD)).validate(str(target))
    out = runner.invoke(cli_app, ["compliance", "reports", "export", rid, *where])
    assert out.exit_code == 0 and json.loads(out.stdout)["narrative"] == "Listed recipient."
    out = runner.invoke(cli_app, ["compliance", "reports", "show", "nope", *where])
    assert out.exit_code == 1


def test_the_regulator_reads_filed_reports_only_and_each_read_is_audited(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    case = held_case(client, platform, world)
    regulator = make_staff(platform, "regulator")
    rid = post(client, world.officer, f"/cases/{case['case']['id']}/reports",
               kind="STR").json()["id"]
    assert put(client, world.officer, rid, narrative="Listed payee.").status_code == 200
    # a draft is the institution's work in progress: not listed, not readable
    assert client.get("/v1/regulator/reports", headers=regulator.headers).json()["items"] == []
    r = client.get(f"/v1/regulator/reports/{rid}", headers=regulator.headers)
    assert r.status_code == 404
    assert post(client, world.officer, f"/reports/{rid}/submit").status_code == 200
    assert post(client, world.second, f"/reports/{rid}/file").status_code == 200

    listed = client.get(f"/v1/regulator/reports?kind=STR&customer={world.alice.user.id}",
                        headers=regulator.headers)
    assert listed.status_code == 200, listed.text
    [row] = listed.json()["items"]
    assert (row["id"], row["state"]) == (rid, "filed") and row["number"].endswith("-000001")
    one = client.get(f"/v1/regulator/reports/{rid}", headers=regulator.headers).json()
    assert one["document"]["content_hash"] == one["content_hash"]
    assert dom.content_hash(one["document"]) == one["content_hash"]
    bad = client.get("/v1/regulator/reports?kind=XYZ", headers=regulator.headers)
    assert bad.status_code == 422 and "kind" in bad.json()["error"]["fields"]
    with platform.deps.uow() as uow:
        traced = [(e.object_type, e.object_id) for e in uow.repo(AuditEntry).many(
            actor_id=regulator.user.id, action="supervise.read", order_by="seq")]
    assert traced.count(("reports", rid)) == 2 and ("reports", "*") in traced
    # officers read reports through their own routes, not the regulator's
    r = client.get("/v1/regulator/reports", headers=world.officer.headers)
    assert r.status_code == 403
