"""Merchant use cases (issue 17, P6): an organisation's merchant account, checkout links
and their QR codes, orders, refunds tied to an order, and the daily settlement report.

A checkout is a link payment request whose reference is the order's (services/
collections.py does the paying, exactly once, and sends `checkout.paid` when the payment
is credited). A refund is a payment from the merchant back to the wallet that paid the
order, made through payments.create (screened, limited, idempotent like any payment): the
existing refund machinery (services/refunds.py) is the payer's request reviewed by staff,
which does not fit a merchant giving money back of its own accord. The refund is first
reserved against the order under the order's row lock, so refunds never add up to more
than was paid, even when two are asked at once.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

import segno

from corridor.platform.domain import collections as cdom
from corridor.platform.domain import idempotency, money
from corridor.platform.domain import merchants as dom
from corridor.platform.domain.collections import CollectionRequest, NewRequest, RequestStatus
from corridor.platform.domain.errors import Err, PlatformError, Problems, not_found
from corridor.platform.domain.merchants import (
    Merchant,
    MerchantRefund,
    Order,
    RefundState,
    SettlementLine,
)
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.domain.wallets import OwnerType, Wallet
from corridor.platform.services import collections, payments
from corridor.platform.services.access import require_org
from corridor.platform.services.ports import Deps, UnitOfWork

CHECKOUT_DAYS = 30  # a checkout link's due date when none is given
QR_SCALE = 4
SETTLEMENT_ROWS_MAX = 10_000  # orders or refunds of one merchant in one day's report


# --- the account ------------------------------------------------------------------------------


def open_account(deps: Deps, who: Principal, org_id: str, name: str) -> tuple[Merchant, bool]:
    """The organisation's merchant account (one each; the same again returns it)."""
    clean = " ".join(name.split())
    if not clean or len(clean) > dom.NAME_LEN_MAX or not clean.isprintable():
        raise Err.INVALID_FIELDS.error(
            fields={"name": f"1 to {dom.NAME_LEN_MAX} printable characters"})

    def work(uow: UnitOfWork) -> tuple[Merchant, bool]:
        require_org(uow, who, org_id, Perm.ORG_MANAGE)
        existing = uow.repo(Merchant).one(org_id=org_id)
        if existing is not None:
            if existing.name != clean:
                raise Err.MERCHANT_EXISTS.error()
            return existing, False
        m = Merchant(id=deps.rand.new_id(), org_id=org_id, name=clean,
                     created_by=who.user_id, created_ms=deps.clock.now_ms())
        uow.repo(Merchant).add(m)
        uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="merchant.open",
                  object_type="merchant", object_id=m.id, after={"org_id": org_id,
                                                                 "name": clean})
        return m, True

    return deps.write(work)


def _merchant(uow: UnitOfWork, who: Principal, org_id: str, perm: Perm) -> Merchant:
    require_org(uow, who, org_id, perm)
    m = uow.repo(Merchant).one(org_id=org_id)
    if m is None:
        raise Err.NO_MERCHANT.error()
    return m


def account(deps: Deps, who: Principal, org_id: str) -> Merchant:
    with deps.reader() as uow:
        return _merchant(uow, who, org_id, Perm.ORG_READ)


# --- checkouts and orders ---------------------------------------------------------------------


def create_checkout(deps: Deps, who: Principal, org_id: str, *, order_ref: str, currency: str,
                    amount: str, description: str = "", due_date: str | None = None
                    ) -> tuple[CollectionRequest, bool]:
    """A checkout link for an order (idempotent on the order reference)."""
    with deps.reader() as uow:
        m = _merchant(uow, who, org_id, Perm.PAY_INITIATE)
    if due_date is None:
        day = deps.clock.now_ms() // cdom.DAY_MS + CHECKOUT_DAYS
        due_date = dt.datetime.fromtimestamp(day * 86_400, dt.UTC).date().isoformat()
    new = NewRequest(currency=currency, amount=amount, due_date=due_date, reference=order_ref,
                     description=description)
    return collections.create(deps, who, new, org_id=org_id, link=True, merchant_id=m.id)


