"""A payment's approval as its page shows it (issue 17): kept apart from the console's
approval pages (pages_approvals.py), which import the organisation pages, so the payment
pages (pages_money.py) can use it without a cycle."""

from __future__ import annotations

from typing import Any

from corridor.platform.domain import approvals as dom
from corridor.platform.domain.errors import Kind, PlatformError
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Principal
from corridor.platform.services import approvals
from corridor.web.context import Page


def payment_approval(page: Page, who: Principal, p: Payment) -> dict[str, Any]:
    """What a payment's page shows of its approval: the levels and who decided when, and
    the consent form for its initiator when a re-quote waits for them."""
    try:
        view = approvals.of_payment(page.deps, who, p.id)
    except PlatformError as exc:
        if exc.kind is not Kind.NOT_FOUND:
            raise
        return {"approval": None, "can_consent": False}
    a = view.approval
    return {"approval": view, "consent_key": page.form_key({}),
            "can_consent": a.state is dom.ApprovalState.AWAITING_CONSENT
            and a.initiator_id == who.user_id}
