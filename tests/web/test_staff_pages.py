"""The back office over HTTP (on both databases): a compliance officer reviews the KYC
queue and decides once however often the form is sent; refund requests are approved or
rejected the same way; every page and form refuses the signed-out, customers, roles
without the permission, and forms without their CSRF token."""

from __future__ import annotations

import html
import re
from typing import Any

from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.refunds import Refund
from corridor.web import security
from tests.platform.conftest import Actor, make_staff, make_user
from tests.platform.payment_records import make_payment, make_wallet
from tests.platform.test_kyc_api import (  # noqa: F401  (the `authorisations` fixture)
    JPEG,
    authorisations,
    full_fields,
    put,
)
from tests.web.conftest import csrf_of

HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
SESSION = security.cookie_names(production=False)[0]


def _as(site: TestClient, who: Actor) -> None:
    site.cookies.set(SESSION, who.token)


def _form(site: TestClient, path: str) -> dict[str, str]:
    page = site.get(path)
    assert page.status_code == 200, page.text
    form = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)
            if name in ("csrf_token", "key")}
    assert form["key"] and form["csrf_token"] == csrf_of(page.text)
    return form


def _submitted(site: TestClient) -> str:
    """A customer whose KYC (with two documents) waits for review."""
    carol = make_user(site.app.state.platform, email="carol@example.com",
                      name="Carol Customer")
    r = put(site, carol, full_fields(site, carol), tier=2)
    assert r.status_code == 200, r.text
    rid: str = r.json()["id"]
    return rid


def _record(platform: bootstrap.Platform, rid: str) -> KycCustomer:
    with platform.deps.uow() as uow:
        rec = uow.repo(KycCustomer).get(rid)
        assert rec is not None
        return rec


def _audit(platform: bootstrap.Platform, action: str) -> list[AuditEntry]:
    with platform.deps.uow() as uow:
        return uow.repo(AuditEntry).many(action=action)