def orders(deps: Deps, who: Principal, org_id: str, *, limit: int = 50, offset: int = 0
           ) -> tuple[list[CollectionRequest], int]:
    with deps.reader() as uow:
        m = _merchant(uow, who, org_id, Perm.ORG_READ)
    return collections.sent(deps, who, org_id=org_id, merchant_id=m.id, limit=limit,
                            offset=offset)


def order(deps: Deps, who: Principal, org_id: str, request_id: str
          ) -> tuple[CollectionRequest, list[MerchantRefund]]:
    with deps.reader() as uow:
        m = _merchant(uow, who, org_id, Perm.ORG_READ)
        r = uow.repo(CollectionRequest).get(request_id) if len(request_id) <= 64 else None
        if r is None or r.merchant_id != m.id:
            raise not_found("order")
        return r, uow.repo(MerchantRefund).many(request_id=r.id, order_by="created_ms")


def checkout_path(r: CollectionRequest) -> str:
    """Where the public checkout page of an order is (relative to the site)."""
    return f"/checkout/{r.link_token}"


def qr_svg(url: str) -> str:
    """The link as a QR code, an inline SVG element (no script, no external reference)."""
    return str(segno.make(url, error="m").svg_inline(scale=QR_SCALE, title="QR"))


# --- refunds ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class _Reserved:
    refund: MerchantRefund
    order: CollectionRequest
    payer_address: str


def refund(deps: Deps, who: Principal, org_id: str, request_id: str, *, amount: str,
           reason: str, idempotency_key: str | None) -> MerchantRefund:
    """Gives back `amount` of a paid order to the wallet that paid it (full or partial;
    never more than paid less earlier refunds: REFUND_ABOVE_PAID). Idempotent on the key:
    a retry returns the first refund (and finishes it if a crash interrupted it)."""
    problems = Problems()
    key = idempotency.check_key(idempotency_key, problems)
    reason = reason.strip()
    if len(reason) > dom.REASON_LEN_MAX or not reason.isprintable():
        problems.add("reason", f"at most {dom.REASON_LEN_MAX} printable characters")
    idempotency.raise_if_any(problems)
    held = deps.write(lambda uow: _reserve(deps, uow, who, org_id, request_id, amount,
                                           reason, key))
    r = held.refund
    if r.state != RefundState.PENDING:
        return r
    req = payments.PaymentRequest(
        recipient={"type": "address", "address": held.payer_address}, asset=r.currency,
        amount=money.format_minor(r.amount_minor, r.currency),
        memo=f"refund {held.order.reference}", org_id=org_id)
    try:
        p, _ = payments.create(deps, who, req, f"mrefund-{r.id}")
    except PlatformError:
        deps.write(lambda uow: _finish(deps, uow, r.id, None))
        raise
    return deps.write(lambda uow: _finish(deps, uow, r.id, p))


def _reserve(deps: Deps, uow: UnitOfWork, who: Principal, org_id: str, request_id: str,
             amount: str, reason: str, key: str) -> _Reserved:
    m = _merchant(uow, who, org_id, Perm.PAY_INITIATE)
    o = uow.repo(CollectionRequest).get(request_id, for_update=True) \
        if len(request_id) <= 64 else None
    if o is None or o.merchant_id != m.id:
        raise not_found("order")
    if o.status != RequestStatus.PAID or o.settled_ms is None or o.payment_id is None:
        raise Err.ORDER_NOT_PAID.error()
    paid = uow.repo(Payment).get(o.payment_id)
    assert paid is not None
    payer = uow.repo(Wallet).get(paid.sender_wallet_id)
    assert payer is not None
    problems = Problems()
    try:
        amount_minor = money.parse_major(amount, o.currency)
    except PlatformError as exc:
        raise Err.INVALID_FIELDS.error(fields={"amount": exc.message}) from None
    if amount_minor <= 0:
        problems.add("amount", "more than zero")
    problems.raise_if_any()
    existing = uow.repo(MerchantRefund).one(merchant_id=m.id, idempotency_key=key)
    if existing is not None:
        if (existing.request_id, existing.amount_minor) != (o.id, amount_minor):
            raise Err.IDEMPOTENCY_KEY_REUSED.error()
        return _Reserved(refund=existing, order=o, payer_address=payer.address)
    earlier = uow.repo(MerchantRefund).many(request_id=o.id)
    left = dom.refundable_minor(o.amount_minor, earlier)
    if amount_minor > left or len(earlier) >= dom.REFUNDS_PER_ORDER_MAX:
        raise Err.REFUND_ABOVE_PAID.error(
            fields={"amount": f"at most {money.format_minor(left, o.currency)} {o.currency}"})
    now = deps.clock.now_ms()
    r = MerchantRefund(id=deps.rand.new_id(), merchant_id=m.id, request_id=o.id,
                       idempotency_key=key, currency=o.currency, amount_minor=amount_minor,
                       reason=reason, state=RefundState.PENDING, payment_id=None, fee_minor=0,
                       created_by=who.user_id, created_ms=now, updated_ms=now)
    uow.repo(MerchantRefund).add(r)
    return _Reserved(refund=r, order=o, payer_address=payer.address)


