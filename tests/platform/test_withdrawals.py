"""Withdrawals (F3): the burn, the payout on the simulated bank, and every way back:
refused burn, payout refused or failed, payout returned after being paid (a REVERSAL
mint, never an edit); balance, limits, idempotency, input and authorisation."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.adapters.vault import VaultError
from corridor.platform.config import Settings
from corridor.platform.domain.rails import Withdrawal
from corridor.platform.domain.transfers import ISSUER, wallet_ref
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services import bank_details, withdrawals
from tests.platform.conftest import Actor, make_user
from tests.platform.rails_fakes import (
    IBAN_OK,
    BalanceNode,
    credit,
    grant_tier,
    key,
    open_wallet,
    play,
    rails_platform,  # noqa: F401  (the `platform` fixture: no node, deterministic keys)
    set_tier,
    sim_of,
    transfers,
)
from tests.platform.wallet_fakes import make_org, use_ledger


@pytest.fixture(name="settings")
def limits_alone(settings: Settings) -> Settings:
    """The limits on their own: the AML engine (on by default) would hold these large
    amounts for review before the limits are reached (tests/platform/test_movement_holds.py
    covers monitors and limits together)."""
    return dataclasses.replace(settings, aml_monitoring=False)



def bank(account: str = IBAN_OK, **changes: str) -> dict[str, str]:
    return {"name": "Carol Customer", "account": account, "country": "GB",
            "bank_code": "WESTGB2L", **changes}


def withdraw(client: TestClient, who: Actor, amount: str = "100.00", account: str = IBAN_OK,
             path: str = "/v1/withdrawals", expect: int = 201) -> dict[str, Any]:
    r = client.post(path, json={"currency": "USD", "amount": amount, "bank": bank(account)},
                    headers={**who.headers, **key()})
    assert r.status_code == expect, r.text
    body: dict[str, Any] = r.json()
    return body


def status(client: TestClient, who: Actor, withdrawal_id: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/withdrawals/{withdrawal_id}",
                                      headers=who.headers).json()
    return body


def in_db(platform: bootstrap.Platform) -> list[Withdrawal]:
    with platform.deps.uow() as uow:
        return uow.repo(Withdrawal).many()


@pytest.fixture
def funded(client: TestClient, platform: bootstrap.Platform, customer: Actor) -> Actor:
    """A tier-2 customer with an open wallet and 500.00 USD deposited."""
    grant_tier(platform, customer.user.id)
    open_wallet(platform, customer.user.id)
    credit(client, platform, customer, "500.00")
    return customer


def burn_committed(platform: bootstrap.Platform, w: dict[str, Any]) -> None:
    (burn,) = transfers(platform, ref_id=w["id"], purpose="withdrawal")
    play(platform, burn.id)


def test_withdrawal_flow_to_paid(client: TestClient, platform: bootstrap.Platform,
                                 funded: Actor) -> None:
    w = withdraw(client, funded, "100.00")
    assert w["status"] == "requested" and w["bank"]["account"].endswith("5432")
    assert "WEST1234" not in str(w)  # the account is masked in responses
    (burn,) = transfers(platform, ref_id=w["id"])
    wallet = wallet_ref(w["wallet_id"])
    assert (burn.purpose, burn.source) == ("withdrawal", wallet)
    assert [(leg.source, leg.destination, leg.code, leg.amount_minor)
            for leg in burn.leg_list()] == [(wallet, ISSUER, "USD", 10000)]
    assert withdrawals.dispatch_payouts(platform.deps) == 0  # nothing before the burn
    play(platform, burn.id)
    assert status(client, funded, w["id"])["status"] == "burned"
    assert withdrawals.dispatch_payouts(platform.deps) == 1
    asked = status(client, funded, w["id"])
    assert asked["status"] == "payout_requested" and asked["rail_ref"].startswith("SBP")
    assert sim_of(platform).drain() == 1
    paid = status(client, funded, w["id"])
    assert paid["status"] == "paid"
    assert [h["status"] for h in paid["history"]] == [
        "requested", "burned", "payout_requested", "paid"]
    assert client.get("/v1/withdrawals", headers=funded.headers).json()["total"] == 1


@pytest.mark.parametrize("account,reason", [("99000678", "ACCOUNT_CLOSED"),
                                            ("99002456", "ACCOUNT_INVALID")])
def test_failed_payout_is_reversed_by_a_fresh_mint(
        client: TestClient, platform: bootstrap.Platform, funded: Actor, account: str,
        reason: str) -> None:
    w = withdraw(client, funded, "120.00", account=account)
    burn_committed(platform, w)
    withdrawals.dispatch_payouts(platform.deps)
    sim_of(platform).drain()
    out = status(client, funded, w["id"])
    assert out["status"] == "reversing" and out["reason_code"] == reason
    (reversal,) = transfers(platform, ref_id=w["id"], purpose="reversal")
    assert [(leg.source, leg.destination, leg.amount_minor) for leg in reversal.leg_list()] \
        == [(ISSUER, wallet_ref(w["wallet_id"]), 12000)]
    (burn,) = transfers(platform, ref_id=w["id"], purpose="withdrawal")
    assert burn.status == "committed"  # never edited
    play(platform, reversal.id)
    done = status(client, funded, w["id"])
    assert done["status"] == "reversed" and done["reversal_tx_id"]
    # The money is back: the whole balance can be withdrawn again.
    withdraw(client, funded, "500.00")


def test_a_payout_returned_after_being_paid_is_reversed(
        client: TestClient, platform: bootstrap.Platform, funded: Actor) -> None:
    w = withdraw(client, funded, "50.00", account="99001456")
    burn_committed(platform, w)
    withdrawals.dispatch_payouts(platform.deps)
    sim = sim_of(platform)
    assert sim.pump(now_ms=platform.deps.clock.now_ms() + sim.config.settle_ms) == 1
    assert status(client, funded, w["id"])["status"] == "paid"
    assert sim.drain() == 1
    out = status(client, funded, w["id"])
    assert out["status"] == "reversing" and out["reason_code"] == "RETURNED"
    (reversal,) = transfers(platform, ref_id=w["id"], purpose="reversal")
    play(platform, reversal.id)
    assert [h["status"] for h in status(client, funded, w["id"])["history"]] == [
        "requested", "burned", "payout_requested", "paid", "reversing", "reversed"]


def test_a_refused_burn_fails_the_withdrawal_and_nothing_is_paid(
        client: TestClient, platform: bootstrap.Platform, funded: Actor) -> None:
    w = withdraw(client, funded)
    (burn,) = transfers(platform, ref_id=w["id"])
    play(platform, burn.id, committed=False)
    out = status(client, funded, w["id"])
    assert out["status"] == "failed" and out["reason_code"] == "UNDERFUNDED"
    assert withdrawals.dispatch_payouts(platform.deps) == 0
    assert sim_of(platform).pending() == 0


def test_a_refused_reversal_is_flagged(client: TestClient, platform: bootstrap.Platform,
                                       funded: Actor) -> None:
    w = withdraw(client, funded, account="99000678")
    burn_committed(platform, w)
    withdrawals.dispatch_payouts(platform.deps)
    sim_of(platform).drain()
    (reversal,) = transfers(platform, ref_id=w["id"], purpose="reversal")
    play(platform, reversal.id, committed=False)
    (rec,) = in_db(platform)
    assert rec.status == "reversing" and rec.flagged


def test_the_rail_is_asked_once_per_payout(client: TestClient, platform: bootstrap.Platform,
                                           funded: Actor) -> None:
    w = withdraw(client, funded)
    burn_committed(platform, w)
    sim = sim_of(platform)
    first = sim.request_payout(payout_id=w["id"], currency="USD", amount_minor=10000,
                               bank=bank(), reference="x")  # as if a crash lost the answer
    withdrawals.dispatch_payouts(platform.deps)
    assert status(client, funded, w["id"])["rail_ref"] == getattr(first, "rail_ref", None)
    assert sim.drain() == 1  # one payout, one event


def test_available_balance(client: TestClient, platform: bootstrap.Platform,
                           funded: Actor) -> None:
    r = client.post("/v1/withdrawals", headers={**funded.headers, **key()},
                    json={"currency": "USD", "amount": "500.01", "bank": bank()})
    assert r.status_code == 409 and r.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    withdraw(client, funded, "300.00")  # its burn is in flight ...
    withdraw(client, funded, "200.01", expect=409)  # ... so it counts against the balance
    withdraw(client, funded, "200.00")
    assert len(in_db(platform)) == 2


def test_available_balance_comes_from_the_node_when_there_is_one(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    wallet_id = open_wallet(platform, customer.user.id)
    with platform.deps.uow() as uow:
        wallet = uow.repo(Wallet).get(wallet_id)
    assert wallet is not None
    use_ledger(platform, BalanceNode({(wallet.address, "USD"): 7_500}))
    withdraw(client, customer, "75.01", expect=409)
    withdraw(client, customer, "75.00")


def test_limits(client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id, tier=1)
    open_wallet(platform, customer.user.id)
    r = client.post("/v1/withdrawals", headers={**customer.headers, **key()},
                    json={"currency": "USD", "amount": "1000.01", "bank": bank()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "LIMIT_EXCEEDED"
    r = client.post("/v1/withdrawals", headers={**customer.headers, **key()},
                    json={"currency": "CNY", "amount": "1.00", "bank": bank()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "CURRENCY_NOT_ALLOWED"
    assert in_db(platform) == []


def test_daily_limit_counts_todays_withdrawals_that_moved_money(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id, tier=2)  # 3,000 deposited in a day: tier 2
    open_wallet(platform, customer.user.id)
    for _ in range(3):
        credit(client, platform, customer, "1000.00")
    set_tier(platform, customer.user.id, 1)  # 1,000.00 a withdrawal, 2,000.00 a day
    first = withdraw(client, customer, "1000.00")
    (burn,) = transfers(platform, ref_id=first["id"], purpose="withdrawal")
    play(platform, burn.id, committed=False)  # refused: nothing left the wallet
    withdraw(client, customer, "1000.00")
    withdraw(client, customer, "1000.00")
    over = withdraw(client, customer, "0.01", expect=422)
    assert over["error"]["code"] == "LIMIT_EXCEEDED"
    assert "daily limit of 2000.00 USD (2000.00 used today)" in over["error"]["message"]
    assert len(in_db(platform)) == 3


def test_no_open_wallet(client: TestClient, platform: bootstrap.Platform,
                        customer: Actor) -> None:
    grant_tier(platform, customer.user.id)
    r = client.post("/v1/withdrawals", headers={**customer.headers, **key()},
                    json={"currency": "USD", "amount": "1.00", "bank": bank()})
    assert r.status_code == 409 and r.json()["error"]["code"] == "NO_WALLET"


def test_idempotency(client: TestClient, platform: bootstrap.Platform, funded: Actor) -> None:
    headers = {**funded.headers, **key()}
    body = {"currency": "USD", "amount": "10.00", "bank": bank()}
    first = client.post("/v1/withdrawals", json=body, headers=headers)
    again = client.post("/v1/withdrawals", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = client.post("/v1/withdrawals", json={**body, "bank": bank(name="Mallory")},
                        headers=headers)
    assert other.status_code == 409 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(in_db(platform)) == 1
    assert len(transfers(platform, purpose="withdrawal")) == 1


def test_bad_input_is_refused_with_every_problem_and_changes_nothing(
        client: TestClient, platform: bootstrap.Platform, funded: Actor) -> None:
    body = {"currency": "USD", "amount": "0",
            "bank": {"name": " ", "account": "GB00WEST12345698765432", "country": "ZZ",
                     "bank_code": "!"}}
    r = client.post("/v1/withdrawals", json=body, headers=funded.headers)
    # every problem in fields; the code names the missing key (issue 15)
    assert r.status_code == 422 and r.json()["error"]["code"] == "IDEMPOTENCY_KEY_MISSING"
    assert set(r.json()["error"]["fields"]) == {
        "amount", "bank.name", "bank.account", "bank.country", "bank.bank_code",
        "Idempotency-Key"}
    r = client.post("/v1/withdrawals", json=body, headers={**funded.headers, **key()})
    assert r.status_code == 422 and r.json()["error"]["code"] == "INVALID_FIELDS"
    r = client.post("/v1/withdrawals", json={"currency": "USD", "amount": "1.00"},
                    headers={**funded.headers, **key()})
    assert r.status_code == 422 and "bank" in r.json()["error"]["fields"]
    assert in_db(platform) == [] and transfers(platform, purpose="withdrawal") == []


def test_authorisation(client: TestClient, platform: bootstrap.Platform, funded: Actor,
                       other_customer: Actor) -> None:
    w = withdraw(client, funded)
    for method, path in [("POST", "/v1/withdrawals"), ("GET", "/v1/withdrawals"),
                         ("GET", f"/v1/withdrawals/{w['id']}"),
                         ("POST", "/v1/dev/sim-bank/flush")]:
        assert client.request(method, path, json={}).status_code == 401, path
    assert client.get(f"/v1/withdrawals/{w['id']}",
                      headers=other_customer.headers).status_code == 404
    assert client.get("/v1/withdrawals", headers=other_customer.headers).json()["total"] == 0


def test_org_withdrawals_need_pay_initiate(client: TestClient, platform: bootstrap.Platform,
                                           customer: Actor, other_customer: Actor) -> None:
    viewer = make_user(platform, email="vera@example.com")
    initiator = make_user(platform, email="ian@example.com")
    org_id = make_org(platform, customer.user.id,
                      {viewer.user.id: "viewer", initiator.user.id: "initiator"})
    grant_tier(platform, org_id, tier=3, subject_type="org")
    wallet_id = open_wallet(platform, org_id, owner_type="org")
    with platform.deps.uow() as uow:
        wallet = uow.repo(Wallet).get(wallet_id)
    assert wallet is not None
    use_ledger(platform, BalanceNode({(wallet.address, "USD"): 100_000}))
    path = f"/v1/orgs/{org_id}/withdrawals"
    w = withdraw(client, initiator, "100.00", path=path)
    assert w["owner_type"] == "org"
    withdraw(client, viewer, path=path, expect=403)
    withdraw(client, other_customer, path=path, expect=404)
    assert client.get(path, headers=viewer.headers).json()["total"] == 1
    assert client.get(f"/v1/withdrawals/{w['id']}", headers=viewer.headers).status_code == 200
    assert client.get(f"/v1/withdrawals/{w['id']}",
                      headers=other_customer.headers).status_code == 404


def test_concurrent_withdrawals_cannot_overdraw(client: TestClient,
                                                platform: bootstrap.Platform,
                                                funded: Actor) -> None:
    """The wallet row lock: of two withdrawals of 300.00 from 500.00 racing, one wins."""
    def attempt(_: int) -> int:
        r = client.post("/v1/withdrawals", headers={**funded.headers, **key()},
                        json={"currency": "USD", "amount": "300.00", "bank": bank()})
        return r.status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(attempt, range(4)))
    assert codes == [201, 409, 409, 409]
    assert len(in_db(platform)) == 1


# --- account numbers at rest (issue 14, item 14) ---------------------------------------------


def rows_text(platform: bootstrap.Platform, *tables: str) -> str:
    with platform.engine.connect() as conn:
        return repr([conn.execute(sa.text(f"SELECT * FROM {t}")).fetchall() for t in tables])


def spy_payouts(platform: bootstrap.Platform, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The account numbers the rail is asked to pay."""
    sim, asked = sim_of(platform), []
    real = sim.request_payout

    def request_payout(**kw: Any) -> Any:
        asked.append(kw["bank"]["account"])
        return real(**kw)

    monkeypatch.setattr(sim, "request_payout", request_payout)
    return asked


