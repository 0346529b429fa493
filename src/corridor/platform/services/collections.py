"""Collections use cases (issue 17): payment requests created by a customer or an
organisation, seen and paid by the payer in one step (through payments.create: the one
business path of a payment), declined, cancelled, reminded, and matched to incoming
payments by reference. The rules are in domain/collections.py; merchants' checkouts are
link requests (services/merchants.py).

Paying exactly once: see the domain module's docstring (claim, pay under a key derived
from the request, record). The chain's outcome reaches `on_payment_transfer` (listed for
Purpose.PAYMENT in bootstrap.HANDLERS): a credited payment settles its request (the
`collection.paid` / `checkout.paid` webhook) or, not made from a request, is matched by
its memo to an open request of the recipient with that reference — the exact amount pays
it, another amount is reported to the requester and leaves the request open. A payment
that failed gives its request back to the open state.
"""

from __future__ import annotations

import dataclasses
import hmac
from typing import Any

from corridor.platform.domain import collections as dom
from corridor.platform.domain import money
from corridor.platform.domain.collections import (
    Channel,
    CollectionRequest,
    NewRequest,
    Reminder,
    RequestStatus,
)
from corridor.platform.domain.errors import Err, PlatformError, Problems, forbidden, not_found
from corridor.platform.domain.identity import User, UserStatus, normalise_email, normalise_phone
from corridor.platform.domain.merchants import Merchant
from corridor.platform.domain.notifications import SubjectType, Topic
from corridor.platform.domain.orgs import Organisation
from corridor.platform.domain.payments import Payment, PaymentStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm, UserKind
from corridor.platform.domain.transfers import Transfer
from corridor.platform.domain.wallets import OwnerType, Wallet
from corridor.platform.services import codes, mail_text, payment_recipients, payments, webhooks
from corridor.platform.services import notifications as inbox
from corridor.platform.services.access import acting_owner, require_org
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds

S = PaymentStatus
# A request whose payment ends in one of these is open again (its money did not arrive).
UNPAID = frozenset({S.FAILED, S.REJECTED, S.CANCELLED, S.EXPIRED, S.REFUNDED})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RequestView:
    """A request with the name its payer is shown (the requester's verified name, else
    the name on the account) and its payment, once there is one."""

    request: CollectionRequest
    requester_name: str
    payment: Payment | None = None


# --- who ----------------------------------------------------------------------------------


def _requester(uow: UnitOfWork, who: Principal, org_id: str | None) -> tuple[str, str]:
    """Whose requests the caller makes or manages: their own, or an organisation's they
    may initiate payments for (a request is the first half of a payment)."""
    return acting_owner(uow, who, org_id, Perm.PAY_INITIATE)


def _may_read_sent(uow: UnitOfWork, who: Principal, r: CollectionRequest) -> bool:
    if r.requester_type == OwnerType.USER:
        return r.requester_id == who.user_id
    try:
        require_org(uow, who, r.requester_id, Perm.ORG_READ)
    except PlatformError:
        return False
    return True


def requester_name(uow: UnitOfWork, r: CollectionRequest) -> str:
    """Who asks, as the payer sees them: a merchant's shop name, an organisation's name,
    or a customer's."""
    if r.merchant_id is not None:
        m = uow.repo(Merchant).get(r.merchant_id)
        return m.name if m is not None else ""
    if r.requester_type == OwnerType.ORG:
        org = uow.repo(Organisation).get(r.requester_id)
        return org.name if org is not None else ""
    user = uow.repo(User).get(r.requester_id)
    return user.name if user is not None else ""


def _view(uow: UnitOfWork, r: CollectionRequest) -> RequestView:
    p = uow.repo(Payment).get(r.payment_id) if r.payment_id else None
    return RequestView(request=r, requester_name=requester_name(uow, r), payment=p)


# --- create -------------------------------------------------------------------------------


