"""The payment use cases called as functions over the in-memory unit of work
(tests/platform/fake_uow.py): no HTTP, no database. What each use case decides, writes
and refuses; the API and both databases are covered end to end elsewhere
(test_payments.py, test_refunds.py, test_withdrawals.py)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from corridor.ledger import keys
from corridor.ledger.keys import KeyPair
from corridor.platform.domain import identity as idn
from corridor.platform.domain.errors import Kind, PlatformError
from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import DEMO_ASSETS, KycCustomer, KycStatus
from corridor.platform.domain.payments import (
    Payment,
    PaymentStatus,
    PaymentStep,
    Quote,
    QuoteStatus,
    RecipientType,
    moved,
)
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.rails import Withdrawal, WithdrawalStatus, WithdrawalStep
from corridor.platform.domain.refunds import Decision, Outcome, Refund, RefundKind, RefundStatus
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.domain.transfers import (
    ISSUER,
    TREASURY,
    Leg,
    Purpose,
    Transfer,
    TransferStatus,
    wallet_ref,
)
from corridor.platform.domain.wallets import Authorisation, AuthStatus, Wallet, WalletStatus
from corridor.platform.services import payment_reads, payments, quotes, refunds, withdrawals
from corridor.platform.services.payments import PaymentRequest
from corridor.platform.services.ports import Deps
from tests.platform.fake_uow import FakeStore, FakeUnitOfWork, fake_deps
from tests.platform.payment_fakes import FakeChain, FakeClock

S = PaymentStatus
TIER = 2


@dataclasses.dataclass(frozen=True)
class Customer:
    who: Principal
    user: User
    wallet: Wallet


@dataclasses.dataclass
class World:
    store: FakeStore
    clock: FakeClock
    chain: FakeChain
    deps: Deps

    def customer(self, name: str, holdings: dict[str, int]) -> Customer:
        """An active, KYC'd customer with an open custodial wallet holding `holdings`."""
        now = self.clock.now_ms()
        uid = f"user-{name}"
        user = User(
            id=uid, kind=UserKind.CUSTOMER, staff_role=None, name=name.title(),
            email=f"{name}@example.com", email_verified=True, phone=None,
            phone_verified=False, password_hash="-", totp_secret_enc=None, totp_enabled=False,
            totp_last_step=0, status=idn.UserStatus.ACTIVE, failed_logins=0,
            locked_until_ms=0, terms_version=idn.TERMS_VERSION,
            privacy_version=idn.PRIVACY_VERSION, terms_accepted_ms=now, created_ms=now,
            updated_ms=now)
        kyc = KycCustomer(
            id=f"kyc-{name}", subject_type="user", subject_id=uid,
            status=KycStatus.ACCEPTED, requested_tier=TIER, tier=TIER, risk="low",
            data_enc=self.deps.sealer.seal(b"{}", f"kyc-customer:kyc-{name}"),
            field_status={}, submitted_ms=now, decided_ms=now, decided_by=None,
            decision_reason="test", review_due_ms=None, created_ms=now, updated_ms=now)
        kp = KeyPair.from_seed(hashlib.sha256(name.encode()).digest())
        wallet = Wallet(
            id=f"wallet-{name}", owner_type="user", owner_id=uid,
            address=keys.encode_address(keys.address_of(kp.public_key)),
            public_key=keys.encode_public_key(kp.public_key), custodial=True,
            key_sealed=self.deps.sealer.seal(kp.seed, f"wallet:wallet-{name}"), label="main",
            status=WalletStatus.OPEN, created_ms=now, updated_ms=now)
        self.store.put(user, kyc, wallet, *(
            Authorisation(id=f"auth-{name}-{code}", wallet_id=wallet.id, asset_code=code,
                          status=AuthStatus.AUTHORISED, job_id=f"job-{name}-{code}",
                          created_ms=now, updated_ms=now)
            for code in DEMO_ASSETS))  # as the issuer leaves a verified owner's wallet
        self.chain.balances[wallet.address] = dict(holdings)
        who = Principal(user_id=uid, kind=UserKind.CUSTOMER, staff_role=None,
                        session_id=f"session-{name}")
        return Customer(who, user, wallet)

    def one(self, record_type: type, id: str) -> object:
        return self.store.rows[record_type][id]


@pytest.fixture
def world() -> World:
    store, clock, chain = FakeStore(), FakeClock(), FakeChain()
    return World(store, clock, chain, fake_deps(store, clock, chain))


@pytest.fixture
def alice(world: World) -> Customer:
    return world.customer("alice", {"USD": 1_000_00, "CNY": 0})


