"""Approval policies and the approval flow of organisations' payments (issue 17), through
the API on SQLite and PostgreSQL: three levels end to end, maker != checker, a second
decision refused and a retried one replayed, reservation released on rejection and on
expiry, re-quote with the payer's consent, block rules, policy validation reporting every
problem, and the wrong role refused."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.adapters.approval_worker import ApprovalExpiryWorker
from corridor.platform.adapters.static_rates import DEMO_PER_USD
from corridor.platform.config import Settings
from corridor.platform.domain import approvals as dom
from corridor.platform.domain import fx, money
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import Problems
from corridor.platform.domain.notifications import Notification, Topic
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.transfers import Purpose, Transfer, TransferStatus
from corridor.platform.domain.webhooks import EndpointStatus, WebhookDelivery, WebhookEndpoint
from corridor.platform.services import codes
from tests.platform.conftest import Actor, keyed, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, commit, kyc, open_wallet
from tests.platform.test_batches import commit_all, rows, transfers, upload
from tests.platform.wallet_fakes import CountingKeyGen, make_org


class MovableRates:
    """Static demo rates that a test can move."""

    name = "movable"

    def __init__(self) -> None:
        self.per_usd = {k: money.rate(v) for k, v in DEMO_PER_USD.items()}

    def mid(self, sell_code: str, buy_code: str) -> Decimal:
        return fx.cross(self.per_usd, sell_code, buy_code)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def rates() -> MovableRates:
    return MovableRates()


@pytest.fixture
def platform(settings: Settings, clock: FakeClock, chain: FakeChain,
             rates: MovableRates) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=clock, ledger=chain, keygen=CountingKeyGen(),
                        rates=rates)
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


@dataclasses.dataclass
class Org:
    id: str
    owner: Actor  # initiates payments (owners may approve too: never their own)
    heads: tuple[Actor, Actor]
    finance: tuple[Actor, Actor]
    cfo: Actor
    viewer: Actor
    bob_address: str  # the recipient's wallet


@pytest.fixture
def org(platform: bootstrap.Platform, chain: FakeChain) -> Org:
    def user(name: str) -> Actor:
        return make_user(platform, email=f"{name}@acme.example", name=name.title())
    owner, h1, h2, f1, f2, cfo, viewer, bob = (
        user(n) for n in ("owner", "hana", "hugo", "fay", "finn", "cleo", "vic", "bob"))
    org_id = make_org(platform, owner.user.id, {
        h1.user.id: "approver", h2.user.id: "approver", f1.user.id: "approver",
        f2.user.id: "approver", cfo.user.id: "approver", viewer.user.id: "viewer"})
    kyc(platform, org_id, 3, owner_type="org")
    wallet = open_wallet(platform, org_id, owner_type="org")
    chain.fund(wallet.address, "USD", 1_000_00)
    kyc(platform, bob.user.id, 2)
    bobs = open_wallet(platform, bob.user.id)
    return Org(org_id, owner, (h1, h2), (f1, f2), cfo, viewer, bobs.address)


TO_BOB = {"type": "user", "email": "bob@acme.example"}


def three_levels(o: Org, **settings: Any) -> dict[str, Any]:
    """500.00 USD and more: a department head, then both of finance, then the CFO."""
    return {
        "groups": [
            {"name": "heads", "members": [a.user.id for a in o.heads]},
            {"name": "finance", "members": [a.user.id for a in o.finance]},
            {"name": "cfo", "members": [o.cfo.user.id]},
        ],
        "rules": [
            {"action": "block", "recipient_types": ["address"]},
            {"action": "approve", "usd_min_minor": 500_00,
             "levels": [{"group": "heads", "required": 1},
                        {"group": "finance", "required": 2},
                        {"group": "cfo", "required": 1}]},
            {"action": "allow"},
        ],
        **settings,
    }


def set_policy(client: TestClient, o: Org, doc: Mapping[str, Any]) -> Any:
    return client.put(f"/v1/orgs/{o.id}/approval-policy", headers=o.owner.headers, json=doc)


def pay(client: TestClient, o: Org, amount: str, **more: Any) -> Any:
    body = {"recipient": TO_BOB, "asset": "USD", "amount": amount, "org_id": o.id, **more}
    return client.post("/v1/payments", headers=o.owner.creating, json=body)


def decide(client: TestClient, who: Actor, payment_id: str, what: str = "approve",
           key: str | None = None) -> Any:
    headers = {**who.headers, "Idempotency-Key": key} if key else who.creating
    return client.post(f"/v1/payments/{payment_id}/{what}", headers=headers,
                       json={"note": f"{what} by {who.user.name}"})


def payment(platform: bootstrap.Platform, payment_id: str) -> Payment:
    with platform.deps.uow() as uow:
        p = uow.repo(Payment).get(payment_id)
    assert p is not None
    return p


def transfer(platform: bootstrap.Platform, payment_id: str) -> Transfer:
    transfer_id = payment(platform, payment_id).transfer_id or ""
    with platform.deps.uow() as uow:
        t = uow.repo(Transfer).get(transfer_id)
    assert t is not None
    return t


def code_of(r: Any) -> str:
    return str(r.json()["error"]["code"])


def _hook(platform: bootstrap.Platform, o: Org) -> None:
    """An active webhook endpoint of the organisation (its deliveries are what we read)."""
    deps = platform.deps
    with deps.uow() as uow:
        uow.repo(WebhookEndpoint).add(WebhookEndpoint(
            id=deps.rand.new_id(), org_id=o.id, url="https://hooks.acme.example/corridor",
            secret_sealed="x", status=EndpointStatus.ACTIVE, created_by=o.owner.user.id,
            created_ms=0, updated_ms=0))
        uow.commit()


def _events(platform: bootstrap.Platform) -> list[str]:
    with platform.deps.uow() as uow:
        return [d.event for d in uow.repo(WebhookDelivery).many(order_by="id")]


def test_three_levels_end_to_end(client: TestClient, platform: bootstrap.Platform,
                                 org: Org, chain: FakeChain) -> None:
    _hook(platform, org)
    saved = set_policy(client, org, three_levels(org))
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1
    r = pay(client, org, "600")
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.json()["status"] == "pending_approval"
    assert transfer(platform, pid).status == TransferStatus.HELD  # reserved, unsigned
    queue = client.get(f"/v1/orgs/{org.id}/approvals", headers=org.heads[0].headers).json()
    assert [i["approval"]["subject_id"] for i in queue["items"]] == [pid]
    assert queue["items"][0]["can_decide"] is True
    with platform.deps.uow() as uow:  # the first level's approvers were told, no one else
        told = {n.user_id for n in uow.repo(Notification).many(topic=Topic.APPROVAL_REQUIRED)}
    assert told == {a.user.id for a in org.heads}
    mail = codes.outbox(platform.deps, "hana@acme.example", 10)
    assert [m.subject for m in mail] == ["Waiting for your approval"]
    assert not codes.outbox(platform.deps, "fay@acme.example", 10)  # not their level yet
    assert _events(platform)[-2:] == ["payment.pending_approval",
                                      "payment.approval_required"]

    assert code_of(decide(client, org.owner, pid)) == "MAKER_CHECKER"
    assert code_of(decide(client, org.finance[0], pid)) == "NOT_AN_APPROVER"
    first = decide(client, org.heads[0], pid, key="head-1")
    assert first.status_code == 200 and first.json()["approval"]["level"] == 2
    # the same request again is the same decision; a new one by the same person is refused
    again = decide(client, org.heads[0], pid, key="head-1")
    assert again.status_code == 200 and len(again.json()["steps"]) == 1
    assert code_of(decide(client, org.heads[0], pid)) == "ALREADY_DECIDED"
    assert code_of(decide(client, org.heads[1], pid)) == "NOT_AN_APPROVER"  # level 1 done
    assert decide(client, org.finance[0], pid).json()["approval"]["level"] == 2  # 1 of 2
    assert decide(client, org.finance[1], pid).json()["approval"]["level"] == 3
    assert payment(platform, pid).status == "pending_approval"
    last = decide(client, org.cfo, pid)
    assert last.json()["approval"]["state"] == "approved"
    p = payment(platform, pid)
    assert [h.status for h in p.history] == ["draft", "pending_approval", "screening", "ready",
                                            "submitted"]
    assert transfer(platform, pid).status == TransferStatus.QUEUED
    events = _events(platform)
    assert events.count("payment.approval_required") == 3  # one per level
    assert events[-4:] == ["payment.approved", "payment.screening", "payment.ready",
                           "payment.submitted"]
    commit(platform, chain, pid)
    assert payment(platform, pid).status == "credited"
    timeline = client.get(f"/v1/payments/{pid}/approval", headers=org.viewer.headers).json()
    assert [(s["level"], s["name"]) for s in timeline["steps"]] == [
        (1, "Hana"), (2, "Fay"), (2, "Finn"), (3, "Cleo")] or [
        (s["level"], s["name"]) for s in timeline["steps"]] == [
        (1, "Hana"), (2, "Finn"), (2, "Fay"), (3, "Cleo")]
    with platform.deps.uow() as uow:
        actions = [e.action for e in uow.repo(AuditEntry).many(object_id=pid)]
    assert actions.count("approval.approve") == 4 and "approval.open" in actions


def test_small_payments_pass_and_block_rules_refuse(
        client: TestClient, platform: bootstrap.Platform, org: Org) -> None:
    assert set_policy(client, org, three_levels(org)).status_code == 200
    small = pay(client, org, "10")
    assert small.status_code == 201 and small.json()["status"] == "submitted"
    before = len(client.get(f"/v1/payments?org_id={org.id}", headers=org.owner.headers
                            ).json()["items"])
    blocked = pay(client, org, "10", recipient={"type": "address",
                                                "address": org.bob_address})
    assert blocked.status_code == 409 and code_of(blocked) == "PAYMENT_BLOCKED"
    after = client.get(f"/v1/payments?org_id={org.id}", headers=org.owner.headers).json()
    assert len(after["items"]) == before  # nothing written
    # a level only the initiator could approve is refused up front
    doc = {"groups": [{"name": "me", "members": [org.owner.user.id]}],
           "rules": [{"action": "approve", "levels": [{"group": "me", "required": 1}]}]}
    assert set_policy(client, org, doc).status_code == 200
    assert code_of(pay(client, org, "10")) == "APPROVERS_TOO_FEW"


def test_rejection_releases_the_reservation(client: TestClient, platform: bootstrap.Platform,
                                            org: Org) -> None:
    assert set_policy(client, org, three_levels(org)).status_code == 200
    pid = pay(client, org, "600").json()["id"]
    # 1,000.00 held, 600.00 (and its fee) reserved: another 600.00 does not fit
    assert code_of(pay(client, org, "600")) == "INSUFFICIENT_FUNDS"
    _hook(platform, org)
    rejected = decide(client, org.heads[1], pid, "reject")
    assert rejected.status_code == 200 and rejected.json()["approval"]["state"] == "rejected"
    p = payment(platform, pid)
    assert p.status == "rejected" and p.reason_code == "APPROVAL_REJECTED"
    assert transfer(platform, pid).status == TransferStatus.REJECTED
    assert code_of(decide(client, org.heads[0], pid)) == "APPROVAL_CLOSED"
    assert _events(platform) == ["payment.approval_rejected", "payment.rejected"]
    with platform.deps.uow() as uow:
        told = uow.repo(Notification).many(user_id=org.owner.user.id,
                                           topic=Topic.APPROVAL_DECIDED)
    assert [n.params["outcome"] for n in told] == ["rejected"]
    assert pay(client, org, "600").status_code == 201  # the money is free again


def test_expiry_releases_the_reservation(client: TestClient, platform: bootstrap.Platform,
                                         org: Org, clock: FakeClock) -> None:
    assert set_policy(client, org, three_levels(org, approval_ttl_ms=60_000)
                      ).status_code == 200
    first = pay(client, org, "600").json()["id"]
    clock.advance(60_000)
    assert code_of(decide(client, org.heads[0], first)) == "APPROVAL_EXPIRED"
    assert payment(platform, first).status == "expired"  # the late decision expired it
    second = pay(client, org, "600").json()["id"]
    clock.advance(60_000)
    worker = ApprovalExpiryWorker(platform.deps)  # the background round, run once here
    assert worker.run_once() == 1
    assert worker.run_once() == 0
    p = payment(platform, second)
    assert p.status == "expired" and p.reason_code == "APPROVAL_EXPIRED"
    assert transfer(platform, second).status == TransferStatus.REJECTED
    assert pay(client, org, "600").status_code == 201


def test_a_moved_rate_needs_the_payers_consent(client: TestClient, platform: bootstrap.Platform,
                                               org: Org, rates: MovableRates) -> None:
    doc = {"groups": [{"name": "cfo", "members": [org.cfo.user.id]}],
           "rules": [{"action": "approve", "levels": [{"group": "cfo", "required": 1}]}],
           "tolerance_bp": 100}
    assert set_policy(client, org, doc).status_code == 200
    q = client.post("/v1/quotes", headers=org.owner.creating,
                    json={"sell_asset": "USD", "buy_asset": "EUR", "sell_amount": "100",
                          "org_id": org.id})
    assert q.status_code == 201, q.text
    r = client.post("/v1/payments", headers=org.owner.creating,
                    json={"recipient": TO_BOB, "quote_id": q.json()["id"], "org_id": org.id})
    assert r.status_code == 201, r.text
    pid, bought = r.json()["id"], r.json()["buy_amount"]
    rates.per_usd["EUR"] = money.rate("0.95")  # 3 % more EUR per USD: beyond 1 %
    waiting = decide(client, org.cfo, pid)
    assert waiting.json()["approval"]["state"] == "awaiting_consent"
    assert payment(platform, pid).status == "pending_approval"
    consent = f"/v1/payments/{pid}/requote-consent"
    assert client.post(consent, headers=org.cfo.creating, json={"accept": True}
                       ).status_code == 403  # an approver is not the payer
    ok = client.post(consent, headers=org.owner.creating, json={"accept": True})
    assert ok.status_code == 200 and ok.json()["approval"]["state"] == "approved"
    p = payment(platform, pid)
    assert p.status == "submitted" and money.format_minor(p.buy_amount_minor, "EUR") != bought
    assert p.sell_amount_minor == 100_00  # the debit did not change
    leg = transfer(platform, pid).legs[1]
    assert leg.amount_minor == p.buy_amount_minor
    assert code_of(client.post(consent, headers=org.owner.creating, json={"accept": True})
                   ) == "CONSENT_NOT_NEEDED"


def test_policy_validation_reports_every_problem(client: TestClient, org: Org) -> None:
    doc = {
        "groups": [{"name": "empty", "members": []},
                   {"name": "two", "members": [a.user.id for a in org.heads]}],
        "rules": [
            {"action": "approve", "usd_min_minor": 100_00,
             "levels": [{"group": "two", "required": 3}]},
            {"action": "block", "usd_min_minor": 200_00},  # shadowed by the first
            {"action": "allow", "currencies": ["XXX"]},  # not the default, bad currency
        ],
    }
    r = set_policy(client, org, doc)
    assert r.status_code == 422 and code_of(r) == "POLICY_INVALID"
    fields = r.json()["error"]["fields"]
    assert {"groups[0].members", "rules[0].levels[0].required", "rules[1]",
            "rules[2].currencies", "rules[2]"} <= set(fields)
    assert "unreachable" in fields["rules[1]"]
    policy = client.get(f"/v1/orgs/{org.id}/approval-policy", headers=org.viewer.headers)
    assert policy.json()["version"] == 0  # nothing saved


def test_wrong_roles_are_refused(client: TestClient, org: Org) -> None:
    doc = three_levels(org)
    r = client.put(f"/v1/orgs/{org.id}/approval-policy", headers=org.heads[0].headers, json=doc)
    assert r.status_code == 403  # approvers do not write the policy
    assert set_policy(client, org, doc).status_code == 200
    pid = pay(client, org, "600").json()["id"]
    assert decide(client, org.viewer, pid).status_code == 403  # a viewer may not approve
    assert client.post(f"/v1/payments/{pid}/approve", json={}).status_code == 401


def test_route_is_pure_and_first_match_wins() -> None:
    rules = (dom.Rule(action=dom.Action.BLOCK, currencies=("EUR",)),
             dom.Rule(action=dom.Action.ALLOW))
    policy = dataclasses.replace(dom.default_policy("o"), rules=rules)
    facts = dom.Facts(usd_minor=1, currency="EUR", recipient_type="user",
                      beneficiary=dom.Beneficiary.NEW, department_id=None, initiator_id="u")
    assert dom.route(policy, facts, {}).action is dom.Action.BLOCK
    usd = dataclasses.replace(facts, currency="USD")
    assert dom.route(policy, usd, {}).action is dom.Action.ALLOW
    problems = Problems()
    dom.check_policy((dom.Rule(action=dom.Action.ALLOW), dom.Rule(action=dom.Action.BLOCK)),
                     (), approval_ttl_ms=dom.APPROVAL_TTL_MS_DEFAULT, tolerance_bp=0,
                     cooling_off_ms=0, role_members={}, department_ids=frozenset(),
                     problems=problems)
    assert "rules[1]" in problems.fields  # a second default is unreachable


def test_retried_creation_opens_one_approval(client: TestClient, org: Org) -> None:
    assert set_policy(client, org, three_levels(org)).status_code == 200
    headers = keyed(org.owner.headers)
    body = {"recipient": TO_BOB, "asset": "USD", "amount": "600", "org_id": org.id}
    first = client.post("/v1/payments", headers=headers, json=body)
    second = client.post("/v1/payments", headers=headers, json=body)
    assert first.json()["id"] == second.json()["id"]
    queue = client.get(f"/v1/orgs/{org.id}/approvals", headers=org.owner.headers).json()
    assert len(queue["items"]) == 1 and queue["items"][0]["can_decide"] is False


# --- the beneficiary book --------------------------------------------------------------------

ACME_BANK = {"type": "external", "name": "Acme Ltd", "country": "GB",
             "iban": "GB82WEST12345698765432", "bank_code": "WESTGB2L"}
NEW_BANK = {"name": "Acme Ltd", "country": "DE", "iban": "DE89370400440532013000",
            "bank_code": "COBADEFFXXX"}


def add_beneficiary(client: TestClient, o: Org, name: str, recipient: dict[str, str]) -> Any:
    return client.post(f"/v1/orgs/{o.id}/beneficiaries", headers=o.owner.creating,
                       json={"name": name, "recipient": recipient})


def test_new_beneficiaries_need_approval_until_cooled_off(
        client: TestClient, platform: bootstrap.Platform, org: Org, clock: FakeClock) -> None:
    doc = {"groups": [{"name": "heads", "members": [a.user.id for a in org.heads]}],
           "rules": [{"action": "approve", "beneficiary": "new",
                      "levels": [{"group": "heads", "required": 1}]},
                     {"action": "allow"}],
           "cooling_off_ms": 60_000}
    assert set_policy(client, org, doc).status_code == 200
    assert pay(client, org, "5").json()["status"] == "pending_approval"  # not in the book
    saved = add_beneficiary(client, org, "Bob", TO_BOB)
    assert saved.status_code == 201 and saved.json()["cooling_off"] is True
    assert code_of(add_beneficiary(client, org, "Bob again", TO_BOB)) == "BENEFICIARY_EXISTS"
    assert pay(client, org, "5").json()["status"] == "pending_approval"  # cooling off
    clock.advance(60_000)
    assert pay(client, org, "5").json()["status"] == "submitted"  # known now


def test_bank_details_are_verified_and_changed_by_a_second_member(
        client: TestClient, platform: bootstrap.Platform, org: Org) -> None:
    bad = add_beneficiary(client, org, "Acme", {**ACME_BANK, "iban": "GB00WEST1234",
                                                "country": "XX"})
    assert bad.status_code == 422
    assert {"recipient.iban", "recipient.country"} <= set(bad.json()["error"]["fields"])
    b = add_beneficiary(client, org, "Acme", ACME_BANK).json()
    assert b["details"]["iban"].endswith("5432") and "1234569876" not in b["details"]["iban"]
    url = f"/v1/orgs/{org.id}/beneficiaries/{b['id']}/bank-details"
    proposed = client.post(url, headers=org.owner.creating, json=NEW_BANK)
    assert proposed.status_code == 200 and proposed.json()["status"] == "change_pending"
    assert code_of(client.post(url, headers=org.owner.creating, json=NEW_BANK)
                   ) == "CHANGE_PENDING"
    listed = client.get(f"/v1/orgs/{org.id}/beneficiaries", headers=org.viewer.headers)
    assert listed.json()["items"][0]["details"]["country"] == "GB"  # not applied yet
    queue = client.get(f"/v1/orgs/{org.id}/approvals", headers=org.cfo.headers).json()
    change = next(i["approval"] for i in queue["items"]
                  if i["approval"]["subject_kind"] == "beneficiary_change")
    own = client.post(f"/v1/approvals/{change['id']}/approve", headers=org.owner.creating,
                      json={})
    assert code_of(own) == "MAKER_CHECKER"
    ok = client.post(f"/v1/approvals/{change['id']}/approve", headers=org.cfo.creating,
                     json={})
    assert ok.status_code == 200 and ok.json()["approval"]["state"] == "approved"
    after = client.get(f"/v1/orgs/{org.id}/beneficiaries", headers=org.viewer.headers)
    item = after.json()["items"][0]
    assert item["details"]["country"] == "DE" and item["status"] == "active"
    assert item["cooling_off"] is True  # a changed account is new again


# --- the CLI -------------------------------------------------------------------------------


class _Via:
    """The CLI's HTTP client, played by the test client with a member's token."""

    def __init__(self, client: TestClient, who: Actor) -> None:
        self.client, self.headers = client, who.headers

    def __enter__(self) -> _Via:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def _call(self, method: str, url: str, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kw)

    def get(self, url: str, **kw: Any) -> Any:
        return self._call("GET", url, **kw)

    def put(self, url: str, **kw: Any) -> Any:
        return self._call("PUT", url, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self._call("POST", url, **kw)


def test_the_cli_sets_shows_and_lists(client: TestClient, org: Org, tmp_path: Any,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from corridor.cli import org_approvals as cli
    from corridor.cli.main import app

    runner = CliRunner()
    monkeypatch.setattr(cli, "client", lambda api: _Via(client, org.owner))
    bad = tmp_path / "bad.json"
    bad.write_text('{"rules": [{"action": "allow"}, {"action": "block"}]}')
    refused = runner.invoke(app, ["org", "policy", "set", org.id, str(bad)])
    assert refused.exit_code == 1 and "POLICY_INVALID" in refused.output
    assert "rules[1]: unreachable" in refused.output
    good = tmp_path / "policy.json"
    good.write_text(__import__("json").dumps(three_levels(org)))
    saved = runner.invoke(app, ["org", "policy", "set", org.id, str(good)])
    assert saved.exit_code == 0 and "saved version 1 (3 rules)" in saved.output
    shown = runner.invoke(app, ["org", "policy", "show", org.id])
    assert '"version": 1' in shown.output
    pid = pay(client, org, "600").json()["id"]
    listed = runner.invoke(app, ["org", "approvals", org.id])
    assert pid in listed.output and "601.70 USD" in listed.output  # fee included
    monkeypatch.setattr(cli, "client", lambda api: _Via(client, org.heads[0]))
    listed = runner.invoke(app, ["org", "approvals", org.id])
    assert "yours to decide" in listed.output
    approval_id = listed.output.split()[0]
    done = runner.invoke(app, ["org", "decide", approval_id, "approve"])
    assert done.exit_code == 0 and "pending, level 2/3" in done.output


def test_a_suspended_organisation_approves_nothing(client: TestClient,
                                                   platform: bootstrap.Platform,
                                                   org: Org) -> None:
    from tests.platform.conftest import make_staff

    assert set_policy(client, org, three_levels(org)).status_code == 200
    pid = pay(client, org, "600").json()["id"]
    admin = make_staff(platform, "admin")
    assert client.post(f"/v1/staff/orgs/{org.id}/suspend", headers=admin.headers
                       ).status_code == 200
    assert code_of(decide(client, org.heads[0], pid)) == "ORG_SUSPENDED"
    assert client.post(f"/v1/staff/orgs/{org.id}/unsuspend", headers=admin.headers
                       ).status_code == 200
    assert decide(client, org.heads[0], pid).status_code == 200


def test_cancelling_a_waiting_payment_ends_its_approval_and_frees_its_money(
        client: TestClient, platform: bootstrap.Platform, org: Org) -> None:
    assert set_policy(client, org, three_levels(org)).status_code == 200
    pid = pay(client, org, "600").json()["id"]
    r = client.post(f"/v1/payments/{pid}/cancel", headers=org.owner.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert transfer(platform, pid).status == TransferStatus.REJECTED
    state = client.get(f"/v1/payments/{pid}/approval", headers=org.owner.headers).json()
    assert state["approval"]["state"] == "rejected"
    assert code_of(decide(client, org.heads[0], pid)) == "APPROVAL_CLOSED"
    assert pay(client, org, "600").status_code == 201  # the money is free again


def test_a_role_group_and_an_initiator_rule(client: TestClient, platform: bootstrap.Platform,
                                            org: Org) -> None:
    """A group named by role takes every member holding it when the payment is routed; a
    rule on the initiator sends only their payments for approval."""
    clerk = make_user(platform, email="clerk@acme.example", name="Clerk")
    with platform.deps.uow() as uow:
        from corridor.platform.domain.orgs import Membership
        uow.repo(Membership).add(Membership(
            id=platform.deps.rand.new_id(), org_id=org.id, user_id=clerk.user.id,
            role="initiator", department_id=None, created_ms=0, updated_ms=0))
        uow.commit()
    doc = {"groups": [{"name": "approvers", "role": "approver"}],
           "rules": [{"action": "approve", "initiators": [clerk.user.id],
                      "levels": [{"group": "approvers", "required": 2}]},
                     {"action": "allow"}]}
    assert set_policy(client, org, doc).status_code == 200
    assert pay(client, org, "5").json()["status"] == "submitted"  # the owner's: allowed
    body = {"recipient": TO_BOB, "asset": "USD", "amount": "5", "org_id": org.id}
    r = client.post("/v1/payments", headers=clerk.creating, json=body)
    assert r.status_code == 201 and r.json()["status"] == "pending_approval", r.text
    pid = r.json()["id"]
    view = client.get(f"/v1/payments/{pid}/approval", headers=org.viewer.headers).json()
    approvers = set(view["approval"]["levels"][0]["approvers"])
    assert approvers == {a.user.id for a in (*org.heads, *org.finance, org.cfo)}
    assert decide(client, org.cfo, pid).json()["approval"]["state"] == "pending"
    assert decide(client, org.heads[1], pid).json()["approval"]["state"] == "approved"
    assert payment(platform, pid).status == "submitted"


# --- a batch under the policy (services/batches.py routes it through the same approvals) ---


@pytest.fixture
def payees(platform: bootstrap.Platform) -> list[Actor]:
    """The recipients batches.rows names (payee0..2@example.com)."""
    out = []
    for n in range(3):
        a = make_user(platform, email=f"payee{n}@example.com", name=f"Payee {n}")
        kyc(platform, a.user.id, 2)
        open_wallet(platform, a.user.id)
        out.append(a)
    return out


def approve_batch(client: TestClient, who: Actor, batch_id: str) -> Any:
    return client.post(f"/v1/batches/{batch_id}/approve", headers=who.headers)


def test_a_batch_needs_every_level_then_runs_on_the_last_vote(
        client: TestClient, platform: bootstrap.Platform, chain: FakeChain, org: Org,
        payees: list[Actor]) -> None:
    assert set_policy(client, org, three_levels(org)).status_code == 200
    _hook(platform, org)
    r = upload(client, org.owner, org.id, rows(3, "200.00"))
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["status"] == "validated"
    [held] = transfers(platform, Purpose.BATCH)
    assert held.status == TransferStatus.HELD  # the whole total reserved meanwhile
    own = approve_batch(client, org.owner, b["id"])
    assert own.status_code == 403 and own.json()["error"]["code"] == "BATCH_SELF_APPROVAL"
    assert approve_batch(client, org.viewer, b["id"]).status_code == 403

    for voter in (org.heads[0], org.finance[0]):  # a department head, then finance (1 of 2)
        step = approve_batch(client, voter, b["id"])
        assert step.status_code == 200, step.text
        assert step.json()["status"] == "validated"  # waiting for the next level
    again = approve_batch(client, org.finance[0], b["id"])  # a retry: counted once
    assert again.status_code == 200 and again.json()["status"] == "validated"
    late_head = approve_batch(client, org.heads[1], b["id"])  # level 1 is done: not theirs now
    assert late_head.status_code in (403, 409), late_head.text
    assert approve_batch(client, org.finance[1], b["id"]).json()["status"] == "validated"
    assert len(transfers(platform, Purpose.BATCH)) == 1  # nothing ran before the last level

    done = approve_batch(client, org.cfo, b["id"])
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "approved" and done.json()["counts"] == {"submitted": 3}
    chunks = [t for t in transfers(platform, Purpose.BATCH) if t.id != held.id]
    assert len(chunks) == 1 and sum(leg.amount_minor for leg in chunks[0].legs[1:]) == 600_00
    assert [e for e in _events(platform) if e.startswith("batch.")] == [
        "batch.approval_required", "batch.validated", "batch.approval_required",
        "batch.approval_required", "batch.approved", "batch.executing"]
    commit_all(platform, chain, chunks)
    seen = client.get(f"/v1/batches/{b['id']}", headers=org.viewer.headers).json()
    assert seen["done"] and seen["counts"] == {"credited": 3}
    a = client.get(f"/v1/orgs/{org.id}/approvals", headers=org.cfo.headers,
                   params={"state": "approved"}).json()
    assert [(x["approval"]["subject_id"], len(x["steps"])) for x in a["items"]
            if x["approval"]["subject_kind"] == "batch"] == [(b["id"], 4)]


def test_a_refusal_at_any_level_rejects_the_batch_and_frees_its_money(
        client: TestClient, platform: bootstrap.Platform, org: Org,
        payees: list[Actor]) -> None:
    assert set_policy(client, org, three_levels(org)).status_code == 200
    _hook(platform, org)
    b = upload(client, org.owner, org.id, rows(3, "200.00")).json()
    assert approve_batch(client, org.heads[0], b["id"]).status_code == 200
    refused = client.post(f"/v1/batches/{b['id']}/reject", headers=org.finance[1].headers,
                          json={"reason": "not budgeted"})
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "rejected"
    [held] = transfers(platform, Purpose.BATCH)
    assert held.status == TransferStatus.REJECTED  # the reservation ended
    late = approve_batch(client, org.cfo, b["id"])
    assert late.status_code == 409 and late.json()["error"]["code"] == "BATCH_STATE"
    assert "batch.rejected" in _events(platform)


def test_a_small_batch_the_policy_allows_needs_one_other_member(
        client: TestClient, org: Org, payees: list[Actor]) -> None:
    assert set_policy(client, org, three_levels(org)).status_code == 200
    b = upload(client, org.owner, org.id, rows(3, "10.00")).json()  # under 500.00
    ok = approve_batch(client, org.heads[0], b["id"])
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
