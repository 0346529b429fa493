"""Risk rating and re-review through the pages (issue 16), on both databases: the staff
KYC record and the customer lookup show the rating with each factor explained (English and
简体中文), only to staff who may read KYC; a customer whose review is due is told on the
verification page and in their inbox, sends the form again with nothing changed and is
back in review."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.kyc import Decision, KycCustomer, KycStatus, Outcome
from corridor.platform.domain.principal import Origin, Principal
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.services import kyc, reviews, sessions
from corridor.web import security
from tests.platform.conftest import Actor, make_staff, make_user
from tests.platform.payment_fakes import FakeClock
from tests.web.conftest import csrf_of

SESSION = security.cookie_names(production=False)[0]
BASIC = {"first_name": "Carol", "last_name": "Lin", "birth_date": "1990-04-23",
         "address_country_code": "VN", "email_address": "carol@example.com"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def platform(settings: Settings, clock: FakeClock) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=clock)
    yield p
    p.close()


def _who(actor: Actor) -> Principal:
    u = actor.user
    return Principal(user_id=u.id, kind=UserKind(u.kind),
                     staff_role=StaffRole(u.staff_role) if u.staff_role else None,
                     session_id="test", ip="10.0.0.1")


def _accepted(platform: bootstrap.Platform) -> tuple[Actor, Actor, KycCustomer]:
    """Carol, living in a country under FATF increased monitoring, accepted at tier 1 by
    an officer who said "low"; the rating says medium."""
    deps = platform.deps
    carol = make_user(platform, email="carol@example.com", name="Carol Lin")
    officer = make_staff(platform, "compliance_officer")
    view = kyc.put_customer(deps, _who(carol), dict(BASIC), 1)
    assert view.record is not None
    kyc.decide(deps, _who(officer), view.record.id,
               Decision(outcome=Outcome.ACCEPT, reason="ok", tier=1, risk="low"), "k1")
    with deps.reader() as uow:
        rec = uow.repo(KycCustomer).get(view.record.id)
    assert rec is not None and rec.risk == "medium"
    return carol, officer, rec


def _signed_in(platform: bootstrap.Platform, site: TestClient, who: Actor) -> None:
    with platform.deps.uow() as uow:
        token = sessions.open_session(platform.deps, uow, who.user, Origin(ip="127.0.0.1"))
        uow.commit()
    site.cookies.set(SESSION, token)


def test_officers_see_the_rating_explained(platform: bootstrap.Platform,
                                           site: TestClient) -> None:
    carol, officer, rec = _accepted(platform)
    _signed_in(platform, site, officer)
    page = site.get(f"/staff/kyc/{rec.id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert 'id="risk-level" data-level="medium"' in text
    assert "Medium risk" in text
    assert ('<tr data-factor="country_grey"><td>Lives or is incorporated in a country under '
            'FATF increased monitoring (VN)</td><td class="num">25</td></tr>') in text
    chinese = html.unescape(site.get(f"/staff/kyc/{rec.id}",
                                     headers={"accept-language": "zh-CN"}).text)
    assert "风险评级" in chinese
    assert "居住地或注册地位于 FATF“加强监控”名单上的国家（VN）" in chinese

    lookup = html.unescape(site.get(f"/staff/customers/{carol.user.id}").text)
    assert 'data-level="medium"' in lookup and 'data-factor="country_grey"' in lookup


def test_staff_who_may_not_read_kyc_see_no_rating(platform: bootstrap.Platform,
                                                   site: TestClient) -> None:
    carol, _, rec = _accepted(platform)
    support = make_staff(platform, "support_agent")
    _signed_in(platform, site, support)
    lookup = site.get(f"/staff/customers/{carol.user.id}")
    assert lookup.status_code == 200 and 'id="risk-rating"' not in lookup.text
    assert site.get(f"/staff/kyc/{rec.id}").status_code == 403
    _signed_in(platform, site, carol)
    assert site.get(f"/staff/kyc/{rec.id}").status_code in (403, 404)


def test_a_due_review_is_answered_from_the_verification_page(
        platform: bootstrap.Platform, site: TestClient, clock: FakeClock) -> None:
    carol, officer, rec = _accepted(platform)
    assert rec.review_due_ms is not None
    clock.advance(rec.review_due_ms - clock.now_ms())
    _signed_in(platform, site, officer)
    queue = site.get("/staff/kyc").text
    assert f'<tr data-due-id="{rec.id}">' in queue and "Medium risk" in queue
    assert reviews.run(platform.deps).record_ids == (rec.id,)
    _signed_in(platform, site, carol)

    page = site.get("/verification")
    assert 'id="kyc-review-due"' in page.text and "Due for review" in page.text
    assert "Check your details below" in page.text
    chinese = site.get("/verification", headers={"accept-language": "zh-CN"}).text
    assert "待复审" in chinese and "您的身份验证需要复审" in chinese
    assert 'id="dashboard-review-due"' in site.get("/dashboard").text
    inbox = html.unescape(site.get("/notifications").text)
    assert "Your verification is due for review: send your details again." in inbox

    token = csrf_of(site.get("/verification?tier=1").text)
    r = site.post("/verification", data={"csrf_token": token, "tier": "1"},
                  files={"none": ("", b"", "application/octet-stream")},
                  follow_redirects=False)
    assert r.status_code == 303, r.text
    with platform.deps.reader() as uow:
        back = uow.repo(KycCustomer).get(rec.id)
    assert back is not None and back.status == KycStatus.PROCESSING
    again = site.get("/verification").text
    assert "Thank you: your details are with our team for review." in again