def _payer(uow: UnitOfWork, new: NewRequest, problems: Problems) -> User | None:
    if new.payer_email:
        found = uow.repo(User).one(email=normalise_email(new.payer_email))
        field = "payer_email"
    else:
        try:
            phone = normalise_phone(new.payer_phone or "")
        except PlatformError:
            problems.add("payer_phone", "not a phone number")
            return None
        found = uow.repo(User).one(phone=phone)
        field = "payer_phone"
    if found is None or found.kind != UserKind.CUSTOMER or found.status != UserStatus.ACTIVE:
        problems.add(field, "no customer has these details")
        return None
    return found


def create(deps: Deps, who: Principal, new: NewRequest, *, org_id: str | None = None,
           link: bool = False, merchant_id: str | None = None
           ) -> tuple[CollectionRequest, bool]:
    """A new request (and whether it is new): to a customer named by e-mail or phone, or
    by `link`. Its reference is unique per requester, which makes the creation idempotent:
    the same request again returns the first; another with the same reference is refused
    (REFERENCE_TAKEN)."""
    now = deps.clock.now_ms()
    problems = Problems()
    checked = dom.check(new, now, problems, link=link)

    def work(uow: UnitOfWork) -> tuple[CollectionRequest, bool]:
        owner = _requester(uow, who, org_id)
        named = not link and bool(new.payer_email) != bool(new.payer_phone)
        payer = _payer(uow, new, problems) if named else None
        problems.raise_if_any()
        if payer is not None and (OwnerType.USER, payer.id) == owner:
            raise Err.INVALID_FIELDS.error("you cannot ask yourself for money",
                                           {"payer_email": "is you"})
        if payment_recipients.open_wallet(uow, *owner) is None:
            raise Err.NO_OPEN_WALLET.error("open a wallet to receive the money first")
        contact = (new.payer_email or new.payer_phone or "").strip() if not link else ""
        existing = uow.repo(CollectionRequest).one(requester_type=owner[0],
                                                   requester_id=owner[1],
                                                   reference=checked.reference)
        if existing is not None:
            same = (existing.amount_minor, existing.currency, existing.due_ms,
                    existing.payer_user_id, existing.merchant_id, existing.description) == (
                checked.amount_minor, checked.currency, checked.due_ms,
                payer.id if payer else None, merchant_id, checked.description)
            if not same:
                raise Err.REFERENCE_TAKEN.error(fields={"reference": "already used"})
            return existing, False
        r = CollectionRequest(
            id=deps.rand.new_id(), requester_type=owner[0], requester_id=owner[1],
            created_by=who.user_id, channel=Channel.LINK if link else Channel.USER,
            payer_user_id=payer.id if payer else None, payer_contact=contact[:254],
            link_token=deps.rand.token()[:64], merchant_id=merchant_id,
            reference=checked.reference, description=checked.description,
            currency=checked.currency, amount_minor=checked.amount_minor,
            due_ms=checked.due_ms, status=RequestStatus.OPEN, paying_owner_type=None,
            paying_owner_id=None, paying_user_id=None, claimed_ms=None, payment_id=None,
            paid_ms=None, settled_ms=None, matched=False, mismatch_payment_id=None,
            mismatch_note=None, reminded_before_ms=None, reminded_after_ms=None,
            created_ms=now, updated_ms=now)
        uow.repo(CollectionRequest).add(r)
        if payer is not None:
            _tell_payer(deps, uow, r, requester_name(uow, r), "")
        _audit(uow, who, "collection.create", r)
        return r, True

    return deps.write(work)


_MAIL = {"": mail_text.Mail.COLLECTION_REQUESTED, "before": mail_text.Mail.COLLECTION_DUE_SOON,
         "after": mail_text.Mail.COLLECTION_OVERDUE}


def _tell_payer(deps: Deps, uow: UnitOfWork, r: CollectionRequest, name: str,
                outcome: str) -> None:
    """The payer's inbox and e-mail/SMS (in their language): asked, due soon, overdue."""
    payer = uow.repo(User).get(r.payer_user_id) if r.payer_user_id else None
    if payer is not None:
        codes.notify_user(deps, uow, payer, _MAIL[outcome], requester=name,
                          amount=money.format_minor(r.amount_minor, r.currency),
                          currency=r.currency, reference=r.reference,
                          due=dom.day_text(r.due_ms))
    inbox.record(deps, uow, user_id=r.payer_user_id, topic=Topic.PAYMENT_REQUESTED,
                 subject_type=SubjectType.REQUEST, subject_id=r.id,
                 event=f"{r.id}:{outcome or 'asked'}",
                 params={"amount_minor": r.amount_minor, "currency": r.currency,
                         "reference": r.reference, "customer": name,
                         "outcome": outcome or None})