def test_the_account_is_sealed_at_rest_and_opened_only_for_the_payout(
        client: TestClient, platform: bootstrap.Platform, funded: Actor,
        monkeypatch: pytest.MonkeyPatch) -> None:
    full = IBAN_OK.replace(" ", "")
    asked = spy_payouts(platform, monkeypatch)
    w = withdraw(client, funded, "100.00")
    assert full[:-4] not in rows_text(platform, "withdrawals", "audit_log", "transfers")
    (stored,) = in_db(platform)
    assert stored.bank["account"] == "•" * (len(full) - 4) + full[-4:]
    assert stored.account_sealed is not None and full not in stored.account_sealed
    assert w["bank"]["account"].endswith("5432") and full[:-4] not in str(status(
        client, funded, w["id"]))
    burn_committed(platform, w)
    assert withdrawals.dispatch_payouts(platform.deps) == 1
    assert asked == [full]  # the rail gets the whole account
    # a sealed account copied to another row does not open there
    other = dataclasses.replace(stored, id="another-withdrawal")
    with pytest.raises(VaultError):
        bank_details.withdrawal_account(platform.deps, other)


def test_a_retry_naming_another_account_with_the_same_last_four_is_refused(
        client: TestClient, platform: bootstrap.Platform, funded: Actor) -> None:
    headers = {**funded.headers, **key()}
    body = {"currency": "USD", "amount": "10.00", "bank": bank("12345678")}
    assert client.post("/v1/withdrawals", json=body, headers=headers).status_code == 201
    assert client.post("/v1/withdrawals", json=body, headers=headers).status_code == 201
    other = client.post("/v1/withdrawals", json={**body, "bank": bank("87655678")},
                        headers=headers)
    assert other.status_code == 409 and other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(in_db(platform)) == 1


def test_accounts_stored_in_clear_before_are_sealed_at_start_up(
        client: TestClient, platform: bootstrap.Platform, funded: Actor,
        monkeypatch: pytest.MonkeyPatch) -> None:
    w = withdraw(client, funded, "100.00", account="12345678")
    (stored,) = in_db(platform)
    with platform.deps.uow() as uow:  # as a row was written before accounts were sealed
        uow.repo(Withdrawal).update(dataclasses.replace(
            stored, bank={**stored.bank, "account": "12345678"}, account_sealed=None))
        uow.commit()
    assert "12345678" in rows_text(platform, "withdrawals")
    assert bank_details.seal_legacy(platform.deps) == 1
    assert bank_details.seal_legacy(platform.deps) == 0
    assert "12345678" not in rows_text(platform, "withdrawals")
    asked = spy_payouts(platform, monkeypatch)
    burn_committed(platform, w)
    assert withdrawals.dispatch_payouts(platform.deps) == 1
    assert asked == ["12345678"]
