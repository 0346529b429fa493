"""Working a compliance case in the back office over HTTP (both databases): the case page
shows its SLA timers, the freeze's state on the ledger and the graph of related flows
(inline SVG and the same flows as a table), in English and 简体中文; a freeze through the
form decides once however often it is sent; a bad deadline is refused with the field's
message and changes nothing; an escalated case is flagged first in the queue and counted
on the dashboard; other roles are refused."""

# ruff: noqa: F811  (the fixtures are imported from test_compliance_pages, then requested)
from __future__ import annotations

import html
import re

from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain import cases as cdom
from corridor.platform.domain.compliance import Case, CaseDecision
from corridor.platform.domain.freezes import Freeze
from corridor.platform.domain.identity import User
from corridor.platform.domain.principal import Origin
from corridor.platform.services import case_sla, sessions
from tests.platform.conftest import Actor, make_staff
from tests.platform.payment_fakes import FakeClock
from tests.web.conftest import csrf_of
from tests.web.test_compliance_pages import (  # noqa: F401  (fixtures)
    KEY,
    SESSION,
    _case_path,
    held,
    platform,
)

ZH = {"accept-language": "zh-CN"}


def customer_of(platform: bootstrap.Platform) -> Actor:
    """Carol, the sender of the held payment, signed in afresh (a new session)."""
    with platform.deps.reader() as uow:
        carol = uow.repo(User).one(email="carol@example.com")
    assert carol is not None
    with platform.deps.uow() as uow:
        token = sessions.open_session(platform.deps, uow, carol, Origin(ip="127.0.0.1"))
        uow.commit()
    return Actor(user=carol, token=token)


def _form(page: str, kind: str, **extra: str) -> dict[str, str]:
    return {"csrf_token": csrf_of(page), "key": html.unescape(KEY.findall(page)[0]),
            "kind": kind, **extra}


def test_the_case_shows_its_sla_freeze_state_and_graph_in_both_languages(
        site: TestClient, held: tuple[Actor, str]) -> None:
    officer, _ = held
    site.cookies.set(SESSION, officer.token)
    page = site.get(_case_path(site)).text
    assert 'data-overdue="no"' in page and "First action due" in page
    assert 'data-freeze="none"' in page
    svg = re.search(r'<svg viewBox="0 0 480 380" role="img" aria-labelledby="graph-title '
                    r'graph-desc" data-graph="2">', page)
    assert svg, "the graph's picture, named for assistive technology"
    row = re.search(r'<tr data-flow="user:[^"]+>user:[^"]+"><td>Carol Customer</td>'
                    r'<td>Dmitry Khoroshev</td><td class="num">1</td>', page)
    assert row, "the flow, as a row of the table"
    assert "Freeze the holdings" in page and "End the relationship" not in page  # held
    zh = site.get(_case_path(site), headers=ZH).text
    assert "服务时限" in zh and "关联资金流" in zh and "冻结持有资产" in zh


def test_a_freeze_through_the_form_decides_once_and_shows_on_the_case(
        site: TestClient, platform: bootstrap.Platform, held: tuple[Actor, str]) -> None:
    officer, _ = held
    site.cookies.set(SESSION, officer.token)
    path = _case_path(site)
    page = site.get(path).text
    form = _form(page, "freeze", note="listed recipient: holdings frozen pending review")
    for _ in range(2):
        r = site.post(f"{path}/decision", data=form, follow_redirects=False)
        assert r.status_code == 303, r.text
    with platform.deps.reader() as uow:
        found = uow.repo(Freeze).many()
        decisions = uow.repo(CaseDecision).many()
    assert [d.kind for d in decisions] == ["freeze"] and len(found) == 1
    assert found[0].case_id == path.rsplit("/", 1)[1]
    shown = site.get(path).text
    assert 'data-freeze="requested"' in shown and "in this case" in shown
    assert "releasing also lifts the freeze" in shown
    assert "Freeze the holdings" not in shown  # one active freeze at a time


def test_a_bad_deadline_is_refused_with_the_fields_message_and_changes_nothing(
        site: TestClient, platform: bootstrap.Platform, held: tuple[Actor, str]) -> None:
    officer, _ = held
    site.cookies.set(SESSION, officer.token)
    path = _case_path(site)
    form = _form(site.get(path).text, "request_info", message="an invoice", note="why",
                 respond_days="45")
    r = site.post(f"{path}/decision", data=form, headers=ZH, follow_redirects=False)
    assert r.status_code == 422
    assert 'href="#respond_days"' in r.text and "请输入 1 到 30 之间的天数。" in r.text
    assert 'value="45"' in r.text  # the answer is kept for correcting
    with platform.deps.reader() as uow:
        assert uow.repo(CaseDecision).many() == []
    ok = site.post(f"{path}/decision", data={**form, "respond_days": "3"},
                   follow_redirects=False)
    assert ok.status_code == 303
    shown = site.get(path).text
    assert "data-info-due=" in shown and "The customer's answer is due" in shown
    site.cookies.set(SESSION, customer_of(platform).token)  # the sender is told the deadline
    assert "We need more information from you within 3 days: an invoice" in site.get(
        "/notifications").text
    assert "我们需要您在 3 天内补充信息：an invoice" in site.get("/notifications", headers=ZH).text


def test_an_escalated_case_is_flagged_in_the_queue_and_counted_on_the_dashboard(
        site: TestClient, platform: bootstrap.Platform, held: tuple[Actor, str]) -> None:
    clock = platform.deps.clock
    assert isinstance(clock, FakeClock)
    clock.advance(5 * cdom.DAY_MS + 1)  # past the resolution time of a review
    officer = make_staff(platform, "compliance_officer", "late@corridor.example")
    assert case_sla.escalate_due(platform.deps) >= 1
    site.cookies.set(SESSION, officer.token)
    queue = site.get("/staff/compliance").text
    assert 'data-sla="escalated"' in queue and "Escalated" in queue
    page = site.get(_case_path(site)).text
    assert 'data-overdue="yes"' in page and "not resolved in time" in page
    assert "已逾期" in site.get(_case_path(site), headers=ZH).text
    inbox = site.get("/notifications").text  # every compliance officer is told
    assert "Carol Customer is past its resolution time: it is escalated." in inbox
    assert f'href="{_case_path(site)}"' in inbox
    assert "已超过结案时限" in site.get("/notifications", headers=ZH).text
    site.cookies.set(SESSION, make_staff(platform, "operator", "ops@corridor.example").token)
    dash = site.get("/staff/dashboard").text
    found = re.search(r'Overdue compliance cases: <strong data-queue="\d+">(\d+)</strong>', dash)
    assert found and found.group(1) == "1"
    with platform.deps.reader() as uow:
        assert uow.repo(Case).many()[0].escalated_ms == clock.now_ms()


def test_a_freeze_by_another_role_is_refused(
        site: TestClient, platform: bootstrap.Platform, held: tuple[Actor, str]) -> None:
    officer, _ = held
    site.cookies.set(SESSION, officer.token)
    path = _case_path(site)
    form = _form(site.get(path).text, "freeze", note="x")
    site.cookies.set(SESSION, make_staff(platform, "support_agent").token)
    assert site.post(f"{path}/decision", data=form, follow_redirects=False).status_code == 403
    with platform.deps.reader() as uow:
        assert uow.repo(Freeze).many() == []