def _audit(uow: UnitOfWork, who: Principal | None, action: str, r: CollectionRequest,
           **extra: Any) -> None:
    uow.audit(actor_id=who.user_id if who else None,
              actor_kind=who.kind.value if who else "system", action=action,
              object_type="payment_request", object_id=r.id,
              after={"status": r.status, "reference": r.reference,
                     "amount": f"{money.format_minor(r.amount_minor, r.currency)} {r.currency}",
                     "payment_id": r.payment_id, **extra})


# --- read ---------------------------------------------------------------------------------


def sent(deps: Deps, who: Principal, *, org_id: str | None = None, limit: int = 50,
         offset: int = 0, merchant_id: str | None = None
         ) -> tuple[list[CollectionRequest], int]:
    """The requests the caller (or the organisation) made, newest first."""
    limit, offset = page_bounds(limit, offset, dom.PAGE_MAX)
    with deps.reader() as uow:
        if org_id is not None:
            require_org(uow, who, org_id, Perm.ORG_READ)
            owner = (OwnerType.ORG.value, org_id)
        elif who.kind is UserKind.CUSTOMER:
            owner = (OwnerType.USER.value, who.user_id)
        else:
            raise forbidden("only customers make payment requests")
        eq: dict[str, Any] = {"requester_type": owner[0], "requester_id": owner[1]}
        if merchant_id is not None:
            eq["merchant_id"] = merchant_id
        repo = uow.repo(CollectionRequest)
        return (repo.many(**eq, order_by="created_ms", descending=True, limit=limit, offset=offset),
                repo.count(**eq))


def incoming(deps: Deps, who: Principal, *, limit: int = 50, offset: int = 0
             ) -> tuple[list[RequestView], int]:
    """Requests addressed to the caller, newest first."""
    limit, offset = page_bounds(limit, offset, dom.PAGE_MAX)
    with deps.reader() as uow:
        repo = uow.repo(CollectionRequest)
        items = repo.many(payer_user_id=who.user_id, order_by="created_ms", descending=True,
                          limit=limit, offset=offset)
        return [_view(uow, r) for r in items], repo.count(payer_user_id=who.user_id)


def get(deps: Deps, who: Principal, request_id: str) -> RequestView:
    """A request its requester's side or its payer may see (anyone else: NOT_FOUND)."""
    with deps.reader() as uow:
        r = uow.repo(CollectionRequest).get(request_id) if len(request_id) <= 64 else None
        if r is None or not (r.payer_user_id == who.user_id or _may_read_sent(uow, who, r)):
            raise not_found("payment request")
        return _view(uow, r)


def by_link(deps: Deps, token: str) -> RequestView:
    """A request (or a checkout) as its link shows it to whoever holds the link."""
    with deps.reader() as uow:
        r = (uow.repo(CollectionRequest).one(link_token=token)
             if 20 <= len(token) <= 64 else None)
        if r is None or r.channel != Channel.LINK:
            raise not_found("payment request")
        return _view(uow, r)


# --- pay ----------------------------------------------------------------------------------


def payment_key(request_id: str) -> str:
    """The Idempotency-Key of the payment of a request: one payment per payer and request."""
    return f"request-{request_id}"


