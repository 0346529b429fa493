"""The back office's reads for integrations (issue 15): the operations dashboard (needs
operate: admins, operators) and the customer lookup for support (needs customers.read;
every customer read is written to the audit log). The pages at /staff call the same
services (services/backoffice.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from corridor.api.deps import DepsDep
from corridor.api.deps import staff as staff_only
from corridor.api.json_body import JsonRoute
from corridor.api.routers.deposits import DepositOut
from corridor.api.routers.payments import PaymentOut
from corridor.api.routers.refunds import RefundOut
from corridor.api.routers.wallets import WalletOut
from corridor.api.routers.withdrawals import WithdrawalOut
from corridor.platform.domain.identity import User
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import backoffice

router = APIRouter(route_class=JsonRoute, prefix="/staff", tags=["staff"])

Id = Annotated[str, Path(max_length=64)]
Operator = Annotated[Principal, Depends(staff_only(Perm.OPERATE))]
CustomersReader = Annotated[Principal, Depends(staff_only(Perm.CUSTOMERS_READ))]


class VolumeOut(BaseModel):
    day: str
    code: str
    count: int
    amount_minor: str  # decimal text: exact at any size


class QueuesOut(BaseModel):
    kyc_waiting: int
    refunds_waiting: int
    held_deposits: int
    outbox_backlog: int
    overdue_cases: int = Field(0, description="Open compliance cases escalated past their SLA.")


class DashboardOut(BaseModel):
    since_ms: int
    until_ms: int
    days: list[str]
    codes: list[str]
    volumes: list[VolumeOut]
    payments: int
    succeeded: int
    failed: int
    success_rate: str | None  # percent, one decimal ("97.5"); None: nothing finished
    credit_ms_median: int | None
    credit_ms_p95: int | None
    queues: QueuesOut
    truncated: bool


@router.get("/dashboard")
def dashboard(who: Operator, deps: DepsDep,
              days: Annotated[int, Query(ge=1, le=backoffice.DAYS_MAX)] = backoffice.DAYS_DEFAULT,
              ) -> DashboardOut:
    """Payments per UTC day and currency, success rate, time to credit and queue sizes."""
    d = backoffice.dashboard(deps, who, days)
    q = d.queues
    return DashboardOut(
        since_ms=d.since_ms, until_ms=d.until_ms, days=list(d.days), codes=list(d.codes),
        volumes=[VolumeOut(day=v.day, code=v.code, count=v.count,
                           amount_minor=str(v.amount_minor)) for v in d.volumes],
        payments=d.payments, succeeded=d.succeeded, failed=d.failed,
        success_rate=str(d.success_rate) if d.success_rate is not None else None,
        credit_ms_median=d.credit_ms_median, credit_ms_p95=d.credit_ms_p95,
        queues=QueuesOut(kyc_waiting=q.kyc_waiting, refunds_waiting=q.refunds_waiting,
                         held_deposits=q.held_deposits, outbox_backlog=q.outbox_backlog,
                         overdue_cases=q.overdue_cases),
        truncated=d.truncated)


class CustomerOut(BaseModel):
    id: str
    name: str
    email: str | None
    phone: str | None
    status: str
    created_ms: int

    @classmethod
    def of(cls, u: User) -> CustomerOut:
        return cls(id=u.id, name=u.name, email=u.email, phone=u.phone, status=u.status,
                   created_ms=u.created_ms)


class CustomerMatches(BaseModel):
    items: list[CustomerOut]


class KycSummaryOut(BaseModel):
    status: str
    tier: int
    requested_tier: int
    risk: str | None
    decided_ms: int | None


class CustomerViewOut(BaseModel):
    customer: CustomerOut
    email_verified: bool
    phone_verified: bool
    totp_enabled: bool
    kyc: KycSummaryOut | None
    wallets: list[WalletOut]
    node_reachable: bool
    payments: list[PaymentOut]
    received: list[PaymentOut]
    deposits: list[DepositOut]
    withdrawals: list[WithdrawalOut]
    refunds: list[RefundOut]


@router.get("/customers")
def find_customers(who: CustomersReader, deps: DepsDep,
                   q: Annotated[str, Query(max_length=backoffice.QUERY_LEN_MAX)]
                   ) -> CustomerMatches:
    """Customers whose e-mail, phone, exact name or id is `q` (names and ids only)."""
    return CustomerMatches(items=[CustomerOut.of(u)
                                  for u in backoffice.find_customers(deps, who, q)])


@router.get("/customers/{user_id}")
def get_customer(user_id: Id, who: CustomersReader, deps: DepsDep) -> CustomerViewOut:
    """One customer's profile, KYC, wallets and recent money movements (audited)."""
    v = backoffice.customer_view(deps, who, user_id)
    k = v.kyc
    return CustomerViewOut(
        customer=CustomerOut.of(v.user), email_verified=v.user.email_verified,
        phone_verified=v.user.phone_verified, totp_enabled=v.user.totp_enabled,
        kyc=KycSummaryOut(status=k.status, tier=k.tier, requested_tier=k.requested_tier,
                          risk=k.risk, decided_ms=k.decided_ms) if k is not None else None,
        wallets=[WalletOut.of(w.wallet, w) for w in v.wallets], node_reachable=v.chain_reached,
        payments=[PaymentOut.of(p) for p in v.payments],
        received=[PaymentOut.of(p) for p in v.received],
        deposits=[DepositOut.of(d) for d in v.deposits],
        withdrawals=[WithdrawalOut.of(w) for w in v.withdrawals],
        refunds=[RefundOut.of(r) for r in v.refunds])
