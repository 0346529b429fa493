"""Notifications written in the reader's language (issue 15): the inbox stores a message
key (`Topic`) and parameters; this module picks the sentence for the key (and, for some,
its outcome) and fills it with the parameters formatted for the reader (amounts by Babel,
from minor units, exactly). `tests/web/test_notifications.py` checks every topic has a
sentence and every sentence a translation with the same placeholders."""

from __future__ import annotations

from collections import defaultdict

from corridor.platform.domain.notifications import Notification, SubjectType, Topic
from corridor.web.i18n import Formats
from corridor.web.messages import N_

# (topic, variant) -> sentence; the variant is the `outcome` or `change` parameter ("" none).
TEXT: dict[tuple[Topic, str], str] = {
    (Topic.PAYMENT_RECEIVED, ""): N_("You received %(amount)s."),
    (Topic.PAYMENT_SETTLED, ""): N_(
        "Your payment of %(amount)s was credited to its recipient (%(received)s)."),
    (Topic.PAYMENT_FAILED, ""): N_(
        "Your payment of %(amount)s failed; its money comes back to your wallet."),
    (Topic.PAYMENT_REFUNDED, ""): N_("%(amount)s of your payment was refunded to your wallet."),
    (Topic.DEPOSIT_CREDITED, ""): N_(
        "Your deposit of %(amount)s (reference %(reference)s) is in your wallet."),
    (Topic.WITHDRAWAL_PAID, ""): N_(
        "Your withdrawal of %(amount)s was paid to your bank account."),
    (Topic.WITHDRAWAL_FAILED, ""): N_(
        "Your withdrawal of %(amount)s did not go through; the money stays yours, in your "
        "wallet."),
    (Topic.KYC_DECIDED, "accept"): N_("Your identity is verified (level %(tier)s)."),
    (Topic.KYC_DECIDED, "reject"): N_("Your identity verification was not accepted."),
    (Topic.KYC_DECIDED, "needs_info"): N_(
        "We need more information to verify your identity."),
    (Topic.KYC_REVIEW_DUE, "user"): N_(
        "Your verification is due for review: send your details again. Until it is "
        "accepted you can receive money but not send or withdraw it."),
    (Topic.KYC_REVIEW_DUE, "org"): N_(
        "Your organisation's verification is due for review: send its details again. Until "
        "it is accepted it can receive money but not send or withdraw it."),
    (Topic.INFO_REQUESTED, ""): N_(
        "We need more information from you: %(message)s"),
    (Topic.DOCUMENTS_REQUESTED, ""): N_(
        "Your payment of %(amount)s is on hold until you send its supporting documents "
        "(an invoice or a contract)."),
    (Topic.DOCUMENTS_REQUESTED, "inconsistent"): N_(
        "The documents of your payment of %(amount)s do not agree with it: %(message)s"),
    (Topic.INFO_REQUESTED, "deadline"): N_(
        "We need more information from you within %(days)s days: %(message)s"),
    (Topic.REFUND_DECIDED, "approve"): N_(
        "Your refund request was approved: %(amount)s is on its way back."),
    (Topic.REFUND_DECIDED, "reject"): N_("Your refund request was not approved."),
    (Topic.SIGNED_IN, ""): N_("New sign-in from %(ip)s (%(device)s)."),
    (Topic.PASSWORD_CHANGED, "changed"): N_("Your password was changed."),
    (Topic.PASSWORD_CHANGED, "reset"): N_("Your password was reset through account recovery."),
    (Topic.SECOND_FACTOR_CHANGED, "enabled"): N_("The authenticator app was turned on."),
    (Topic.SECOND_FACTOR_CHANGED, "disabled"): N_("The authenticator app was turned off."),
    (Topic.SECOND_FACTOR_CHANGED, "email"): N_(
        "Your e-mail address was changed; sign-in codes go to the new one."),
    (Topic.SECOND_FACTOR_CHANGED, "phone"): N_(
        "Your phone number was changed; sign-in codes go to the new one."),
    (Topic.CASE_ESCALATED, "first_action"): N_(
        "The compliance case of %(customer)s had no action in time: it is escalated."),
    (Topic.CASE_ESCALATED, "resolution"): N_(
        "The compliance case of %(customer)s is past its resolution time: it is escalated."),
    (Topic.CASE_ESCALATED, "info_deadline"): N_(
        "%(customer)s did not answer a request for information in time: their compliance "
        "case is escalated."),
    (Topic.APPROVAL_REQUIRED, ""): N_(
        "Waiting for your approval (level %(level)s): %(summary)s."),
    (Topic.APPROVAL_DECIDED, "approved"): N_("Approved: %(summary)s."),
    (Topic.APPROVAL_DECIDED, "rejected"): N_(
        "Rejected by an approver: %(summary)s. Any money it reserved is free again."),
    (Topic.APPROVAL_DECIDED, "expired"): N_(
        "Not approved in time: %(summary)s. Any money it reserved is free again."),
    (Topic.APPROVAL_DECIDED, "consent"): N_(
        "Approved, but the exchange rate moved: accept the new rate for it to go on "
        "(%(summary)s)."),
    (Topic.RELATIONSHIP_ENDED, ""): N_(
        "Corridor has ended its relationship with you: your account is closed and your "
        "holdings stay frozen until they are returned to you."),
    (Topic.PAYMENT_REQUESTED, ""): N_(
        "%(customer)s asks you to pay %(amount)s (reference %(reference)s)."),
    (Topic.PAYMENT_REQUESTED, "before"): N_(
        "Reminder: %(customer)s's request for %(amount)s (reference %(reference)s) is due "
        "soon."),
    (Topic.PAYMENT_REQUESTED, "after"): N_(
        "%(customer)s's request for %(amount)s (reference %(reference)s) is overdue."),
    (Topic.REQUEST_PAID, ""): N_(
        "Your request for %(amount)s (reference %(reference)s) was paid."),
    (Topic.REQUEST_PAID, "mismatch"): N_(
        "A payment named your request %(reference)s with another amount: %(message)s"),
}
# Where each kind of subject is shown ("{id}": the subject's id).
LINKS = {
    SubjectType.PAYMENT: "/payments/{id}",
    SubjectType.DEPOSIT: "/deposits/{id}",
    SubjectType.WITHDRAWAL: "/withdrawals/{id}",
    SubjectType.KYC: "/verification",
    SubjectType.REFUND: "/payments/{id}",
    SubjectType.SECURITY: "/security",
    SubjectType.CASE: "/staff/compliance/cases/{id}",
    SubjectType.REQUEST: "/requests/{id}",
    SubjectType.APPROVAL: "/approvals/{id}",
}
UNKNOWN = N_("Something changed in your account.")


