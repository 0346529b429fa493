"""Transaction history (Q1), exports (Q2) and the printable receipt over HTTP: each
filter proven by a row it must exclude, stable paging, CSV/XLSX contents, bounds, and
authorisation."""

from __future__ import annotations

import csv
import dataclasses
import io
from typing import Any

import pytest
from openpyxl import load_workbook
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain import history as hdom
from corridor.platform.domain.payments import Payment
from corridor.platform.services import query
from tests.platform.conftest import Actor, make_staff, make_user
from tests.platform.payment_records import make_org, make_payment, make_wallet


@dataclasses.dataclass
class World:
    a: Payment  # remittance 101.50 USD -> 720.00 CNY, credited, t=1000
    b: Payment  # transfer 50.00 USD, submitted, t=2000, formula-looking payee
    c: Payment  # exchange 200.00 EUR, credited, t=3000
    d: Payment  # received from the other customer, credited, t=4000
    e: Payment  # to the customer but still a draft: not shown
    g: Payment  # the other customer's payment to a third party: never shown
    refund_id: str  # revocation of `a`, newest
    other_address: str


@pytest.fixture
def world(client: TestClient, platform: bootstrap.Platform, customer: Actor,
          other_customer: Actor) -> World:
    mine = make_wallet(platform, customer.user.id)
    theirs = make_wallet(platform, other_customer.user.id)
    a = make_payment(platform, mine, recipient=theirs, created_ms=1000, tx_id="a1" * 32)
    b = make_payment(platform, mine, status="submitted", created_ms=2000, kind="transfer",
                     recipient_name="=2+3 Zed", recipient_address="cZEDADDRESS0000000001",
                     sell_amount_minor=5000, fee_minor=0, buy_code="USD",
                     buy_amount_minor=5000, price="1", tx_id="b2" * 32)
    c = make_payment(platform, mine, created_ms=3000, kind="exchange", sell_code="EUR",
                     sell_amount_minor=20_000, fee_minor=0, buy_code="USD",
                     buy_amount_minor=21_000, price="1.05", recipient=mine,
                     recipient_name="Carol EUR wallet", tx_id="c3" * 32)
    d = make_payment(platform, theirs, recipient=mine, recipient_user_id=customer.user.id,
                     recipient_name="Carol Customer", created_ms=4000, tx_id="d4" * 32)
    e = make_payment(platform, theirs, recipient=mine, recipient_user_id=customer.user.id,
                     status="draft", created_ms=4500)
    g = make_payment(platform, theirs, recipient_address="cTHIRDPARTY0000000001",
                     created_ms=4600, tx_id="e5" * 32)
    r = client.post(f"/v1/payments/{a.id}/refund", headers=customer.creating,
                    json={"kind": "revocation", "reason": "changed my mind"})
    assert r.status_code == 201, r.text
    return World(a, b, c, d, e, g, r.json()["id"], theirs.address)


def ids(client: TestClient, who: Actor, **params: Any) -> list[str]:
    r = client.get("/v1/history", headers=who.headers, params=params)
    assert r.status_code == 200, r.text
    return [row["id"] for row in r.json()["items"]]


def error(client: TestClient, who: Actor, path: str = "/v1/history", **params: Any) -> Any:
    r = client.get(path, headers=who.headers, params=params)
    assert r.status_code == 422, r.text
    return r.json()["error"]


def test_the_default_list_and_each_type(client: TestClient, customer: Actor,
                                        world: World) -> None:
    w = world
    assert ids(client, customer) == [w.refund_id, w.d.id, w.c.id, w.b.id, w.a.id]
    rows = client.get("/v1/history", headers=customer.headers).json()["items"]
    receipt = rows[1]
    assert (receipt["type"], receipt["currency"], receipt["amount"], receipt["counterparty"],
            receipt["counterparty_address"]) == ("receipt", "CNY", "720.00", "Dave Customer",
                                                 w.other_address)
    sent = rows[4]
    assert (sent["type"], sent["amount"], sent["fee"], sent["counter_amount"], sent["rate"],
            sent["uetr"]) == ("remittance", "101.50", "1.50", "720.00", "7.2", w.a.uetr)
    assert (rows[0]["type"], rows[0]["amount"], rows[0]["status"]) == ("refund", "100.00",
                                                                       "requested")
    for t, expect in [("remittance", [w.a.id]), ("transfer", [w.b.id]),
                      ("exchange", [w.c.id]), ("receipt", [w.d.id]),
                      ("refund", [w.refund_id]), ("deposit", []), ("withdrawal", [])]:
        assert ids(client, customer, type=t) == expect, t
    assert ids(client, customer, type=["transfer", "remittance"]) == [w.b.id, w.a.id]


