"""Languages: no message is left untranslated, the choice of language follows the
switcher then the browser, and values are written the language's way."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.errors import Err, PlatformError
from corridor.web import i18n, labels, messages, security
from tests.platform.conftest import make_user
from tests.web.conftest import csrf_of

ROOT = Path(__file__).resolve().parents[2]


def _catalogue_tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("web_messages",
                                                  ROOT / "scripts" / "web_messages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["web_messages"] = module
    spec.loader.exec_module(module)
    return module


def test_every_message_of_the_pages_is_in_the_catalogue_and_translated() -> None:
    tool = _catalogue_tool()
    ids = {m.id for m in tool.extracted() if m.id}
    assert len(ids) > 100  # the extraction found the templates and the Python messages
    with tool.PO.open("rb") as f:
        catalogue = read_po(f)
    translated = {m.id: m.string for m in catalogue if m.id and not m.fuzzy
                  and (all(m.string) if isinstance(m.string, tuple) else m.string)}
    missing = sorted(ids - set(translated))
    assert not missing, f"untranslated (run scripts/web_messages.py, then translate): {missing}"
    for msgid, text in translated.items():  # placeholders survive translation
        source, target = "".join(msgid) if isinstance(msgid, tuple) else msgid, "".join(text)
        for name in ("%(name)s", "%(tier)s", "%(version)s", "%(height)s", "%(destination)s",
                     "%(num)s"):
            assert (name in source) == (name in target), (msgid, text)


def test_every_state_has_a_translated_name() -> None:
    fmt = i18n.Formats("zh-Hans", "Asia/Shanghai")
    for table in labels.TABLES.values():
        enum = type(next(iter(table)))
        assert set(table) == set(enum), enum
        for member in enum:
            assert fmt.gettext(table[member]) != table[member], member


def test_every_kyc_field_of_a_person_has_a_translated_name() -> None:
    from corridor.platform.domain.kyc_fields import PERSON_FIELDS

    fmt = i18n.Formats("zh-Hans", "UTC")
    assert set(labels.KYC_FIELD) == set(PERSON_FIELDS)
    for name in PERSON_FIELDS:
        assert not labels.label(fmt, "kyc_field", name).isascii(), name


def test_refusals_reach_a_chinese_reader_in_chinese() -> None:
    fmt = i18n.Formats("zh-Hans", "UTC")
    for err in Err:  # a code without words of its own gets its kind's
        text = messages.refusal_text(fmt, err.error("an English message"))
        assert text.isascii() is False, err.name
    fields = messages.field_texts(fmt, {"password": "too easy to guess: add a word",
                                        "mystery": "something English"})
    assert all(not t.isascii() for t in fields.values())


@pytest.mark.parametrize(("header", "want"), [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"),
    ("en-GB,en;q=0.9", "en"),
    ("fr-FR, en;q=0.3, zh;q=0.5", "zh-Hans"),
    ("zh-TW", None),  # Traditional script: not answered in Simplified
    ("de, *;q=0.1", None),
    ("zh;q=0, en", "en"),
    ("en;q=bogus, zh", "zh-Hans"),
])
def test_accept_language(header: str, want: str | None) -> None:
    assert i18n.negotiate(header) == want


def test_the_switcher_wins_over_the_browser() -> None:
    assert i18n.choose("en", None, "zh-CN") == "en"
    assert i18n.choose(None, "zh-Hans", "en") == "zh-Hans"
    assert i18n.choose("klingon", None, "") == "en"


def test_amounts_and_times_are_written_per_locale_exactly() -> None:
    en, zh = i18n.Formats("en", "UTC"), i18n.Formats("zh-Hans", "Asia/Shanghai")
    assert en.amount(123_456_789_012_345_67, "USD") == "$123,456,789,012,345.67"
    assert zh.amount(123_456_789_012_345_67, "USD") == "US$123,456,789,012,345.67"
    assert zh.amount(5, "CNY") == "¥0.05"
    at_ms = 1_790_000_000_000  # 2026-09-21 14:13:20 UTC
    assert en.moment(at_ms).startswith("Sep 21, 2026, 2:13:20")
    assert zh.moment(at_ms).startswith("2026年9月21日 22:13:20")  # the reader's zone


def test_the_switcher_is_remembered(site: TestClient) -> None:
    page = site.get("/", headers={"accept-language": "en"})
    assert 'lang="en"' in page.text
    site.post("/language", data={"csrf_token": csrf_of(page.text), "language": "zh-Hans",
                                 "zone": "Asia/Hong_Kong", "back": "/signin"})
    assert site.cookies.get(security.LANGUAGE_COOKIE) == "zh-Hans"
    again = site.get("/signin", headers={"accept-language": "en"})
    assert 'lang="zh-Hans"' in again.text and "登录" in again.text
    assert '<option value="Asia/Hong_Kong" selected>' in again.text


def test_the_pages_languages_are_those_a_person_may_choose() -> None:
    from corridor.platform.domain import identity as idn

    assert tuple(i18n.LANGUAGES) == idn.LANGUAGES


def test_a_signed_in_choice_follows_the_person_to_another_browser(
        site: TestClient, platform: bootstrap.Platform) -> None:
    customer = make_user(platform, email="carol@example.com", name="Carol Customer")
    session = security.cookie_names(production=False)[0]
    site.cookies.set(session, customer.token)
    page = site.get("/dashboard", headers={"accept-language": "en"})
    site.post("/language", data={"csrf_token": csrf_of(page.text), "language": "zh-Hans"})
    other = TestClient(site.app, base_url="http://127.0.0.1")  # no language cookie there
    other.cookies.set(session, customer.token)
    again = other.get("/dashboard", headers={"accept-language": "en"})
    assert 'lang="zh-Hans"' in again.text and "您好，Carol Customer" in again.text


def test_a_language_the_platform_does_not_speak_is_refused_and_not_stored(
        platform: bootstrap.Platform) -> None:
    from corridor.platform.domain.identity import User
    from corridor.platform.domain.principal import Origin
    from corridor.platform.services import preferences, sessions

    customer = make_user(platform, email="dora@example.com", name="Dora Customer")
    who = sessions.authenticate(platform.deps, customer.token, Origin(ip="127.0.0.1"))
    with pytest.raises(PlatformError) as refused:
        preferences.set_language(platform.deps, who, "xx-Klingon")
    assert refused.value.code == "INVALID_LANGUAGE"
    with platform.deps.uow() as uow:
        assert uow.repo(User).get(customer.user.id).language == ""
