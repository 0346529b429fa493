"""E-mail and SMS text (issue 15): every message the platform sends has its Simplified
Chinese translation, with the same placeholders, and none is left over in the catalogue."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from corridor.platform.domain import identity as idn
from corridor.platform.services import mail_text
from corridor.platform.services.mail_text import MESSAGES, Mail

PLACEHOLDER = re.compile(r"%\(\w+\)s")


def test_every_message_is_translated_with_its_placeholders() -> None:
    words = mail_text.translations("zh-Hans")
    assert set(MESSAGES) == set(Mail)
    for key, texts in MESSAGES.items():
        for text in texts:
            assert text in words, f"{key}: untranslated (add it to platform.po): {text!r}"
            assert not words[text].isascii(), (key, words[text])
            assert sorted(PLACEHOLDER.findall(text)) == sorted(
                PLACEHOLDER.findall(words[text])), (key, text)


def test_the_catalogue_holds_no_message_nobody_sends() -> None:
    path = str(mail_text.CATALOGUE).format(folder="zh_Hans")
    with open(path, "rb") as f:
        ids = {m.id for m in read_po(f) if m.id}
    sent = {text for texts in MESSAGES.values() for text in texts}
    assert ids == sent


def test_every_code_purpose_has_its_message_and_a_language_falls_back_to_english() -> None:
    assert set(mail_text.CODE_MAIL) == set(idn.Purpose)
    subject, body = mail_text.compose("zh-Hans", Mail.CODE_UNLOCK, code="123456", minutes=10)
    assert subject == "您的登录解锁验证码" and re.search(r"\b123456\b", body)
    assert "10 分钟" in body
    assert mail_text.compose("fr", Mail.TOTP_ON) == MESSAGES[Mail.TOTP_ON]
    assert mail_text.language_of(None) == "en"
