"""Payments to an external bank recipient paid out through the fiat rail (P1, F3), on both
databases: credited -> payout asked for (outside any transaction, idempotent) -> paid; a
payout refused, failed or returned refunds the sender from the treasury (a new REFUND
transfer) and the payment ends refunded; a replayed outcome asks for one payout only."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.adapters.sim_bank import SimBank
from corridor.platform.config import Settings
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.rails import Withdrawal
from corridor.platform.domain.refunds import Refund
from corridor.platform.domain.transfers import TREASURY, Transfer, wallet_ref
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services import bank_details, settlement, withdrawals
from tests.platform.conftest import Actor, make_staff
from tests.platform.payment_fakes import FakeChain, FakeClock, commit, kyc, open_wallet
from tests.platform.wallet_fakes import CountingKeyGen

IBAN_DE = "DE89370400440532013000"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def platform(settings: Settings, clock: FakeClock,
             chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=clock,
                        ledger=chain, keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


@pytest.fixture
def wallet(platform: bootstrap.Platform, customer: Actor, chain: FakeChain) -> Wallet:
    """The customer's open wallet (KYC tier 2) holding 1,000.00 USD on chain."""
    kyc(platform, customer.user.id, 2)
    w = open_wallet(platform, customer.user.id)
    chain.fund(w.address, "USD", 100_000)
    return w


def sim(platform: bootstrap.Platform) -> SimBank:
    s = platform.deps.rails["sim-bank"]
    assert isinstance(s, SimBank)
    return s


