"""Record retention (issue 16; FATF Recommendation 11): customer due diligence records,
transactions, alerts, cases and suspicious-transaction reports are kept for at least
five years after the business relationship ends. This module is the one place that says
what is in scope, how the period is counted, and in which order a purge deletes.

- **Scope** (`SCOPE`): KYC records and their documents; payments, their transfers,
  deposits, withdrawals, refunds and refund evidence; alerts, cleared hits, cases with
  their notes and decisions, holds of inbound money and freezes on chain; reports. The
  audit trail is in scope too and is never purged (its hash chain is the record of
  everything, the purges included).
- **Period**: `years` (at least `YEARS_MIN`; configurable upward only, Settings) counted
  from the end of the relationship: a customer's account disabled. The end is the
  account's last change while disabled, so a later change can only lengthen the period,
  never shorten it. An ongoing relationship (an active or pending account, and every
  organisation: there is no closed state for one yet) is retained indefinitely.
- **Order**: children before the rows they refer to, so a purge satisfies every foreign
  key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum

from corridor.platform.domain.compliance import Alert, Case, CaseDecision, CaseNote, Clearance
from corridor.platform.domain.freezes import Freeze
from corridor.platform.domain.holds import Hold
from corridor.platform.domain.identity import User, UserStatus
from corridor.platform.domain.kyc import KycCustomer, KycFile
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.rails import Deposit, Withdrawal
from corridor.platform.domain.refunds import Refund, RefundFile
from corridor.platform.domain.reports import Report
from corridor.platform.domain.roles import UserKind
from corridor.platform.domain.transfers import Transfer

YEARS_MIN = 5
SUBJECTS_MAX = 10_000  # ended relationships one run looks at (oldest end first)


class Link(enum.StrEnum):
    """How a record names the customer whose relationship governs it."""

    SUBJECT = "subject"  # subject_type, subject_id
    OWNER = "owner"  # owner_type, owner_id
    CASE = "case"  # case_id -> the case's subject
    ALERT = "alert"  # alert_id -> the alert's subject
    REF = "ref"  # ref_id -> the payment, deposit, withdrawal or refund it served


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ScopeItem:
    """One kind of record kept for the period: its name in reports, its record type,
    and how it names its customer."""

    name: str
    record: type
    link: Link


# In purge order: every item before those its rows refer to.
SCOPE: tuple[ScopeItem, ...] = (
    ScopeItem(name="screening_clearances", record=Clearance, link=Link.ALERT),
    ScopeItem(name="case_notes", record=CaseNote, link=Link.CASE),
    ScopeItem(name="case_decisions", record=CaseDecision, link=Link.CASE),
    ScopeItem(name="reports", record=Report, link=Link.SUBJECT),
    ScopeItem(name="alerts", record=Alert, link=Link.SUBJECT),
    ScopeItem(name="cases", record=Case, link=Link.SUBJECT),
    ScopeItem(name="freezes", record=Freeze, link=Link.OWNER),
    ScopeItem(name="holds", record=Hold, link=Link.OWNER),
    ScopeItem(name="refund_files", record=RefundFile, link=Link.OWNER),
    ScopeItem(name="refunds", record=Refund, link=Link.OWNER),
    ScopeItem(name="transfers", record=Transfer, link=Link.REF),
    ScopeItem(name="withdrawals", record=Withdrawal, link=Link.OWNER),
    ScopeItem(name="deposits", record=Deposit, link=Link.OWNER),
    ScopeItem(name="payments", record=Payment, link=Link.OWNER),
    ScopeItem(name="kyc_files", record=KycFile, link=Link.OWNER),
    ScopeItem(name="kyc_records", record=KycCustomer, link=Link.SUBJECT),
)
# Records whose rows carry a file in the file store, deleted with the row.
WITH_FILES: frozenset[type] = frozenset({KycFile, RefundFile})
# The records a deletion is guarded for (the audit trail has no delete path at all).
GUARDED: frozenset[type] = frozenset(i.record for i in SCOPE)
# A transfer serves one of these (its `ref_id`).
REFERRED: tuple[type, ...] = (Payment, Deposit, Withdrawal, Refund)


def relationship_end_ms(user: User) -> int | None:
    """When a customer's relationship ended, or None while it goes on."""
    if user.kind != UserKind.CUSTOMER or user.status != UserStatus.DISABLED:
        return None
    return user.updated_ms


def retain_until_ms(end_ms: int, years: int) -> int:
    """The moment `years` calendar years after `end_ms` (29 February ends on 1 March)."""
    assert years >= YEARS_MIN, f"retention below the minimum: {years}"
    end = dt.datetime.fromtimestamp(end_ms / 1000, dt.UTC)
    try:
        until = end.replace(year=end.year + years)
    except ValueError:  # 29 February in a year without one
        until = end.replace(year=end.year + years, month=3, day=1)
    return int(until.timestamp() * 1000)


def may_purge(end_ms: int | None, years: int, now_ms: int) -> bool:
    """Whether records governed by a relationship that ended at `end_ms` may go now."""
    return end_ms is not None and now_ms >= retain_until_ms(end_ms, years)
