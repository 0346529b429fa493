"""Firm FX quotes (requirement F2, SEP-38 semantics): a price and fee that hold until the
quote expires, for one payment only. Pricing is in domain/fx.py; this module finds the
rate, validates the request and keeps the quote record."""

from __future__ import annotations

import dataclasses

from corridor.platform.domain import fx, idempotency, money
from corridor.platform.domain.errors import (
    Err,
    PlatformError,
    Problems,
    forbidden,
    not_found,
)
from corridor.platform.domain.payments import Quote, QuoteStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import MONEY_PERMS, Perm, UserKind
from corridor.platform.domain.wallets import OwnerType
from corridor.platform.services import idempotency as replay
from corridor.platform.services import rates
from corridor.platform.services.access import acting_owner, require_org, require_person
from corridor.platform.services.ports import Deps, UnitOfWork


def owner_of(uow: UnitOfWork, who: Principal, org_id: str | None, perm: Perm) -> tuple[str, str]:
    """Whose money the caller prices or moves (`perm` in MONEY_PERMS: the standing policy
    of access.acting_owner applies), or reads: their own, or an organisation's (`perm`)."""
    if perm in MONEY_PERMS:
        return acting_owner(uow, who, org_id, perm)
    if org_id is not None:
        require_org(uow, who, org_id, perm)
        return OwnerType.ORG, org_id
    if who.kind is not UserKind.CUSTOMER:
        raise forbidden("only customers make payments")
    require_person(who)
    return OwnerType.USER, who.user_id


def may_read(uow: UnitOfWork, who: Principal, owner_type: str, owner_id: str) -> bool:
    if owner_type == OwnerType.USER:
        return owner_id == who.user_id and who.key is None
    try:
        require_org(uow, who, owner_id, Perm.ORG_READ)
    except PlatformError:
        return False
    return True


def price(deps: Deps, *, sell_asset: str, buy_asset: str, sell_amount: str | None,
          buy_amount: str | None) -> fx.Priced:
    """Prices a request; every problem with it is reported at once (INVALID_FIELDS)."""
    problems = Problems()
    for field, code in (("sell_asset", sell_asset), ("buy_asset", buy_asset)):
        if not money.is_currency(code):
            problems.add(field, f"one of {', '.join(money.CURRENCIES)}")
    if (sell_amount is None) == (buy_amount is None):
        problems.add("sell_amount", "give exactly one of sell_amount and buy_amount")
    amount = 0
    if not problems:
        field, text, code = (("sell_amount", sell_amount, sell_asset) if sell_amount is not None
                             else ("buy_amount", buy_amount, buy_asset))
        try:
            amount = money.parse_major(text, code, field)
        except PlatformError as exc:
            problems.add(field, exc.message)
    problems.raise_if_any()
    mid = rates.mid(deps, sell_asset, buy_asset)
    terms = rates.terms(deps)
    if sell_amount is not None:
        return fx.for_sell(amount, sell_asset, buy_asset, mid, terms)
    return fx.for_buy(amount, sell_asset, buy_asset, mid, terms)


def create(deps: Deps, who: Principal, *, sell_asset: str, buy_asset: str,
           sell_amount: str | None = None, buy_amount: str | None = None,
           org_id: str | None = None, idempotency_key: str | None) -> Quote:
    """A firm quote for the caller (or their organisation: Perm.PAY_INITIATE). A retry
    under the same Idempotency-Key returns the first quote (as it stands now)."""
    key = idempotency.check_key(idempotency_key)
    asked = {"sell_asset": sell_asset, "buy_asset": buy_asset, "sell_amount": sell_amount,
             "buy_amount": buy_amount, "org_id": org_id}
    with deps.uow() as uow:
        owner_type, owner_id = owner_of(uow, who, org_id, Perm.PAY_INITIATE)
        first = replay.prior(uow, who.user_id, key, "quote.create", asked)
        if first is not None:
            before = uow.repo(Quote).get(first)
            assert before is not None, "a remembered quote is never deleted"
            return shown(before, deps.clock.now_ms())
        if sell_asset == buy_asset:
            raise Err.SAME_CURRENCY.error("a same-currency transfer needs no quote",
                                          {"buy_asset": "must differ from sell_asset"})
        priced = price(deps, sell_asset=sell_asset, buy_asset=buy_asset,
                       sell_amount=sell_amount, buy_amount=buy_amount)
        now = deps.clock.now_ms()
        terms = rates.terms(deps)
        q = Quote(
            id=deps.rand.new_id(), owner_type=OwnerType(owner_type), owner_id=owner_id,
            sell_code=sell_asset, buy_code=buy_asset, sell_amount_minor=priced.sell_minor,
            buy_amount_minor=priced.buy_minor, fee_minor=priced.fee_minor,
            fee_breakdown=priced.fee_breakdown(terms), price=str(priced.price),
            rate_source=rates.source(deps).name, expires_ms=now + terms.quote_ttl_ms,
            status=QuoteStatus.OPEN, payment_id=None, created_ms=now,
        )
        uow.repo(Quote).add(q)
        replay.remember(deps, uow, who.user_id, key, "quote.create", asked, q.id)
        uow.commit()
    return q


def shown(q: Quote, now_ms: int) -> Quote:
    """The quote as the customer sees it now: an open quote past its time is expired."""
    if q.status == QuoteStatus.OPEN and now_ms >= q.expires_ms:
        return dataclasses.replace(q, status=QuoteStatus.EXPIRED)
    return q


def get(deps: Deps, who: Principal, quote_id: str) -> Quote:
    with deps.uow() as uow:
        q = uow.repo(Quote).get(quote_id[:64])
        if q is None or not may_read(uow, who, q.owner_type, q.owner_id):
            raise not_found("quote")
    return shown(q, deps.clock.now_ms())


def take(deps: Deps, uow: UnitOfWork, quote_id: str, owner_type: str, owner_id: str) -> Quote:
    """The owner's quote, locked, if it can still be executed: open and not expired."""
    q = uow.repo(Quote).get(quote_id[:64], for_update=True)
    if q is None or (q.owner_type, q.owner_id) != (owner_type, owner_id):
        raise not_found("quote")
    if q.status == QuoteStatus.USED:
        raise Err.QUOTE_USED.error()
    if shown(q, deps.clock.now_ms()).status == QuoteStatus.EXPIRED:
        raise Err.QUOTE_EXPIRED.error()
    return q


def use(uow: UnitOfWork, q: Quote, payment_id: str) -> None:
    uow.repo(Quote).update(dataclasses.replace(q, status=QuoteStatus.USED,
                                               payment_id=payment_id))
