"""Cross-border payments end to end through the HTTP API on a running local network
(issue 6): two KYC'd customers in different countries; a USD deposit through the
simulated bank; a USD→CNY payment on a firm quote; the recipient sees CNY on chain and
withdraws it to a bank; a refund after finality reviewed by staff; an over-limit payment
refused; a retried request creating one payment; 50 concurrent payments from one account
ending with the right balance. Runs on PostgreSQL, and on SQLite in the long run."""

from __future__ import annotations

import concurrent.futures
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.node.conftest import NodeProcess
from tests.platform.conftest import keyed
from tests.platform.live import JPEG, OFFICER_PASSWORD, PASSWORD, Platform, sign_in, wait_until

CONCURRENT = 50


def onboard(api: httpx.Client, service: Platform, officer: dict[str, str], email: str,
            country: str) -> dict[str, str]:
    terms = api.get("/v1/auth/terms").json()
    r = api.post("/v1/auth/register", json={"name": email.split("@")[0].title(), "email": email,
                                            "password": PASSWORD, "accept_terms": True, **terms})
    assert r.status_code == 202, r.text
    r = api.post("/v1/auth/verify", json={"identifier": email, "code": service.code_for(email)})
    assert r.status_code == 200, r.text
    me = sign_in(api, service, email, PASSWORD)
    files = [api.post("/v1/kyc/files", headers=me,
                      files={"file": (f"{n}.jpg", JPEG, "image/jpeg")}).json()["id"]
             for n in ("id", "proof")]
    fields = {"first_name": "Test", "last_name": email.split("@")[0].title(),
              "birth_date": "1985-01-02", "address": "1 Main St", "city": "City",
              "postal_code": "12345", "address_country_code": country,
              "email_address": email, "id_type": "passport", "id_country_code": country,
              "id_number": "P" + uuid.uuid4().hex[:8], "id_expiration_date": "2034-01-01",
              "photo_id_front": files[0], "photo_proof_residence": files[1]}
    rid = api.put("/v1/kyc/customer", headers=me, json={"tier": 2, "fields": fields}).json()["id"]
    r = api.post(f"/v1/staff/kyc/{rid}/decision", headers=keyed(officer),
                 json={"decision": "accept", "reason": "documents verified", "tier": 2,
                       "risk": "low"})
    assert r.status_code == 200, r.text

    def ready() -> bool:
        items = api.get("/v1/wallets", headers=me).json()["items"]
        return bool(items) and items[0]["status"] == "open" and {
            a["status"] for a in items[0]["authorisations"]} == {"authorised"}

    wait_until(f"{email}'s wallet to be open and authorised", ready)
    return me


