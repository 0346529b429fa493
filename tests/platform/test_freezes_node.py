"""A compliance freeze against a real node and the platform's API server (issue 16): the
officer's freeze becomes the issuer's FREEZE on chain (the node shows the customer's
holdings frozen, the freeze carries its transaction and block), the customer's payments
and withdrawals are refused up front (ACCOUNT_FROZEN); the same officer cannot lift it
(four eyes); another one does, the node shows the holdings unfrozen, and a payment goes
through to the recipient. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.node.conftest import NodeProcess
from tests.platform.conftest import keyed
from tests.platform.live import OFFICER_PASSWORD, Platform, sign_in, wait_until
from tests.platform.test_e2e_payments import onboard, settled, wallet


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
