"""Working a compliance case (issue 16), on SQLite and PostgreSQL: freeze and unfreeze in a
case (the freeze carries the case; the chain's word reported as the outbox worker reports
it), a release on a frozen customer lifting the freeze first and the payments going on
only once the chain has, four eyes; exit; the information deadline; SLA escalation once
per breach, escalated cases first; the evidence graph; roles; the CLI."""

# ruff: noqa: F811  (the fixtures are imported from test_compliance_cases, then requested)
from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from corridor.cli.main import app as cli_app
from corridor.platform import bootstrap
from corridor.platform.adapters.case_sla_worker import CaseSlaWorker
from corridor.platform.config import ConfigError, Settings
from corridor.platform.domain import cases as cdom
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.compliance import Case, CaseState
from corridor.platform.domain.freezes import Freeze
from corridor.platform.domain.identity import User
from corridor.platform.domain.notifications import Notification
from corridor.platform.domain.orgs import Organisation
from corridor.platform.domain.wallets import JobKind, JobStatus, LedgerJob
from corridor.platform.services import case_sla, freezes
from tests.platform.conftest import make_staff, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.test_compliance_cases import (  # noqa: F401  (fixtures)
    World,
    chain,
    client,
    decide,
    only_case,
    pay,
    platform,
    world,
)
from tests.platform.wallet_fakes import make_org


def chain_answers(platform: bootstrap.Platform, kind: JobKind) -> int:
    """The chain carries out every queued job of `kind`, reported as the worker does."""
    deps = platform.deps
    with deps.uow() as uow:
        jobs = uow.repo(LedgerJob).many(kind=kind.value, status=JobStatus.QUEUED.value)
        for i, job in enumerate(jobs):
            freezes.record_done(deps, uow, job, height=10 + i)
        uow.commit()
    return len(jobs)


def freeze_of(platform: bootstrap.Platform, owner_id: str) -> Freeze:
    with platform.deps.reader() as uow:
        found = uow.repo(Freeze).many(owner_id=owner_id, order_by="created_ms",
                                      descending=True, limit=1)
    assert found
    return found[0]


def status(client: TestClient, world: World, payment_id: str) -> str:
    r = client.get(f"/v1/payments/{payment_id}", headers=world.alice.headers)
    return str(r.json()["status"])


def inbox_topics(platform: bootstrap.Platform, user_id: str) -> list[str]:
    with platform.deps.reader() as uow:
        return [n.topic for n in uow.repo(Notification).many(user_id=user_id)]


def audit(platform: bootstrap.Platform, object_id: str) -> list[str]:
    with platform.deps.reader() as uow:
        return [e.action for e in uow.repo(AuditEntry).many(object_id=object_id,
                                                            order_by="seq")]


