"""Collections and merchants (issue 17) over HTTP on both databases, the chain played by
an in-memory fake: payment requests paid exactly once (also by two payers at once),
declined, cancelled, reminded once, matched by reference (a wrong amount reported, not
accepted); merchants' checkouts paid and confirmed by webhook, refunds never above what
was paid (also when asked at once), the settlement report; wrong roles and bad input
refused with their codes, nothing changed."""

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
from corridor.platform.domain import collections as cdom
from corridor.platform.domain.collections import CollectionRequest
from corridor.platform.domain.notifications import Notification
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.webhooks import WebhookDelivery, WebhookEndpoint
from corridor.platform.services import codes, collections
from tests.platform.conftest import Actor, keyed, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, commit, kyc, open_wallet, reject
from tests.platform.wallet_fakes import CountingKeyGen, make_org

DAY = cdom.DAY_MS


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def platform(settings: Settings, clock: FakeClock,
             chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=clock, ledger=chain, keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


@dataclasses.dataclass
class Party:
    actor: Actor
    address: str

    @property
    def headers(self) -> dict[str, str]:
        return self.actor.headers

    @property
    def id(self) -> str:
        return self.actor.user.id


def party(platform: bootstrap.Platform, chain: FakeChain, email: str, usd_minor: int) -> Party:
    actor = make_user(platform, email=email, name=email.split("@")[0].title())
    kyc(platform, actor.user.id, 2)
    wallet = open_wallet(platform, actor.user.id)
    chain.fund(wallet.address, "USD", usd_minor)
    return Party(actor, wallet.address)


@pytest.fixture
def alice(platform: bootstrap.Platform, chain: FakeChain) -> Party:
    """A payer holding 1,000.00 USD."""
    return party(platform, chain, "alice@example.com", 100_000)


@pytest.fixture
def bob(platform: bootstrap.Platform, chain: FakeChain) -> Party:
    """A requester (may receive)."""
    return party(platform, chain, "bob@example.com", 0)


@pytest.fixture
def erin(platform: bootstrap.Platform, chain: FakeChain) -> Party:
    """A second payer holding 1,000.00 USD."""
    return party(platform, chain, "erin@example.com", 100_000)


def today(clock: FakeClock, days: int = 0) -> str:
    import datetime as dt

    ms = clock.now_ms() // DAY * DAY + days * DAY
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat()


def ask(client: TestClient, who: Party | Actor, clock: FakeClock, **body: Any) -> Any:
    body = {"currency": "USD", "amount": "25.00", "due_date": today(clock, 5),
            "reference": "INV-1", **body}
    return client.post("/v1/collections/requests", headers=who.headers, json=body)


def pay(client: TestClient, who: Party | Actor, request_id: str, **body: Any) -> Any:
    return client.post(f"/v1/collections/requests/{request_id}/pay", headers=who.headers,
                       json=body)


def rows(platform: bootstrap.Platform, record: type, **eq: Any) -> list[Any]:
    with platform.deps.uow() as uow:
        return uow.repo(record).many(**eq)


def request_of(platform: bootstrap.Platform, request_id: str) -> CollectionRequest:
    with platform.deps.uow() as uow:
        r = uow.repo(CollectionRequest).get(request_id)
    assert r is not None
    return r


def code(r: Any) -> str:
    return str(r.json()["error"]["code"])


# --- requests -----------------------------------------------------------------------------


def test_request_to_a_customer_is_paid_in_one_step_and_settled_when_credited(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        chain: FakeChain, clock: FakeClock) -> None:
    r = ask(client, bob, clock, payer_email="alice@example.com", description="March rent")
    assert r.status_code == 201, r.text
    req = r.json()
    assert (req["status"], req["amount"], req["amount_minor"]) == ("open", "25.00", 2500)
    # the same request again is the same request; another under its reference is refused
    again = ask(client, bob, clock, payer_email="alice@example.com", description="March rent")
    assert again.status_code == 201 and again.json()["id"] == req["id"]
    taken = ask(client, bob, clock, payer_email="alice@example.com", amount="26.00")
    assert taken.status_code == 409 and code(taken) == "REFERENCE_TAKEN"

    inbox = client.get("/v1/collections/incoming", headers=alice.headers).json()
    assert [x["id"] for x in inbox["items"]] == [req["id"]]
    assert inbox["items"][0]["requester_name"] == "Bob"
    told = rows(platform, Notification, user_id=alice.id)
    assert [n.topic for n in told] == ["collection.requested"]

    paid = pay(client, alice, req["id"])
    assert paid.status_code == 201, paid.text
    p = paid.json()
    assert (p["memo"], p["buy_amount"], p["buy_asset"]) == ("INV-1", "25.00", "USD")
    got = client.get(f"/v1/collections/requests/{req['id']}", headers=bob.headers).json()
    assert (got["status"], got["payment_id"], got["settled_ms"]) == ("paid", p["id"], None)
    # paying again (a retry) gives the same payment; nothing new
    assert pay(client, alice, req["id"]).json()["id"] == p["id"]
    assert len(rows(platform, Payment)) == 1

    commit(platform, chain, p["id"])
    got = client.get(f"/v1/collections/requests/{req['id']}", headers=bob.headers).json()
    assert got["settled_ms"] == clock.now_ms() and got["matched"] is False
    assert "collection.paid" in [n.topic for n in rows(platform, Notification, user_id=bob.id)]
    # a declined or cancelled state can no longer be reached
    late = client.post(f"/v1/collections/requests/{req['id']}/cancel", headers=bob.headers)
    assert late.status_code == 409 and code(late) == "REQUEST_NOT_OPEN"


def test_a_link_request_is_paid_exactly_once_by_two_payers_at_once(
        client: TestClient, platform: bootstrap.Platform, alice: Party, erin: Party,
        bob: Party, clock: FakeClock) -> None:
    req = ask(client, bob, clock, link=True).json()
    token = req["link_path"].rsplit("/", 1)[1]
    # without the token, a link request is not there
    assert pay(client, alice, req["id"]).status_code == 404
    start = threading.Barrier(8)

    def attempt(who: Party) -> Any:
        start.wait()
        return pay(client, who, req["id"], token=token)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(attempt, [alice, erin] * 4))
    made = {a.json()["id"] for a in answers if a.status_code == 201}
    refused = [a for a in answers if a.status_code != 201]
    assert len(made) == 1  # one payment, whoever won; their retries replay it
    assert refused and {code(a) for a in refused} <= {"REQUEST_BEING_PAID", "REQUEST_NOT_OPEN"}
    payments = rows(platform, Payment)
    assert [p.id for p in payments] == list(made)
    assert request_of(platform, req["id"]).payment_id == payments[0].id


