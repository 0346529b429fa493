"""Payments (P1, P7): the state machine, and the API on both databases against an
in-memory chain: quote -> preview -> pay -> credited with a full history and a verified
receipt; expiry, limits, tiers, idempotency, concurrency, cancel, authorisation and bad
input (refused with a stable code, nothing changed)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain import fx
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.payments import (
    TERMINAL,
    TRANSITIONS,
    Payment,
    PaymentStatus,
    PaymentStep,
    Quote,
    moved,
)
from corridor.platform.domain.transfers import TREASURY, Leg, Transfer, wallet_ref
from corridor.platform.domain.wallets import Wallet, WalletStatus
from corridor.platform.services import bank_details, payment_reads, payments
from tests.platform.conftest import Actor, keyed, make_staff, make_user
from tests.platform.payment_fakes import (
    FakeChain,
    FakeClock,
    commit,
    kyc,
    open_wallet,
    reject,
    transfer_of,
)
from tests.platform.wallet_fakes import CountingKeyGen, make_org

S = PaymentStatus

# --- the state machine --------------------------------------------------------------------


def test_every_state_is_reachable_and_terminal_states_stay() -> None:
    seen, todo = {S.DRAFT}, [S.DRAFT]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(S)
    assert {S.REJECTED, S.EXPIRED, S.CANCELLED, S.REFUNDED} == TERMINAL
    assert S.CANCELLED not in TRANSITIONS[S.SUBMITTED]  # no cancel once on its way


def test_moved_records_each_state_and_refuses_illegal_moves() -> None:
    p = Payment(
        id="p", uetr="u", kind="transfer", owner_type="user", owner_id="o", created_by="o",
        idempotency_key="k", request_hash="h", sender_wallet_id="w", recipient_type="user",
        recipient_user_id=None, recipient_wallet_id=None, recipient_address=None,
        recipient_bank=None, recipient_name="", quote_id=None, sell_code="USD",
        sell_amount_minor=1, fee_minor=0, buy_code="USD", buy_amount_minor=1, price="1",
        memo="", status=S.DRAFT, history=(PaymentStep(status=S.DRAFT, at_ms=1),),
        transfer_id=None,
        tx_id=None, height=None, reason_code=None, reason_message=None,
        expected_arrival_ms=0, created_ms=1, updated_ms=1)
    p = moved(moved(p, S.READY, 2), S.SUBMITTED, 3)
    assert [(h.status, h.at_ms) for h in p.history] == [
        (S.DRAFT, 1), (S.READY, 2), (S.SUBMITTED, 3)]
    assert p.updated_ms == 3
    with pytest.raises(AssertionError):
        moved(p, S.CREDITED, 4)


# --- set-up -------------------------------------------------------------------------------


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


@dataclasses.dataclass
class Party:
    actor: Actor
    wallet: Wallet

    @property
    def headers(self) -> dict[str, str]:
        return self.actor.headers


@pytest.fixture
def alice(platform: bootstrap.Platform, customer: Actor, chain: FakeChain) -> Party:
    """KYC tier 2 (all currencies), an open wallet holding 1,000.00 USD on chain."""
    kyc(platform, customer.user.id, 2)
    wallet = open_wallet(platform, customer.user.id)
    chain.fund(wallet.address, "USD", 100_000)
    return Party(customer, wallet)


@pytest.fixture
def bob(platform: bootstrap.Platform, other_customer: Actor) -> Party:
    """KYC tier 2 (may receive every currency), an open wallet."""
    kyc(platform, other_customer.user.id, 2)
    return Party(other_customer, open_wallet(platform, other_customer.user.id))


TO_BOB = {"type": "user", "email": "dave@example.com"}


def pay(client: TestClient, who: Party | Actor, key: str | None, **body: Any) -> Any:
    headers = dict(who.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/v1/payments", headers=headers, json={"recipient": TO_BOB, **body})


def quote(client: TestClient, who: Party, **body: str) -> dict[str, Any]:
    r = client.post("/v1/quotes", headers=keyed(who.headers), json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def count(platform: bootstrap.Platform, record: type) -> int:
    with platform.deps.uow() as uow:
        n: int = uow.repo(record).count()
    return n


def nothing_changed(platform: bootstrap.Platform) -> None:
    assert count(platform, Payment) == 0 and count(platform, Transfer) == 0


# --- the happy path ---------------------------------------------------------------------


def test_quote_preview_pay_usd_to_cny_until_credited(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        chain: FakeChain, clock: FakeClock) -> None:
    q = quote(client, alice, sell_asset="USD", buy_asset="CNY", sell_amount="100.00")
    body = {"quote_id": q["id"], "memo": "rent"}
    r = client.post("/v1/payments/preview", headers=alice.headers,
                    json={"recipient": TO_BOB, **body})
    assert r.status_code == 200, r.text
    shown = r.json()
    assert (shown["sell_amount"], shown["fee"], shown["buy_amount"], shown["price"]) == (
        "100.00", "0.70", "715.33", "7.2038")
    # the recipient as typed, masked: the registered name only once the payment is made
    assert shown["recipient_name"] == "d***@example.com" and shown["kind"] == "remittance"
    assert shown["recipient_address"] is None
    assert shown["expected_arrival_ms"] == clock.now + payments.EXPECTED_ONCHAIN_MS
    assert count(platform, Payment) == 0  # a preview writes nothing

    clock.advance(1_000)
    r = pay(client, alice, "k-1", **body)
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["id"].startswith("PMT") and len(p["uetr"]) == 36
    assert p["status"] == "submitted" and p["recipient_name"] == "Dave Customer"
    assert [h["status"] for h in p["history"]] == ["draft", "screening", "ready", "submitted"]
    assert (p["sell_amount"], p["fee"], p["buy_amount"]) == ("100.00", "0.70", "715.33")

    t = transfer_of(platform, p["id"])
    assert t.source == wallet_ref(alice.wallet.id) and t.memo == p["uetr"]
    assert t.legs == (
        Leg(source=wallet_ref(alice.wallet.id), destination=TREASURY, code="USD",
            amount_minor=10_000),
        Leg(source=TREASURY, destination=wallet_ref(bob.wallet.id), code="CNY",
            amount_minor=71_533))
    assert client.get(f"/v1/quotes/{q['id']}", headers=alice.headers).json()["status"] == "used"
    again = pay(client, alice, "k-2", **body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "QUOTE_USED"

    clock.advance(2_000)
    tx_id = commit(platform, chain, p["id"], height=7)
    done = client.get(f"/v1/payments/{p['id']}", headers=alice.headers).json()
    assert done["status"] == "credited" and (done["tx_id"], done["height"]) == (tx_id, 7)
    assert [h["status"] for h in done["history"]] == [
        "draft", "screening", "ready", "submitted", "included", "final", "credited"]
    assert all(isinstance(h["at_ms"], int) for h in done["history"])
    assert done["history"][-1]["at_ms"] == clock.now
    # the recipient sees it too; a replayed outcome changes nothing
    assert client.get(f"/v1/payments/{p['id']}", headers=bob.headers).status_code == 200
    commit(platform, chain, p["id"], height=8)
    assert client.get(f"/v1/payments/{p['id']}", headers=alice.headers).json() == done

    receipt = client.get(f"/v1/payments/{p['id']}/receipt", headers=bob.headers).json()
    assert receipt["uetr"] == p["uetr"] and receipt["sent"] == "100.00 USD"
    assert receipt["received"] == "715.33 CNY" and receipt["fee"] == "0.70 USD"
    assert receipt["rate"] == "1 USD = 7.2038 CNY"
    assert receipt["tx_id"] == tx_id and receipt["height"] == 7
    assert receipt["proof"]["verified"] is True
    assert receipt == payment_reads.receipt(platform.deps, principal_of(bob), p["id"])

    listed = client.get("/v1/payments", headers=alice.headers).json()["items"]
    assert [x["id"] for x in listed] == [p["id"]]
    assert client.get("/v1/payments", headers=bob.headers).json()["items"] == []


def principal_of(party: Party) -> Any:
    from corridor.platform.domain.principal import Principal
    from corridor.platform.domain.roles import UserKind

    return Principal(user_id=party.actor.user.id, kind=UserKind.CUSTOMER, staff_role=None,
                     session_id="t")


def test_a_tampered_proof_does_not_verify(alice: Party, chain: FakeChain) -> None:
    stx = chain.include(3)
    good = chain.blocks[stx.tx_id.hex()]
    assert payment_reads.proof_ok(stx.tx_id.hex(), good.height, good.index, good.tx_hex, good.path,
                             good.header)
    assert not payment_reads.proof_ok(stx.tx_id.hex(), good.height, 0, good.tx_hex, good.path,
                                 good.header)
    assert not payment_reads.proof_ok("00" * 32, good.height, good.index, good.tx_hex, good.path,
                                 good.header)
    assert not payment_reads.proof_ok(stx.tx_id.hex(), good.height, good.index, good.tx_hex,
                                 good.path, {**good.header, "hash": "00" * 32})


def test_rejected_on_chain_fails_with_the_ledger_code_and_is_released(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party) -> None:
    p = pay(client, alice, "k", asset="USD", amount="10").json()
    reject(platform, p["id"], "UNDERFUNDED")
    got = client.get(f"/v1/payments/{p['id']}", headers=alice.headers).json()
    assert got["reason_code"] == "UNDERFUNDED"
    # Nothing left the wallet, so the release closes at once (refund case "not included").
    assert [h["status"] for h in got["history"]][-3:] == ["failed", "refund_requested",
                                                          "refunded"]
    assert got["status"] == "refunded"


def test_same_currency_transfer_has_only_a_fee(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party) -> None:
    r = pay(client, alice, "k", asset="USD", amount="10.00")
    assert r.status_code == 201, r.text
    p = r.json()
    assert (p["sell_amount"], p["fee"], p["buy_amount"], p["price"]) == (
        "10.52", "0.52", "10.00", "1")
    legs = transfer_of(platform, p["id"]).legs
    assert [leg.amount_minor for leg in legs] == [1052, 1000]


def test_pay_to_a_ledger_address(client: TestClient, platform: bootstrap.Platform,
                                 alice: Party, bob: Party) -> None:
    r = client.post("/v1/payments", headers={**alice.headers, "Idempotency-Key": "a"},
                    json={"recipient": {"type": "address", "address": bob.wallet.address},
                          "asset": "USD", "amount": "5"})
    assert r.status_code == 201, r.text
    assert transfer_of(platform, r.json()["id"]).legs[1].destination == bob.wallet.address
    assert client.get(f"/v1/payments/{r.json()['id']}", headers=bob.headers).status_code == 200


def test_external_payout_goes_to_the_treasury_and_asks_the_rails(
        client: TestClient, platform: bootstrap.Platform, alice: Party, chain: FakeChain,
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    handlers = dataclasses.replace(platform.deps.handlers, payout_requested=(
        lambda deps, uow, p: asked.append(p.id),))
    monkeypatch.setattr(platform, "deps", dataclasses.replace(platform.deps, handlers=handlers))
    bank = {"type": "external", "name": "Erika Mustermann", "iban": "DE89 3704 0044 0532 0130 00",
            "country": "DE", "bank_code": "COBADEFFXXX"}
    q = quote(client, alice, sell_asset="USD", buy_asset="EUR", sell_amount="50")
    r = client.post("/v1/payments", headers={**alice.headers, "Idempotency-Key": "x"},
                    json={"recipient": bank, "quote_id": q["id"]})
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["recipient_type"] == "external" and p["recipient_name"] == "Erika Mustermann"
    t = transfer_of(platform, p["id"])
    assert t.legs == (Leg(source=wallet_ref(alice.wallet.id), destination=TREASURY,
                          code="USD", amount_minor=5000),)
    with platform.deps.uow() as uow:
        stored = uow.repo(Payment).get(p["id"])
    assert stored is not None and stored.recipient_bank == {
        "type": "external", "name": "Erika Mustermann", "iban": "••••••••••••••••••3000",
        "country": "DE", "bank_code": "COBADEFFXXX"}
    assert bank_details.payment_account(platform.deps, stored) == "DE89370400440532013000"
    assert asked == []
    commit(platform, chain, p["id"])
    assert asked == [p["id"]]


# --- refusals --------------------------------------------------------------------------------


def test_expired_quote_is_refused(client: TestClient, platform: bootstrap.Platform,
                                  alice: Party, bob: Party, clock: FakeClock) -> None:
    q = quote(client, alice, sell_asset="USD", buy_asset="CNY", sell_amount="20")
    clock.advance(fx.QUOTE_TTL_MS)
    r = pay(client, alice, "k", quote_id=q["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "QUOTE_EXPIRED"
    nothing_changed(platform)


def test_someone_elses_quote_is_not_found(client: TestClient, platform: bootstrap.Platform,
                                          alice: Party, bob: Party) -> None:
    q = quote(client, alice, sell_asset="USD", buy_asset="CNY", sell_amount="20")
    kyc_bob_funds = pay(client, bob, "k", quote_id=q["id"])
    assert kyc_bob_funds.status_code == 404
    nothing_changed(platform)


def test_limits(client: TestClient, platform: bootstrap.Platform, customer: Actor,
                chain: FakeChain, bob: Party) -> None:
    kyc(platform, customer.user.id, 1)  # 1,000 USD a payment, 2,000 a day, USD and EUR
    wallet = open_wallet(platform, customer.user.id)
    chain.fund(wallet.address, "USD", 10_000_00)
    chain.fund(wallet.address, "CNY", 10_000_00)
    r = pay(client, customer, "big", asset="USD", amount="1000.00")  # plus the fee: above
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "LIMIT_EXCEEDED" and err["fields"]["limit"] == "per_transaction"
    assert err["fields"]["limit_amount"] == "1000.00 USD"
    r = pay(client, customer, "cny", asset="CNY", amount="10")
    assert r.status_code == 422 and r.json()["error"]["code"] == "CURRENCY_NOT_ALLOWED"
    nothing_changed(platform)
    for n in range(2):
        assert pay(client, customer, f"ok{n}", asset="USD", amount="900").status_code == 201
    r = pay(client, customer, "third", asset="USD", amount="900")
    assert r.status_code == 422
    assert r.json()["error"]["fields"]["limit"] == "per_day"
    assert r.json()["error"]["fields"]["used_today"] == "1804.60 USD"  # 2 x (900.00 + 2.30 fee)
    # a failed payment no longer counts
    first = client.get("/v1/payments", headers=customer.headers).json()["items"][-1]
    reject(platform, first["id"])
    assert pay(client, customer, "third", asset="USD", amount="900").status_code == 201


def test_tier_zero_may_not_pay(client: TestClient, platform: bootstrap.Platform,
                               customer: Actor, chain: FakeChain, bob: Party) -> None:
    wallet = open_wallet(platform, customer.user.id)
    chain.fund(wallet.address, "USD", 100_00)
    r = pay(client, customer, "k", asset="USD", amount="1")
    assert r.status_code == 409 and r.json()["error"]["code"] == "KYC_REQUIRED"
    nothing_changed(platform)


def test_no_wallet_and_insufficient_funds(client: TestClient, platform: bootstrap.Platform,
                                          customer: Actor, bob: Party,
                                          chain: FakeChain) -> None:
    kyc(platform, customer.user.id, 2)
    r = pay(client, customer, "k", asset="USD", amount="1")
    assert r.status_code == 409 and r.json()["error"]["code"] == "NO_OPEN_WALLET"
    wallet = open_wallet(platform, customer.user.id)
    chain.fund(wallet.address, "USD", 10_51)
    r = pay(client, customer, "k", asset="USD", amount="10.00")  # 10.52 with the fee
    assert r.status_code == 409 and r.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert r.json()["error"]["fields"]["available"] == "10.51"
    nothing_changed(platform)


def test_the_sender_wallet_lock_queues_one_owners_creations_and_needs_an_open_wallet(
        platform: bootstrap.Platform, customer: Actor) -> None:
    deps, owner = platform.deps, ("user", customer.user.id)
    wallet = open_wallet(platform, customer.user.id)
    entered = threading.Event()
    with deps.uow() as first:
        assert payments._sender_wallet(first, owner) == wallet

        def second() -> None:
            with deps.uow() as uow:
                payments._sender_wallet(uow, owner)  # waits for `first` (row or file lock)
                entered.set()

        t = threading.Thread(target=second)
        t.start()
        assert not entered.wait(0.3)
        first.commit()
        t.join(timeout=30)
    assert entered.is_set()
    with deps.uow() as uow:  # a wallet that is not open (yet) is not one to pay from
        uow.repo(Wallet).update(dataclasses.replace(wallet, status=WalletStatus.OPENING))
        uow.commit()
    with deps.uow() as uow, pytest.raises(PlatformError, match="no open wallet"):
        payments._sender_wallet(uow, owner)


# --- idempotency and concurrency ---------------------------------------------------------


def test_retry_with_the_same_key_makes_one_payment(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        chain: FakeChain) -> None:
    first = pay(client, alice, "same", asset="USD", amount="3.00")
    again = pay(client, alice, "same", asset="USD", amount="3.00")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert count(platform, Payment) == 1 and count(platform, Transfer) == 1
    other = pay(client, alice, "same", asset="USD", amount="4.00")
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert count(platform, Payment) == 1
    # keys are per owner: Bob may use the same one
    chain.fund(bob.wallet.address, "USD", 100_00)
    r = client.post("/v1/payments", headers={**bob.headers, "Idempotency-Key": "same"},
                    json={"recipient": {"type": "user", "email": "carol@example.com"},
                          "asset": "USD", "amount": "3.00"})
    assert r.status_code == 201 and count(platform, Payment) == 2


@pytest.mark.parametrize("key", [None, "", "x" * 65, "bad\nkey"])
def test_idempotency_key_is_required_and_sane(client: TestClient, platform: bootstrap.Platform,
                                              alice: Party, bob: Party,
                                              key: str | None) -> None:
    headers = dict(alice.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    try:
        r = client.post("/v1/payments", headers=headers,
                        json={"recipient": TO_BOB, "asset": "USD", "amount": "1"})
    except Exception:  # a newline cannot even be sent: the HTTP client refuses it
        assert key == "bad\nkey"
        return
    assert r.status_code == 422 and "Idempotency-Key" in r.json()["error"]["fields"]
    nothing_changed(platform)


def test_concurrent_payments_never_overdraw(client: TestClient, platform: bootstrap.Platform,
                                            alice: Party, bob: Party) -> None:
    # 1,000.00 USD; each payment costs 30.00 + 0.56 fee = 30.56: exactly 32 fit
    def one(n: int) -> int:
        r = pay(client, alice, f"c{n}", asset="USD", amount="30.00")
        assert r.status_code in (201, 409), r.text
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
        return r.status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(one, range(50)))
    assert codes.count(201) == 100_000 // 3056 == 32
    with platform.deps.uow() as uow:
        total = sum(p.sell_amount_minor for p in uow.repo(Payment).many())
    assert total == 32 * 3056 <= 100_000


def test_a_recent_balance_is_reused_and_read_again_before_it_refuses(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        chain: FakeChain) -> None:
    chain.fund(bob.wallet.address, "USD", 0)  # the recipient's account: read once, reused
    assert pay(client, alice, "r1", asset="USD", amount="900.00").status_code == 201
    reads = chain.account_reads
    chain.fund(alice.wallet.address, "USD", 600_000)  # a credit the recent read misses
    # the recent balance (1,000.00 less the first payment) would refuse: read again, pay
    assert pay(client, alice, "r2", asset="USD", amount="900.00").status_code == 201
    assert chain.account_reads == reads + 1
    # no credit this time: the fresh read refuses too, and nothing was made
    chain.fund(alice.wallet.address, "USD", 100_000)
    r = pay(client, alice, "r3", asset="USD", amount="900.00")
    assert r.status_code == 409 and r.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert count(platform, Payment) == 2


# --- cancel --------------------------------------------------------------------------------


def _insert_ready(platform: bootstrap.Platform, template_id: str) -> str:
    """A payment waiting before submission (as an approval flow would leave it)."""
    with platform.deps.uow() as uow:
        p = uow.repo(Payment).get(template_id)
        assert p is not None
        ready = dataclasses.replace(
            p, id="PMTREADY", uetr="00000000-0000-4000-8000-000000000001",
            idempotency_key="ready", status=S.READY, transfer_id=None,
            history=(PaymentStep(status=S.DRAFT, at_ms=1), PaymentStep(status=S.READY, at_ms=1)))
        uow.repo(Payment).add(ready)
        uow.commit()
    return ready.id


def test_cancel_only_before_submission(client: TestClient, platform: bootstrap.Platform,
                                       alice: Party, bob: Party) -> None:
    p = pay(client, alice, "k", asset="USD", amount="1").json()
    r = client.post(f"/v1/payments/{p['id']}/cancel", headers=alice.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "NOT_CANCELLABLE"
    ready = _insert_ready(platform, p["id"])
    assert client.post(f"/v1/payments/{ready}/cancel", headers=bob.headers).status_code == 403
    r = client.post(f"/v1/payments/{ready}/cancel", headers=alice.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert [h["status"] for h in r.json()["history"]] == ["draft", "ready", "cancelled"]


# --- authorisation ---------------------------------------------------------------------------


def test_every_endpoint_needs_a_session(client: TestClient) -> None:
    for method, path in [("POST", "/v1/payments"), ("POST", "/v1/payments/preview"),
                         ("GET", "/v1/payments"), ("GET", "/v1/payments/x"),
                         ("POST", "/v1/payments/x/cancel"), ("GET", "/v1/payments/x/receipt")]:
        r = client.request(method, path, json={"recipient": TO_BOB})
        assert r.status_code == 401, (method, path)


def test_others_learn_nothing_and_staff_cannot_pay(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party) -> None:
    p = pay(client, alice, "k", asset="USD", amount="1").json()
    eve = make_user(platform, email="eve@example.com")
    for method, path in [("GET", f"/v1/payments/{p['id']}"),
                         ("POST", f"/v1/payments/{p['id']}/cancel"),
                         ("GET", f"/v1/payments/{p['id']}/receipt"),
                         ("GET", "/v1/payments/nope")]:
        r = client.request(method, path, headers=eve.headers)
        assert r.status_code == 404, (method, path)
    staff = make_staff(platform, "admin")
    body = {"recipient": TO_BOB, "asset": "USD", "amount": "1"}
    assert client.post("/v1/payments", headers={**staff.headers, "Idempotency-Key": "s"},
                       json=body).status_code == 403
    assert client.post("/v1/payments/preview", headers=staff.headers,
                       json=body).status_code == 403
    assert client.get("/v1/payments", headers=staff.headers).status_code == 403


def test_organisation_payments_need_pay_initiate(
        client: TestClient, platform: bootstrap.Platform, customer: Actor, bob: Party,
        chain: FakeChain) -> None:
    viewer = make_user(platform, email="viewer@example.com")
    org_id = make_org(platform, customer.user.id, {viewer.user.id: "viewer"})
    kyc(platform, org_id, 3, owner_type="org")
    wallet = open_wallet(platform, org_id, owner_type="org")
    chain.fund(wallet.address, "USD", 1_000_00)
    body = {"recipient": TO_BOB, "asset": "USD", "amount": "1", "org_id": org_id}
    r = client.post("/v1/payments", headers={**viewer.headers, "Idempotency-Key": "v"},
                    json=body)
    assert r.status_code == 403
    r = client.post("/v1/payments", headers={**customer.headers, "Idempotency-Key": "o"},
                    json=body)
    assert r.status_code == 201 and r.json()["owner_type"] == "org"
    # the viewer may read the organisation's payments; outsiders may not list them
    assert client.get(f"/v1/payments/{r.json()['id']}", headers=viewer.headers
                      ).status_code == 200
    assert len(client.get(f"/v1/payments?org_id={org_id}", headers=viewer.headers
                          ).json()["items"]) == 1
    assert client.get(f"/v1/payments?org_id={org_id}", headers=bob.headers).status_code == 404


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("body, status, code, fields", [
    ({"recipient": {"type": "address", "address": "c123"}, "asset": "USD", "amount": "-1",
      "memo": "x" * 10}, 422, "INVALID_FIELDS", {"recipient.address", "amount"}),
    ({"recipient": {"type": "external", "name": "", "iban": "GB00WEST12345698765432",
                    "country": "G1", "bank_code": "!"}, "asset": "EUR",
      "amount": "1"}, 422, "INVALID_FIELDS",
     {"recipient.name", "recipient.iban", "recipient.country", "recipient.bank_code"}),
    ({"recipient": {"type": "pigeon"}, "asset": "XXX", "amount": "1"}, 422, "INVALID_FIELDS",
     {"recipient.type", "asset"}),
    ({"recipient": TO_BOB, "quote_id": "q", "asset": "USD", "amount": "1"}, 422,
     "INVALID_FIELDS", {"quote_id"}),
    ({"recipient": TO_BOB, "quote_id": "nope"}, 404, "NOT_FOUND", set()),
    ({"recipient": TO_BOB, "asset": "USD", "amount": "0.001"}, 422, "INVALID_FIELDS",
     {"amount"}),
    ({"recipient": TO_BOB, "asset": "USD", "amount": "1", "surprise": True}, 422,
     "INVALID_REQUEST", {"surprise"}),
    ({"recipient": {"type": "user", "email": "carol@example.com"}, "asset": "USD",
      "amount": "1"}, 422, "SAME_WALLET", {"recipient"}),
])
def test_bad_input_is_refused_and_changes_nothing(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        body: dict[str, Any], status: int, code: str, fields: set[str]) -> None:
    for path, extra in (("/v1/payments", {"Idempotency-Key": "k"}),
                        ("/v1/payments/preview", {})):
        r = client.post(path, headers={**alice.headers, **extra}, json=body)
        assert r.status_code == status, (path, r.text)
        err = r.json()["error"]
        assert err["code"] == code and fields <= set(err["fields"]), err
    nothing_changed(platform)
    with platform.deps.uow() as uow:
        assert uow.repo(Quote).count() == 0