def pay(deps: Deps, who: Principal, request_id: str, *, org_id: str | None = None,
        token: str | None = None) -> Payment:
    """Pays the request in one step from the caller's wallet (or an organisation's they
    may pay from): the amount in the request's currency, the fee on top, the reference as
    the payment's memo. A link request is paid with its `token`. Exactly once: see the
    module docstring; a second payer is refused (REQUEST_BEING_PAID, REQUEST_NOT_OPEN)."""
    with deps.reader() as uow:
        r = uow.repo(CollectionRequest).get(request_id) if len(request_id) <= 64 else None
        if r is None or not _may_pay(who, r, token):
            raise not_found("payment request")
        owner = acting_owner(uow, who, org_id)
        if owner == (r.requester_type, r.requester_id):
            raise Err.INVALID_FIELDS.error("you cannot pay your own request",
                                           {"org_id": "is the requester"})
        wallet = payment_recipients.open_wallet(uow, r.requester_type, r.requester_id)
        if wallet is None:
            raise Err.RECIPIENT_CANNOT_RECEIVE.error("the requester has no open wallet")
    done, refusal = deps.write(lambda uow: _claim(deps, uow, r.id, owner, who))
    if refusal is not None:
        raise refusal
    if done is not None:
        return done
    req = payments.PaymentRequest(
        recipient={"type": "address", "address": wallet.address}, asset=r.currency,
        amount=money.format_minor(r.amount_minor, r.currency), memo=r.reference,
        org_id=org_id)
    try:
        p, _ = payments.create(deps, who, req, payment_key(r.id))
    except PlatformError:
        deps.write(lambda uow: _release(uow, r.id, owner))
        raise
    return deps.write(lambda uow: _paid(deps, uow, who, r.id, owner, p))


def _may_pay(who: Principal, r: CollectionRequest, token: str | None) -> bool:
    if r.channel == Channel.LINK:
        return token is not None and hmac.compare_digest(token.encode(), r.link_token.encode())
    return r.payer_user_id == who.user_id


def _claim(deps: Deps, uow: UnitOfWork, request_id: str, owner: tuple[str, str],
           who: Principal) -> tuple[Payment | None, PlatformError | None]:
    """Claims the open request for `owner` under its row lock; returns the payment when
    this owner already paid it (a retry), or the refusal to raise once what it found is
    written (a crashed claimant's payment recorded)."""
    repo = uow.repo(CollectionRequest)
    r = repo.get(request_id, for_update=True)
    assert r is not None
    claimant = (r.paying_owner_type, r.paying_owner_id)
    if r.status == RequestStatus.PAID and claimant == owner and r.payment_id is not None:
        return uow.repo(Payment).get(r.payment_id), None
    if r.status != RequestStatus.OPEN:
        raise Err.REQUEST_NOT_OPEN.error(f"this request is {r.status}")
    now = deps.clock.now_ms()
    if r.paying_owner_id is not None and claimant != owner:
        if not dom.claim_open(r, now):
            raise Err.REQUEST_BEING_PAID.error()
        # A claim left by a crash: its payment, if it was made, pays the request.
        made = uow.repo(Payment).one(owner_type=r.paying_owner_type,
                                     owner_id=r.paying_owner_id,
                                     idempotency_key=payment_key(r.id))
        if made is not None and made.status not in UNPAID:
            repo.update(_as_paid(r, made, now))
            return None, Err.REQUEST_NOT_OPEN.error("this request is paid")
    repo.update(dataclasses.replace(r, paying_owner_type=owner[0], paying_owner_id=owner[1],
                                    paying_user_id=who.user_id, claimed_ms=now,
                                    updated_ms=now))
    return None, None


def _release(uow: UnitOfWork, request_id: str, owner: tuple[str, str]) -> None:
    """The payment could not be made: the claim goes (the request stays open)."""
    repo = uow.repo(CollectionRequest)
    r = repo.get(request_id, for_update=True)
    assert r is not None
    if r.status == RequestStatus.OPEN and (r.paying_owner_type, r.paying_owner_id) == owner:
        repo.update(_unclaimed(r, r.updated_ms))


def _unclaimed(r: CollectionRequest, now_ms: int) -> CollectionRequest:
    return dataclasses.replace(r, paying_owner_type=None, paying_owner_id=None,
                               paying_user_id=None, claimed_ms=None, updated_ms=now_ms)