def test_the_payer_paying_twice_at_once_makes_one_payment(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        clock: FakeClock) -> None:
    req = ask(client, bob, clock, payer_email="alice@example.com").json()
    start = threading.Barrier(6)

    def attempt(_: int) -> Any:
        start.wait()
        return pay(client, alice, req["id"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(attempt, range(6)))
    assert {a.status_code for a in answers} == {201}  # a double click is one payment
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(rows(platform, Payment)) == 1


def test_a_refused_payment_leaves_the_request_open_and_a_failed_one_reopens_it(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        clock: FakeClock, chain: FakeChain) -> None:
    big = ask(client, bob, clock, payer_email="alice@example.com", amount="5000.00").json()
    r = pay(client, alice, big["id"])
    assert r.status_code == 409 and code(r) == "INSUFFICIENT_FUNDS"
    after = request_of(platform, big["id"])
    assert after.status == "open" and after.paying_owner_id is None
    req = ask(client, bob, clock, payer_email="alice@example.com", reference="INV-2").json()
    p = pay(client, alice, req["id"]).json()
    reject(platform, p["id"])
    back = request_of(platform, req["id"])
    assert (back.status, back.payment_id) == ("open", None)


def test_decline_and_cancel_only_by_their_side(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        erin: Party, clock: FakeClock) -> None:
    one = ask(client, bob, clock, payer_email="alice@example.com").json()
    two = ask(client, bob, clock, payer_email="alice@example.com", reference="INV-2").json()
    base = "/v1/collections/requests"
    assert client.post(f"{base}/{one['id']}/decline", headers=erin.headers).status_code == 404
    assert client.post(f"{base}/{one['id']}/decline", headers=bob.headers).status_code == 404
    assert client.get(f"{base}/{one['id']}", headers=erin.headers).status_code == 404
    d = client.post(f"{base}/{one['id']}/decline", headers=alice.headers)
    assert d.status_code == 200 and d.json()["status"] == "declined"
    assert client.post(f"{base}/{two['id']}/cancel", headers=alice.headers).status_code == 404
    c = client.post(f"{base}/{two['id']}/cancel", headers=bob.headers)
    assert c.status_code == 200 and c.json()["status"] == "cancelled"
    again = client.post(f"{base}/{two['id']}/cancel", headers=bob.headers)
    assert again.status_code == 200 and again.json() == c.json()  # a retry changes nothing
    late = client.post(f"{base}/{one['id']}/cancel", headers=bob.headers)
    assert late.status_code == 409 and code(late) == "REQUEST_NOT_OPEN"  # declined already
    refused = pay(client, alice, two["id"])
    assert refused.status_code == 409 and code(refused) == "REQUEST_NOT_OPEN"
    assert rows(platform, Payment) == []


def test_bad_input_is_refused_with_every_problem_and_nothing_written(
        client: TestClient, platform: bootstrap.Platform, bob: Party, clock: FakeClock) -> None:
    r = ask(client, bob, clock, currency="XXX", amount="-1", due_date="yesterday",
            reference="  ", description="x" * 141)
    assert r.status_code == 422 and code(r) == "INVALID_FIELDS"
    assert set(r.json()["error"]["fields"]) == {"currency", "due_date", "reference",
                                                "description", "payer_email"}
    r = ask(client, bob, clock, amount="0.001", payer_email="nobody@example.com")
    assert set(r.json()["error"]["fields"]) == {"amount", "payer_email"}
    r = ask(client, bob, clock, payer_email="bob@example.com")
    assert r.status_code == 422 and r.json()["error"]["fields"] == {"payer_email": "is you"}
    assert rows(platform, CollectionRequest) == []


def test_reminders_are_sent_once_before_and_once_after_the_due_date(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        clock: FakeClock) -> None:
    req = ask(client, bob, clock, payer_email="alice@example.com", due_date=today(clock, 5)
              ).json()
    deps = platform.deps

    def reminders() -> list[str]:
        return sorted(n.params.get("outcome", "") for n in
                      rows(platform, Notification, user_id=alice.id)
                      if n.topic == "collection.requested" and n.params.get("outcome"))

    assert collections.run_round(deps) == 0  # not due yet
    clock.advance(4 * DAY)
    assert collections.run_round(deps) == 1 and collections.run_round(deps) == 0
    assert reminders() == ["before"]
    clock.advance(2 * DAY)  # the due day is over
    assert collections.run_round(deps) == 1 and collections.run_round(deps) == 0
    assert reminders() == ["after", "before"]
    clock.advance(10 * DAY)
    assert collections.run_round(deps) == 0
    r = request_of(platform, req["id"])
    assert r.reminded_before_ms is not None and r.reminded_after_ms is not None
    mails = [n.subject for n in codes.outbox(deps, "alice@example.com", 20)]
    assert sorted(mails) == ["A payment request for you", "A payment request is due soon",
                             "A payment request is overdue"]
    body = next(n.body for n in codes.outbox(deps, "alice@example.com", 20)
                if n.subject == "A payment request is overdue")
    assert "Bob's request for 25.00 USD (reference INV-1) was due on" in body


def test_incoming_payments_are_matched_by_reference_and_a_wrong_amount_is_reported(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        chain: FakeChain, clock: FakeClock) -> None:
    req = ask(client, bob, clock, link=True, reference="ORDER-77").json()
    to_bob = {"type": "user", "email": "bob@example.com"}
    short = client.post("/v1/payments", headers=keyed(alice.headers), json={
        "recipient": to_bob, "asset": "USD", "amount": "20.00", "memo": "ORDER-77"}).json()
    commit(platform, chain, short["id"])
    got = request_of(platform, req["id"])
    assert got.status == "open" and got.mismatch_payment_id == short["id"]
    assert got.mismatch_note == "received 20.00 USD, expected 25.00 USD"
    exact = client.post("/v1/payments", headers=keyed(alice.headers), json={
        "recipient": to_bob, "asset": "USD", "amount": "25.00", "memo": " ORDER-77"}).json()
    commit(platform, chain, exact["id"], height=8)
    got = request_of(platform, req["id"])
    assert (got.status, got.payment_id, got.matched) == ("paid", exact["id"], True)
    # a further payment naming it is just money: the request stays paid by the first
    more = client.post("/v1/payments", headers=keyed(alice.headers), json={
        "recipient": to_bob, "asset": "USD", "amount": "25.00", "memo": "ORDER-77"}).json()
    commit(platform, chain, more["id"], height=9)
    assert request_of(platform, req["id"]).payment_id == exact["id"]


# --- merchants ----------------------------------------------------------------------------


@dataclasses.dataclass
class Shop:
    org_id: str
    owner: Actor
    viewer: Actor


@pytest.fixture
def shop(platform: bootstrap.Platform, chain: FakeChain, client: TestClient) -> Shop:
    owner = make_user(platform, email="owner@shop.example", name="Shop Owner")
    viewer = make_user(platform, email="viewer@shop.example", name="Shop Viewer")
    org_id = make_org(platform, owner.user.id, {viewer.user.id: "viewer"})
    kyc(platform, org_id, 3, "org")
    wallet = open_wallet(platform, org_id, "org")
    chain.fund(wallet.address, "USD", 50_000)
    r = client.post(f"/v1/orgs/{org_id}/merchant", headers=owner.headers,
                    json={"name": "Tea House"})
    assert r.status_code == 201, r.text
    with platform.deps.uow() as uow:  # a webhook endpoint to see checkout.paid queued
        uow.repo(WebhookEndpoint).add(WebhookEndpoint(
            id="hook-1", org_id=org_id, url="https://shop.example/hook", secret_sealed="-",
            status="active", created_by=owner.user.id, created_ms=0, updated_ms=0))
        uow.commit()
    return Shop(org_id, owner, viewer)


def checkout(client: TestClient, shop: Shop, who: Actor | None = None, **body: Any) -> Any:
    body = {"order_ref": "A-1001", "currency": "USD", "amount": "40.00", **body}
    return client.post(f"/v1/orgs/{shop.org_id}/merchant/checkouts",
                       headers=(who or shop.owner).headers, json=body)


def paid_order(client: TestClient, platform: bootstrap.Platform, chain: FakeChain,
               shop: Shop, payer: Party, **body: Any) -> dict[str, Any]:
    order = checkout(client, shop, **body).json()
    token = order["link_path"].rsplit("/", 1)[1]
    shown = client.get(f"/v1/collections/links/{token}", headers=payer.headers).json()
    assert (shown["requester_name"], shown["reference"]) == ("Tea House", order["reference"])
    p = pay(client, payer, order["id"], token=token)
    assert p.status_code == 201, p.text
    commit(platform, chain, p.json()["id"])
    return dict(order)


def refund(client: TestClient, shop: Shop, order_id: str, amount: str,
           who: Actor | None = None) -> Any:
    return client.post(f"/v1/orgs/{shop.org_id}/merchant/orders/{order_id}/refunds",
                       headers=keyed((who or shop.owner).headers),
                       json={"amount": amount, "reason": "damaged"})


def test_checkout_is_paid_confirmed_by_webhook_refunded_within_bounds_and_settled(
        client: TestClient, platform: bootstrap.Platform, chain: FakeChain, shop: Shop,
        alice: Party, clock: FakeClock) -> None:
    order = paid_order(client, platform, chain, shop, alice)
    events = [d.event for d in rows(platform, WebhookDelivery, org_id=shop.org_id)]
    assert events.count("checkout.paid") == 1
    delivered = next(d for d in rows(platform, WebhookDelivery, org_id=shop.org_id)
                     if d.event == "checkout.paid")
    assert delivered.payload["request"]["reference"] == "A-1001"
    assert delivered.payload["request"]["amount"] == "40.00"

    qr = client.get(f"/v1/orgs/{shop.org_id}/merchant/orders/{order['id']}/qr.svg",
                    headers=shop.owner.headers)
    assert qr.status_code == 200 and qr.text.startswith("<svg")

    part = refund(client, shop, order["id"], "15.00")
    assert part.status_code == 201, part.text
    assert (part.json()["state"], part.json()["amount"]) == ("sent", "15.00")
    refund_payment = part.json()["payment_id"]
    with platform.deps.uow() as uow:
        rp = uow.repo(Payment).get(refund_payment)
    assert rp is not None and rp.recipient_address == alice.address
    assert (rp.buy_amount_minor, rp.owner_id) == (1500, shop.org_id)
    over = refund(client, shop, order["id"], "25.01")
    assert over.status_code == 422 and code(over) == "REFUND_ABOVE_PAID"
    assert over.json()["error"]["fields"] == {"amount": "at most 25.00 USD"}
    rest = refund(client, shop, order["id"], "25.00")
    assert rest.status_code == 201
    assert refund(client, shop, order["id"], "0.01").status_code == 422

    day = today(clock)
    s = client.get(f"/v1/orgs/{shop.org_id}/merchant/settlement?day={day}",
                   headers=shop.viewer.headers).json()
    fees = sum(p.fee_minor for p in rows(platform, Payment, owner_id=shop.org_id))
    assert s["lines"] == [{"currency": "USD", "orders": 1, "gross": "40.00", "refunds": 2,
                           "refunded": "40.00", "fees": f"{fees / 100:.2f}",
                           "net": f"{-fees / 100:.2f}"}]
    csv_text = client.get(f"/v1/orgs/{shop.org_id}/merchant/settlement?day={day}&format=csv",
                          headers=shop.viewer.headers).text
    assert csv_text.splitlines() == [
        "merchant,day,currency,orders,gross,refunds,refunded,fees,net",
        f"Tea House,{day},USD,1,40.00,2,40.00,{fees / 100:.2f},{-fees / 100:.2f}"]


def test_refunds_asked_at_once_never_exceed_what_was_paid(
        client: TestClient, platform: bootstrap.Platform, chain: FakeChain, shop: Shop,
        alice: Party) -> None:
    order = paid_order(client, platform, chain, shop, alice)
    start = threading.Barrier(6)

    def attempt(_: int) -> Any:
        start.wait()
        return refund(client, shop, order["id"], "15.00")

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(attempt, range(6)))
    ok = [a for a in answers if a.status_code == 201]
    assert len(ok) == 2  # 2 x 15.00 <= 40.00 < 3 x 15.00
    assert {code(a) for a in answers if a.status_code != 201} <= {"REFUND_ABOVE_PAID",
                                                                 "CONFLICT"}
    out = rows(platform, Payment, owner_id=shop.org_id)
    assert sorted(p.buy_amount_minor for p in out) == [1500, 1500]


