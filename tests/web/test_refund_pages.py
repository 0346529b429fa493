"""Refunds through the customer's pages (on both databases): from a credited payment's page
the sender asks for a refund with a reason and an evidence file, once however often the
form is sent; the request is listed with its state and shown with its timeline and our
staff's decision; bad input is refused with a clear error and stores nothing; the
recipient, other customers, staff and the signed-out get nothing."""

from __future__ import annotations

import html
import re
from typing import Any

from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.refunds import Decision, Refund, RefundFile
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.services import refunds
from corridor.web import security
from tests.platform.conftest import Actor, make_staff, make_user
from tests.platform.payment_records import JPEG, make_payment, make_wallet, payment
from tests.web.conftest import csrf_of

SESSION = security.cookie_names(production=False)[0]
HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
NO_FILE = {"evidence": ("", b"", "application/octet-stream")}


def _as(site: TestClient, who: Actor) -> None:
    site.cookies.set(SESSION, who.token)


def _paid(platform: bootstrap.Platform, status: str = "credited") -> tuple[Actor, Actor, str]:
    """Frank paid Grace (a payment in `status`); returns both and the payment's id."""
    frank = make_user(platform, email="frank@example.com", name="Frank Sender")
    grace = make_user(platform, email="grace@example.com", name="Grace Payee")
    p = make_payment(platform, make_wallet(platform, frank.user.id), status=status,
                     recipient=make_wallet(platform, grace.user.id),
                     recipient_user_id=grace.user.id)
    return frank, grace, p.id


def _form(site: TestClient, payment_id: str) -> dict[str, str]:
    page = site.get(f"/payments/{payment_id}/refund")
    assert page.status_code == 200, page.text
    assert 'enctype="multipart/form-data"' in page.text
    form = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}
    assert form["key"] and form["payment_id"] == payment_id
    assert form["csrf_token"] == csrf_of(page.text)
    return form


def _send(site: TestClient, form: dict[str, str], files: dict[str, Any] | None = None,
          **fields: str) -> Any:
    return site.post("/refunds", data={**form, **fields}, files=files or NO_FILE,
                     follow_redirects=False)


def _stored(platform: bootstrap.Platform) -> tuple[list[Refund], list[RefundFile]]:
    with platform.deps.uow() as uow:
        return uow.repo(Refund).many(), uow.repo(RefundFile).many()


def _principal(actor: Actor) -> Principal:
    u = actor.user
    return Principal(user_id=u.id, kind=UserKind(u.kind),
                     staff_role=StaffRole(u.staff_role) if u.staff_role else None,
                     session_id="test", ip="10.0.0.1")


def test_the_sender_asks_once_with_evidence_and_sees_the_decision(
        site: TestClient, platform: bootstrap.Platform) -> None:
    frank, _grace, pid = _paid(platform)
    _as(site, frank)
    shown = site.get(f"/payments/{pid}").text
    assert f'href="/payments/{pid}/refund"' in shown
    form = _form(site, pid)
    evidence = {"evidence": ("receipt.jpg", JPEG, "image/jpeg")}
    first = _send(site, form, evidence, kind="wrong_payee", reason="Sent to the wrong Grace")
    again = _send(site, form, evidence, kind="wrong_payee", reason="Sent to the wrong Grace")
    assert first.status_code == again.status_code == 303, first.text
    assert first.headers["location"] == again.headers["location"]
    stored, files = _stored(platform)
    assert len(stored) == 1 and len(files) == 1  # a resent form asks (and uploads) once
    r = stored[0]
    assert first.headers["location"] == f"/refunds/{r.id}"
    assert (r.kind, r.status, r.reason, r.evidence) == (
        "wrong_payee", "requested", "Sent to the wrong Grace", [files[0].id])
    assert files[0].refund_id == r.id and files[0].size == len(JPEG)
    assert payment(platform, pid).status == "refund_requested"
    other = make_payment(platform, make_wallet(platform, frank.user.id))
    reused = _send(site, {**form, "payment_id": other.id}, evidence, kind="wrong_payee",
                   reason="Sent to the wrong Grace")  # the same key for another payment
    assert reused.status_code == 409
    assert "This form was already sent for something else" in reused.text
    assert len(_stored(platform)[0]) == 1 and len(_stored(platform)[1]) == 1

    listed = site.get("/refunds").text
    assert f'href="/refunds/{r.id}"' in listed and 'data-status="requested"' in listed
    detail = site.get(f"/refunds/{r.id}").text
    assert 'id="refund-status" data-status="requested"' in detail
    assert detail.count('class="step') == 1 and "1 file attached" in detail
    payment_page = site.get(f"/payments/{pid}").text
    assert f'href="/refunds/{r.id}"' in payment_page
    assert f'href="/payments/{pid}/refund"' not in payment_page  # one open at a time
    asked_again = site.get(f"/payments/{pid}/refund")
    assert asked_again.status_code == 409 and 'data-code="REFUND_OPEN"' in asked_again.text

    agent = make_staff(platform, "support_agent")
    refunds.decide(platform.deps, _principal(agent), r.id,
                   Decision(outcome="reject", reason="The payee confirmed the order"), "k1")
    detail = site.get(f"/refunds/{r.id}", headers={"accept-language": "zh-CN"}).text
    assert 'data-status="rejected"' in detail and "The payee confirmed the order" in detail
    assert "已拒绝" in detail
    assert [s for s in re.findall(r'class="step[^"]*" data-status="(\w+)"', detail)] == [
        "requested", "rejected"]


