"""A compliance case in Chromium at 375 px, in English and Chinese: the case page with its
SLA, freeze state and graph of related flows (the SVG drawn, its table beside it) has a
label on every field, no CSP violation, nothing wider than the phone and no serious or
critical axe-core finding; freezing the customer through the form shows the freeze on
the page. Screenshots go to out/web-screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from corridor.platform.domain.compliance import Alert, AlertState, Case, CaseState
from corridor.web import security
from tests.platform.conftest import make_staff, make_user
from tests.platform.payment_records import make_payment, make_wallet
from tests.web.test_browser import PHONE_WIDTH, Checked, Live, browser, live  # noqa: F401
from tests.web.test_quality import _blocking, axe_run, with_axe

SESSION = security.cookie_names(False)[0]


def _case(live: Live) -> str:  # noqa: F811
    """Carol's open case: an alert on a payment of hers to Dmitry, and one to Erin."""
    deps = live.platform.deps
    carol = make_user(live.platform, email="carol@example.com", name="Carol Customer")
    dmitry = make_user(live.platform, email="dk@example.com", name="Dmitry Khoroshev")
    erin = make_user(live.platform, email="erin@example.com", name="Erin Example")
    wallet = make_wallet(live.platform, carol.user.id)
    held = make_payment(live.platform, wallet, status="on_hold",
                        recipient=make_wallet(live.platform, dmitry.user.id),
                        recipient_user_id=dmitry.user.id)
    make_payment(live.platform, wallet, recipient=make_wallet(live.platform, erin.user.id),
                 recipient_user_id=erin.user.id)
    now = deps.clock.now_ms()
    case = Case(id=deps.rand.new_id(), subject_type="user", subject_id=carol.user.id,
                state=CaseState.OPEN, assigned_to=None, released_by=None, opened_ms=now,
                closed_ms=None, closed_by=None, updated_ms=now)
    with deps.uow() as uow:
        uow.repo(Case).add(case)
        uow.repo(Alert).add(Alert(
            id=deps.rand.new_id(), case_id=case.id, monitor="screening", typology="sanctions",
            outcome="block", score_milli=970, explanation={"screened_name": "Dmitry Khoroshev",
                                                           "hits": []},
            movement_ids=(held.id,), parties=(dmitry.user.id,), subject_type="user",
            subject_id=carol.user.id, source_type="payment", source_id=held.id,
            state=AlertState.OPEN, created_ms=now, updated_ms=now))
        uow.commit()
    return case.id


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
def test_a_case_works_at_phone_width(live: Live, browser: Browser,  # noqa: F811
                                     language: str) -> None:
    case_id = _case(live)
    officer = make_staff(live.platform, "compliance_officer")
    context = with_axe(browser.new_context(viewport={"width": PHONE_WIDTH, "height": 800},
                                           locale="zh-CN" if language == "zh-Hans"
                                           else "en-GB"))
    context.add_cookies([{"name": SESSION, "value": officer.token, "url": live.url}])
    b = Checked(context.new_page(), language)
    page = b.page
    page.goto(f"{live.url}/staff/compliance/cases/{case_id}")
    b.landed("staff-case-graph")
    assert _blocking(axe_run(page)) == []
    assert page.locator(".case-graph svg g.party").count() == 3
    assert page.locator(".case-graph svg line.flow.held").count() == 1
    assert page.locator("[data-rows=flows] tr[data-flow]").count() == 2
    assert page.locator("[data-severity=high]").count() == 1
    page.fill("#freeze-note", "listed recipient: holdings frozen pending review")
    page.click("form.decision:has(input[value=freeze]) button")
    b.landed()
    assert page.locator("dl[data-freeze]").get_attribute("data-freeze") in (
        "requested", "frozen")  # "frozen" when nothing is held on chain
    assert page.locator("#unfreeze-note, #freeze-note").count() <= 1
    context.close()