def test_filters(client: TestClient, customer: Actor, world: World) -> None:
    w = world
    assert ids(client, customer, from_ms=2000, to_ms=4000) == [w.c.id, w.b.id]
    assert ids(client, customer, currency="USD") == [w.refund_id, w.b.id, w.a.id]
    assert ids(client, customer, currency="USD", min_amount="100.01") == [w.a.id]
    assert ids(client, customer, currency="USD", max_amount="100") == [w.refund_id, w.b.id]
    assert ids(client, customer, currency="USD", min_amount="50", max_amount="100.00") \
        == [w.refund_id, w.b.id]
    assert ids(client, customer, status="submitted") == [w.b.id]
    assert ids(client, customer, counterparty="ZED") == [w.b.id]
    assert ids(client, customer, counterparty="zedaddress") == [w.b.id]
    assert ids(client, customer, counterparty=w.other_address[3:15]) \
        == [w.refund_id, w.d.id, w.a.id]
    assert ids(client, customer, counterparty="%") == []  # a literal, not a wildcard
    assert ids(client, customer, ref=w.a.uetr.upper()) == [w.refund_id, w.a.id]
    assert ids(client, customer, ref="b2" * 32) == [w.b.id]
    assert ids(client, customer, ref=w.refund_id) == [w.refund_id]
    assert ids(client, customer, ref=w.g.uetr) == []  # someone else's payment
    # combined
    assert ids(client, customer, type="remittance", currency="USD", status="refund_requested",
               counterparty="dave", from_ms=0, to_ms=1001) == [w.a.id]


def test_the_recipient_sees_only_what_reached_the_chain(client: TestClient,
                                                        other_customer: Actor,
                                                        world: World) -> None:
    w = world
    # their own sent payments (e included: it is theirs) but no receipt of the draft
    assert ids(client, other_customer) == [w.g.id, w.e.id, w.d.id, w.a.id]
    assert ids(client, other_customer, type="receipt") == [w.a.id]
    assert ids(client, other_customer, type="refund") == []