def test_merchant_roles_and_states_are_enforced(
        client: TestClient, platform: bootstrap.Platform, chain: FakeChain, shop: Shop,
        alice: Party, bob: Party) -> None:
    # a viewer reads but may not create checkouts or refund; an outsider sees nothing
    made = checkout(client, shop, who=shop.viewer)
    assert made.status_code == 403 and code(made) == "FORBIDDEN"
    order = checkout(client, shop).json()
    assert client.get(f"/v1/orgs/{shop.org_id}/merchant/orders",
                      headers=shop.viewer.headers).json()["total"] == 1
    assert client.get(f"/v1/orgs/{shop.org_id}/merchant/orders",
                      headers=alice.headers).status_code == 404
    not_paid = refund(client, shop, order["id"], "1.00")
    assert not_paid.status_code == 409 and code(not_paid) == "ORDER_NOT_PAID"
    other = client.post(f"/v1/orgs/{shop.org_id}/merchant", headers=shop.owner.headers,
                        json={"name": "Another Name"})
    assert other.status_code == 409 and code(other) == "MERCHANT_EXISTS"
    org2 = make_org(platform, bob.id)
    none = client.get(f"/v1/orgs/{org2}/merchant/orders", headers=bob.headers)
    assert none.status_code == 404 and code(none) == "NO_MERCHANT"
    paid = paid_order(client, platform, chain, shop, alice, order_ref="A-2")
    viewer_refund = refund(client, shop, paid["id"], "1.00", who=shop.viewer)
    assert viewer_refund.status_code == 403
    assert rows(platform, Payment, owner_id=shop.org_id) == []