def wallet(api: httpx.Client, who: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = api.get("/v1/wallets", headers=who).json()["items"][0]
    return item


def chain_balance(node: NodeProcess, address: str, code: str) -> int:
    acct = httpx.get(f"{node.url}/v1/accounts/{address}", timeout=10,
                     headers=node.headers).json()
    return sum(int(b["balance"]) for b in acct["balances"] if b["code"] == code)


def minor(text: str) -> int:
    return int(Decimal(text) * 100)


def settled(api: httpx.Client, who: dict[str, str], payment_id: str,
            until: frozenset[str] = frozenset({"credited"})) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def done() -> bool:
        out.update(api.get(f"/v1/payments/{payment_id}", headers=who).json())
        return out["status"] in until

    wait_until(f"payment {payment_id} to reach {sorted(until)}", done)
    return out


# One database in the default run: PostgreSQL, whose row locks the 50 concurrent payments
# exercise (every platform test below the processes runs on both databases); the SQLite
# variant is `slow`, run by `bash scripts/test-long.sh`. test_e2e_onboarding.py does the
# opposite.
@pytest.mark.parametrize("db_url", [pytest.param("sqlite", marks=pytest.mark.slow),
                                    "postgresql"], indirect=True)
def test_cross_border_payment_life_cycle(service: Platform, node: NodeProcess,
                                         api: httpx.Client) -> None:
    officer = sign_in(api, service, "officer@corridor.example", OFFICER_PASSWORD)
    ann = onboard(api, service, officer, "ann@example.com", "US")
    li = onboard(api, service, officer, "li@example.cn", "CN")
    ann_wallet, li_wallet = wallet(api, ann), wallet(api, li)

    # Deposit: instructions, the customer's bank pays, the issuer mints.
    r = api.post("/v1/deposits", headers={**ann, "Idempotency-Key": "dep-1"},
                 json={"currency": "USD", "amount": "5000.00"})
    assert r.status_code == 201, r.text
    deposit = r.json()
    r = api.post("/v1/dev/sim-bank/transfers", headers=ann,
                 json={"reference": deposit["instructions"]["reference"], "amount": "5000.00",
                       "currency": "USD"})
    assert r.status_code == 202, r.text

    def credited() -> bool:
        api.post("/v1/dev/sim-bank/flush", headers=ann)
        return api.get(f"/v1/deposits/{deposit['id']}", headers=ann).json()["status"] == "credited"

    wait_until("the deposit to be credited", credited)
    assert chain_balance(node, ann_wallet["address"], "USD") == 500_000

    # USD -> CNY on a firm quote; the same request retried creates one payment.
    q = api.post("/v1/quotes", headers=keyed(ann), json={"sell_asset": "USD", "buy_asset": "CNY",
                                                  "sell_amount": "100.00"})
    assert q.status_code == 201, q.text
    quote = q.json()
    body = {"recipient": {"type": "user", "email": "li@example.cn"}, "quote_id": quote["id"]}
    first = api.post("/v1/payments", headers={**ann, "Idempotency-Key": "pay-1"}, json=body)
    again = api.post("/v1/payments", headers={**ann, "Idempotency-Key": "pay-1"}, json=body)
    assert first.status_code == 201 and again.status_code == 200, (first.text, again.text)
    assert again.json()["id"] == first.json()["id"]
    payment = settled(api, ann, first.json()["id"])
    states = [h["status"] for h in payment["history"]]
    assert states[-3:] == ["included", "final", "credited"]
    received = minor(payment["buy_amount"])
    assert chain_balance(node, li_wallet["address"], "CNY") == received > 0
    assert chain_balance(node, ann_wallet["address"], "USD") == 500_000 - 10_000
    receipt = api.get(f"/v1/payments/{payment['id']}/receipt", headers=ann).json()
    assert receipt["uetr"] == payment["uetr"]
    assert api.get(f"/v1/payments/{payment['id']}", headers=li).status_code == 200  # recipient

    # Over the tier's per-transaction limit: refused, nothing created.
    r = api.post("/v1/payments", headers={**ann, "Idempotency-Key": "too-big"},
                 json={"recipient": {"type": "user", "email": "li@example.cn"},
                       "asset": "USD", "amount": "60000.00"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "LIMIT_EXCEEDED", r.text

    # The recipient withdraws the CNY to a bank account.
    r = api.post("/v1/withdrawals", headers={**li, "Idempotency-Key": "wd-1"},
                 json={"currency": "CNY", "amount": payment["buy_amount"],
                       "bank": {"name": "Li Example", "account": "6222020200112233",
                                "country": "CN", "bank_code": "ICBKCNBJ"}})
    assert r.status_code == 201, r.text
    withdrawal = r.json()

    def paid() -> bool:
        api.post("/v1/dev/sim-bank/flush", headers=li)
        status = api.get(f"/v1/withdrawals/{withdrawal['id']}", headers=li).json()["status"]
        return str(status) == "paid"

    wait_until("the withdrawal to be paid out", paid)
    assert chain_balance(node, li_wallet["address"], "CNY") == 0

    # A refund after finality: requested, reviewed by staff, paid back by a new transaction.
    p2 = api.post("/v1/payments", headers={**ann, "Idempotency-Key": "pay-2"},
                  json={"recipient": {"type": "user", "email": "li@example.cn"},
                        "asset": "USD", "amount": "20.00"}).json()
    p2 = settled(api, ann, p2["id"])
    before_refund = chain_balance(node, ann_wallet["address"], "USD")
    r = api.post(f"/v1/payments/{p2['id']}/refund", headers=keyed(ann),
                 json={"kind": "wrong_payee", "reason": "sent to the wrong person"})
    assert r.status_code == 201, r.text
    refund = r.json()
    queue = api.get("/v1/staff/refunds/queue", headers=officer).json()
    assert refund["id"] in {item["id"] for item in queue["items"]}
    r = api.post(f"/v1/staff/refunds/{refund['id']}/decision", headers=keyed(officer),
                 json={"decision": "approve", "reason": "payee confirmed the mistake"})
    assert r.status_code == 200, r.text
    settled(api, ann, p2["id"], frozenset({"refunded"}))
    assert chain_balance(node, ann_wallet["address"], "USD") == before_refund + minor(
        p2["sell_amount"]) - minor(p2["fee"])

    # 50 payments from one account at once: never overdrawn, balance exact.
    start = chain_balance(node, ann_wallet["address"], "USD")

    def one(i: int) -> httpx.Response:
        with httpx.Client(base_url=service.url, timeout=60) as c:
            return c.post("/v1/payments", headers={**ann, "Idempotency-Key": f"burst-{i}"},
                          json={"recipient": {"type": "user", "email": "li@example.cn"},
                                "asset": "USD", "amount": "95.00"})

    with concurrent.futures.ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        answers = list(pool.map(one, range(CONCURRENT)))
    accepted = [a.json() for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    assert all(a.json()["error"]["code"] == "INSUFFICIENT_FUNDS" for a in refused), [
        a.text for a in refused][:3]
    cost = minor(accepted[0]["sell_amount"])
    assert len(accepted) == min(CONCURRENT, start // cost), [a.text for a in refused][:3]
    finals = [settled(api, ann, p["id"], frozenset({"credited", "refunded"}))
              for p in accepted]
    spent = sum(minor(p["sell_amount"]) for p in finals if p["status"] == "credited")
    assert chain_balance(node, ann_wallet["address"], "USD") == start - spent >= 0
    assert service.cli("audit-verify").startswith("audit chain intact")