def _as_paid(r: CollectionRequest, p: Payment, now_ms: int, *,
             matched: bool = False) -> CollectionRequest:
    return dataclasses.replace(r, status=RequestStatus.PAID, payment_id=p.id, paid_ms=now_ms,
                               matched=matched, paying_owner_type=p.owner_type,
                               paying_owner_id=p.owner_id, paying_user_id=p.created_by,
                               updated_ms=now_ms)


def _paid(deps: Deps, uow: UnitOfWork, who: Principal, request_id: str,
          owner: tuple[str, str], p: Payment) -> Payment:
    """Records the payment on its request. Normally the caller holds the claim; a payer
    whose creation outlasted CLAIM_MS may find another's claim or payment instead: their
    money moved all the same, so it is recorded (a second payment as a reported
    mismatch), never dropped."""
    repo = uow.repo(CollectionRequest)
    r = repo.get(request_id, for_update=True)
    assert r is not None
    now = deps.clock.now_ms()
    if r.status == RequestStatus.PAID and r.payment_id == p.id:
        return p  # a retry
    mine = (r.paying_owner_type, r.paying_owner_id) == owner
    if p.status in UNPAID:  # refused at once (compliance): the request stays open
        if mine and r.status == RequestStatus.OPEN:
            repo.update(_unclaimed(r, now))
        return p
    if r.status != RequestStatus.OPEN:
        note = f"paid twice: payment {p.id} came after {r.payment_id or r.status}"
        flagged = dataclasses.replace(r, mismatch_payment_id=p.id, mismatch_note=note[:160],
                                      updated_ms=now)
        repo.update(flagged)
        _audit(uow, who, "collection.paid_twice", flagged, mismatch_payment_id=p.id)
        return p
    paid = _as_paid(r, p, now)
    repo.update(paid)
    _audit(uow, who, "collection.paid", paid)
    if p.status == S.CREDITED:  # the chain answered before we recorded it
        _settle(deps, uow, paid)
    return p


# --- decline, cancel ----------------------------------------------------------------------


def decline(deps: Deps, who: Principal, request_id: str) -> CollectionRequest:
    """The payer says no (a request addressed to them; open and not being paid)."""
    def work(uow: UnitOfWork) -> CollectionRequest:
        r = _locked(uow, request_id)
        if r is None or r.payer_user_id != who.user_id:
            raise not_found("payment request")
        return _close(deps, uow, who, r, RequestStatus.DECLINED)
    return deps.write(work)


def cancel(deps: Deps, who: Principal, request_id: str) -> CollectionRequest:
    """The requester withdraws it (open and not being paid)."""
    def work(uow: UnitOfWork) -> CollectionRequest:
        r = _locked(uow, request_id)
        if r is None or not _may_read_sent(uow, who, r):
            raise not_found("payment request")
        _requester(uow, who, r.requester_id if r.requester_type == OwnerType.ORG else None)
        return _close(deps, uow, who, r, RequestStatus.CANCELLED)
    return deps.write(work)


def _locked(uow: UnitOfWork, request_id: str) -> CollectionRequest | None:
    if len(request_id) > 64:
        return None
    return uow.repo(CollectionRequest).get(request_id, for_update=True)


def _close(deps: Deps, uow: UnitOfWork, who: Principal, r: CollectionRequest,
           status: RequestStatus) -> CollectionRequest:
    if r.status == status:
        return r  # a retry: done already
    if r.status != RequestStatus.OPEN:
        raise Err.REQUEST_NOT_OPEN.error(f"this request is {r.status}")
    now = deps.clock.now_ms()
    if r.paying_owner_id is not None and not dom.claim_open(r, now):
        raise Err.REQUEST_BEING_PAID.error()
    closed = dataclasses.replace(_unclaimed(r, now), status=status)
    uow.repo(CollectionRequest).update(closed)
    _audit(uow, who, f"collection.{status.value}", closed)
    if r.requester_type == OwnerType.ORG:
        webhooks.enqueue(deps, uow, r.requester_id, f"collection.{status.value}",
                         {"event": f"collection.{status.value}", "at_ms": now,
                          "request": event_view(closed)})
    return closed


# --- the chain's outcome: settle, match, reopen ---------------------------------------------