# --- the command line ---------------------------------------------------------------------


class _Bound:
    """The API client the CLI opens, bound to the test's app and the member's token."""

    def __init__(self, c: TestClient, token: str) -> None:
        self.c, self.token = c, token

    def __enter__(self) -> _Bound:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def request(self, method: str, path: str, **kw: Any) -> Any:
        headers = {**kw.pop("headers", {}), "Authorization": f"Bearer {self.token}"}
        return self.c.request(method, path, headers=headers, **kw)


def test_the_cli_makes_checkouts_and_requests_as_the_member_the_token_belongs_to(
        client: TestClient, platform: bootstrap.Platform, shop: Shop, bob: Party,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any, clock: FakeClock) -> None:
    from typer.testing import CliRunner

    from corridor.cli import org_collections
    from corridor.cli.main import app

    monkeypatch.setattr(org_collections, "client", lambda api, token: _Bound(client, token))
    run = CliRunner().invoke
    common = ["--org", shop.org_id, "--api", "http://api.test", "--token", shop.owner.token]
    qr = tmp_path / "qr.svg"
    out = run(app, ["org", "merchant", "checkout", "--order", "C-1", "--amount", "9.90",
                    "--currency", "USD", "--qr", str(qr), *common])
    assert out.exit_code == 0, out.output
    assert "C-1" in out.output and "link: http://api.test/checkout/" in out.output
    assert qr.read_text().startswith("<svg")
    listed = run(app, ["org", "merchant", "orders", *common])
    assert listed.exit_code == 0 and "9.90 USD" in listed.output
    # a viewer's token is refused with the API's code, and nothing is made
    as_viewer = [*common[:-1], shop.viewer.token]
    refused = run(app, ["org", "merchant", "checkout", "--order", "C-2", "--amount", "1",
                        "--currency", "USD", *as_viewer])
    assert refused.exit_code == 1 and "FORBIDDEN" in refused.output
    made = run(app, ["org", "requests", "create", "--amount", "5.00", "--currency", "USD",
                     "--due", today(clock, 3), "--reference", "R-1", "--payer-email",
                     "bob@example.com", *common])
    assert made.exit_code == 0, made.output
    assert [r.reference for r in rows(platform, CollectionRequest)
            if r.merchant_id is None] == ["R-1"]


