"""Merchants (issue 17, P6): an organisation's merchant account, its checkout links (a
link payment request carrying the order's reference: domain/collections.py), refunds of
an order (full or partial, never above what was paid), and the daily settlement report.

Pure rules only: the refund bound and the report's sums. Use cases: services/merchants.py.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable

NAME_LEN_MAX = 80
REASON_LEN_MAX = 140
REFUNDS_PER_ORDER_MAX = 20  # a limit on everything: partial refunds of one order


class RefundState(enum.StrEnum):
    PENDING = "pending"  # reserved against the order; its payment is being made
    SENT = "sent"  # the refund's payment exists (its own life cycle follows)
    FAILED = "failed"  # the payment could not be made: the reservation is released


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Merchant:
    """An organisation's merchant account (one per organisation)."""

    id: str
    org_id: str
    name: str
    created_by: str
    created_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class MerchantRefund:
    """Money given back on an order: a payment from the merchant to the payer, recorded
    against the order so the sum never exceeds what was paid. `idempotency_key` is the
    merchant's; the payment's own key is derived from this record's id."""

    id: str
    merchant_id: str
    request_id: str
    idempotency_key: str
    currency: str
    amount_minor: int
    reason: str
    state: RefundState
    payment_id: str | None
    fee_minor: int
    created_by: str
    created_ms: int
    updated_ms: int


def refundable_minor(paid_minor: int, refunds: Iterable[MerchantRefund]) -> int:
    """What may still be refunded: paid less every refund not failed (pending ones hold
    their amount, so two concurrent refunds cannot both take the last of it)."""
    taken = sum(r.amount_minor for r in refunds if r.state != RefundState.FAILED)
    assert 0 <= taken <= paid_minor, (taken, paid_minor)
    return paid_minor - taken


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """A paid checkout as the report counts it."""

    reference: str
    currency: str
    amount_minor: int
    paid_ms: int
    payment_id: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SettlementLine:
    """One currency of one day: orders paid, refunds sent, the fees the merchant paid
    (its refunds' network fees: a payer pays the fee of a checkout payment), and net."""

    currency: str
    orders: int
    gross_minor: int
    refunds: int
    refunds_minor: int
    fees_minor: int

    @property
    def net_minor(self) -> int:
        return self.gross_minor - self.refunds_minor - self.fees_minor


def settle(orders: Iterable[Order], refunds: Iterable[MerchantRefund]
           ) -> tuple[SettlementLine, ...]:
    """The day's lines, one per currency, in currency order."""
    acc: dict[str, list[int]] = {}
    for o in orders:
        line = acc.setdefault(o.currency, [0, 0, 0, 0, 0])
        line[0] += 1
        line[1] += o.amount_minor
    for r in refunds:
        if r.state == RefundState.FAILED:
            continue
        line = acc.setdefault(r.currency, [0, 0, 0, 0, 0])
        line[2] += 1
        line[3] += r.amount_minor
        line[4] += r.fee_minor
    return tuple(SettlementLine(currency=c, orders=v[0], gross_minor=v[1], refunds=v[2],
                                refunds_minor=v[3], fees_minor=v[4])
                 for c, v in sorted(acc.items()))
