"""Bank account numbers and IBANs at rest (issue 14, item 14): personal data, sealed by the
vault like KYC data, each under a context bound to its record (a sealed value copied to
another row does not open). Records keep only a masked form (last four characters) for
display; the full value is opened only to ask the rail for a payout, and to tell a retry
from another request under the same idempotency key.

No lookup by account number exists; a request hash that names the account uses the masked
form, and the replay check compares the opened account (a plain digest of a short account
number would be searchable by brute force in a copy of the database)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from corridor.platform.domain import rails as r
from corridor.platform.domain.payments import Payment, RecipientType
from corridor.platform.domain.rails import Withdrawal
from corridor.platform.services.ports import Deps

log = logging.getLogger("corridor.platform.bank_details")

ACCOUNT_KEYS = ("account", "iban", "account_number")  # wherever a bank dict names one
LEGACY_BATCH_MAX = 200


def masked(bank: dict[str, Any]) -> dict[str, Any]:
    """`bank` with its account number or IBAN masked (last four characters shown)."""
    return {k: r.masked_account(str(v)) if k in ACCOUNT_KEYS else v for k, v in bank.items()}


def account_in(bank: dict[str, Any]) -> str:
    """The (clear) account number or IBAN a bank dict names."""
    return next(str(bank[k]) for k in ACCOUNT_KEYS if bank.get(k))


def withdrawal_context(withdrawal_id: str) -> str:
    return f"withdrawal-account:{withdrawal_id}"


def payment_context(payment_id: str) -> str:
    return f"payment-recipient-account:{payment_id}"


def seal(deps: Deps, account: str, context: str) -> str:
    return deps.sealer.seal(account.encode(), context)


def withdrawal_account(deps: Deps, w: Withdrawal) -> str:
    """The full account a payout goes to (a row written before sealing: its clear value)."""
    if w.account_sealed is None:
        return str(w.bank["account"])
    return deps.sealer.open(w.account_sealed, withdrawal_context(w.id)).decode()


def payment_account(deps: Deps, p: Payment) -> str | None:
    """The full account of an external payment's recipient (None: not a bank recipient)."""
    if p.recipient_bank is None:
        return None
    if p.recipient_account_sealed is None:
        return account_in(p.recipient_bank)
    return deps.sealer.open(p.recipient_account_sealed, payment_context(p.id)).decode()


def beneficiary_party(deps: Deps, account: str) -> str:
    """A bank beneficiary as monitors know parties: `ext:` and a keyed hash of the account
    (the same account, the same party; a copy of the database cannot be searched for an
    account number)."""
    return "ext:" + deps.sealer.keyed_hash(account, "beneficiary")[:40]


def seal_legacy(deps: Deps) -> int:
    """Seals the accounts of rows written before accounts were sealed (their clear value
    is replaced by the masked one). Run at start-up; idempotent; returns how many rows."""
    done = 0
    while True:
        with deps.uow() as uow:
            ws = uow.repo(Withdrawal).many(account_sealed=None, limit=LEGACY_BATCH_MAX)
            ps = [p for p in uow.repo(Payment).many(recipient_type=RecipientType.EXTERNAL.value,
                                                    recipient_account_sealed=None,
                                                    limit=LEGACY_BATCH_MAX)
                  if p.recipient_bank is not None]
            if not ws and not ps:
                break
            for w in ws:
                account = str(w.bank["account"])
                uow.repo(Withdrawal).update(dataclasses.replace(
                    w, bank=masked(w.bank),
                    account_sealed=seal(deps, account, withdrawal_context(w.id))))
            for p in ps:
                assert p.recipient_bank is not None
                account = account_in(p.recipient_bank)
                uow.repo(Payment).update(dataclasses.replace(
                    p, recipient_bank=masked(p.recipient_bank),
                    recipient_account_sealed=seal(deps, account, payment_context(p.id))))
            uow.commit()
        done += len(ws) + len(ps)
    if done:
        log.info("sealed the bank account numbers of %d earlier records", done)
    return done