def on_payment_transfer(deps: Deps, uow: UnitOfWork, t: Transfer) -> None:
    """After payments.on_transfer (and the release of a refused payment): settles the
    request the payment paid, matches an incoming payment by reference, or reopens a
    request whose payment failed. Replays change nothing."""
    p = uow.repo(Payment).get(t.ref_id)
    assert p is not None
    repo = uow.repo(CollectionRequest)
    r = repo.one(payment_id=p.id)
    if r is not None:
        r = repo.get(r.id, for_update=True)
        assert r is not None
        if p.status == S.CREDITED and r.settled_ms is None:
            _settle(deps, uow, r)
        elif p.status in UNPAID and r.status == RequestStatus.PAID:
            _reopen(deps, uow, r)
        return
    if p.status == S.CREDITED:
        _match(deps, uow, p)


def _settle(deps: Deps, uow: UnitOfWork, r: CollectionRequest) -> None:
    now = deps.clock.now_ms()
    done = dataclasses.replace(r, settled_ms=now, updated_ms=now)
    uow.repo(CollectionRequest).update(done)
    inbox.record(deps, uow, user_id=inbox.user_of(r.requester_type, r.requester_id,
                                                  r.created_by),
                 topic=Topic.REQUEST_PAID, subject_type=SubjectType.REQUEST, subject_id=r.id,
                 event=r.id, params={"amount_minor": r.amount_minor, "currency": r.currency,
                                     "reference": r.reference})
    _audit(uow, None, "collection.settled", done)
    if r.requester_type == OwnerType.ORG:
        event = "checkout.paid" if r.merchant_id else "collection.paid"
        webhooks.enqueue(deps, uow, r.requester_id, event,
                         {"event": event, "at_ms": now, "request": event_view(done)})


def _reopen(deps: Deps, uow: UnitOfWork, r: CollectionRequest) -> None:
    now = deps.clock.now_ms()
    back = dataclasses.replace(_unclaimed(r, now), status=RequestStatus.OPEN, payment_id=None,
                               paid_ms=None, matched=False)
    uow.repo(CollectionRequest).update(back)
    _audit(uow, None, "collection.reopened", back, failed_payment_id=r.payment_id)


def _match(deps: Deps, uow: UnitOfWork, p: Payment) -> None:
    """A credited payment not made from a request: its memo names an open request of the
    recipient's wallet owner? The exact amount pays it; another amount is reported."""
    ref = p.memo.strip()
    if not ref or len(ref) > dom.REFERENCE_LEN_MAX or p.recipient_wallet_id is None:
        return
    wallet = uow.repo(Wallet).get(p.recipient_wallet_id)
    if wallet is None:
        return
    repo = uow.repo(CollectionRequest)
    found = repo.one(requester_type=wallet.owner_type, requester_id=wallet.owner_id,
                     reference=ref)
    if found is None:
        return
    r = repo.get(found.id, for_update=True)
    assert r is not None
    now = deps.clock.now_ms()
    if r.status != RequestStatus.OPEN or (r.paying_owner_id is not None
                                          and not dom.claim_open(r, now)):
        return  # paid already (or being paid from its page): this payment is just money
    if dom.compare(r, p.buy_code, p.buy_amount_minor) is dom.Match.EXACT:
        paid = _as_paid(r, p, now, matched=True)
        repo.update(paid)
        _audit(uow, None, "collection.matched", paid)
        _settle(deps, uow, paid)
        return
    note = dom.mismatch_note(r, p.buy_code, p.buy_amount_minor)
    flagged = dataclasses.replace(r, mismatch_payment_id=p.id, mismatch_note=note,
                                  updated_ms=now)
    repo.update(flagged)
    _audit(uow, None, "collection.mismatch", flagged, mismatch_payment_id=p.id)
    inbox.record(deps, uow, user_id=inbox.user_of(r.requester_type, r.requester_id,
                                                  r.created_by),
                 topic=Topic.REQUEST_PAID, subject_type=SubjectType.REQUEST, subject_id=r.id,
                 event=f"{r.id}:mismatch:{p.id}",
                 params={"reference": r.reference, "message": note, "outcome": "mismatch"})
    if r.requester_type == OwnerType.ORG:
        webhooks.enqueue(deps, uow, r.requester_id, "collection.mismatch",
                         {"event": "collection.mismatch", "at_ms": now,
                          "request": event_view(flagged), "payment_id": p.id})


