"""A compliance freeze against a real node and the platform's API server (issue 16): the
officer's freeze becomes the issuer's FREEZE on chain (the node shows the customer's
holdings frozen, the freeze carries its transaction and block), the customer's payments
and withdrawals are refused up front (ACCOUNT_FROZEN); the same officer cannot lift it
(four eyes); another one does, the node shows the holdings unfrozen, and a payment goes
through to the recipient. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from corridor.platform import bootstrap
from corridor.platform.adapters.ledger_client import LedgerClient
from corridor.platform.adapters.outbox_jobs import JobLane
from corridor.platform.config import Settings
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.domain.transfers import ISSUER, Leg, Purpose, Transfer, wallet_ref
from corridor.platform.domain.wallets import Signer, Wallet
from corridor.platform.services import freezes, payments, settlement
from corridor.platform.services.payments import PaymentRequest
from tests.node.conftest import NodeProcess
from tests.platform.conftest import give_kyc, keyed, make_staff, make_user, new_key
from tests.platform.live import OFFICER_PASSWORD, Platform, sign_in, wait_until
from tests.platform.test_e2e_payments import onboard, settled, wallet
from tests.platform.test_wallets_node import (  # noqa: F401
    chain,
    open_and_authorise,
    settings,
)
from tests.platform.test_wallets_node import settled as jobs_settled


def holdings(node: NodeProcess, address: str) -> dict[str, dict[str, Any]]:
    acct = httpx.get(f"{node.url}/v1/accounts/{address}", timeout=10,
                     headers=node.headers).json()
    return {b["code"]: b for b in acct["balances"]}


def latest(api: httpx.Client, who: dict[str, str], customer_id: str) -> dict[str, Any]:
    r = api.get(f"/v1/staff/customers/{customer_id}/freezes", headers=who)
    assert r.status_code == 200, r.text
    item: dict[str, Any] = r.json()["items"][0]
    return item


def deposit(api: httpx.Client, who: dict[str, str], amount: str) -> None:
    r = api.post("/v1/deposits", headers=keyed(who), json={"currency": "USD", "amount": amount})
    assert r.status_code == 201, r.text
    dep = r.json()
    r = api.post("/v1/dev/sim-bank/transfers", headers=who,
                 json={"reference": dep["instructions"]["reference"], "amount": amount,
                       "currency": "USD"})
    assert r.status_code == 202, r.text

    def credited() -> bool:
        api.post("/v1/dev/sim-bank/flush", headers=who)
        return api.get(f"/v1/deposits/{dep['id']}", headers=who).json()["status"] == "credited"

    wait_until("the deposit to be credited", credited)


def test_freeze_on_chain_stops_payments_and_unfreeze_lifts_it(
        service: Platform, node: NodeProcess, api: httpx.Client) -> None:
    service.cli("staff-add", "--email", "second@corridor.example", "--name", "Sam Second",
                "--role", "compliance_officer", "--password-stdin",
                stdin=OFFICER_PASSWORD + "\n")
    officer = sign_in(api, service, "officer@corridor.example", OFFICER_PASSWORD)
    second = sign_in(api, service, "second@corridor.example", OFFICER_PASSWORD)
    ann = onboard(api, service, officer, "ann@example.com", "US")
    onboard(api, service, officer, "li@example.cn", "CN")
    ann_wallet = wallet(api, ann)
    ann_id = ann_wallet["owner_id"]
    deposit(api, ann, "100.00")
    pay = {"recipient": {"type": "user", "email": "li@example.cn"}, "asset": "USD",
           "amount": "10.00"}

    # The customer cannot freeze anyone; the officer's request needs a reason.
    r = api.post(f"/v1/staff/customers/{ann_id}/freeze", headers=keyed(ann),
                 json={"reason": "x"})
    assert r.status_code == 403, r.text
    r = api.post(f"/v1/staff/customers/{ann_id}/freeze", headers=keyed(officer),
                 json={"reason": "  "})
    assert r.status_code == 422 and r.json()["error"]["fields"].get("reason"), r.text

    r = api.post(f"/v1/staff/customers/{ann_id}/freeze", headers=keyed(officer),
                 json={"reason": "sanctions hit under review", "reference": "CASE-7"})
    assert r.status_code == 200, r.text
    codes = r.json()["asset_codes"]  # every asset the issuer authorised the wallet for
    assert r.json()["status"] == "requested" and {"CNY", "USD"} <= set(codes), r.text
    wait_until("the freeze on chain",
               lambda: latest(api, officer, ann_id)["status"] == "frozen")
    frozen = latest(api, officer, ann_id)
    assert frozen["tx_id"] and frozen["height"] and frozen["reference"] == "CASE-7"
    tx = httpx.get(f"{node.url}/v1/txs/{frozen['tx_id']}", timeout=10,
                   headers=node.headers).json()
    assert tx["status"] == "committed" and tx["height"] == frozen["height"], tx
    held = holdings(node, ann_wallet["address"])
    assert all(held[code]["frozen"] is True for code in codes), held
    assert held["USD"]["balance"] == "10000"  # nothing taken: frozen, not seized

    # Money cannot leave: preview, payment and withdrawal are refused up front.
    for path in ("/v1/payments/preview", "/v1/payments"):
        r = api.post(path, headers=keyed(ann), json=pay)
        assert r.status_code == 409 and r.json()["error"]["code"] == "ACCOUNT_FROZEN", r.text
    r = api.post("/v1/withdrawals", headers=keyed(ann),
                 json={"currency": "USD", "amount": "5.00",
                       "bank": {"name": "Ann Example", "account": "000123456789",
                                "country": "US", "bank_code": "CHASUS33"}})
    assert r.status_code == 409 and r.json()["error"]["code"] == "ACCOUNT_FROZEN", r.text
    mine = api.get("/v1/wallets", headers=ann).json()
    assert mine["frozen"] is True and mine["freeze_status"] == "frozen"

    # Four eyes: the officer who froze cannot lift it; another can.
    r = api.post(f"/v1/staff/customers/{ann_id}/unfreeze", headers=keyed(officer),
                 json={"reason": "cleared"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "FOUR_EYES_REQUIRED", r.text
    r = api.post(f"/v1/staff/customers/{ann_id}/unfreeze", headers=keyed(second),
                 json={"reason": "false positive, cleared"})
    assert r.status_code == 200 and r.json()["status"] == "releasing", r.text
    wait_until("the release on chain",
               lambda: latest(api, officer, ann_id)["status"] == "released")
    released = latest(api, officer, ann_id)
    assert released["release_tx_id"] and released["release_height"] > frozen["height"]
    held = holdings(node, ann_wallet["address"])
    assert not any(held[code]["frozen"] for code in codes), held
    assert api.get("/v1/wallets", headers=ann).json()["frozen"] is False

    r = api.post("/v1/payments", headers=keyed(ann), json=pay)
    assert r.status_code == 201, r.text
    settled(api, ann, r.json()["id"])
    assert int(holdings(node, ann_wallet["address"])["USD"]["balance"]) < 10_000


def test_a_payment_in_flight_when_the_freeze_lands_moves_no_money(
        platform: bootstrap.Platform, chain: httpx.Client,  # noqa: F811
        settings: Settings) -> None:  # noqa: F811
    """A payment created before the freeze, whose transfer reaches the chain after it:
    the chain refuses it (FROZEN; retried as the outbox retries, then given up), the
    payment's existing failure path refunds it, and neither wallet's balance moves."""
    deps = platform.deps
    carol = make_user(platform, email="carol@example.com")
    dave = make_user(platform, email="dave@example.com")
    olive = make_staff(platform, "compliance_officer")
    assert platform.start_workers()
    try:
        carol_wallet = open_and_authorise(platform, carol.user.id)
        dave_wallet = open_and_authorise(platform, dave.user.id)
        wait_until("the wallets", lambda: jobs_settled(platform))
        for who in (carol, dave):
            give_kyc(platform, who.user.id, tier=2)
        with deps.uow() as uow:
            settlement.queue(deps, uow, purpose=Purpose.MINT, ref_id=deps.rand.new_id(),
                             source=ISSUER, legs=[Leg(source=ISSUER,
                                                      destination=wallet_ref(carol_wallet),
                                                      code="USD", amount_minor=10_000)])
            uow.commit()
        wait_until("the mint", lambda: _transfers_done(platform))
    finally:
        platform.stop_workers()
    carol_address, dave_address = _address(platform, carol_wallet), _address(platform, dave_wallet)
    payer = Principal(user_id=carol.user.id, kind=UserKind.CUSTOMER, staff_role=None,
                      session_id="test")
    payment, _ = payments.create(deps, payer, PaymentRequest(
        recipient={"type": "user", "email": "dave@example.com"}, asset="USD", amount="10.00"),
        new_key())
    officer = Principal(user_id=olive.user.id, kind=UserKind.STAFF,
                        staff_role=StaffRole.COMPLIANCE_OFFICER, session_id="test")
    freezes.freeze(deps, officer, "user", carol.user.id, reason="case",
                   idempotency_key=new_key())
    # The issuer's freeze alone reaches the chain first (the transfers' lane is stopped).
    client = LedgerClient(settings.node_rpc, token=settings.node_rpc_token)
    assert settings.issuer_key is not None
    issuer = JobLane(deps, client, {Signer.ISSUER: bootstrap.load_system_key(
        settings.issuer_key)})

    def frozen() -> bool:
        issuer.run_once()
        with deps.reader() as uow:
            f = freezes.active_of(uow, "user", carol.user.id)
        return f is not None and f.status == "frozen"

    wait_until("the freeze on chain", frozen)
    client.close()
    assert platform.start_workers()
    try:
        wait_until("the payment to end", lambda: _payment(platform, payment.id).status
                   in ("failed", "rejected", "refunded"))
    finally:
        platform.stop_workers()
    with deps.reader() as uow:
        transfer = uow.repo(Transfer).get(_payment(platform, payment.id).transfer_id or "")
    assert transfer is not None and transfer.result_code == "FROZEN", transfer
    assert _payment(platform, payment.id).status == "refunded"  # the sender made whole
    assert _usd(chain, carol_address) == 10_000 and _usd(chain, dave_address) == 0


def _transfers_done(platform: bootstrap.Platform) -> bool:
    with platform.deps.reader() as uow:
        return all(t.status in ("committed", "rejected") for t in uow.repo(Transfer).many())


def _address(platform: bootstrap.Platform, wallet_id: str) -> str:
    with platform.deps.reader() as uow:
        wallet = uow.repo(Wallet).get(wallet_id)
    assert wallet is not None
    return wallet.address


def _payment(platform: bootstrap.Platform, payment_id: str) -> Payment:
    with platform.deps.reader() as uow:
        p = uow.repo(Payment).get(payment_id)
    assert p is not None
    return p


def _usd(chain: httpx.Client, address: str) -> int:  # noqa: F811
    acct = chain.get(f"/v1/accounts/{address}").json()
    return sum(int(b["balance"]) for b in acct["balances"] if b["code"] == "USD")
