"""The pure rules of collections and merchants (domain/collections.py, merchants.py):
a new request's checks (every problem at once), which reminder is due when, how an
incoming amount compares, what may still be refunded, and the settlement's sums."""

from __future__ import annotations

import dataclasses

import pytest

from corridor.platform.domain import collections as dom
from corridor.platform.domain import merchants as mdom
from corridor.platform.domain.collections import Channel, CollectionRequest, RequestStatus
from corridor.platform.domain.errors import Problems
from corridor.platform.domain.merchants import MerchantRefund, Order, RefundState

DAY = dom.DAY_MS
DUE = 20_000 * DAY  # 00:00 UTC of a day


def request(**kw: object) -> CollectionRequest:
    base = CollectionRequest(
        id="r", requester_type="user", requester_id="u", created_by="u", channel=Channel.USER,
        payer_user_id="p", payer_contact="p@example.com", link_token="t" * 40,
        merchant_id=None, reference="INV-1", description="", currency="USD",
        amount_minor=2500, due_ms=DUE, status=RequestStatus.OPEN, paying_owner_type=None,
        paying_owner_id=None, paying_user_id=None, claimed_ms=None, payment_id=None,
        paid_ms=None, settled_ms=None, matched=False, mismatch_payment_id=None,
        mismatch_note=None, reminded_before_ms=None, reminded_after_ms=None, created_ms=0,
        updated_ms=0)
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_a_new_request_reports_every_problem_at_once() -> None:
    problems = Problems()
    dom.check(dom.NewRequest(currency="usd", amount="1", due_date="2020-02-30",
                             reference="x" * 36, description="\x00"), DUE, problems,
              link=False)
    assert set(problems.fields) == {"currency", "due_date", "reference", "description",
                                    "payer_email"}
    ok = Problems()
    checked = dom.check(dom.NewRequest(currency="HKD", amount="15.00", due_date="2024-10-04",
                                       reference=" A/1 ", payer_phone="+4420"), DUE, ok,
                        link=False)
    assert not ok and (checked.amount_minor, checked.reference) == (1500, "A/1")
    assert checked.due_ms == dom.day_ms("2024-10-04") and checked.due_ms % DAY == 0


@pytest.mark.parametrize(("now", "sent", "due"), [
    (DUE - 3 * DAY, {}, None),                              # too early
    (DUE - 2 * DAY, {}, dom.Reminder.BEFORE),              # two days before
    (DUE + DAY - 1, {}, dom.Reminder.BEFORE),              # the due day itself
    (DUE - DAY, {"reminded_before_ms": 1}, None),          # sent already
    (DUE + DAY, {}, dom.Reminder.AFTER),                   # the due day is over
    (DUE + DAY, {"reminded_after_ms": 1}, None),
    (DUE + 30 * DAY, {"reminded_before_ms": 1, "reminded_after_ms": 1}, None),
])
def test_each_reminder_is_due_once_in_its_window(now: int, sent: dict[str, int],
                                                 due: dom.Reminder | None) -> None:
    assert dom.reminder_due(request(**sent), now) is due


def test_no_reminder_for_a_link_or_a_closed_request() -> None:
    assert dom.reminder_due(request(payer_user_id=None, channel=Channel.LINK), DUE) is None
    assert dom.reminder_due(request(status=RequestStatus.PAID), DUE) is None


def test_an_incoming_amount_pays_only_when_exact() -> None:
    r = request()
    assert dom.compare(r, "USD", 2500) is dom.Match.EXACT
    assert dom.compare(r, "USD", 2499) is dom.Match.MISMATCH
    assert dom.compare(r, "EUR", 2500) is dom.Match.MISMATCH
    assert dom.mismatch_note(r, "EUR", 2500) == "received 25.00 EUR, expected 25.00 USD"


def refund(amount: int, state: RefundState = RefundState.SENT, fee: int = 10) -> MerchantRefund:
    return MerchantRefund(id="x", merchant_id="m", request_id="r", idempotency_key="k",
                          currency="USD", amount_minor=amount, reason="", state=state,
                          payment_id=None, fee_minor=fee, created_by="u", created_ms=0,
                          updated_ms=0)


def test_pending_refunds_hold_their_amount_and_failed_ones_do_not() -> None:
    assert mdom.refundable_minor(4000, [refund(1000), refund(500, RefundState.PENDING),
                                        refund(2500, RefundState.FAILED)]) == 2500
    with pytest.raises(AssertionError):  # more refunded than paid: a broken invariant
        mdom.refundable_minor(100, [refund(101)])


def test_settlement_sums_per_currency() -> None:
    orders = [Order(reference="a", currency="USD", amount_minor=4000, paid_ms=1,
                    payment_id="p1"),
              Order(reference="b", currency="USD", amount_minor=1000, paid_ms=2,
                    payment_id="p2"),
              Order(reference="c", currency="EUR", amount_minor=700, paid_ms=3,
                    payment_id="p3")]
    lines = mdom.settle(orders, [refund(1500, fee=70), refund(9, RefundState.FAILED)])
    assert [(x.currency, x.orders, x.gross_minor, x.refunds, x.refunds_minor, x.fees_minor,
             x.net_minor) for x in lines] == [("EUR", 1, 700, 0, 0, 0, 700),
                                              ("USD", 2, 5000, 1, 1500, 70, 3430)]
