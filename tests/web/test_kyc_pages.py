"""Identity verification through the pages (on both databases): the form asks for what the
chosen level needs, a form with a field missing or a document of the wrong type is refused
and stores nothing, a complete one (documents uploaded through the API's service) reaches
the staff queue, values are never echoed, the officer's reason is shown, and the
signed-out, staff and forged forms are refused."""

from __future__ import annotations

import html
import re
from typing import Any

from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.kyc import Decision, KycCustomer, KycFile, KycStatus, Outcome
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.services import kyc
from corridor.web import security
from tests.platform.conftest import Actor, make_staff, make_user
from tests.web.conftest import csrf_of

SESSION = security.cookie_names(production=False)[0]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"0" * 64
BASIC = {"first_name": "Carol", "last_name": "Lin", "birth_date": "1990-04-23",
         "address_country_code": "GB", "email_address": "carol@example.com"}
FULL = {**BASIC, "address": "1 High Street", "city": "London", "postal_code": "N1 9GU",
        "id_type": "passport", "id_country_code": "GB", "id_number": "X1234567",
        "id_expiration_date": "2031-01-01"}
DOCUMENTS = {"photo_id_front": ("front.png", PNG, "image/png"),
             "photo_proof_residence": ("bill.pdf", PDF, "application/pdf")}


def _who(actor: Actor) -> Principal:
    u = actor.user
    return Principal(user_id=u.id, kind=UserKind(u.kind),
                     staff_role=StaffRole(u.staff_role) if u.staff_role else None,
                     session_id="test", ip="10.0.0.1")


def _customer(platform: bootstrap.Platform, site: TestClient) -> Actor:
    carol = make_user(platform, email="carol@example.com", name="Carol Customer")
    site.cookies.set(SESSION, carol.token)
    return carol


def _stored(platform: bootstrap.Platform) -> tuple[list[KycCustomer], list[KycFile]]:
    with platform.deps.uow() as uow:
        return uow.repo(KycCustomer).many(), uow.repo(KycFile).many()


def _send(site: TestClient, tier: int, values: dict[str, str],
          documents: dict[str, tuple[str, bytes, str]], **headers: str) -> Any:
    token = csrf_of(site.get(f"/verification?tier={tier}").text)
    return site.post("/verification", data={"csrf_token": token, "tier": str(tier), **values},
                     files=documents or {"none": ("", b"", "application/octet-stream")},
                     headers=headers, follow_redirects=False)


def test_the_form_asks_for_every_field_of_the_chosen_level(
        site: TestClient, platform: bootstrap.Platform) -> None:
    _customer(platform, site)
    full = site.get("/verification?tier=2").text
    assert 'enctype="multipart/form-data"' in full
    for name in (*FULL, *DOCUMENTS):
        assert f'name="{name}"' in full, name
    assert 'type="file"' in full and 'accept="image/jpeg,image/png,application/pdf"' in full
    basic = site.get("/verification?tier=1").text
    assert 'name="first_name"' in basic and 'name="photo_id_front"' not in basic
    chinese = site.get("/verification?tier=2", headers={"accept-language": "zh-CN"}).text
    assert "护照" in chinese and 'name="id_number"' in chinese


def test_a_missing_field_is_refused_with_a_link_to_it_and_nothing_is_stored(
        site: TestClient, platform: bootstrap.Platform) -> None:
    _customer(platform, site)
    values = {k: v for k, v in FULL.items() if k != "city"}
    r = _send(site, 2, values, DOCUMENTS)
    assert r.status_code == 422 and 'href="#city"' in r.text
    # what was just typed is kept for correcting (it was not stored); files cannot be
    assert 'name="first_name" type="text" value="Carol"' in r.text
    assert '<option value="passport" selected>' in r.text
    r = _send(site, 2, FULL, {}, **{"accept-language": "zh-CN"})
    assert r.status_code == 422
    assert 'href="#photo_id_front"' in r.text and 'href="#photo_proof_residence"' in r.text
    assert "您选择的认证等级需要此项。" in r.text
    assert _stored(platform) == ([], [])


