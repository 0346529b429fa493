"""The back office's reads on both databases: the dashboard's figures from known records
(exact counts, sums, success rate, nearest-rank median and 95th percentile, queue sizes),
and the customer lookup, which matches by e-mail, phone, exact name or id and writes every
view of a customer's data to the audit log. Roles without the permission are refused."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from corridor.platform import bootstrap
from corridor.platform.domain import kyc
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.holds import Hold, HoldStatus
from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.domain.wallets import JobKind, JobStatus, LedgerJob, Signer
from corridor.platform.services import backoffice
from corridor.platform.services.ports import Deps
from tests.platform.conftest import Actor, make_staff, make_user
from tests.platform.payment_fakes import FakeClock
from tests.platform.payment_records import make_payment, make_wallet

DAY = backoffice.DAY_MS
NOW = 1_773_144_000_000  # 2026-03-10T12:00:00Z
TODAY = NOW // DAY * DAY
STEPS = ("draft", "ready", "submitted", "included", "final", "credited")


def _principal(a: Actor) -> Principal:
    u = a.user
    return Principal(user_id=u.id, kind=UserKind(u.kind),
                     staff_role=StaffRole(u.staff_role) if u.staff_role else None,
                     session_id="s", ip="10.0.0.9")


def _at(deps: Deps) -> Deps:
    return dataclasses.replace(deps, clock=FakeClock(NOW))


def _pay(platform: bootstrap.Platform, wallet: object, created_ms: int, status: str,
         steps: tuple[tuple[str, int], ...], code: str = "USD", amount: int = 10_000) -> None:
    from corridor.platform.domain.payments import PaymentStatus, PaymentStep

    make_payment(platform, wallet, status=status, created_ms=created_ms,  # type: ignore[arg-type]
                 sell_code=code, sell_amount_minor=amount,
                 history=tuple(PaymentStep(status=PaymentStatus(s), at_ms=created_ms + d)
                               for s, d in steps))


def _credited(after_ms: int) -> tuple[tuple[str, int], ...]:
    return (*((s, 0) for s in STEPS[:-1]), ("credited", after_ms))


def _queues(platform: bootstrap.Platform, owner_id: str, wallet_id: str) -> None:
    deps = platform.deps
    rec = kyc.new_record(id=deps.rand.new_id(), subject_type="user", subject_id=owner_id,
                         data_enc="x", now_ms=NOW)
    hold = Hold(id=deps.rand.new_id(), subject_type="deposit", subject_id="d1",
                owner_type="user", owner_id=owner_id, currency="USD", amount_minor=5,
                reason_code="LIMIT_EXCEEDED", reason_message="", status=HoldStatus.OPEN,
                decided_by=None, decided_ms=None, decision_note=None, return_ref=None,
                created_ms=NOW, updated_ms=NOW)
    with deps.uow() as uow:
        uow.repo(KycCustomer).add(dataclasses.replace(rec, status=kyc.KycStatus.PROCESSING,
                                                      submitted_ms=NOW))
        uow.repo(Hold).add(hold)
        uow.repo(Hold).add(dataclasses.replace(hold, id=deps.rand.new_id(), subject_id="d2",
                                               status=HoldStatus.RELEASED))
        for status in ("queued", "submitted", "done"):
            uow.repo(LedgerJob).add(LedgerJob(
                id=deps.rand.new_id(), kind=JobKind.OPEN_ACCOUNT, wallet_id=wallet_id,
                payload={}, status=JobStatus(status), signer=Signer.OPERATOR, tx_id=None,
                tx_hex=None, op_index=None, attempts=0, error_code=None, error_message=None,
                created_ms=NOW, updated_ms=NOW))
        uow.commit()


def test_the_dashboard_counts_known_payments_exactly(platform: bootstrap.Platform) -> None:
    alice = make_user(platform, email="alice@example.com")
    w = make_wallet(platform, alice.user.id)
    yesterday, today = TODAY - DAY + 3_600_000, TODAY + 60_000
    _pay(platform, w, yesterday, "credited", _credited(2_000), amount=10_150)
    _pay(platform, w, today, "credited", _credited(4_000), amount=20_000)
    _pay(platform, w, today + 1, "refunded",
         (*_credited(10_000), ("refund_requested", 20_000), ("refunded", 30_000)),
         code="EUR", amount=5_000)
    _pay(platform, w, today + 2, "failed", (("draft", 0), ("submitted", 5), ("failed", 9)),
         amount=7_000)
    _pay(platform, w, today + 3, "cancelled", (("draft", 0), ("cancelled", 1)), amount=1)
    _pay(platform, w, today + 4, "submitted", (("draft", 0), ("submitted", 1)), code="EUR",
         amount=300)
    _pay(platform, w, today + 5, "draft", (("draft", 0),), amount=99_999)  # never sent
    _pay(platform, w, TODAY - 3 * DAY, "credited", _credited(1), amount=99_999)  # too old
    _queues(platform, alice.user.id, w.id)
    ops = _principal(make_staff(platform, "operator"))

    d = backoffice.dashboard(_at(platform.deps), ops, days=3)

    assert d.days == ("2026-03-08", "2026-03-09", "2026-03-10")
    assert (d.since_ms, d.until_ms) == (TODAY - 2 * DAY, TODAY + DAY)
    assert d.codes == ("EUR", "USD")
    assert [(v.day, v.code, v.count, v.amount_minor) for v in d.volumes] == [
        ("2026-03-08", "EUR", 0, 0), ("2026-03-08", "USD", 0, 0),
        ("2026-03-09", "EUR", 0, 0), ("2026-03-09", "USD", 1, 10_150),
        ("2026-03-10", "EUR", 2, 5_300), ("2026-03-10", "USD", 3, 27_001)]
    assert (d.payments, d.succeeded, d.failed) == (6, 3, 1)
    assert d.success_rate == Decimal("75.0")
    assert (d.credit_ms_median, d.credit_ms_p95) == (4_000, 10_000)
    assert d.queues == backoffice.Queues(kyc_waiting=1, refunds_waiting=0, held_deposits=1,
                                         outbox_backlog=2)
    assert not d.truncated


def test_an_empty_dashboard_has_no_rate_and_every_day(platform: bootstrap.Platform) -> None:
    d = backoffice.dashboard(_at(platform.deps), _principal(make_staff(platform, "admin")))
    assert len(d.days) == backoffice.DAYS_DEFAULT and d.days[-1] == "2026-03-10"
    assert d.volumes == () and d.success_rate is None and d.credit_ms_median is None


def test_nearest_rank() -> None:
    values = list(range(1, 21))  # 1..20
    assert backoffice.nearest_rank(values, 50) == 10
    assert backoffice.nearest_rank(values, 95) == 19
    assert backoffice.nearest_rank([7], 95) == 7
    assert backoffice.nearest_rank([], 50) is None


def _views(platform: bootstrap.Platform) -> list[AuditEntry]:
    with platform.deps.uow() as uow:
        return uow.repo(AuditEntry).many(action="customer.view")


def test_support_finds_a_customer_and_every_view_is_audited(
        platform: bootstrap.Platform) -> None:
    carol = make_user(platform, email="Carol@Example.com", name="Carol Customer")
    with platform.deps.uow() as uow:
        user = uow.repo(User).get(carol.user.id)
        assert user is not None
        uow.repo(User).update(dataclasses.replace(user, phone="+442079460958"))
        uow.commit()
    make_user(platform, email="dave@example.com", name="Dave Customer")
    w = make_wallet(platform, carol.user.id)
    make_payment(platform, w)
    agent = _principal(make_staff(platform, "support_agent"))
    staff_admin = make_staff(platform, "admin")
    for query in ("carol@example.com", " CAROL@example.com", "+44 20 7946 0958",
                  "Carol Customer", carol.user.id):
        found = backoffice.find_customers(platform.deps, agent, query)
        assert [u.id for u in found] == [carol.user.id], query
    # staff are not customers: never found, never shown
    assert backoffice.find_customers(platform.deps, agent, staff_admin.user.email or "") == []
    assert backoffice.find_customers(platform.deps, agent, "nobody@example.com") == []
    assert _views(platform) == []
    with platform.deps.uow() as uow:
        searches = uow.repo(AuditEntry).many(action="customer.search", order_by="seq")
    assert len(searches) == 7 and {e.actor_id for e in searches} == {agent.user_id}
    assert searches[0].after == {"q": "carol@example.com", "matches": [carol.user.id]}
    assert searches[-1].after == {"q": "nobody@example.com", "matches": []}

    v = backoffice.customer_view(platform.deps, agent, carol.user.id)
    assert v.user.id == carol.user.id and len(v.payments) == 1 and v.kyc is None
    assert [x.wallet.id for x in v.wallets] == [w.id]
    (entry,) = _views(platform)
    assert (entry.actor_id, entry.object_type, entry.object_id, entry.ip) == (
        agent.user_id, "user", carol.user.id, "10.0.0.9")
    with pytest.raises(PlatformError) as e:
        backoffice.customer_view(platform.deps, agent, staff_admin.user.id)
    assert e.value.code == "NOT_FOUND" and len(_views(platform)) == 1


@pytest.mark.parametrize("role", ["operator", "regulator"])
def test_roles_without_customer_access_are_refused(platform: bootstrap.Platform,
                                                   role: str) -> None:
    carol = make_user(platform, email="carol@example.com")
    who = _principal(make_staff(platform, role))
    for call in (lambda: backoffice.find_customers(platform.deps, who, "carol@example.com"),
                 lambda: backoffice.customer_view(platform.deps, who, carol.user.id)):
        with pytest.raises(PlatformError) as e:
            call()
        assert e.value.code == "FORBIDDEN"
    assert _views(platform) == []


@pytest.mark.parametrize("role", ["support_agent", "compliance_officer", "auditor"])
def test_roles_without_operate_see_no_dashboard(platform: bootstrap.Platform,
                                               role: str) -> None:
    with pytest.raises(PlatformError) as e:
        backoffice.dashboard(platform.deps, _principal(make_staff(platform, role)))
    assert e.value.code == "FORBIDDEN"


def test_an_unknown_query_shape_is_refused_with_the_field(platform: bootstrap.Platform) -> None:
    agent = _principal(make_staff(platform, "support_agent"))
    for query in ("", "   ", "x" * (backoffice.QUERY_LEN_MAX + 1)):
        with pytest.raises(PlatformError) as e:
            backoffice.find_customers(platform.deps, agent, query)
        assert "q" in e.value.fields