@pytest.fixture
def bob(world: World) -> Customer:
    return world.customer("bob", {"USD": 0, "CNY": 0})


def _expect(code: str, call: object, *args: object, **kwargs: object) -> PlatformError:
    assert callable(call)
    with pytest.raises(PlatformError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    return caught.value


def _pay_bob(world: World, alice: Customer, key: str = "k-1") -> Payment:
    q = quotes.create(world.deps, alice.who, sell_asset="USD", buy_asset="CNY",
                      sell_amount="100", idempotency_key=f"quote-{key}")
    p, new = payments.create(world.deps, alice.who, PaymentRequest(
        recipient={"type": "user", "email": "bob@example.com"}, quote_id=q.id), key)
    assert new
    return p


# --- the fake itself ---------------------------------------------------------------------


def test_the_fake_unit_of_work_publishes_only_what_is_committed(world: World) -> None:
    w = Transfer(id="t1", purpose=Purpose.PAYMENT, ref_id="p", source=TREASURY, legs=(),
                 memo="", status=TransferStatus.QUEUED, sequence=None, tx_id=None,
                 tx_hex=None, height=None, result_code=None, result_message=None, attempts=0,
                 created_ms=1, updated_ms=1)
    with FakeUnitOfWork(world.store) as uow:
        uow.repo(Transfer).add(w)
        assert uow.repo(Transfer).get("t1") == w  # a unit sees its own writes
    assert world.store.all(Transfer) == []  # left without a commit: nothing happened
    with FakeUnitOfWork(world.store) as first, FakeUnitOfWork(world.store) as second:
        first.repo(Transfer).add(w)
        second.repo(Transfer).add(dataclasses.replace(w, id="t2", sequence=5))
        second.commit()
        first.commit()  # both units' writes stand, as in the database
    with FakeUnitOfWork(world.store) as uow:
        repo = uow.repo(Transfer)
        assert [t.id for t in repo.many(order_by="created_ms")] == ["t1", "t2"]
        assert repo.many(above={"sequence": 4}) == [dataclasses.replace(w, id="t2", sequence=5)]
        assert repo.count(sequence=None) == 1
        assert repo.count(status=(TransferStatus.QUEUED, TransferStatus.COMMITTED)) == 2
        assert repo.tally(["status"]) == [((TransferStatus.QUEUED,), 2)]


# --- quote -> payment -> cancel ----------------------------------------------------------


def test_a_quote_is_firm_and_a_payment_executes_it(world: World, alice: Customer,
                                                    bob: Customer) -> None:
    q = quotes.create(world.deps, alice.who, sell_asset="USD", buy_asset="CNY",
                      sell_amount="100", idempotency_key="quote-2")
    assert (q.status, q.sell_amount_minor, q.owner_id) == (QuoteStatus.OPEN, 10_000,
                                                           alice.user.id)
    assert sum(line.amount_minor for line in q.fee_breakdown) == q.fee_minor > 0

    p, new = payments.create(world.deps, alice.who, PaymentRequest(
        recipient={"type": "user", "email": "bob@example.com"}, quote_id=q.id), "k-1")

    assert new and p.status is S.SUBMITTED
    assert [h.status for h in p.history] == [S.DRAFT, S.SCREENING, S.READY, S.SUBMITTED]
    assert (p.sell_amount_minor, p.buy_amount_minor, p.fee_minor) == (
        q.sell_amount_minor, q.buy_amount_minor, q.fee_minor)
    assert (p.recipient_type, p.recipient_wallet_id) == (RecipientType.USER, bob.wallet.id)
    stored = world.one(Quote, q.id)
    assert isinstance(stored, Quote)
    assert (stored.status, stored.payment_id) == (QuoteStatus.USED, p.id)
    t = world.one(Transfer, p.transfer_id or "")
    assert isinstance(t, Transfer) and t.status is TransferStatus.QUEUED
    assert t.legs == (
        Leg(source=wallet_ref(alice.wallet.id), destination=TREASURY, code="USD",
            amount_minor=q.sell_amount_minor),
        Leg(source=TREASURY, destination=wallet_ref(bob.wallet.id), code="CNY",
            amount_minor=q.buy_amount_minor))
    assert [e["action"] for e in world.store.audit] == ["payment.create"]
    _expect("QUOTE_USED", payments.create, world.deps, alice.who, PaymentRequest(
        recipient={"type": "user", "email": "bob@example.com"}, quote_id=q.id), "k-2")


def test_a_retry_with_the_same_key_returns_the_first_payment(world: World, alice: Customer,
                                                              bob: Customer) -> None:
    body = PaymentRequest(recipient={"type": "user", "email": "bob@example.com"},
                          asset="USD", amount="10")
    first, new = payments.create(world.deps, alice.who, body, "same")
    again, new_again = payments.create(world.deps, alice.who, body, "same")
    assert new and not new_again and again == first
    assert len(world.store.all(Payment)) == 1 and len(world.store.all(Transfer)) == 1
    other = dataclasses.replace(body, amount="11")
    _expect("IDEMPOTENCY_KEY_REUSED", payments.create, world.deps, alice.who, other, "same")


def test_a_payment_above_the_balance_is_refused_and_writes_nothing(
        world: World, alice: Customer, bob: Customer) -> None:
    before = world.store.commits
    _expect("INSUFFICIENT_FUNDS", payments.create, world.deps, alice.who, PaymentRequest(
        recipient={"type": "user", "email": "bob@example.com"}, asset="USD",
        amount="5000"), "k")
    assert world.store.all(Payment) == [] and world.store.all(Transfer) == []
    assert world.store.commits == before


def test_only_a_payment_before_submission_can_be_cancelled(world: World, alice: Customer,
                                                           bob: Customer) -> None:
    submitted = _pay_bob(world, alice)
    err = _expect("NOT_CANCELLABLE", payment_reads.cancel, world.deps, alice.who,
                  submitted.id)
    assert err.kind is Kind.CONFLICT
    # One waiting before submission (as an approval flow leaves it) can be.
    now = world.clock.now_ms()
    ready = dataclasses.replace(
        submitted, id="p-ready", idempotency_key="ready", status=S.READY, transfer_id=None,
        history=(PaymentStep(status=S.DRAFT, at_ms=now), PaymentStep(status=S.READY,
                                                                     at_ms=now)))
    world.store.put(ready)
    world.clock.advance(1_000)
    _expect("FORBIDDEN", payment_reads.cancel, world.deps, bob.who, ready.id)  # the payee
    done = payment_reads.cancel(world.deps, alice.who, ready.id)
    assert done.status is S.CANCELLED and done.history[-1] == PaymentStep(
        status=S.CANCELLED, at_ms=now + 1_000)
    assert world.one(Payment, ready.id) == done
    _expect("NOT_CANCELLABLE", payment_reads.cancel, world.deps, alice.who, ready.id)


# --- refunds: request and decision -------------------------------------------------------


def _credited(world: World, p: Payment) -> Payment:
    """The payment as the chain's outcomes leave it: included, final, credited."""
    now = world.clock.now_ms()
    done = moved(moved(moved(p, S.INCLUDED, now, tx_id="ab" * 32, height=7), S.FINAL, now),
                 S.CREDITED, now)
    world.store.put(done)
    return done


def _staff(role: StaffRole) -> Principal:
    return Principal(user_id=f"staff-{role}", kind=UserKind.STAFF, staff_role=role,
                     session_id="staff-session")


def test_a_refund_request_puts_the_payment_on_hold_for_review(
        world: World, alice: Customer, bob: Customer) -> None:
    p = _credited(world, _pay_bob(world, alice))
    err = _expect("INVALID_FIELDS", refunds.request, world.deps, alice.who, p.id,
                  kind="nonsense", reason="", evidence=[], idempotency_key="refund-3")
    assert set(err.fields) == {"kind", "reason"}  # every problem at once
    assert world.store.all(Refund) == []
    r = refunds.request(world.deps, alice.who, p.id, kind=RefundKind.WRONG_PAYEE,
                        reason="sent to the wrong Bob", evidence=[],
                            idempotency_key="refund-10")
    assert (r.status, r.kind, r.open_payment_id) == (RefundStatus.REQUESTED,
                                                     RefundKind.WRONG_PAYEE, p.id)
    stored = world.one(Payment, p.id)
    assert isinstance(stored, Payment) and stored.status is S.REFUND_REQUESTED
    assert world.one(Refund, r.id) == r
    _expect("REFUND_OPEN", refunds.request, world.deps, alice.who, p.id,
            kind=RefundKind.REVOCATION, reason="again", evidence=[], idempotency_key="refund-4")


def test_an_approved_refund_queues_the_money_back_and_a_rejected_one_credits_again(
        world: World, alice: Customer, bob: Customer) -> None:
    reviewer = _staff(StaffRole.SUPPORT_AGENT)
    p = _credited(world, _pay_bob(world, alice, "k-1"))
    asked = refunds.request(world.deps, alice.who, p.id, kind=RefundKind.WRONG_PAYEE,
                            reason="wrong person", evidence=[],
                            idempotency_key="refund-11")
    _expect("FORBIDDEN", refunds.decide, world.deps, alice.who, asked.id,
            Decision(outcome=Outcome.APPROVE, reason="self-service"), "decision-5")

    done = refunds.decide(world.deps, reviewer, asked.id,
                          Decision(outcome=Outcome.APPROVE, reason="checked the evidence"),
                          "decision-13")

    r = done.refund
    assert r.status is RefundStatus.PROCESSING and r.decided_by == reviewer.user_id
    # Bob's wallet is custodial: what he received is taken back, Alice gets hers less fee.
    assert (r.amount_minor, r.recover_minor) == (p.sell_amount_minor - p.fee_minor,
                                                 p.buy_amount_minor)
    t = world.one(Transfer, r.transfer_id or "")
    assert isinstance(t, Transfer) and t.purpose is Purpose.REFUND
    assert t.legs == (
        Leg(source=wallet_ref(bob.wallet.id), destination=TREASURY, code="CNY",
            amount_minor=p.buy_amount_minor),
        Leg(source=TREASURY, destination=wallet_ref(alice.wallet.id), code="USD",
            amount_minor=r.amount_minor))
    _expect("REFUND_DECIDED", refunds.decide, world.deps, reviewer, asked.id,
            Decision(outcome=Outcome.REJECT, reason="changed my mind"), "decision-6")

    q = _credited(world, _pay_bob(world, alice, "k-2"))
    second = refunds.request(world.deps, alice.who, q.id, kind=RefundKind.REVOCATION,
                             reason="not owed", evidence=[],
                            idempotency_key="refund-12")
    refused = refunds.decide(world.deps, reviewer, second.id,
                             Decision(outcome=Outcome.REJECT, reason="the payee was right"),
                             "decision-14")
    assert refused.refund.status is RefundStatus.REJECTED
    assert refused.refund.open_payment_id is None
    assert refused.payment.status is S.CREDITED
    assert [h.status for h in refused.payment.history][-2:] == [S.REFUND_REQUESTED,
                                                                S.CREDITED]
    assert [e["action"] for e in world.store.audit].count("refund.decide") == 2


# --- withdrawals -------------------------------------------------------------------------


BANK = {"name": "Alice Example", "account": "DE89370400440532013000", "country": "DE",
        "bank_code": "COBADEFFXXX"}


def test_a_withdrawal_queues_a_burn_and_holds_its_amount(world: World,
                                                         alice: Customer) -> None:
    w = withdrawals.create(world.deps, alice.who, currency="USD", amount="600",
                           bank=dict(BANK), idempotency_key="w-1")
    assert w.status is WithdrawalStatus.REQUESTED
    assert w.history == (WithdrawalStep(status=WithdrawalStatus.REQUESTED,
                                        at_ms=world.clock.now_ms()),)
    assert w.bank["account"] != BANK["account"] and w.bank["account"].endswith("3000")
    burn = world.one(Transfer, w.transfer_id)
    assert isinstance(burn, Transfer) and burn.purpose is Purpose.WITHDRAWAL
    assert burn.legs == (Leg(source=wallet_ref(alice.wallet.id), destination=ISSUER,
                             code="USD", amount_minor=600_00),)
    assert world.one(Withdrawal, w.id) == w
    again = withdrawals.create(world.deps, alice.who, currency="USD", amount="600",
                               bank=dict(BANK), idempotency_key="w-1")
    assert again == w and len(world.store.all(Withdrawal)) == 1
    # The queued burn is spoken for: 400 of the 1,000 remain, the chain still shows 1,000.
    _expect("INSUFFICIENT_FUNDS", withdrawals.create, world.deps, alice.who,
            currency="USD", amount="500", bank=dict(BANK), idempotency_key="w-2")
    assert len(world.store.all(Withdrawal)) == 1


def test_a_withdrawal_with_bad_bank_details_reports_every_problem(
        world: World, alice: Customer) -> None:
    err = _expect("INVALID_FIELDS", withdrawals.create, world.deps, alice.who, currency="USD",
                  amount="-1", bank={"name": "", "account": "DE00", "country": "DE"},
                  idempotency_key="w-1")
    assert {"amount", "bank.name"} <= set(err.fields)  # every problem at once
    assert world.store.all(Withdrawal) == [] and world.store.all(Transfer) == []
