"""The back office's areas, each with the permission it needs: the navigation shows a
member of staff only what their role may open (every page checks again)."""

from __future__ import annotations

from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm


def N_(message: str) -> str:
    return message


AREAS = (
    (Perm.OPERATE, "/staff/dashboard", N_("Operations dashboard")),
    (Perm.KYC_READ, "/staff/kyc", N_("Identity verification queue")),
    (Perm.REFUND_REVIEW, "/staff/refunds", N_("Refund requests")),
    (Perm.COMPLIANCE_REVIEW, "/staff/compliance", N_("Compliance cases")),
    (Perm.COMPLIANCE_REVIEW, "/staff/reports", N_("Suspicious-transaction reports")),
    (Perm.CUSTOMERS_READ, "/staff/customers", N_("Customer lookup")),
    (Perm.AUDIT_READ, "/staff/audit", N_("Audit log")),
    (Perm.STAFF_MANAGE, "/staff/admin", N_("Staff accounts")),
    # supervision (issue 16): the regulator's read-only pages
    (Perm.SUPERVISE, "/regulator/overview", N_("Supervision overview")),
    (Perm.SUPERVISE, "/regulator/payments", N_("Payments under supervision")),
    (Perm.SUPERVISE, "/regulator/alerts", N_("Alerts")),
    (Perm.SUPERVISE, "/regulator/cases", N_("Cases")),
    (Perm.SUPERVISE, "/regulator/reports", N_("Filed reports")),
    (Perm.SUPERVISE, "/regulator/audit", N_("Audit trail")),
    (Perm.SUPERVISE, "/regulator/feed", N_("Live feed")),
)


def links(who: Principal | None) -> list[tuple[str, str]]:
    """(path, English label) of each area `who` may open; none for anyone else."""
    if who is None or not who.is_staff:
        return []
    return [(path, label) for perm, path, label in AREAS if who.staff_can(perm)]