def test_a_wrong_file_type_is_refused_and_nothing_is_stored(
        site: TestClient, platform: bootstrap.Platform) -> None:
    _customer(platform, site)
    wrong = {**DOCUMENTS, "photo_id_front": ("front.png", b"GIF89a" + b"\x00" * 32,
                                             "image/png")}
    r = _send(site, 2, FULL, wrong)
    assert r.status_code == 422 and 'href="#photo_id_front"' in r.text
    assert '<p class="error" id="photo_id_front-error">Upload a JPEG, PNG or PDF file.' in r.text
    mismatch = {**DOCUMENTS, "photo_id_front": ("front.pdf", PNG, "application/pdf")}
    assert _send(site, 2, FULL, mismatch).status_code == 422
    size_max = platform.deps.settings.upload_bytes_max
    large = {**DOCUMENTS, "photo_id_front": ("front.png", PNG + b"\x00" * size_max,
                                             "image/png")}
    r = _send(site, 2, FULL, large)
    assert r.status_code == 422 and "The file is too large." in r.text
    assert _stored(platform) == ([], [])


def test_upload_and_submit_puts_the_record_in_the_staff_queue_without_echoing_values(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = _customer(platform, site)
    r = _send(site, 2, FULL, DOCUMENTS)
    assert r.status_code == 303 and r.headers["location"] == "/verification"
    (record,), files = _stored(platform)
    assert record.status == KycStatus.PROCESSING and record.requested_tier == 2
    assert sorted(f.kind for f in files) == ["pdf", "png"]
    officer = make_staff(platform, "compliance_officer")
    queued, total = kyc.queue(platform.deps, _who(officer), 10, 0)
    assert total == 1 and queued[0].subject_id == carol.user.id
    shown = site.get("/verification").text
    assert 'id="kyc-status">Under review' in shown
    assert "X1234567" not in shown and "1 High Street" not in shown
    assert "Provided. Leave empty to keep it." in shown
    # the officer asks for the document again: the customer sees why, and sends it again
    kyc.decide(platform.deps, _who(officer), record.id, Decision(
        outcome=Outcome.NEEDS_INFO, reason="blurred",
        marks={"photo_id_front": {"status": "REJECTED", "reason": "The photo is blurred."}}),
        idempotency_key="decide-1")
    shown = site.get("/verification").text
    assert "The photo is blurred." in shown
    assert re.search(r'<ul id="kyc-missing"><li>[^<]+</li></ul>', shown)
    r = _send(site, 2, {}, {"photo_id_front": DOCUMENTS["photo_id_front"]})
    assert r.status_code == 303
    assert _stored(platform)[0][0].status == KycStatus.PROCESSING


def test_verification_refuses_the_signed_out_staff_and_forged_forms(
        site: TestClient, platform: bootstrap.Platform) -> None:
    r = site.get("/verification", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=")
    staff = make_staff(platform, "compliance_officer")
    site.cookies.set(SESSION, staff.token)
    assert site.get("/verification").status_code == 403
    _customer(platform, site)
    page = site.get("/verification?tier=1").text
    good = html.unescape(csrf_of(page))
    for token in (None, "", good + "x"):
        data = {"tier": "1", **BASIC}
        if token is not None:
            data["csrf_token"] = token
        r = site.post("/verification", data=data, files={"photo_id_front": DOCUMENTS[
            "photo_id_front"]}, follow_redirects=False)
        assert r.status_code == 403 and 'data-code="CSRF_FAILED"' in r.text
    site.cookies.set(SESSION, staff.token)
    staff_token = html.unescape(csrf_of(site.get("/").text))
    r = site.post("/verification", data={"csrf_token": staff_token, "tier": "1", **BASIC},
                  files={"photo_id_front": DOCUMENTS["photo_id_front"]},
                  follow_redirects=False)
    assert r.status_code == 403 and 'data-code="FORBIDDEN"' in r.text
    assert _stored(platform) == ([], [])