def pay_out(client: TestClient, who: Actor, account: str = IBAN_DE,
            amount: str = "50.00") -> dict[str, Any]:
    """A USD payment to a bank account: an IBAN, or else a plain account number."""
    where = {"iban": account} if account == IBAN_DE else {"account_number": account}
    r = client.post("/v1/payments", headers={**who.headers, "Idempotency-Key": account},
                    json={"recipient": {"type": "external", "name": "Erika Mustermann",
                                        "country": "DE", "bank_code": "COBADEFFXXX",
                                        **where},
                          "asset": "USD", "amount": amount})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def read(client: TestClient, who: Actor, payment_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/payments/{payment_id}", headers=who.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def payouts(platform: bootstrap.Platform) -> list[Withdrawal]:
    with platform.deps.uow() as uow:
        return [w for w in uow.repo(Withdrawal).many() if w.payment_id is not None]


def of_purpose(platform: bootstrap.Platform, purpose: str) -> list[Transfer]:
    with platform.deps.uow() as uow:
        return uow.repo(Transfer).many(purpose=purpose, order_by="created_ms")


def test_credited_external_payment_is_paid_out_by_the_rail(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, wallet: Wallet,
        chain: FakeChain) -> None:
    p = pay_out(client, customer)
    assert read(client, customer, p["id"])["payout"] is None  # nothing before the chain
    assert withdrawals.dispatch_payouts(platform.deps) == 0
    commit(platform, chain, p["id"])
    shown = read(client, customer, p["id"])
    assert shown["status"] == "credited"
    assert shown["payout"]["status"] == "pending"
    assert (shown["payout"]["asset"], shown["payout"]["amount"]) == ("USD", "50.00")
    (w,) = payouts(platform)
    assert (w.payment_id, w.uetr, w.currency, w.amount_minor) == (
        p["id"], p["uetr"], "USD", 5000)
    assert w.bank["account"] == "•" * (len(IBAN_DE) - 4) + IBAN_DE[-4:]  # sealed apart
    assert bank_details.withdrawal_account(platform.deps, w) == IBAN_DE
    assert w.bank["name"] == "Erika Mustermann"

    assert withdrawals.dispatch_payouts(platform.deps) == 1
    asked = read(client, customer, p["id"])["payout"]
    assert asked["status"] == "payout_requested" and asked["rail_ref"].startswith("SBP")
    assert withdrawals.dispatch_payouts(platform.deps) == 0  # asked once
    assert sim(platform).drain() == 1
    done = read(client, customer, p["id"])
    assert done["status"] == "credited" and done["payout"]["status"] == "paid"
    assert [h["status"] for h in done["payout"]["history"]] == [
        "pending", "payout_requested", "paid"]
    assert of_purpose(platform, "refund") == []
    # The payout is the payment's, not a withdrawal of the customer's.
    listed = client.get("/v1/withdrawals", headers=customer.headers).json()
    assert listed["total"] == 0 and listed["items"] == []
    assert client.get(f"/v1/withdrawals/{w.id}", headers=customer.headers).status_code == 404


@pytest.mark.parametrize("account,code", [("99000678", "ACCOUNT_CLOSED"),
                                          ("99002456", "ACCOUNT_INVALID"),
                                          ("99001456", "RETURNED")])
def test_a_failed_or_returned_payout_refunds_the_sender(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, wallet: Wallet,
        chain: FakeChain, account: str, code: str) -> None:
    p = pay_out(client, customer, account, amount="120.00")
    commit(platform, chain, p["id"])
    withdrawals.dispatch_payouts(platform.deps)
    sim(platform).drain()
    shown = read(client, customer, p["id"])
    assert shown["status"] == "refund_requested"
    assert shown["payout"]["status"] == "reversing" and shown["payout"]["reason_code"] == code

    (back,) = of_purpose(platform, "refund")
    assert back.source == TREASURY and back.status == "queued"
    sell_minor = 12_000 + int(shown["fee"].replace(".", ""))
    assert [(leg.source, leg.destination, leg.code, leg.amount_minor)
            for leg in back.leg_list()] == [(TREASURY, wallet_ref(wallet.id), "USD",
                                             sell_minor)]
    with platform.deps.uow() as uow:
        (refund,) = uow.repo(Refund).many(payment_id=p["id"])
    assert (refund.kind, refund.status, refund.transfer_id) == (
        "not_included", "processing", back.id)

    settlement.record_outcome(platform.deps, back.id, committed=True, tx_id="cd" * 32,
                              height=9)
    done = read(client, customer, p["id"])
    assert done["status"] == "refunded"
    assert [h["status"] for h in done["history"]][-3:] == [
        "credited", "refund_requested", "refunded"]
    assert done["payout"]["status"] == "reversed"
    with platform.deps.uow() as uow:
        settled = uow.repo(Refund).get(refund.id)
        payout = uow.repo(Withdrawal).one(payment_id=p["id"])
    assert settled is not None and settled.status == "refunded"
    assert payout is not None and payout.reversal_tx_id == "cd" * 32 and not payout.flagged
    # Nothing more happens: the payout is not asked for again, no second refund.
    assert withdrawals.dispatch_payouts(platform.deps) == 0
    assert sim(platform).drain() == 0
    assert len(of_purpose(platform, "refund")) == 1


def test_a_refused_refund_of_a_failed_payout_is_flagged(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, wallet: Wallet,
        chain: FakeChain) -> None:
    p = pay_out(client, customer, "99000678")
    commit(platform, chain, p["id"])
    withdrawals.dispatch_payouts(platform.deps)
    sim(platform).drain()
    (back,) = of_purpose(platform, "refund")
    settlement.record_outcome(platform.deps, back.id, committed=False, tx_id=None,
                              code="UNDERFUNDED", message="the treasury lacks the funds")
    shown = read(client, customer, p["id"])
    assert shown["status"] == "refund_requested"  # owed: for operations
    assert shown["payout"]["status"] == "reversing"
    (payout,) = payouts(platform)
    assert payout.flagged


def test_a_failed_payout_supersedes_a_refund_the_customer_asked_for(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, wallet: Wallet,
        chain: FakeChain) -> None:
    p = pay_out(client, customer, "99000678")
    commit(platform, chain, p["id"])
    r = client.post(f"/v1/payments/{p['id']}/refund", headers=customer.creating,
                    json={"kind": "revocation", "reason": "changed my mind"})
    assert r.status_code == 201, r.text
    asked = r.json()["id"]
    withdrawals.dispatch_payouts(platform.deps)
    sim(platform).drain()
    with platform.deps.uow() as uow:
        first = uow.repo(Refund).get(asked)
        (auto,) = uow.repo(Refund).many(payment_id=p["id"], kind="not_included")
    assert first is not None and first.status == "rejected" and first.open_payment_id is None
    assert auto.status == "processing" and auto.transfer_id is not None
    settlement.record_outcome(platform.deps, auto.transfer_id, committed=True,
                              tx_id="ef" * 32, height=9)
    done = read(client, customer, p["id"])
    assert done["status"] == "refunded" and done["payout"]["status"] == "reversed"


def test_a_refund_is_not_approved_while_its_payout_is_in_flight(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, wallet: Wallet,
        chain: FakeChain) -> None:
    """Approving then would pay twice: the payout lands and the treasury pays back too."""
    officer = make_staff(platform, "compliance_officer")
    p = pay_out(client, customer)
    commit(platform, chain, p["id"])
    r = client.post(f"/v1/payments/{p['id']}/refund", headers=customer.creating,
                    json={"kind": "revocation", "reason": "changed my mind"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]

    def approve() -> Any:
        return client.post(f"/v1/staff/refunds/{rid}/decision", headers=officer.creating,
                           json={"decision": "approve", "reason": "bank error",
                                 "platform_error": True})

    for step in (lambda: None, lambda: withdrawals.dispatch_payouts(platform.deps)):
        step()  # payout pending, then asked of the bank: both in flight
        refused = approve()
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "PAYOUT_IN_FLIGHT"
        with platform.deps.uow() as uow:
            still = uow.repo(Refund).get(rid)
        assert still is not None and still.status == "requested"
        assert of_purpose(platform, "refund") == []
    assert sim(platform).drain() == 1  # paid: the refund may now be decided
    ok = approve()
    assert ok.status_code == 200, ok.text
    assert len(of_purpose(platform, "refund")) == 1


def test_a_replayed_credited_outcome_asks_for_one_payout(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, wallet: Wallet,
        chain: FakeChain) -> None:
    p = pay_out(client, customer)
    commit(platform, chain, p["id"])
    with platform.deps.uow() as uow:
        stored = uow.repo(Payment).get(p["id"])
        assert stored is not None and stored.transfer_id is not None
        t = uow.repo(Transfer).get(stored.transfer_id)
    assert t is not None
    # The settlement worker replays the outcome (a crash before it knew it was recorded).
    assert settlement.record_outcome(platform.deps, t.id, committed=True, tx_id=t.tx_id,
                                     height=t.height) is None
    with platform.deps.uow() as uow:  # the handlers themselves, run again on the same outcome
        settlement.run_handlers(platform.deps, uow, t)
        credited = uow.repo(Payment).get(p["id"])
        assert credited is not None
        for again in platform.deps.handlers.payout_requested:
            again(platform.deps, uow, credited)
        uow.commit()
    assert len(payouts(platform)) == 1
    assert withdrawals.dispatch_payouts(platform.deps) == 1
    assert withdrawals.dispatch_payouts(platform.deps) == 0
    assert sim(platform).drain() == 1  # one payout paid, once
    assert read(client, customer, p["id"])["payout"]["status"] == "paid"


# --- account numbers at rest (issue 14, item 14) ---------------------------------------------


def everything_stored(platform: bootstrap.Platform) -> str:
    """Every row of every table, as text."""
    with platform.engine.connect() as conn:
        return repr([conn.execute(sa.text(f"SELECT * FROM {t}")).fetchall()
                     for t in sa.inspect(conn).get_table_names()])


def external(client: TestClient, who: Actor, key: str, **where: str) -> Any:
    return client.post("/v1/payments", headers={**who.headers, "Idempotency-Key": key},
                       json={"recipient": {"type": "external", "name": "Erika Mustermann",
                                           "country": "DE", "bank_code": "COBADEFFXXX",
                                           **where}, "asset": "USD", "amount": "50.00"})


def test_an_external_recipients_account_is_sealed_at_rest(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, wallet: Wallet,
        chain: FakeChain, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    real = sim(platform).request_payout

    def request_payout(**kw: Any) -> Any:
        asked.append(kw["bank"]["account"])
        return real(**kw)

    monkeypatch.setattr(sim(platform), "request_payout", request_payout)
    r = external(client, customer, "k1", iban="DE89 3704 0044 0532 0130 00")
    assert r.status_code == 201, r.text
    again = external(client, customer, "k1", iban="DE89 3704 0044 0532 0130 00")
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]  # a replay
    commit(platform, chain, r.json()["id"])
    assert IBAN_DE[:-4] not in everything_stored(platform)
    assert withdrawals.dispatch_payouts(platform.deps) == 1
    assert asked == [IBAN_DE]  # only the rail sees the whole IBAN
    assert IBAN_DE[:-4] not in str(read(client, customer, r.json()["id"]))
    # the same key for another account that ends alike is another request
    assert external(client, customer, "k2", account_number="12345678").status_code == 201
    refused = external(client, customer, "k2", account_number="87655678")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_payment_stored_with_a_clear_account_is_sealed_at_start_up(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, wallet: Wallet,
        chain: FakeChain) -> None:
    p = pay_out(client, customer, account="12345678")
    with platform.deps.uow() as uow:  # as a row was written before accounts were sealed
        stored = uow.repo(Payment).get(p["id"])
        assert stored is not None and stored.recipient_bank is not None
        uow.repo(Payment).update(dataclasses.replace(
            stored, recipient_bank={**stored.recipient_bank, "account_number": "12345678"},
            recipient_account_sealed=None))
        uow.commit()
    assert bank_details.seal_legacy(platform.deps) == 1
    commit(platform, chain, p["id"])
    assert "12345678" not in everything_stored(platform).replace("'12345678'", "", 1)
    (w,) = payouts(platform)
    assert bank_details.withdrawal_account(platform.deps, w) == "12345678"