def test_paging_is_stable_under_equal_timestamps(client: TestClient,
                                                 platform: bootstrap.Platform,
                                                 customer: Actor) -> None:
    mine = make_wallet(platform, customer.user.id)
    made = [make_payment(platform, mine, created_ms=5000, recipient_address="cX")
            for _ in range(7)]
    made += [make_payment(platform, mine, created_ms=6000, recipient_address="cY"),
             make_payment(platform, mine, created_ms=4000, recipient_address="cZ")]
    expect = [p.id for p in sorted(made, key=lambda p: (-p.created_ms, p.id))]
    got: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/history", headers=customer.headers, params=params).json()
        got += [row["id"] for row in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert got == expect
    # a new row at the top does not disturb a walk already under way
    first = client.get("/v1/history", headers=customer.headers, params={"limit": 4}).json()
    make_payment(platform, mine, created_ms=7000, recipient_address="cW")
    rest = client.get("/v1/history", headers=customer.headers,
                      params={"limit": 50, "cursor": first["next_cursor"]}).json()
    assert [r["id"] for r in first["items"] + rest["items"]] == expect


def test_organisation_history(client: TestClient, platform: bootstrap.Platform,
                              customer: Actor, other_customer: Actor) -> None:
    viewer = make_user(platform, email="viv@example.com")
    org_id = make_org(platform, {"owner": customer, "viewer": viewer})
    org_wallet = make_wallet(platform, org_id, owner_type="org")
    sent = make_payment(platform, org_wallet, recipient_address="cA", created_ms=10)
    received = make_payment(platform, make_wallet(platform, other_customer.user.id),
                            recipient=org_wallet, created_ms=20)
    assert ids(client, viewer, org_id=org_id) == [received.id, sent.id]
    assert ids(client, customer) == []  # the organisation's rows are not the owner's own
    r = client.get("/v1/history", headers=other_customer.headers, params={"org_id": org_id})
    assert r.status_code == 404
    rows = client.get("/v1/history", headers=viewer.headers,
                      params={"org_id": org_id, "type": "receipt"}).json()["items"]
    assert rows[0]["counterparty"] == "Dave Customer"


def test_bad_input(client: TestClient, customer: Actor) -> None:
    e = error(client, customer, type=["remittance", "bogus"])
    assert e["code"] == "INVALID_FILTERS" and set(e["fields"]) == {"type"}
    e = error(client, customer, min_amount="10")
    assert e["code"] == "INVALID_FILTERS" and set(e["fields"]) == {"currency"}
    e = error(client, customer, currency="USD", min_amount="1.001", max_amount="x",
              from_ms=5, to_ms=5, status="Not A Status")
    assert set(e["fields"]) == {"min_amount", "max_amount", "to_ms", "status"}
    e = error(client, customer, currency="XXX")
    assert e["code"] == "INVALID_FILTERS" and set(e["fields"]) == {"currency"}
    e = error(client, customer, currency="USD", min_amount="5", max_amount="4")
    assert set(e["fields"]) == {"max_amount"}
    assert error(client, customer, cursor="!!not-a-cursor")["code"] == "INVALID_CURSOR"
    assert error(client, customer, cursor="bm9jb2xvbg")["code"] == "INVALID_CURSOR"
    for params in ({"limit": 0}, {"limit": hdom.PAGE_MAX + 1}, {"from_ms": -1},
                   {"counterparty": "x" * 101}):
        assert error(client, customer, **params)["code"] == "INVALID_REQUEST"
    assert error(client, customer, "/v1/history/export", format="pdf")["code"] \
        == "INVALID_REQUEST"
    assert error(client, customer, "/v1/history/export", type="bogus")["code"] \
        == "INVALID_FILTERS"


def test_authorisation(client: TestClient, platform: bootstrap.Platform, customer: Actor,
                       world: World) -> None:
    for path in ("/v1/history", "/v1/history/export", f"/v1/payments/{world.a.id}/receipt.html"):
        assert client.get(path).status_code == 401
        r = client.get(path, headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401
    staff = make_staff(platform, "support_agent")
    assert client.get("/v1/history", headers=staff.headers).status_code == 403
    assert client.get("/v1/history/export", headers=staff.headers).status_code == 403
    assert client.get(f"/v1/payments/{world.a.id}/receipt.html",
                      headers=staff.headers).status_code == 404


# --- exports -----------------------------------------------------------------------------


def test_csv_export(client: TestClient, customer: Actor, world: World) -> None:
    r = client.get("/v1/history/export", headers=customer.headers, params={"format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert tuple(rows[0]) == hdom.EXPORT_COLUMNS
    by_id = {row[1]: dict(zip(hdom.EXPORT_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert list(by_id) == [world.refund_id, world.d.id, world.c.id, world.b.id, world.a.id]
    a = by_id[world.a.id]
    assert (a["type"], a["amount"], a["fee"], a["currency"], a["counter_amount"], a["rate"],
            a["uetr"], a["tx_hash"], a["block_height"]) == (
        "remittance", "101.50", "1.50", "USD", "720.00", "7.2", world.a.uetr, "a1" * 32, "7")
    assert a["created_at_utc"] == "1970-01-01T00:00:01.000Z"
    assert by_id[world.b.id]["counterparty"] == "'=2+3 Zed"  # no formula injection
    assert by_id[world.c.id]["amount"] == "200.00"
    # the same filters as the list
    r = client.get("/v1/history/export", headers=customer.headers,
                   params={"type": "exchange"})
    assert [row[1] for row in csv.reader(io.StringIO(r.text))][1:] == [world.c.id]


def test_xlsx_export(client: TestClient, customer: Actor, world: World) -> None:
    r = client.get("/v1/history/export", headers=customer.headers,
                   params={"format": "xlsx", "currency": "USD"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    ws = load_workbook(io.BytesIO(r.content), read_only=True)["history"]
    rows = [list(row) for row in ws.iter_rows(values_only=True)]
    assert tuple(rows[0]) == hdom.EXPORT_COLUMNS
    by_id = {row[1]: dict(zip(hdom.EXPORT_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert list(by_id) == [world.refund_id, world.b.id, world.a.id]
    # numbers, as a spreadsheet sums them (issue 15), shown with the currency's places
    assert by_id[world.a.id]["amount"] == 101.5 and by_id[world.refund_id]["amount"] == 100
    assert isinstance(by_id[world.a.id]["fee"], float)
    assert all(isinstance(row["block_height"], int | None) for row in by_id.values())
    formats = {c.column_letter: c.number_format
               for c in load_workbook(io.BytesIO(r.content))["history"][2]}
    assert formats["F"] == "0.00"  # amount
    assert by_id[world.b.id]["counterparty"] == "'=2+3 Zed"  # text, not a formula


def test_export_is_bounded_and_streams_in_pages(client: TestClient, customer: Actor,
                                                world: World,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hdom, "EXPORT_ROWS_MAX", 4)
    r = client.get("/v1/history/export", headers=customer.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "EXPORT_TOO_LARGE"
    monkeypatch.setattr(hdom, "EXPORT_ROWS_MAX", 5)
    monkeypatch.setattr(query, "EXPORT_FETCH_ROWS", 2)  # several round trips
    r = client.get("/v1/history/export", headers=customer.headers)
    assert r.status_code == 200
    got = [row[1] for row in csv.reader(io.StringIO(r.text))][1:]
    assert got == [world.refund_id, world.d.id, world.c.id, world.b.id, world.a.id]


# --- the receipt page --------------------------------------------------------------------


def test_receipt_page(client: TestClient, platform: bootstrap.Platform, customer: Actor,
                      other_customer: Actor) -> None:
    mine = make_wallet(platform, customer.user.id)
    theirs = make_wallet(platform, other_customer.user.id)
    evil = "<script>alert(1)</script>"
    p = make_payment(platform, mine, recipient=theirs, recipient_name=evil,
                     memo='"><img src=x onerror=alert(2)>', tx_id="f0" * 32, created_ms=1000)
    r = client.get(f"/v1/payments/{p.id}/receipt.html", headers=customer.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = r.text
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for text in (p.uetr, "f0" * 32, "101.50 USD", "1.50 USD", "720.00 CNY", "7.2 CNY per USD",
                 "Carol Customer", mine.address, theirs.address, "credited",
                 "<th>submitted</th><td>1970-01-01T00:00:01.000Z</td>",
                 "<th>Block height</th><td>7</td>"):
        assert text in page, text
    assert "http://" not in page and "https://" not in page and "<link" not in page
    # the recipient may print it too; strangers learn nothing
    assert client.get(f"/v1/payments/{p.id}/receipt.html",
                      headers=other_customer.headers).status_code == 200
    eve = make_user(platform, email="eve@example.com")
    assert client.get(f"/v1/payments/{p.id}/receipt.html", headers=eve.headers).status_code \
        == 404
    assert client.get("/v1/payments/nope/receipt.html", headers=eve.headers).status_code \
        == 404
    draft = make_payment(platform, mine, recipient=theirs, status="draft")
    page = client.get(f"/v1/payments/{draft.id}/receipt.html", headers=customer.headers).text
    assert "Not on the ledger yet." in page


def test_receipt_for_organisation_members(client: TestClient, platform: bootstrap.Platform,
                                          customer: Actor, other_customer: Actor) -> None:
    org_id = make_org(platform, {"viewer": customer}, name="Acme <Ltd>")
    p = make_payment(platform, make_wallet(platform, org_id, owner_type="org"),
                     recipient=make_wallet(platform, other_customer.user.id))
    r = client.get(f"/v1/payments/{p.id}/receipt.html", headers=customer.headers)
    assert r.status_code == 200 and "Acme &lt;Ltd&gt;" in r.text


def test_deposits_and_withdrawals(client: TestClient, platform: bootstrap.Platform,
                                  customer: Actor, other_customer: Actor) -> None:
    from corridor.platform.domain.rails import Deposit, Withdrawal

    mine = make_wallet(platform, customer.user.id)
    common: dict[str, Any] = dict(owner_type="user", owner_id=customer.user.id,
                                  created_by=customer.user.id, request_hash="h" * 64,
                                  wallet_id=mine.id, rail="sim-bank", currency="USD",
                                  history=(), tx_id=None, height=None, reason_code=None,
                                  reason_message=None, flagged=False, updated_ms=0)
    dep = Deposit(id="dep-1", uetr="11111111-1111-4111-8111-111111111111",
                  idempotency_key="k1", amount_minor=5000, received_minor=4990,
                  reference="CORRREF123", instructions={}, status="credited", rail_ref=None,
                  transfer_id=None, note=None, expires_ms=0, created_ms=100, **common)
    wd = Withdrawal(id="wd-1", uetr="22222222-2222-4222-8222-222222222222",
                    idempotency_key="k2", amount_minor=700,
                    bank={"name": "Carol's Bank", "account": "GB00"}, status="paid",
                    transfer_id="t", rail_ref=None, reversal_transfer_id=None,
                    reversal_tx_id=None, created_ms=200, **common)
    with platform.deps.uow() as uow:
        uow.repo(Deposit).add(dep)
        uow.repo(Withdrawal).add(wd)
        uow.commit()
    rows = client.get("/v1/history", headers=customer.headers).json()["items"]
    assert [(r["type"], r["id"], r["amount"]) for r in rows] == [
        ("withdrawal", "wd-1", "7.00"), ("deposit", "dep-1", "49.90")]
    assert rows[0]["counterparty"] == "Carol's Bank"
    assert ids(client, customer, type="deposit") == ["dep-1"]
    assert ids(client, customer, counterparty="corrref") == ["dep-1"]
    assert ids(client, customer, ref=wd.uetr) == ["wd-1"]
    assert ids(client, customer, currency="USD", min_amount="10") == ["dep-1"]
    assert ids(client, other_customer) == []