def test_an_officer_reviews_the_queue_and_decides_once(
        site: TestClient, platform: bootstrap.Platform,
        authorisations: list[dict[str, Any]]) -> None:  # noqa: F811
    rid = _submitted(site)
    officer = make_staff(platform, "compliance_officer")
    _as(site, officer)
    landing = site.get("/staff").text
    assert 'href="/staff/kyc"' in landing and 'href="/staff/refunds"' in landing
    queue = site.get("/staff/kyc", headers={"accept-language": "zh-CN"}).text
    assert f'data-id="{rid}"' in queue and "审核中" in queue
    shown = site.get(f"/staff/kyc/{rid}").text
    assert "123456789" in shown and "London" in shown
    # documents are listed as downloads, never inlined
    assert "<img" not in shown and shown.count("data-file=") == 2
    link = re.search(rf'href="(/staff/kyc/{rid}/files/[^"]+)"', shown)
    assert link
    doc = site.get(link.group(1))
    assert doc.status_code == 200 and doc.content == JPEG
    assert doc.headers["content-disposition"].startswith("attachment")
    form = _form(site, f"/staff/kyc/{rid}")
    refused = site.post(f"/staff/kyc/{rid}/decision",
                        data={**form, "decision": "accept", "reason": "ok", "tier": "2"})
    assert refused.status_code == 422 and 'href="#risk"' in refused.text
    assert f'name="key" value="{form["key"]}"' in refused.text
    data = {**form, "decision": "accept", "reason": "passport verified", "tier": "2",
            "risk": "medium"}
    first = site.post(f"/staff/kyc/{rid}/decision", data=data, follow_redirects=False)
    again = site.post(f"/staff/kyc/{rid}/decision", data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303, first.text
    rec = _record(platform, rid)
    assert (rec.status, rec.tier, rec.risk, rec.decided_by) == ("ACCEPTED", 2, "medium",
                                                                officer.user.id)
    assert len(_audit(platform, "kyc.decide")) == 1 and len(authorisations) == 1
    assert f'data-id="{rid}"' not in site.get("/staff/kyc").text
    # a new form is a new key: deciding an accepted record again is the service's refusal
    r = site.post(f"/staff/kyc/{rid}/decision", data={**_form(site, f"/staff/kyc/{rid}"),
                  "decision": "reject", "reason": "changed"})
    assert r.status_code >= 400 and len(_audit(platform, "kyc.decide")) == 1


def test_needs_info_names_the_fields_to_provide_again(
        site: TestClient, platform: bootstrap.Platform) -> None:
    rid = _submitted(site)
    _as(site, make_staff(platform, "compliance_officer"))
    data = {**_form(site, f"/staff/kyc/{rid}"), "decision": "needs_info",
            "reason": "the photo is blurred", "fields": ["photo_id_front", "city"]}
    r = site.post(f"/staff/kyc/{rid}/decision", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    rec = _record(platform, rid)
    assert rec.status == "NEEDS_INFO"
    assert {k for k, v in rec.field_status.items() if v.status == "REJECTED"} == {
        "photo_id_front", "city"}


def _requested_refund(site: TestClient, platform: bootstrap.Platform) -> str:
    frank = make_user(platform, email="frank@example.com", name="Frank Sender")
    grace = make_user(platform, email="grace@example.com", name="Grace Payee")
    p = make_payment(platform, make_wallet(platform, frank.user.id),
                     recipient=make_wallet(platform, grace.user.id))
    r = site.post(f"/v1/payments/{p.id}/refund", headers=frank.creating,
                  json={"kind": "revocation", "reason": "sent by mistake"})
    assert r.status_code == 201, r.text
    rid: str = r.json()["id"]
    return rid


def test_an_agent_rejects_a_refund_once(site: TestClient,
                                        platform: bootstrap.Platform) -> None:
    rid = _requested_refund(site, platform)
    _as(site, make_staff(platform, "support_agent"))
    landing = site.get("/staff").text
    assert 'href="/staff/refunds"' in landing and 'href="/staff/kyc"' not in landing
    assert f'data-id="{rid}"' in site.get("/staff/refunds").text
    shown = site.get(f"/staff/refunds/{rid}", headers={"accept-language": "zh-CN"}).text
    assert "sent by mistake" in shown and "已申请" in shown
    form = _form(site, f"/staff/refunds/{rid}")
    r = site.post(f"/staff/refunds/{rid}/decision", data={**form, "decision": "reject"})
    assert r.status_code == 422 and 'href="#reason"' in r.text
    data = {**form, "decision": "reject", "reason": "goods were delivered"}
    first = site.post(f"/staff/refunds/{rid}/decision", data=data, follow_redirects=False)
    again = site.post(f"/staff/refunds/{rid}/decision", data=data, follow_redirects=False)
    assert first.status_code == again.status_code == 303, first.text
    with platform.deps.uow() as uow:
        refund = uow.repo(Refund).get(rid)
    assert refund is not None and refund.status == "rejected"
    assert len(_audit(platform, "refund.decide")) == 1
    assert f'data-id="{rid}"' not in site.get("/staff/refunds").text


def test_every_staff_page_and_form_refuses_whoever_may_not_use_it(
        site: TestClient, platform: bootstrap.Platform) -> None:
    kyc_id = _submitted(site)
    refund_id = _requested_refund(site, platform)
    kyc_pages = ["/staff/kyc", f"/staff/kyc/{kyc_id}"]
    refund_pages = ["/staff/refunds", f"/staff/refunds/{refund_id}"]
    kyc_form, refund_form = f"/staff/kyc/{kyc_id}/decision", f"/staff/refunds/{refund_id}/decision"
    decision = {"decision": "reject", "reason": "x"}
    site.cookies.clear()
    for path in ["/staff", *kyc_pages, *refund_pages]:
        r = site.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/signin?next={path}", path

    def refused(pages: list[str], forms: list[str]) -> None:
        token = csrf_of(site.get("/").text)
        for path in pages:
            r = site.get(path, follow_redirects=False)
            assert r.status_code == 403 and 'data-code="FORBIDDEN"' in r.text, path
        for path in forms:
            r = site.post(path, data={**decision, "csrf_token": token, "key": "k" * 20},
                          follow_redirects=False)
            assert r.status_code == 403 and 'data-code="FORBIDDEN"' in r.text, path

    _as(site, make_user(platform, email="erin@example.com"))
    refused(["/staff", *kyc_pages, *refund_pages], [kyc_form, refund_form])
    # least privilege: support agents decide refunds but see no KYC; auditors read KYC
    # but decide nothing; operators, admins and regulators (who read a case's KYC
    # summary through the audited supervision pages) have neither
    _as(site, make_staff(platform, "support_agent"))
    refused(kyc_pages, [kyc_form])
    for role in ("auditor",):
        _as(site, make_staff(platform, role))
        refused(refund_pages, [kyc_form, refund_form])
        shown = site.get(f"/staff/kyc/{kyc_id}").text
        assert "123456789" in shown and f'action="{kyc_form}"' not in shown
    for role in ("operator", "admin", "regulator"):
        _as(site, make_staff(platform, role))
        refused([*kyc_pages, *refund_pages], [kyc_form, refund_form])
        assert site.get("/staff").status_code == 200
    # CSRF: the officer's form without its token, or with a forged one, decides nothing
    _as(site, make_staff(platform, "compliance_officer"))
    for path in (f"/staff/kyc/{kyc_id}", f"/staff/refunds/{refund_id}"):
        form = _form(site, path)
        action = f"{path}/decision"
        for token in (None, "", form["csrf_token"] + "x"):
            data = {"key": form["key"], **decision}
            if token is not None:
                data["csrf_token"] = token
            r = site.post(action, data=data, follow_redirects=False)
            assert r.status_code == 403 and 'data-code="CSRF_FAILED"' in r.text
    assert _audit(platform, "kyc.decide") == _audit(platform, "refund.decide") == []


def test_signing_in_with_no_page_asked_for_lands_staff_in_the_back_office(
        site: TestClient, platform: bootstrap.Platform) -> None:
    from tests.platform.conftest import PASSWORD
    from tests.web.conftest import latest_code

    for who, home in ((make_staff(platform, "compliance_officer"), "/staff"),
                      (make_user(platform, email="cy@example.com", name="Cy Customer"),
                       "/dashboard")):
        site.cookies.clear()
        email = who.user.email
        form = site.get("/signin").text  # the forms' own `next`, as a browser sends it
        token, nothing = csrf_of(form), re.search(r'name="next" value="([^"]*)"', form)
        assert nothing is not None
        r = site.post("/signin", data={"csrf_token": token, "identifier": email,
                                       "password": PASSWORD, "next": nothing.group(1)})
        code_form = r.text
        step = re.search(r'name="next" value="([^"]*)"', code_form)
        assert step is not None
        r = site.post("/signin/code", data={"csrf_token": token, "next": step.group(1),
                                            "code": latest_code(platform, email)},
                      follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, home), r.text
        assert site.get(home).status_code == 200