# --- crashes between the steps, payments refused after a hold ---------------------------------


def _principal(p: Party) -> Any:
    from corridor.platform.domain.principal import Principal
    from corridor.platform.domain.roles import UserKind

    return Principal(user_id=p.id, kind=UserKind.CUSTOMER, staff_role=None, session_id="t")


def _crashed_claim(platform: bootstrap.Platform, request_id: str, payer: Party) -> None:
    """`payer`'s claim, written as `collections.pay` writes it, then the process died."""
    owner = ("user", payer.id)
    platform.deps.write(lambda uow: collections._claim(platform.deps, uow, request_id, owner,
                                                       _principal(payer)))


def test_a_claim_left_by_a_crash_blocks_others_until_it_expires(
        client: TestClient, platform: bootstrap.Platform, alice: Party, erin: Party,
        bob: Party, clock: FakeClock) -> None:
    req = ask(client, bob, clock, link=True).json()
    token = req["link_path"].rsplit("/", 1)[1]
    _crashed_claim(platform, req["id"], alice)  # before any payment was made
    busy = pay(client, erin, req["id"], token=token)
    assert busy.status_code == 409 and code(busy) == "REQUEST_BEING_PAID"
    cancel = client.post(f"/v1/collections/requests/{req['id']}/cancel", headers=bob.headers)
    assert cancel.status_code == 409 and code(cancel) == "REQUEST_BEING_PAID"
    clock.advance(cdom.CLAIM_MS + 1)
    ok = pay(client, erin, req["id"], token=token)
    assert ok.status_code == 201, ok.text
    assert request_of(platform, req["id"]).paying_owner_id == erin.id