def _variant(n: Notification) -> str:
    return (n.params.get("outcome") or n.params.get("change")
            or ("deadline" if n.params.get("respond_days") else ""))


def _amount(fmt: Formats, minor: str | None, code: str | None) -> str:
    if minor is None or code is None or not minor.lstrip("-").isdigit():
        return ""
    return fmt.amount(int(minor), code)


def text(fmt: Formats, n: Notification) -> str:
    """The notification as a sentence in the reader's language."""
    sentence = TEXT.get((n.topic, _variant(n))) or TEXT.get((n.topic, "")) or UNKNOWN
    p = n.params
    values: defaultdict[str, str] = defaultdict(str, {
        "amount": _amount(fmt, p.get("amount_minor"), p.get("currency")),
        "received": _amount(fmt, p.get("received_minor"), p.get("received_currency")),
        "reference": p.get("reference", ""), "tier": p.get("tier", ""),
        "message": p.get("message", ""), "customer": p.get("customer", ""),
        "days": p.get("respond_days", ""),
        "summary": p.get("summary", ""), "level": p.get("level", ""),
        "ip": p.get("ip") or "?", "device": p.get("device") or "?"})
    return fmt.gettext(sentence) % values


def link(n: Notification) -> str:
    return LINKS[n.subject_type].format(id=n.subject_id)