def test_bad_input_is_refused_clearly_and_stores_nothing(
        site: TestClient, platform: bootstrap.Platform) -> None:
    frank, _grace, pid = _paid(platform)
    _as(site, frank)
    form = _form(site, pid)
    r = _send(site, form, kind="", reason="  ")
    assert r.status_code == 422, r.text
    assert 'href="#kind"' in r.text and 'href="#reason"' in r.text  # the summary links
    r = _send(site, form, {"evidence": ("notes.txt", b"just words", "text/plain")},
              kind="revocation", reason="Changed my mind")
    assert r.status_code == 422 and 'href="#evidence"' in r.text
    assert 'value="Changed my mind"' not in r.text and ">Changed my mind</textarea>" in r.text
    assert f'name="key" value="{form["key"]}"' in r.text  # shown again with the same key
    big = JPEG + bytes(platform.settings.upload_bytes_max)
    r = _send(site, form, {"evidence": ("big.jpg", big, "image/jpeg")},
              kind="revocation", reason="Changed my mind")
    assert r.status_code == 413 and 'href="#evidence"' in r.text, r.text[:2000]
    zh = site.post("/refunds", data={**form, "kind": "", "reason": ""}, files=NO_FILE,
                   headers={"accept-language": "zh-CN"})
    assert zh.status_code == 422 and 'lang="zh-Hans"' in zh.text
    forged = _send(site, {**form, "csrf_token": "forged"}, kind="revocation", reason="x")
    assert forged.status_code == 403 and 'data-code="CSRF_FAILED"' in forged.text
    assert _stored(platform) == ([], [])
    assert payment(platform, pid).status == "credited"


def test_a_payment_still_moving_says_why_no_refund_yet(
        site: TestClient, platform: bootstrap.Platform) -> None:
    frank, _grace, pid = _paid(platform, status="submitted")
    _as(site, frank)
    assert f'href="/payments/{pid}/refund"' not in site.get(f"/payments/{pid}").text
    r = site.get(f"/payments/{pid}/refund", headers={"accept-language": "zh-CN"})
    assert r.status_code == 409 and 'data-code="PAYMENT_NOT_FINAL"' in r.text
    assert 'lang="zh-Hans"' in r.text


def test_the_wrong_user_gets_not_found_staff_forbidden_and_strangers_sign_in(
        site: TestClient, platform: bootstrap.Platform) -> None:
    frank, grace, pid = _paid(platform)
    _as(site, frank)
    form = _form(site, pid)
    r = _send(site, form, kind="revocation", reason="Changed my mind")
    assert r.status_code == 303
    rid = r.headers["location"].rsplit("/", 1)[1]
    heidi = make_user(platform, email="heidi@example.com", name="Heidi Other")
    for who in (grace, heidi):  # the recipient and a stranger learn nothing
        _as(site, who)
        assert f'href="/payments/{pid}/refund"' not in site.get(f"/payments/{pid}").text
        for path in (f"/payments/{pid}/refund", f"/refunds/{rid}"):
            assert site.get(path).status_code == 404, (who.user.email, path)
        assert f'data-id="{rid}"' not in site.get("/refunds").text
        own = _form_token(site)
        r = _send(site, {"csrf_token": own, "key": "k-" + who.user.id, "payment_id": pid},
                  kind="revocation", reason="mine now")
        assert r.status_code == 404 and 'data-code="NOT_FOUND"' in r.text
    _as(site, make_staff(platform, "support_agent"))
    assert site.get("/refunds").status_code == 403
    assert site.get(f"/refunds/{rid}").status_code == 403
    site.cookies.clear()
    r = site.get(f"/refunds/{rid}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=")
    assert len(_stored(platform)[0]) == 1


def _form_token(site: TestClient) -> str:
    return csrf_of(site.get("/refunds").text)
