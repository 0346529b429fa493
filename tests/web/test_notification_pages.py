"""The notifications inbox and the sign-in history through the pages (both databases):
sentences written in the reader's language from the stored key and parameters, the nav's
unread badge, mark read and mark all read (CSRF, the owner only), and a failed sign-in
shown in the security centre."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.services import notifications
from corridor.web import i18n, notices, security
from tests.platform.conftest import PASSWORD, Actor, make_user
from tests.web.conftest import csrf_of

SESSION = security.cookie_names(production=False)[0]
EN, ZH = {"Accept-Language": "en"}, {"Accept-Language": "zh-CN,zh;q=0.9"}
ITEM_ID = re.compile(r'<li class="notice unread" data-id="([^"]+)"')


def _note(platform: bootstrap.Platform, who: Actor, topic: Topic, subject: SubjectType,
          subject_id: str, **params: object) -> None:
    deps = platform.deps
    with deps.uow() as uow:
        notifications.record(deps, uow, user_id=who.user.id, topic=topic,
                             subject_type=subject, subject_id=subject_id, event=subject_id,
                             params=params)
        uow.commit()


def _badge(html: str) -> str | None:
    match = re.search(r'id="unread-badge">(\d+)<', html)
    return match.group(1) if match else None


def test_the_inbox_in_both_languages_marks_read_for_its_owner_only(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = make_user(platform, email="carol@example.com", name="Carol Customer")
    dave = make_user(platform, email="dave@example.com", name="Dave Customer")
    _note(platform, carol, Topic.DEPOSIT_CREDITED, SubjectType.DEPOSIT, "dep-1",
          amount_minor=12345, currency="USD", reference="CRD7XK")
    _note(platform, carol, Topic.PAYMENT_RECEIVED, SubjectType.PAYMENT, "PMT1",
          amount_minor=71533, currency="CNY")
    _note(platform, dave, Topic.WITHDRAWAL_PAID, SubjectType.WITHDRAWAL, "wd-1",
          amount_minor=100, currency="USD")

    assert site.get("/notifications", follow_redirects=False).headers["location"] \
        .startswith("/signin?next=")
    site.cookies.set(SESSION, carol.token)
    en = site.get("/notifications", headers=EN).text
    assert "Your deposit of $123.45 (reference CRD7XK) is in your wallet." in en
    assert "You received CN¥715.33." in en
    assert 'href="/deposits/dep-1"' in en and 'href="/payments/PMT1"' in en
    assert "2 unread notifications." in en and _badge(en) == "2"
    assert "wd-1" not in en  # Dave's stays his
    zh = site.get("/notifications", headers=ZH).text
    assert "充值（参考号 CRD7XK）已到账" in zh and "123.45" in zh
    assert "您收到了" in zh and "2 条未读通知" in zh and _badge(zh) == "2"
    # the dashboard's nav carries the badge too
    assert _badge(site.get("/dashboard", headers=EN).text) == "2"

    first = ITEM_ID.findall(en)[0]
    r = site.post(f"/notifications/{first}/read", data={"csrf_token": "forged"},
                  follow_redirects=False)
    assert r.status_code == 403 and 'data-code="CSRF_FAILED"' in r.text
    token = csrf_of(en)
    r = site.post(f"/notifications/{first}/read", data={"csrf_token": token},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/notifications"
    assert _badge(site.get("/notifications", headers=EN).text) == "1"

    # Dave's notification, asked for by Carol: absent, in her language, and still unread
    (theirs,) = notifications.page(platform.deps, _principal(dave), limit=5, offset=0).items
    r = site.post(f"/notifications/{theirs.id}/read", data={"csrf_token": token}, headers=ZH)
    assert r.status_code == 404 and not r.text.isascii()
    assert notifications.unread_count(platform.deps, _principal(dave)) == 1

    r = site.post("/notifications/read-all", data={"csrf_token": token},
                  follow_redirects=False)
    assert r.status_code == 303
    page = site.get("/notifications", headers=EN).text
    assert _badge(page) is None and "0 unread notifications." in page
    assert "Mark all as read" not in page


def _principal(who: Actor):  # type: ignore[no-untyped-def]
    from corridor.platform.domain.principal import Principal
    from corridor.platform.domain.roles import UserKind

    return Principal(user_id=who.user.id, kind=UserKind(who.user.kind), staff_role=None,
                     session_id="s")


def test_every_topic_has_a_sentence_translated_with_its_placeholders() -> None:
    zh = i18n.Formats("zh-Hans", "UTC")
    assert {topic for topic, _ in notices.TEXT} == set(Topic)
    for sentence in (*notices.TEXT.values(), notices.UNKNOWN):
        translated = zh.gettext(sentence)
        assert translated != sentence, sentence
        assert sorted(re.findall(r"%\(\w+\)s", sentence)) == \
            sorted(re.findall(r"%\(\w+\)s", translated)), sentence
    assert set(notices.LINKS) == set(SubjectType)


def test_a_failed_sign_in_shows_in_the_security_centre(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol = make_user(platform, email="carol@example.com", name="Carol Customer")
    form = site.get("/signin").text
    r = site.post("/signin", headers={"User-Agent": "Mallory/9"}, data={
        "csrf_token": csrf_of(form), "identifier": "carol@example.com",
        "password": "not the password at all"})
    assert r.status_code == 401
    assert PASSWORD  # the right one is never sent here
    site.cookies.set(SESSION, carol.token)
    en = site.get("/security", headers=EN).text
    assert 'id="sign-in-history"' in en
    row = re.search(r'<tr data-result="failed">(.*?)</tr>', en, re.S)
    assert row is not None
    assert "Failed: wrong password" in row.group(1) and "Mallory/9" in row.group(1)
    zh = site.get("/security", headers=ZH).text
    assert "登录记录" in zh and "失败：密码错误" in zh