def _finish(deps: Deps, uow: UnitOfWork, refund_id: str, p: Payment | None) -> MerchantRefund:
    r = uow.repo(MerchantRefund).get(refund_id, for_update=True)
    assert r is not None
    if r.state != RefundState.PENDING:
        return r
    now = deps.clock.now_ms()
    if p is None or p.status in collections.UNPAID:
        done = dataclasses.replace(r, state=RefundState.FAILED,
                                   payment_id=p.id if p else None, updated_ms=now)
    else:
        done = dataclasses.replace(r, state=RefundState.SENT, payment_id=p.id,
                                   fee_minor=p.fee_minor, updated_ms=now)
    uow.repo(MerchantRefund).update(done)
    uow.audit(actor_id=r.created_by, actor_kind="customer", action=f"merchant.refund_{done.state}",
              object_type="payment_request", object_id=r.request_id,
              after={"refund_id": r.id, "amount": money.format_minor(r.amount_minor, r.currency),
                     "currency": r.currency, "payment_id": done.payment_id})
    return done


# --- the daily settlement report -----------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Settlement:
    merchant: Merchant
    day: str  # YYYY-MM-DD (UTC)
    orders: tuple[Order, ...]
    refunds: tuple[MerchantRefund, ...]
    lines: tuple[SettlementLine, ...]


def settlement(deps: Deps, who: Principal, org_id: str, day: str) -> Settlement:
    """One UTC day: the orders whose payment was credited that day, the refunds made that
    day, and per currency gross, refunds, fees and net."""
    start = cdom.day_ms(day)
    if start is None:
        raise Err.INVALID_FIELDS.error(fields={"day": "a date, YYYY-MM-DD"})
    end = start + cdom.DAY_MS
    with deps.reader() as uow:
        m = _merchant(uow, who, org_id, Perm.ORG_READ)
        paid = uow.repo(CollectionRequest).many(
            requester_type=OwnerType.ORG.value, requester_id=org_id, merchant_id=m.id,
            above={"settled_ms": start - 1}, below={"settled_ms": end}, order_by="settled_ms",
            limit=SETTLEMENT_ROWS_MAX)
        refunds = uow.repo(MerchantRefund).many(
            merchant_id=m.id, above={"created_ms": start - 1}, below={"created_ms": end},
            order_by="created_ms", limit=SETTLEMENT_ROWS_MAX)
    orders_ = tuple(Order(reference=r.reference, currency=r.currency,
                          amount_minor=r.amount_minor, paid_ms=r.settled_ms or 0,
                          payment_id=r.payment_id or "")
                    for r in paid if r.status == RequestStatus.PAID)
    sent = tuple(r for r in refunds if r.state != RefundState.FAILED)
    return Settlement(merchant=m, day=day.strip(), orders=orders_, refunds=sent,
                      lines=dom.settle(orders_, sent))


def _cell(text: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def settlement_csv(s: Settlement) -> str:
    """The report as CSV: one row per currency (amounts as exact decimal text)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["merchant", "day", "currency", "orders", "gross", "refunds", "refunded",
                "fees", "net"])
    for line in s.lines:
        c = line.currency
        w.writerow([_cell(s.merchant.name), s.day, c, line.orders,
                    money.format_minor(line.gross_minor, c), line.refunds,
                    money.format_minor(line.refunds_minor, c),
                    money.format_minor(line.fees_minor, c),
                    money.format_minor(line.net_minor, c)])
    return out.getvalue()