def test_freeze_in_the_case_then_release_lifts_it_and_the_payment_goes_on_after_the_chain(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    p = pay(client, world.alice)
    case_id = only_case(client, world.officer)["case"]["id"]
    r = decide(client, world.officer, case_id, kind="freeze", note="listed recipient")
    assert r.status_code == 200, r.text
    f = freeze_of(platform, world.alice.user.id)
    assert f.case_id == case_id and f.status == "requested" and f.jobs_total > 0
    assert r.json()["freeze"]["status"] == "requested"
    early = decide(client, world.second, case_id, kind="release")
    assert early.status_code == 409 and early.json()["error"]["code"] == "FREEZE_PENDING"
    assert chain_answers(platform, JobKind.FREEZE) == f.jobs_total
    shown = only_case(client, world.officer)
    assert shown["freeze"]["status"] == "frozen" and shown["freeze"]["height"] >= 10

    # The officer who froze cannot lift it, not even through a release: nothing changes.
    mine = decide(client, world.officer, case_id, kind="release")
    assert mine.status_code == 403 and mine.json()["error"]["code"] == "FOUR_EYES_REQUIRED"
    assert status(client, world, p["id"]) == "on_hold"
    assert freeze_of(platform, world.alice.user.id).status == "frozen"

    released = decide(client, world.second, case_id, kind="release")
    assert released.status_code == 200, released.text
    body = released.json()
    assert body["case"]["pending_release_by"] == world.second.user.id
    assert body["freeze"]["status"] == "releasing"
    assert status(client, world, p["id"]) == "on_hold"  # the chain has not lifted it yet
    assert chain_answers(platform, JobKind.UNFREEZE) > 0
    assert status(client, world, p["id"]) == "submitted"
    after = only_case(client, world.officer)
    assert after["case"]["pending_release_by"] is None
    assert after["case"]["released_by"] == world.second.user.id
    assert after["freeze"]["status"] == "released"
    assert "compliance.release.completed" in audit(platform, case_id)

    # Four eyes on closing: the releasing officer does not close; the other one does.
    assert decide(client, world.second, case_id, kind="close").status_code == 403
    closed = decide(client, world.officer, case_id, kind="close")
    assert closed.status_code == 200 and closed.json()["case"]["state"] == "closed"


def test_unfreeze_decision_and_wrong_roles_change_nothing(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    pay(client, world.alice)
    case_id = only_case(client, world.officer)["case"]["id"]
    support = make_staff(platform, "support_agent", "support@corridor.example")
    for who in (world.alice, support):
        r = decide(client, who, case_id, kind="freeze")
        assert r.status_code == 403, r.text
        assert client.get(f"/v1/staff/compliance/cases/{case_id}/graph",
                          headers=who.headers).status_code == 403
    assert freezes.state_of(platform.deps, "user", world.alice.user.id) is None
    long = decide(client, world.officer, case_id, kind="freeze", note="x" * 600)
    assert long.status_code == 422 and "note" in long.json()["error"]["fields"]
    nothing = decide(client, world.officer, case_id, kind="unfreeze")
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "NOT_FROZEN"

    assert decide(client, world.officer, case_id, kind="freeze").status_code == 200
    again = decide(client, world.second, case_id, kind="freeze")
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_FROZEN"
    chain_answers(platform, JobKind.FREEZE)
    lifted = decide(client, world.second, case_id, kind="unfreeze", note="cleared")
    assert lifted.status_code == 200 and lifted.json()["freeze"]["status"] == "releasing"
    chain_answers(platform, JobKind.UNFREEZE)
    assert freeze_of(platform, world.alice.user.id).status == "released"
    kinds = [d["kind"] for d in only_case(client, world.officer)["decisions"]]
    assert sorted(kinds) == ["freeze", "unfreeze"]  # one clock tick: order by id


def test_exit_disables_the_account_keeps_holdings_frozen_and_tells_the_customer(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    pay(client, world.alice)
    case_id = only_case(client, world.officer)["case"]["id"]
    held = decide(client, world.officer, case_id, kind="exit")
    assert held.status_code == 409 and held.json()["error"]["code"] == "CASE_HOLDS_PAYMENTS"
    assert decide(client, world.officer, case_id, kind="return").status_code == 200
    r = decide(client, world.officer, case_id, kind="exit", note="refuses to explain funds")
    assert r.status_code == 200, r.text
    with platform.deps.reader() as uow:
        user = uow.repo(User).get(world.alice.user.id)
    assert user is not None and user.status == "disabled"
    assert client.get("/v1/payments", headers=world.alice.headers).status_code == 401
    f = freeze_of(platform, world.alice.user.id)
    assert f.active and f.case_id == case_id
    assert "compliance.relationship_ended" in inbox_topics(platform, world.alice.user.id)
    assert "customer.exit" in audit(platform, world.alice.user.id)
    assert "exit" in [d["kind"] for d in r.json()["decisions"]]


def test_exit_of_an_organisation_suspends_it_and_tells_its_creator(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    org_id = make_org(platform, world.alice.user.id)
    deps = platform.deps
    now = deps.clock.now_ms()
    case = Case(id=deps.rand.new_id(), subject_type="org", subject_id=org_id,
                state=CaseState.OPEN, assigned_to=None, released_by=None, opened_ms=now,
                closed_ms=None, closed_by=None, updated_ms=now)
    with deps.uow() as uow:  # as a list import's re-screening opens it (no payment held)
        uow.repo(Case).add(case)
        uow.commit()
    r = decide(client, world.officer, case.id, kind="exit", note="shell company")
    assert r.status_code == 200, r.text
    assert r.json()["freeze"]["status"] == "frozen"  # no holdings on chain: at once
    with deps.reader() as uow:
        org = uow.repo(Organisation).get(org_id)
        user = uow.repo(User).get(world.alice.user.id)
    assert org is not None and org.status == "suspended"
    assert user is not None and user.status == "active"  # the creator keeps their account
    assert freeze_of(platform, org_id).case_id == case.id
    assert "compliance.relationship_ended" in inbox_topics(platform, world.alice.user.id)
    assert {"org.suspend", "customer.exit"} <= set(audit(platform, org_id))


def test_information_deadline_and_escalation_once_per_breach(
        client: TestClient, platform: bootstrap.Platform, world: World,
        settings: Settings) -> None:
    pay(client, world.alice)
    pay(client, world.alice)  # same customer, same case
    case_id = only_case(client, world.officer)["case"]["id"]
    bad = decide(client, world.officer, case_id, kind="request_info", message="invoice",
                 respond_days=31)
    assert bad.status_code == 422 and "respond_days" in bad.json()["error"]["fields"]
    assert only_case(client, world.officer)["case"]["info_due_ms"] is None
    clock = platform.deps.clock
    assert isinstance(clock, FakeClock)
    r = decide(client, world.officer, case_id, kind="request_info", message="invoice",
               respond_days=2)
    assert r.status_code == 200, r.text
    asked_ms = r.json()["decisions"][-1]["created_ms"]
    assert r.json()["case"]["info_due_ms"] == asked_ms + 2 * cdom.DAY_MS
    assert r.json()["sla"]["overdue"] is False
    assert case_sla.escalate_due(platform.deps) == 0

    clock.advance(2 * cdom.DAY_MS + 1)
    fresh = make_staff(platform, "compliance_officer", "late@corridor.example")  # signed in now
    late = only_case(client, fresh)
    kinds = {b["kind"] for b in late["sla"]["breaches"]}
    assert kinds == {"info_deadline"} and late["sla"]["severity"] == "normal"
    assert late["case"]["escalated_ms"] is None  # not escalated until the job runs
    assert case_sla.escalate_due(platform.deps) == len(kinds)
    assert case_sla.escalate_due(platform.deps) == 0  # once per breach
    assert CaseSlaWorker(platform.deps).run_once() == 0  # the periodic job's round
    for officer in (world.officer, world.second, fresh):
        assert inbox_topics(platform, officer.user.id).count(
            "compliance.case_escalated") == len(kinds)
    assert "compliance.case_escalated" not in inbox_topics(platform, world.alice.user.id)
    assert audit(platform, case_id).count("compliance.escalate") == len(kinds)
    overdue = client.get("/v1/staff/compliance/cases?overdue=true",
                         headers=fresh.headers).json()
    assert [c["id"] for c in overdue["items"]] == [case_id]
    assert overdue["items"][0]["escalated_ms"] == clock.now_ms()

    runner = CliRunner()
    out = runner.invoke(cli_app, ["compliance", "cases", "--overdue", "--data-dir",
                                  str(settings.data_dir), "--database-url",
                                  settings.database_url])
    assert out.exit_code == 0, out.output
    assert case_id in out.output and "info_deadline" in out.output

    # A note recording the answer stops the information deadline; the resolution time
    # (review only: 120 hours) passing later is a breach of its own, escalated once.
    decide(client, fresh, case_id, kind="note", note="invoice received")
    assert only_case(client, fresh)["sla"]["breaches"] == []
    clock.advance(4 * cdom.DAY_MS)
    assert case_sla.escalate_due(platform.deps) == 1
    assert case_sla.escalate_due(platform.deps) == 0
    assert [b.kind for b in case_sla.overdue(platform.deps, None)[0].sla.breaches] == [
        "resolution"]


def test_escalated_cases_are_listed_first(
        client: TestClient, platform: bootstrap.Platform, world: World,
        chain: FakeChain) -> None:
    pay(client, world.alice)  # the older case: Alice's
    clock = platform.deps.clock
    assert isinstance(clock, FakeClock)
    clock.advance(60_000)
    eve = make_user(platform, email="eve@example.com", name="Eve Customer")
    kyc(platform, eve.user.id, 2)
    wallet = open_wallet(platform, eve.user.id)
    chain.fund(wallet.address, "USD", 100_000)
    pay(client, eve)
    listed = client.get("/v1/staff/compliance/cases", headers=world.officer.headers).json()
    assert [c["subject_id"] for c in listed["items"]] == [world.alice.user.id, eve.user.id]
    newer = listed["items"][1]["id"]
    with platform.deps.uow() as uow:  # Eve's case escalated (as the job would flag it)
        c = uow.repo(Case).get(newer)
        assert c is not None
        uow.repo(Case).update(dataclasses.replace(c, escalated_ms=clock.now_ms()))
        uow.commit()
    listed = client.get("/v1/staff/compliance/cases", headers=world.officer.headers).json()
    assert [c["subject_id"] for c in listed["items"]] == [eve.user.id, world.alice.user.id]
    second = client.get("/v1/staff/compliance/cases?limit=1&offset=1",
                        headers=world.officer.headers).json()
    assert [c["subject_id"] for c in second["items"]] == [world.alice.user.id]
    assert second["total"] == 2
    with platform.deps.reader() as uow:
        assert case_sla.overdue_count(uow) == 1


def test_the_graph_shows_the_flows_around_the_customer(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    p1 = pay(client, world.alice, "100.00")
    p2 = pay(client, world.alice, "50.00")
    case_id = only_case(client, world.officer)["case"]["id"]
    r = client.get(f"/v1/staff/compliance/cases/{case_id}/graph",
                   headers=world.officer.headers)
    assert r.status_code == 200, r.text
    g: dict[str, Any] = r.json()
    alice, bob = f"user:{world.alice.user.id}", f"user:{world.bob.user.id}"
    assert g["subject"] == alice and not g["truncated"]
    assert {n["key"]: n["hop"] for n in g["nodes"]} == {alice: 0, bob: 1}
    assert {n["label"] for n in g["nodes"]} == {"Carol Customer", "Dmitry Khoroshev"}
    [edge] = g["edges"]
    assert (edge["source"], edge["target"], edge["currency"]) == (alice, bob, "USD")
    assert edge["count"] == 2 and edge["held"] == 2
    cents = [int(Decimal(p["sell_amount"]) * 100) for p in (p1, p2)]  # USD: two decimals
    assert edge["amount_minor"] == sum(cents) and cents[0] > 10_000


def test_the_graph_is_bounded() -> None:
    flows = [cdom.Flow(payment_id=f"p{i}", source="user:s", target=f"user:t{i}", code="USD",
                       amount_minor=100 + i, status="credited", created_ms=i)
             for i in range(200)]
    flows += [cdom.Flow(payment_id=f"q{i}", source=f"user:t{i}", target=f"user:u{i}",
                        code="USD", amount_minor=1, status="credited", created_ms=i)
              for i in range(200)]
    g = cdom.graph("user:s", flows, {}, since_ms=0)
    assert g.truncated
    assert len(g.nodes) <= cdom.GRAPH_NODES_MAX and len(g.edges) <= cdom.GRAPH_EDGES_MAX
    keys = {n.key for n in g.nodes}
    assert all(e.source in keys and e.target in keys for e in g.edges)
    assert "user:t199" in keys  # the largest flows are kept first
    assert all(0 <= n.x <= g.width and 0 <= n.y <= g.height for n in g.nodes)


def test_a_malformed_sla_setting_stops_the_start(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="CORRIDOR_CASE_SLA"):
        bootstrap.build(dataclasses.replace(settings, case_sla="high=8/2"))


def test_sla_policy_is_data() -> None:
    p = cdom.parse_policy("high=2/8, info_days=3")
    assert p.hours[cdom.Severity.HIGH] == cdom.SlaHours(first_action=2, resolution=8)
    assert p.hours[cdom.Severity.NORMAL] == cdom.DEFAULT_POLICY.hours[cdom.Severity.NORMAL]
    assert p.info_days == 3
    for bad in ("high=8/2", "urgent=1/2", "info_days=0", "high=x"):
        with pytest.raises(ValueError):
            cdom.parse_policy(bad)
