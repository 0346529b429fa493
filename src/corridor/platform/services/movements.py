"""Deposits, withdrawals and refunds through the monitors (issue 16): each becomes a
`Movement` the monitors in `deps.monitors` evaluate before its money reaches the chain,
as a payment is (services/payments.py). The outcome decides the record's way on:

    approve          it goes on as before
    review, block    it waits `held`, its money kept where it is (a withdrawal's debit and
                     a refund's return transfer wait unsigned; a deposit is not minted),
                     and an alert opens in its customer's case (source_type = the kind)
    decline          refused at once: a withdrawal or refund is rejected (nothing moved,
                     the reservation ends), a deposit is returned through its rail

Parties are opaque ids as the monitors know them: a customer's or organisation's id; a
bank beneficiary `ext:` + a keyed hash of the account (as payments.party_of); a deposit's
remitter `ext:` + a keyed hash of the rail's reference and name. What release and return
mean for a held record, kind by kind, is services/case_holds.py."""

from __future__ import annotations

from corridor.platform.domain import kyc as kyc_domain
from corridor.platform.domain import money
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.monitoring import Movement, MovementKind, Outcome, outcome_of
from corridor.platform.services import monitoring, rates
from corridor.platform.services.ports import Deps, UnitOfWork

COMPLIANCE_HOLD = "COMPLIANCE_HOLD"  # a held record's reason code: a case owns it
DECLINED = "COMPLIANCE_DECLINED"  # refused at once by a monitor
RETURNED = "COMPLIANCE_RETURNED"  # returned by a compliance officer
HELD_MESSAGE = "held for review"  # neutral: a compliance review is not announced
DECLINED_MESSAGE = "refused by compliance"
RETURNED_MESSAGE = "returned by compliance"
NAME_LEN_MAX = 140  # a name the rail reports for a remitter


def usd_minor(deps: Deps, amount_minor: int, code: str) -> int | None:
    """The amount in US cents at the mid rate (rounded up, as payments count limits);
    None when no rate is known now: the monitors then go by the amount itself."""
    try:
        return money.convert(amount_minor, code, kyc_domain.REFERENCE_CURRENCY,
                             rates.mid(deps, code, kyc_domain.REFERENCE_CURRENCY), up=True)
    except PlatformError:
        return None


def bank_party(deps: Deps, account: str) -> str:
    """A bank account as a party: the same account, the same party, whatever the kind of
    movement (payments.party_of computes the same for a payment's beneficiary)."""
    return "ext:" + deps.sealer.keyed_hash(account, "beneficiary")[:40]


def remitter_party(deps: Deps, rail: str, name: str | None) -> str:
    """A deposit's sender: the rail gives a name at most, no account, so the party is the
    name on that rail (one remitter, one party) or, nameless, the rail itself."""
    key = " ".join((name or "").split()).casefold()
    return "ext:" + deps.sealer.keyed_hash(f"{rail}:{key}", "remitter")[:40]


def judge(deps: Deps, uow: UnitOfWork, movement: Movement, *,
          subject: tuple[str, str]) -> Outcome:
    """The monitors' outcome for `movement` (cleared screening hits dropped), with an
    alert per acting finding in `subject`'s open case (source: the movement's kind and
    id). Inside the caller's unit of work, so the record and its alerts commit together."""
    findings = monitoring.evaluate(deps, movement)
    acting = monitoring.acting(uow, findings) if findings else []
    if acting:
        monitoring.raise_alerts(deps, uow, acting, subject=subject,
                                source=(str(movement.kind), movement.id))
    return outcome_of(acting)


def clean_name(name: object) -> str | None:
    """A remitter's name as a rail reports it: printable text, at most NAME_LEN_MAX, or
    None (not given, or not usable)."""
    if not isinstance(name, str):
        return None
    text = " ".join(name.split())
    return text if text and len(text) <= NAME_LEN_MAX and text.isprintable() else None


KINDS = (MovementKind.DEPOSIT, MovementKind.WITHDRAWAL, MovementKind.REFUND)
