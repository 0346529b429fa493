"""The settlement worker against a real node: transfers signed by custodial and system
keys settle exactly once, a refused transfer does not strand the ones after it, and a
crash after signing resends the same bytes instead of paying twice."""

from __future__ import annotations

import httpx

from corridor.platform import bootstrap
from corridor.platform.adapters.ledger_client import LedgerClient
from corridor.platform.adapters.outbox_transfers import TransferLane
from corridor.platform.config import Settings
from corridor.platform.domain.transfers import (
    ISSUER,
    TREASURY,
    Leg,
    Purpose,
    Transfer,
    TransferStatus,
    wallet_ref,
)
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services import settlement
from tests.platform.conftest import make_user
from tests.platform.test_wallets_node import (  # noqa: F401  (fixtures)
    address_of_keyfile,
    chain,
    node,
    open_and_authorise,
    settings,
    settled,
    wait_until,
)


def _balance(chain: httpx.Client, address: str, code: str) -> int:  # noqa: F811
    acct = chain.get(f"/v1/accounts/{address}").json()
    return sum(int(b["balance"]) for b in acct["balances"] if b["code"] == code)


def _queue(platform: bootstrap.Platform, source: str, legs: list[Leg]) -> str:
    with platform.deps.uow() as uow:
        t = settlement.queue(platform.deps, uow, purpose=Purpose.MINT,
                             ref_id=platform.deps.rand.new_id(),
                             source=source, legs=legs)
        uow.commit()
    return t.id


def _transfers(platform: bootstrap.Platform) -> list[Transfer]:
    with platform.deps.uow() as uow:
        return uow.repo(Transfer).many(order_by="created_ms")


def _done(platform: bootstrap.Platform) -> bool:
    return all(t.status in ("committed", "rejected") for t in _transfers(platform))


def _ready_wallet(platform: bootstrap.Platform) -> Wallet:
    customer = make_user(platform, email="carol@example.com")
    wallet_id = open_and_authorise(platform, customer.user.id)
    wait_until("the wallet to open and be authorised", lambda: settled(platform))
    with platform.deps.uow() as uow:
        wallet = uow.repo(Wallet).get(wallet_id)
    assert wallet is not None and wallet.status == "open"
    return wallet


def test_transfers_settle_exactly_once_and_a_refusal_strands_nothing(
        platform: bootstrap.Platform, chain: httpx.Client,  # noqa: F811
        settings: Settings) -> None:  # noqa: F811
    assert platform.start_workers()
    try:
        wallet = _ready_wallet(platform)
        bob = address_of_keyfile(settings.operator_key.parent / "bob.json")  # type: ignore[union-attr]
        bob_cny = _balance(chain, bob, "CNY")
        _queue(platform, ISSUER, [Leg(source=ISSUER, destination=wallet_ref(wallet.id),
                                      code="USD", amount_minor=10_000)])
        wait_until("the mint", lambda: _done(platform))
        w = wallet_ref(wallet.id)
        pays = []
        for i in range(20):
            if i == 5:  # far more than the wallet holds: the chain refuses this one
                _queue(platform, w, [Leg(source=w, destination=TREASURY, code="USD",
                                         amount_minor=10**9)])
            pays.append(_queue(platform, w, [
                Leg(source=w, destination=TREASURY, code="USD", amount_minor=100),
                Leg(source=TREASURY, destination=bob, code="CNY", amount_minor=700)]))
        try:
            wait_until("every transfer to settle", lambda: _done(platform))
        except AssertionError:
            raise AssertionError([(t.status, t.sequence, t.result_code, t.result_message,
                                   t.attempts) for t in _transfers(platform)]) from None
    finally:
        platform.stop_workers()
    by_id = {t.id: t for t in _transfers(platform)}
    assert all(by_id[p].status == TransferStatus.COMMITTED for p in pays)
    refused = [t for t in by_id.values() if t.status == TransferStatus.REJECTED]
    assert len(refused) == 1 and refused[0].result_code
    assert _balance(chain, wallet.address, "USD") == 10_000 - 20 * 100
    assert _balance(chain, bob, "CNY") == bob_cny + 20 * 700
    assert len({by_id[p].tx_id for p in pays}) == 20


def test_a_crash_after_signing_resends_the_same_bytes(
        platform: bootstrap.Platform, chain: httpx.Client,  # noqa: F811
        settings: Settings) -> None:  # noqa: F811
    assert platform.start_workers()
    try:
        wallet = _ready_wallet(platform)
        _queue(platform, ISSUER, [Leg(source=ISSUER, destination=wallet_ref(wallet.id),
                                      code="USD", amount_minor=5_000)])
        wait_until("the mint", lambda: _done(platform))
    finally:
        platform.stop_workers()
    # Sign without submitting, as if the process died between storing and sending.
    settler_node = LedgerClient(settings.node_rpc, token=settings.node_rpc_token)
    lane = TransferLane(
        platform.deps, settler_node,
        treasury=bootstrap.load_system_key(settings.operator_key),  # type: ignore[arg-type]
        issuer=bootstrap.load_system_key(settings.issuer_key))  # type: ignore[arg-type]
    lane.recover(look_up=False)  # nothing in flight: reads the chain's id and clock
    w = wallet_ref(wallet.id)
    tid = _queue(platform, w, [Leg(source=w, destination=TREASURY, code="USD",
                                   amount_minor=1_234)])
    lane._submit = lambda signed: None  # type: ignore[method-assign]
    lane.sign_and_submit()
    settler_node.close()
    [signed] = [t for t in _transfers(platform) if t.id == tid]
    assert signed.status == TransferStatus.SUBMITTED and signed.tx_hex
    before = _balance(chain, wallet.address, "USD")
    assert platform.start_workers()
    try:
        wait_until("the resent transfer", lambda: _done(platform))
    finally:
        platform.stop_workers()
    [after] = [t for t in _transfers(platform) if t.id == tid]
    assert after.status == TransferStatus.COMMITTED and after.tx_id == signed.tx_id
    assert _balance(chain, wallet.address, "USD") == before - 1_234