# --- the periodic round: reminders, payments refused after a hold ----------------------------


def remind_due(deps: Deps) -> int:
    """One round of reminders (adapters/collections_worker.py): each open request to a
    named payer is reminded once before its due date and once after; each reminder is
    recorded on the row under its lock, so a second round (or process) sends nothing."""
    now = deps.clock.now_ms()
    with deps.reader() as uow:
        candidates = uow.repo(CollectionRequest).many(
            status=RequestStatus.OPEN.value, channel=Channel.USER.value,
            reminded_after_ms=None,  # done with: out of the window, which stays small
            below={"due_ms": now + dom.REMIND_BEFORE_MS + 1}, order_by="due_ms",
            limit=dom.ROUND_MAX)
    sent_n = 0
    for c in candidates:
        if dom.reminder_due(c, now) is None:
            continue

        def work(uow: UnitOfWork, request_id: str = c.id) -> int:
            r = uow.repo(CollectionRequest).get(request_id, for_update=True)
            assert r is not None
            which = dom.reminder_due(r, now)
            if which is None:
                return 0
            if which is Reminder.BEFORE:
                marked = dataclasses.replace(r, reminded_before_ms=now, updated_ms=now)
            else:  # an unsent "due soon" is moot once overdue
                marked = dataclasses.replace(r, reminded_after_ms=now, updated_ms=now,
                                             reminded_before_ms=r.reminded_before_ms or now)
            uow.repo(CollectionRequest).update(marked)
            _tell_payer(deps, uow, r, requester_name(uow, r), which.value)
            _audit(uow, None, f"collection.reminded_{which.value}", marked)
            return 1

        sent_n += deps.write(work)
    return sent_n


def reopen_unpaid(deps: Deps) -> int:
    """Requests recorded paid whose payment was refused later (a compliance hold that
    ended in a rejection) are open again."""
    with deps.reader() as uow:
        waiting = uow.repo(CollectionRequest).many(status=RequestStatus.PAID.value,
                                                   settled_ms=None, order_by="paid_ms",
                                                   limit=dom.ROUND_MAX)
        gone = [r.id for r in waiting if r.payment_id is not None and (
            (p := uow.repo(Payment).get(r.payment_id)) is None or p.status in UNPAID)]
    n = 0
    for request_id in gone:
        def work(uow: UnitOfWork, rid: str = request_id) -> int:
            r = uow.repo(CollectionRequest).get(rid, for_update=True)
            assert r is not None
            if r.status != RequestStatus.PAID or r.settled_ms is not None:
                return 0
            _reopen(deps, uow, r)
            return 1
        n += deps.write(work)
    return n


def run_round(deps: Deps) -> int:
    return remind_due(deps) + reopen_unpaid(deps)


# --- views ------------------------------------------------------------------------------------


def event_view(r: CollectionRequest) -> dict[str, Any]:
    """A request as the API and webhooks show it (amounts as exact decimal text)."""
    return {
        "id": r.id, "requester_type": r.requester_type, "requester_id": r.requester_id,
        "channel": r.channel, "payer_user_id": r.payer_user_id,
        "payer_contact": r.payer_contact, "merchant_id": r.merchant_id,
        "reference": r.reference, "description": r.description, "currency": r.currency,
        "amount": money.format_minor(r.amount_minor, r.currency),
        "amount_minor": r.amount_minor, "due_ms": r.due_ms, "status": r.status,
        "payment_id": r.payment_id, "paid_ms": r.paid_ms, "settled_ms": r.settled_ms,
        "matched": r.matched, "mismatch_payment_id": r.mismatch_payment_id,
        "mismatch_note": r.mismatch_note, "created_ms": r.created_ms,
        "updated_ms": r.updated_ms,
    }