def test_a_payment_made_before_a_crash_pays_the_request_and_nobody_pays_twice(
        client: TestClient, platform: bootstrap.Platform, alice: Party, erin: Party,
        bob: Party, clock: FakeClock) -> None:
    from corridor.platform.services import payments

    req = ask(client, bob, clock, link=True).json()
    token = req["link_path"].rsplit("/", 1)[1]
    _crashed_claim(platform, req["id"], alice)
    made, _ = payments.create(platform.deps, _principal(alice), payments.PaymentRequest(
        recipient={"type": "address", "address": bob.address}, asset="USD", amount="25.00",
        memo="INV-1"), collections.payment_key(req["id"]))  # and then the process died
    clock.advance(cdom.CLAIM_MS + 1)
    late = pay(client, erin, req["id"], token=token)
    assert late.status_code == 409 and code(late) == "REQUEST_NOT_OPEN"
    r = request_of(platform, req["id"])
    assert (r.status, r.payment_id) == ("paid", made.id)
    assert len(rows(platform, Payment)) == 1
    # alice's retry finds her payment
    assert pay(client, alice, req["id"], token=token).json()["id"] == made.id


def test_a_request_whose_payment_is_refused_after_a_hold_opens_again(
        client: TestClient, platform: bootstrap.Platform, alice: Party, bob: Party,
        clock: FakeClock) -> None:
    import dataclasses as dc

    from corridor.platform.domain.payments import PaymentStatus

    req = ask(client, bob, clock, payer_email="alice@example.com").json()
    p = pay(client, alice, req["id"]).json()
    assert collections.reopen_unpaid(platform.deps) == 0  # its payment is on its way
    with platform.deps.uow() as uow:  # as an officer's rejection of a held payment leaves it
        row = uow.repo(Payment).get(p["id"])
        assert row is not None
        uow.repo(Payment).update(dc.replace(row, status=PaymentStatus.REJECTED))
        uow.commit()
    assert collections.reopen_unpaid(platform.deps) == 1
    assert collections.reopen_unpaid(platform.deps) == 0
    r = request_of(platform, req["id"])
    assert (r.status, r.payment_id, r.paying_owner_id) == ("open", None, None)


def test_a_slow_payer_overtaken_after_the_claim_expired_is_reported_not_lost(
        client: TestClient, platform: bootstrap.Platform, alice: Party, erin: Party,
        bob: Party, clock: FakeClock) -> None:
    from corridor.platform.services import payments

    req = ask(client, bob, clock, link=True).json()
    token = req["link_path"].rsplit("/", 1)[1]
    _crashed_claim(platform, req["id"], alice)
    clock.advance(cdom.CLAIM_MS + 1)
    won = pay(client, erin, req["id"], token=token).json()
    # alice's creation was only slow: it finishes now and records itself
    slow, _ = payments.create(platform.deps, _principal(alice), payments.PaymentRequest(
        recipient={"type": "address", "address": bob.address}, asset="USD", amount="25.00",
        memo="INV-1"), collections.payment_key(req["id"]))
    platform.deps.write(lambda uow: collections._paid(platform.deps, uow, _principal(alice),
                                                      req["id"], ("user", alice.id), slow))
    r = request_of(platform, req["id"])
    assert (r.status, r.payment_id, r.mismatch_payment_id) == ("paid", won["id"], slow.id)
    assert r.mismatch_note == f"paid twice: payment {slow.id} came after {won['id']}"
