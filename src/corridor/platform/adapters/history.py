"""The history query in SQL (implements services.query.HistoryStore).

Each record type contributes a `Source`: given the scope and the wanted types, a SELECT
of the `COLUMNS` below (or None when it has nothing to add). The sources are combined
with UNION ALL, and filters, order and the page limit apply to the combination, so the
database does the work (it pushes the predicates into every branch). Deposits and
withdrawals join by registering their source with `register_source`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from corridor.platform.adapters.tables_core import users
from corridor.platform.adapters.tables_orgs import organisations
from corridor.platform.adapters.tables_payments import payments
from corridor.platform.adapters.tables_rails import deposits, withdrawals
from corridor.platform.adapters.tables_refunds import refunds
from corridor.platform.adapters.tables_wallets import wallets
from corridor.platform.domain.history import Cursor, Filters, HistoryRow, RowType, Scope
from corridor.platform.domain.payments import PaymentKind, PaymentStatus
from corridor.platform.services.ports import UnitOfWork

Select = sa.Select[Any]
Source = Callable[[Scope, frozenset[str]], Select | None]

_S, _I = sa.String(), sa.BigInteger()
COLUMNS: dict[str, sa.types.TypeEngine[Any]] = {
    "type": _S, "id": _S, "created_ms": _I, "status": _S, "currency": _S,
    "amount_minor": _I, "fee_minor": _I, "counter_currency": _S, "counter_amount_minor": _I,
    "rate": _S, "counterparty": _S, "counterparty_address": _S, "uetr": _S, "tx_id": _S,
    "height": _I, "payment_id": _S,
}
assert tuple(COLUMNS) == tuple(f for f in HistoryRow.__dataclass_fields__)

# A payment is shown to its recipient once it reached the chain: never a draft or a
# payment still under review that might never be sent.
RECEIVED_STATES = (PaymentStatus.INCLUDED, PaymentStatus.FINAL, PaymentStatus.CREDITED,
                   PaymentStatus.REFUND_REQUESTED, PaymentStatus.REFUNDED)
_SENT_TYPES = {PaymentKind.REMITTANCE.value, PaymentKind.TRANSFER.value,
               PaymentKind.EXCHANGE.value}


def columns(**values: Any) -> list[sa.Label[Any]]:
    """The SELECT list of a source, in `COLUMNS` order; missing columns are typed NULLs
    (PostgreSQL needs a type for each column of a UNION)."""
    unknown = set(values) - set(COLUMNS)
    assert not unknown, f"not history columns: {unknown}"
    out = []
    for name, t in COLUMNS.items():
        value = values.get(name, sa.null())
        # Literals and NULLs get an explicit type; real columns keep theirs (and indexes).
        if isinstance(value, sa.BindParameter | sa.Null):
            value = sa.cast(value, t)
        out.append(value.label(name))
    return out


def _owned_by(scope: Scope, owner_type: sa.ColumnElement[Any],
              owner_id: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    return sa.and_(owner_type == scope.owner_type, owner_id == scope.owner_id)


def _sent_payments(scope: Scope, types: frozenset[str]) -> Select | None:
    kinds = _SENT_TYPES & types if types else _SENT_TYPES
    if not kinds:
        return None
    p = payments
    to_wallet = wallets.alias("to_wallet")
    return (sa.select(*columns(
        type=p.c.kind, id=p.c.id, created_ms=p.c.created_ms, status=p.c.status,
        currency=p.c.sell_code, amount_minor=p.c.sell_amount_minor, fee_minor=p.c.fee_minor,
        counter_currency=p.c.buy_code, counter_amount_minor=p.c.buy_amount_minor,
        rate=p.c.price, counterparty=p.c.recipient_name,
        counterparty_address=sa.func.coalesce(p.c.recipient_address, to_wallet.c.address),
        uetr=p.c.uetr, tx_id=p.c.tx_id, height=p.c.height, payment_id=p.c.id))
        .select_from(p.outerjoin(to_wallet, to_wallet.c.id == p.c.recipient_wallet_id))
        .where(_owned_by(scope, p.c.owner_type, p.c.owner_id), p.c.kind.in_(sorted(kinds))))


def _receipts(scope: Scope, types: frozenset[str]) -> Select | None:
    if types and RowType.RECEIPT not in types:
        return None
    p = payments
    to_wallet, from_wallet = wallets.alias("to_wallet"), wallets.alias("from_wallet")
    # Receipts follow the wallet's proven owner only (issue 14/5).
    mine = sa.select(wallets.c.id).where(_owned_by(scope, wallets.c.owner_type,
                                                   wallets.c.owner_id), wallets.c.proven)
    to_me: sa.ColumnElement[bool] = p.c.recipient_wallet_id.in_(mine.scalar_subquery())
    if scope.owner_type == "user":
        to_me = sa.or_(to_me, p.c.recipient_user_id == scope.owner_id)
    sender_org = sa.and_(p.c.owner_type == "org", organisations.c.id == p.c.owner_id)
    sender_user = sa.and_(p.c.owner_type == "user", users.c.id == p.c.owner_id)
    return (sa.select(*columns(
        type=sa.literal(RowType.RECEIPT.value), id=p.c.id, created_ms=p.c.created_ms,
        status=p.c.status, currency=p.c.buy_code, amount_minor=p.c.buy_amount_minor,
        fee_minor=sa.literal(0), counter_currency=p.c.sell_code,
        counter_amount_minor=p.c.sell_amount_minor, rate=p.c.price,
        # the sender's verified name where they had one: a display name is chosen freely
        counterparty=sa.func.coalesce(p.c.sender_name, organisations.c.name, users.c.name),
        counterparty_address=from_wallet.c.address, uetr=p.c.uetr, tx_id=p.c.tx_id,
        height=p.c.height, payment_id=p.c.id))
        .select_from(p.outerjoin(from_wallet, from_wallet.c.id == p.c.sender_wallet_id)
                     .outerjoin(to_wallet, to_wallet.c.id == p.c.recipient_wallet_id)
                     .outerjoin(organisations, sender_org).outerjoin(users, sender_user))
        .where(to_me, sa.not_(_owned_by(scope, p.c.owner_type, p.c.owner_id)),
               p.c.status.in_([s.value for s in RECEIVED_STATES])))


def _refunds(scope: Scope, types: frozenset[str]) -> Select | None:
    if types and RowType.REFUND not in types:
        return None
    r, p = refunds, payments
    to_wallet = wallets.alias("to_wallet")
    return (sa.select(*columns(
        type=sa.literal(RowType.REFUND.value), id=r.c.id, created_ms=r.c.created_ms,
        status=r.c.status, currency=r.c.code, amount_minor=r.c.amount_minor,
        fee_minor=sa.literal(0), counter_currency=r.c.recover_code,
        counter_amount_minor=r.c.recover_minor, counterparty=p.c.recipient_name,
        counterparty_address=sa.func.coalesce(p.c.recipient_address, to_wallet.c.address),
        uetr=p.c.uetr, tx_id=r.c.tx_id, height=r.c.height, payment_id=r.c.payment_id))
        .select_from(r.join(p, p.c.id == r.c.payment_id)
                     .outerjoin(to_wallet, to_wallet.c.id == p.c.recipient_wallet_id))
        .where(_owned_by(scope, r.c.owner_type, r.c.owner_id)))


def _deposits(scope: Scope, types: frozenset[str]) -> Select | None:
    if types and RowType.DEPOSIT not in types:
        return None
    d = deposits
    # What was credited once the rail reported it; what was announced until then.
    # The bank reference is searchable as the counterparty "address".
    return (sa.select(*columns(
        type=sa.literal(RowType.DEPOSIT.value), id=d.c.id, created_ms=d.c.created_ms,
        status=d.c.status, currency=d.c.currency,
        amount_minor=sa.func.coalesce(d.c.received_minor, d.c.amount_minor),
        fee_minor=sa.literal(0), counterparty=d.c.rail, counterparty_address=d.c.reference,
        uetr=d.c.uetr, tx_id=d.c.tx_id, height=d.c.height))
        .where(_owned_by(scope, d.c.owner_type, d.c.owner_id)))


def _withdrawals(scope: Scope, types: frozenset[str]) -> Select | None:
    if types and RowType.WITHDRAWAL not in types:
        return None
    w = withdrawals
    return (sa.select(*columns(
        type=sa.literal(RowType.WITHDRAWAL.value), id=w.c.id, created_ms=w.c.created_ms,
        status=w.c.status, currency=w.c.currency, amount_minor=w.c.amount_minor,
        fee_minor=sa.literal(0), counterparty=w.c.bank["name"].as_string(),
        counterparty_address=w.c.rail, uetr=w.c.uetr, tx_id=w.c.tx_id, height=w.c.height))
        .where(_owned_by(scope, w.c.owner_type, w.c.owner_id))
        .where(w.c.payment_id.is_(None)))  # a payment's payout: the payment's own row


SOURCES: list[Source] = [_sent_payments, _receipts, _refunds, _deposits, _withdrawals]


def register_source(source: Source) -> None:
    """Adds a record type to the history (deposits, withdrawals, ...)."""
    if source not in SOURCES:
        SOURCES.append(source)


def _filtered(scope: Scope, f: Filters) -> tuple[sa.Subquery, list[sa.ColumnElement[bool]]] \
        | None:
    selects = [s for s in (src(scope, f.types) for src in SOURCES) if s is not None]
    if not selects:
        return None
    h = (sa.union_all(*selects) if len(selects) > 1 else selects[0]).subquery("h")
    c = h.c
    where: list[sa.ColumnElement[bool]] = []
    if f.types:
        where.append(c.type.in_(sorted(f.types)))
    if f.from_ms is not None:
        where.append(c.created_ms >= f.from_ms)
    if f.to_ms is not None:
        where.append(c.created_ms < f.to_ms)
    if f.currency is not None:
        where.append(c.currency == f.currency)
    if f.min_minor is not None:
        where.append(c.amount_minor >= f.min_minor)
    if f.max_minor is not None:
        where.append(c.amount_minor <= f.max_minor)
    if f.status is not None:
        where.append(c.status == f.status)
    if f.counterparty is not None:
        where.append(sa.or_(
            sa.func.lower(c.counterparty).contains(f.counterparty, autoescape=True),
            sa.func.lower(c.counterparty_address).contains(f.counterparty, autoescape=True)))
    if f.ref is not None:
        where.append(sa.or_(sa.func.lower(c.id) == f.ref, sa.func.lower(c.uetr) == f.ref,
                            sa.func.lower(c.tx_id) == f.ref,
                            sa.func.lower(c.payment_id) == f.ref))
    return h, where


def _execute(uow: UnitOfWork, statement: Any) -> Any:
    run: Callable[[Any], Any] = uow.execute  # type: ignore[attr-defined]  # SqlUnitOfWork
    return run(statement)


class SqlHistory:
    """services.query.HistoryStore over the platform's database."""

    def page(self, uow: UnitOfWork, scope: Scope, f: Filters, after: Cursor | None,
             limit: int) -> list[HistoryRow]:
        built = _filtered(scope, f)
        if built is None:
            return []
        h, where = built
        if after is not None:
            where = [*where, sa.or_(h.c.created_ms < after.created_ms,
                                    sa.and_(h.c.created_ms == after.created_ms,
                                            h.c.id > after.id))]
        q = sa.select(h).where(*where).order_by(h.c.created_ms.desc(), h.c.id).limit(limit)
        return [HistoryRow(**row._mapping) for row in _execute(uow, q)]

    def count(self, uow: UnitOfWork, scope: Scope, f: Filters, cap: int) -> int:
        built = _filtered(scope, f)
        if built is None:
            return 0
        h, where = built
        capped = sa.select(h.c.id).where(*where).limit(cap).subquery()
        return int(_execute(uow, sa.select(sa.func.count()).select_from(capped)).scalar_one())
