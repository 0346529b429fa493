"""The words of every e-mail and SMS the platform sends (codes, security notices), in the
recipient's language (issue 15): English, the message ids, and Simplified Chinese from
the platform's own Babel catalogue (`platform/locale/zh_Hans/LC_MESSAGES/platform.po`,
read once when first needed; no compiled file is committed).

A message is a key naming a (subject, body) pair with `%(name)s` placeholders; callers
pass the key and the values, never text. `tests/platform/test_mail_text.py` fails when a
message has no translation or a translation lost a placeholder."""

from __future__ import annotations

import enum
import functools
from pathlib import Path

from babel.messages.pofile import read_po

from corridor.platform.domain import identity as idn
from corridor.platform.domain.identity import User

CATALOGUE = Path(__file__).resolve().parents[1] / "locale" / "{folder}" / "LC_MESSAGES" \
    / "platform.po"
CATALOGUE_DIRS = {"zh-Hans": "zh_Hans"}  # English is the source: no catalogue
DEFAULT_LANGUAGE = "en"


class Mail(enum.StrEnum):
    CODE_VERIFY_EMAIL = "code.verify_email"
    CODE_VERIFY_PHONE = "code.verify_phone"
    CODE_LOGIN = "code.login"
    CODE_RECOVERY = "code.recovery"
    CODE_UNLOCK = "code.unlock"
    REGISTER_TAKEN = "notice.register_taken"
    LOCKED = "notice.locked"
    STAFF_LOCKOUTS = "notice.staff_lockouts"
    TOTP_ON = "notice.totp_on"
    TOTP_OFF = "notice.totp_off"
    PASSWORD_CHANGED = "notice.password_changed"
    PASSWORD_RESET = "notice.password_reset"
    EMAIL_CHANGED = "notice.email_changed"
    PHONE_CHANGED = "notice.phone_changed"
    KYC_REVIEW_DUE = "notice.kyc_review_due"
    RELATIONSHIP_ENDED = "notice.relationship_ended"  # a compliance case's exit decision
    # collections (issue 17): to the payer of a request, and its reminders
    COLLECTION_REQUESTED = "notice.collection_requested"
    COLLECTION_DUE_SOON = "notice.collection_due_soon"
    COLLECTION_OVERDUE = "notice.collection_overdue"
    APPROVAL_REQUIRED = "notice.approval_required"  # to an approver (services/approvals.py)


_CODE_BODY = ("Your Corridor code is %(code)s. It expires in %(minutes)s minutes. "
              "Nobody from Corridor will ever ask you for it.")
# key -> (subject, body): the English text, and the catalogue's message ids.
MESSAGES: dict[Mail, tuple[str, str]] = {
    Mail.CODE_VERIFY_EMAIL: ("Verify your e-mail address", _CODE_BODY),
    Mail.CODE_VERIFY_PHONE: ("Verify your phone number", _CODE_BODY),
    Mail.CODE_LOGIN: ("Your sign-in code", _CODE_BODY),
    Mail.CODE_RECOVERY: ("Your account recovery code", _CODE_BODY),
    Mail.CODE_UNLOCK: ("Your code to unblock sign-ins", _CODE_BODY),
    Mail.REGISTER_TAKEN: ("Someone tried to register with your address",
                          "If it was you, sign in or recover your password instead."),
    Mail.LOCKED: ("Sign-ins to your account are blocked for now",
                  "Several sign-in attempts failed, so sign-ins are slowed down. If this was "
                  "you, ask for an unlock code (POST /v1/auth/unlock) and sign in right away; "
                  "if not, change your password."),
    Mail.STAFF_LOCKOUTS: ("Security alert: a staff account keeps locking",
                          "The staff account %(account)s was locked %(lockouts)s times in a "
                          "day after failed sign-ins (latest from %(ip)s). Check with its "
                          "owner; disable it if it may be under attack."),
    Mail.TOTP_ON: ("Authenticator app enabled",
                   "Sign-ins now need a code from your authenticator app."),
    Mail.TOTP_OFF: ("Authenticator app disabled",
                    "Sign-ins now use a code sent to your e-mail or phone."),
    Mail.PASSWORD_CHANGED: ("Your password was changed",
                            "If this was not you, recover your account now."),
    Mail.PASSWORD_RESET: ("Your password was reset",
                          "If this was not you, contact support at once."),
    Mail.EMAIL_CHANGED: ("Your email was changed",
                         "Your account now uses %(address)s. If this was not you, contact "
                         "support."),
    Mail.PHONE_CHANGED: ("Your phone was changed",
                         "Your account now uses %(address)s. If this was not you, contact "
                         "support."),
    Mail.KYC_REVIEW_DUE: ("Your verification is due for review",
                          "It is time to check your details again. Sign in, open Identity "
                          "verification and send your details again (change what has "
                          "changed). Until we accept them you can receive money but not send "
                          "or withdraw it."),
    Mail.RELATIONSHIP_ENDED: ("Corridor has closed your account",
                              "After a compliance review Corridor has ended its "
                              "relationship with you. Your account is closed; your holdings "
                              "stay frozen until they are returned to you. Write to support "
                              "to arrange their return to an account in your name."),
    Mail.COLLECTION_REQUESTED: ("A payment request for you",
                                "%(requester)s asks you to pay %(amount)s %(currency)s "
                                "(reference %(reference)s) by %(due)s. Sign in and open "
                                "Requests to pay or decline it."),
    Mail.COLLECTION_DUE_SOON: ("A payment request is due soon",
                               "%(requester)s's request for %(amount)s %(currency)s "
                               "(reference %(reference)s) is due on %(due)s. Sign in and open "
                               "Requests to pay or decline it."),
    Mail.COLLECTION_OVERDUE: ("A payment request is overdue",
                              "%(requester)s's request for %(amount)s %(currency)s "
                              "(reference %(reference)s) was due on %(due)s. Sign in and open "
                              "Requests to pay or decline it."),
    Mail.APPROVAL_REQUIRED: ("Waiting for your approval",
                             "%(summary)s is waiting for your approval (level %(level)s). "
                             "Sign in and open Approvals in your organisation to approve or "
                             "reject it."),
}
CODE_MAIL = {
    idn.Purpose.VERIFY_EMAIL: Mail.CODE_VERIFY_EMAIL,
    idn.Purpose.VERIFY_PHONE: Mail.CODE_VERIFY_PHONE,
    idn.Purpose.LOGIN: Mail.CODE_LOGIN,
    idn.Purpose.RECOVERY: Mail.CODE_RECOVERY,
    idn.Purpose.UNLOCK: Mail.CODE_UNLOCK,
}


@functools.cache
def translations(language: str) -> dict[str, str]:
    """The catalogue of `language` as message id -> text (fuzzy and empty entries left
    out, so an untranslated message falls back to English)."""
    folder = CATALOGUE_DIRS.get(language)
    if folder is None:
        return {}
    with Path(str(CATALOGUE).format(folder=folder)).open("rb") as f:
        catalogue = read_po(f)
    return {str(m.id): str(m.string) for m in catalogue
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def language_of(user: User | None) -> str:
    """The language a person's messages are written in: their choice, else English."""
    if user is not None and user.language in idn.LANGUAGES:
        return user.language
    return DEFAULT_LANGUAGE


def compose(language: str, key: Mail, **values: object) -> tuple[str, str]:
    """(subject, body) of message `key` in `language`, with `values` filled in."""
    subject, body = MESSAGES[key]
    words = translations(language)
    return words.get(subject, subject), words.get(body, body) % values
