"""Inbound money over the owner's limits (issue 14, item 1): checked when it arrives,
held (never credited), decided by a compliance officer - released only once it fits the
limits, or returned to the sender through the rail - audited, and visible to the
customer as a state of their deposit."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.holds import Hold
from corridor.platform.domain.rails import Deposit
from corridor.platform.domain.wallets import Wallet
from tests.platform.conftest import Actor, make_staff
from tests.platform.rails_fakes import (
    BalanceNode,
    create_deposit,
    credit,
    grant_tier,
    play,
    rails_platform,  # noqa: F401  (the `platform` fixture: no node, deterministic keys)
    set_tier,
    sim_of,
    transfers,
)
from tests.platform.wallet_fakes import use_ledger

QUEUE = "/v1/staff/holds"

@pytest.fixture(name="settings")
def limits_alone(settings: Settings) -> Settings:
    """The limits on their own: the AML engine (on by default) would hold these large
    amounts for review before the limits are reached (tests/platform/test_movement_holds.py
    covers monitors and limits together)."""
    return dataclasses.replace(settings, aml_monitoring=False)



def arrive(client: TestClient, platform: bootstrap.Platform, who: Actor, reference: str,
           amount: str) -> None:
    r = client.post("/v1/dev/sim-bank/transfers", headers=who.headers,
                    json={"reference": reference, "amount": amount, "currency": "USD"})
    assert r.status_code == 202, r.text
    assert sim_of(platform).drain() == 1


def deposit(client: TestClient, who: Actor, deposit_id: str) -> dict[str, Any]:
    out: dict[str, Any] = client.get(f"/v1/deposits/{deposit_id}", headers=who.headers).json()
    return out


def decide(client: TestClient, who: Actor, hold_id: str, decision: str,
           note: str = "checked with the customer") -> Any:
    return client.post(f"{QUEUE}/{hold_id}/decision", headers=who.creating,
                       json={"decision": decision, "note": note})


def test_overpaying_a_deposit_is_held_and_never_credited(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id, tier=2)  # 50k a time, 100k a day, 250k held
    d = create_deposit(client, customer, "10.00")
    arrive(client, platform, customer, d["reference"], "300000.00")
    assert transfers(platform) == []  # nothing minted
    seen = deposit(client, customer, d["id"])
    assert seen["status"] == "held" and seen["received"] == "300000.00"
    assert seen["reason_code"] == "LIMIT_EXCEEDED"
    assert "held for review" in seen["reason_message"]
    assert "instructed 10.00, received 300000.00" in seen["note"]
    (rec,) = _deposits(platform)
    assert rec.flagged

    officer = make_staff(platform, "compliance_officer")
    page = client.get(QUEUE, headers=officer.headers).json()
    assert page["total"] == 1
    (hold,) = page["items"]
    assert (hold["subject_type"], hold["subject_id"], hold["status"]) == (
        "deposit", d["id"], "open")
    assert (hold["owner_id"], hold["amount"], hold["currency"]) == (
        customer.user.id, "300000.00", "USD")
    assert client.get(f"{QUEUE}/{hold['id']}", headers=officer.headers).json() == hold
    assert _actions(platform, d["id"]) == ["deposit.create", "deposit.held"]


def test_release_credits_only_once_it_fits_the_limits(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id, tier=1)  # 1,000 a time
    d = create_deposit(client, customer, "10.00")
    arrive(client, platform, customer, d["reference"], "1500.00")
    officer = make_staff(platform, "compliance_officer")
    (hold,) = client.get(QUEUE, headers=officer.headers).json()["items"]

    r = decide(client, officer, hold["id"], "release")
    assert r.status_code == 409 and r.json()["error"]["code"] == "STILL_ABOVE_LIMITS"
    assert deposit(client, customer, d["id"])["status"] == "held"
    assert transfers(platform) == [] and _hold(platform).status == "open"

    set_tier(platform, customer.user.id, 2)  # verified further: 1,500 now fits
    r = decide(client, officer, hold["id"], "release")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "released" and r.json()["decided_by"] == officer.user.id
    (mint,) = transfers(platform, ref_id=d["id"])
    assert mint.leg_list()[0].amount_minor == 150000
    play(platform, mint.id)
    done = deposit(client, customer, d["id"])
    assert done["status"] == "credited"
    assert [h["status"] for h in done["history"]] == [
        "awaiting_funds", "received", "held", "minting", "credited"]

    again = decide(client, officer, hold["id"], "return")
    assert again.status_code == 409 and again.json()["error"]["code"] == "HOLD_DECIDED"
    with platform.deps.uow() as uow:
        (entry,) = uow.repo(AuditEntry).many(action="hold.release")
    assert entry.actor_id == officer.user.id and entry.object_id == hold["id"]


def test_return_sends_the_money_back_through_the_rail(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id, tier=2)
    d = create_deposit(client, customer, "10.00")
    arrive(client, platform, customer, d["reference"], "300000.00")
    officer = make_staff(platform, "compliance_officer")
    (hold,) = client.get(QUEUE, headers=officer.headers).json()["items"]
    r = decide(client, officer, hold["id"], "return", "above the customer's limits")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "returned" and r.json()["return_ref"].startswith("SBR")
    (sent_back,) = sim_of(platform).returns.values()
    assert (sent_back["amount_minor"], sent_back["currency"]) == (30_000_000, "USD")
    assert sent_back["rail_ref"] == r.json()["return_ref"]
    returned = deposit(client, customer, d["id"])
    assert returned["status"] == "returned"
    assert "returned to the bank account it came from" in returned["reason_message"]
    assert transfers(platform) == []  # never minted
    assert client.get(QUEUE, headers=officer.headers).json()["total"] == 0
    done = client.get(QUEUE, params={"status": "returned"}, headers=officer.headers).json()
    assert [h["id"] for h in done["items"]] == [hold["id"]]
    assert "deposit.returned" in _actions(platform, d["id"])


def test_the_daily_limit_and_the_balance_cap_apply_on_arrival(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id, tier=1)  # 1,000 a time, 2,000 a day, 5,000 held
    credit(client, platform, customer, "1000.00")
    second = create_deposit(client, customer, "1000.00")
    arrive(client, platform, customer, second["reference"], "1000.00")
    assert deposit(client, customer, second["id"])["status"] == "minting"  # 2,000 today
    third = create_deposit(client, customer, "10.00")
    arrive(client, platform, customer, third["reference"], "10.00")
    held = deposit(client, customer, third["id"])
    assert held["status"] == "held" and "daily limit" in held["reason_message"]

    with platform.deps.uow() as uow:
        wallet = uow.repo(Wallet).get(third["wallet_id"])
    assert wallet is not None
    set_tier(platform, customer.user.id, 2)  # 100,000 a day; at most 250,000 held
    use_ledger(platform, BalanceNode({(wallet.address, "USD"): 24_850_000}))
    fourth = create_deposit(client, customer, "10.00")
    arrive(client, platform, customer, fourth["reference"], "10.00")
    assert deposit(client, customer, fourth["id"])["status"] == "minting"
    # 248,500 on chain + 1,010 being minted + 500 > 250,000
    fifth = create_deposit(client, customer, "10.00")
    arrive(client, platform, customer, fifth["reference"], "500.00")
    capped = deposit(client, customer, fifth["id"])
    assert capped["status"] == "held" and "cap" in capped["reason_message"]
    assert len(transfers(platform)) == 3  # the first, second and fourth deposits' mints


def test_only_compliance_officers_see_and_decide(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    grant_tier(platform, customer.user.id, tier=2)
    d = create_deposit(client, customer, "10.00")
    arrive(client, platform, customer, d["reference"], "60000.00")
    hold_id = _hold(platform).id
    for role in ("support_agent", "operator", "auditor", "admin"):
        staff = make_staff(platform, role)
        assert client.get(QUEUE, headers=staff.headers).status_code == 403, role
        assert decide(client, staff, hold_id, "release").status_code == 403, role
    assert client.get(QUEUE, headers=customer.headers).status_code == 403
    officer = make_staff(platform, "compliance_officer")
    bad = client.post(f"{QUEUE}/{hold_id}/decision", headers=officer.creating,
                      json={"decision": "keep", "note": ""})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"].keys() == {"decision", "note"}
    assert _hold(platform).status == "open"


def _deposits(platform: bootstrap.Platform) -> list[Deposit]:
    with platform.deps.uow() as uow:
        return uow.repo(Deposit).many()


def _hold(platform: bootstrap.Platform) -> Hold:
    with platform.deps.uow() as uow:
        (hold,) = uow.repo(Hold).many()
    return hold


def _actions(platform: bootstrap.Platform, object_id: str) -> list[str]:
    with platform.deps.uow() as uow:
        return [e.action for e in uow.repo(AuditEntry).many(object_id=object_id,
                                                            order_by="seq")]
