"""A customer's risk rating in the officer's language (issue 16): each factor of
domain/risk.py as a sentence filled from its evidence, and the levels' names. Shown on the
staff KYC record page and the customer lookup (templates/_risk.html)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from corridor.platform.domain.kyc import Risk
from corridor.platform.domain.risk import Factor
from corridor.platform.services.risk import RiskView
from corridor.web.context import Page
from corridor.web.i18n import Formats
from corridor.web.messages import N_

FACTORS = {
    "country_black": N_("Lives or is incorporated in a country on the FATF call-for-action "
                        "list (%(country)s)"),
    "country_grey": N_("Lives or is incorporated in a country under FATF increased "
                       "monitoring (%(country)s)"),
    "corporate": N_("An organisation (business account)"),
    "cross_border": N_("%(payments)s cross-border payments in the last %(window_days)s days"),
    "volume_over": N_("Sent more in the last %(window_days)s days than the verification "
                      "level allows to hold"),
    "volume_half": N_("Sent more than half of what the verification level allows to hold "
                      "in the last %(window_days)s days"),
    "sanctions_open": N_("%(hits)s open sanctions list hits"),
    "sanctions_cleared": N_("%(hits)s sanctions list hits cleared as false positives"),
    "pep": N_("%(hits)s hits on lists of politically exposed persons"),
    "alerts": N_("%(alerts)s AML alerts in the last %(window_days)s days"),
    "cases": N_("%(cases)s compliance cases opened in the last %(window_days)s days"),
    "holds": N_("%(holds)s payments held in the last %(window_days)s days"),
}
LEVELS = {Risk.LOW: N_("Low risk"), Risk.MEDIUM: N_("Medium risk"), Risk.HIGH: N_("High risk")}
UNKNOWN = N_("Another factor")


def factor_text(fmt: Formats, f: Factor) -> str:
    """The factor as a sentence in the reader's language."""
    values: defaultdict[str, str] = defaultdict(str, {k: str(v) for k, v in f.evidence.items()})
    return fmt.gettext(FACTORS.get(f.name, UNKNOWN)) % values


def level_text(fmt: Formats, level: str | None) -> str:
    return fmt.gettext(LEVELS[Risk(level)]) if level in set(Risk) else "—"


def context(page: Page, view: RiskView) -> dict[str, Any]:
    """What templates/_risk.html needs."""
    return {"risk_view": view, "risk_factor": lambda f: factor_text(page.fmt, f),
            "risk_level": lambda level: level_text(page.fmt, level)}
