"""History queries and exports (Q1, Q2) and the printable payment receipt.

The filtering runs in SQL behind the `HistoryStore` port (adapters/history.py, wired by
the composition root as `Deps.history`); this module decides whose rows the
caller may see and bounds every page and export.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Protocol

from corridor.platform.domain import history as dom
from corridor.platform.domain.errors import Err, forbidden, not_found
from corridor.platform.domain.history import Cursor, Filters, HistoryRow, Scope
from corridor.platform.domain.identity import User
from corridor.platform.domain.orgs import Organisation
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm, UserKind, org_allows
from corridor.platform.domain.transfers import Transfer
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services.access import member_role, require_org
from corridor.platform.services.ports import Deps, UnitOfWork

EXPORT_FETCH_ROWS = 1000  # rows per database round trip while an export streams


class HistoryStore(Protocol):
    """The history rows of a scope, filtered and ordered (created_ms desc, id) in SQL."""

    def page(self, uow: UnitOfWork, scope: Scope, f: Filters, after: Cursor | None,
             limit: int) -> list[HistoryRow]: ...

    def count(self, uow: UnitOfWork, scope: Scope, f: Filters, cap: int) -> int:
        """How many rows match, counting no further than `cap`."""
        ...


def _store(deps: Deps) -> HistoryStore:
    return deps.history


def _scope(uow: UnitOfWork, who: Principal, org_id: str | None) -> Scope:
    if org_id is not None:
        require_org(uow, who, org_id, Perm.ORG_READ)
        return Scope(owner_type="org", owner_id=org_id)
    if who.kind is not UserKind.CUSTOMER:
        raise forbidden("the history is a customer's own")
    return Scope(owner_type="user", owner_id=who.user_id)


def page(deps: Deps, who: Principal, f: Filters, *, org_id: str | None = None,
         cursor: str | None = None,
         limit: int = dom.PAGE_DEFAULT) -> tuple[list[HistoryRow], str | None]:
    """One page of the caller's (or an organisation's) history and the cursor of the next
    page (None on the last)."""
    after = dom.decode_cursor(cursor) if cursor else None
    limit = max(1, min(limit, dom.PAGE_MAX))
    with deps.uow() as uow:
        scope = _scope(uow, who, org_id)
        rows = _store(deps).page(uow, scope, f, after, limit + 1)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, dom.encode_cursor(Cursor(created_ms=rows[-1].created_ms, id=rows[-1].id))


def export(deps: Deps, who: Principal, f: Filters, *,
           org_id: str | None = None) -> Iterator[HistoryRow]:
    """Every matching row, newest first, fetched page by page as the caller consumes them.
    Access and the bound are checked now, before the first row is produced, so a refusal
    is an error response rather than a truncated file."""
    with deps.uow() as uow:
        scope = _scope(uow, who, org_id)
        total = _store(deps).count(uow, scope, f, dom.EXPORT_ROWS_MAX + 1)
    if total > dom.EXPORT_ROWS_MAX:
        raise Err.EXPORT_TOO_LARGE.error(f"more than {dom.EXPORT_ROWS_MAX} rows match: "
                                         "narrow the filters (e.g. the time range)")
    return _rows(deps, scope, f)


def _rows(deps: Deps, scope: Scope, f: Filters) -> Iterator[HistoryRow]:
    after: Cursor | None = None
    produced = 0
    while produced < dom.EXPORT_ROWS_MAX:
        with deps.uow() as uow:
            rows = _store(deps).page(uow, scope, f, after,
                                     min(EXPORT_FETCH_ROWS, dom.EXPORT_ROWS_MAX - produced))
        yield from rows
        produced += len(rows)
        if len(rows) < EXPORT_FETCH_ROWS:
            return
        after = Cursor(created_ms=rows[-1].created_ms, id=rows[-1].id)


# --- the printable receipt ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Receipt:
    """What a payment's receipt shows: the payment, its transfer (the on-chain facts as
    far as they exist) and the parties' names and addresses."""

    payment: Payment
    transfer: Transfer | None
    sender_name: str
    sender_address: str | None
    recipient_address: str | None


def receipt(deps: Deps, who: Principal, payment_id: str) -> Receipt:
    """The receipt of a payment the caller sent (or their organisation did, ORG_READ) or
    received; anyone else gets NOT_FOUND."""
    with deps.uow() as uow:
        p = uow.repo(Payment).get(payment_id[:64])
        if p is None or not _may_see(uow, who, p):
            raise not_found("payment")
        sender_wallet = uow.repo(Wallet).get(p.sender_wallet_id)
        recipient_wallet = (uow.repo(Wallet).get(p.recipient_wallet_id)
                            if p.recipient_wallet_id else None)
        t = uow.repo(Transfer).get(p.transfer_id) if p.transfer_id else None
        return Receipt(
            # the verified name where the sender had one: a display name is chosen freely
            payment=p, transfer=t,
            sender_name=p.sender_name or _owner_name(uow, p.owner_type, p.owner_id),
            sender_address=sender_wallet.address if sender_wallet else None,
            recipient_address=p.recipient_address or (
                recipient_wallet.address if recipient_wallet else None),
        )


def _may_see(uow: UnitOfWork, who: Principal, p: Payment) -> bool:
    if _is_party(uow, who, p.owner_type, p.owner_id):
        return True
    if p.recipient_user_id is not None and p.recipient_user_id == who.user_id:
        return True
    if p.recipient_wallet_id is not None:
        w = uow.repo(Wallet).get(p.recipient_wallet_id)
        return w is not None and w.proven and _is_party(uow, who, w.owner_type, w.owner_id)
    return False


def _is_party(uow: UnitOfWork, who: Principal, owner_type: str, owner_id: str) -> bool:
    if owner_type == "org":
        return org_allows(member_role(uow, owner_id, who.user_id), Perm.ORG_READ)
    return owner_id == who.user_id


def _owner_name(uow: UnitOfWork, owner_type: str, owner_id: str) -> str:
    if owner_type == "org":
        org = uow.repo(Organisation).get(owner_id)
        return org.name if org else ""
    user = uow.repo(User).get(owner_id)
    return user.name if user else ""
