"""Supervision (issue 16), on both databases: the regulator reads payments, alerts, cases
and the audit trail through /v1/regulator, every read (lists too) audited with its
filters; nobody else may; the regulator changes nothing anywhere; the live feed (SSE)
resumes from Last-Event-ID without loss or repeats."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from corridor import web
from corridor.api import sse
from corridor.api.app import create_app
from corridor.cli.main import app as cli_app
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import STAFF_PERMS, Perm, StaffRole, UserKind
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services import screening, supervision
from tests.platform.conftest import Actor, keyed, make_staff, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, commit, kyc, open_wallet
from tests.platform.test_compliance_cases import LIST, LISTED
from tests.platform.wallet_fakes import CountingKeyGen

SOME_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def platform(settings: Settings, chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=FakeClock(), ledger=chain, keygen=CountingKeyGen())
    screening.import_list(p.deps, None, LIST, ListFormat.CSL)
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


@dataclasses.dataclass
class World:
    alice: Actor
    wallet: Wallet
    regulator: Actor
    officer: Actor


@pytest.fixture
def world(platform: bootstrap.Platform, chain: FakeChain) -> World:
    alice = make_user(platform, email="carol@example.com", name="Carol Customer")
    bob = make_user(platform, email="dave@example.com", name=LISTED)
    kyc(platform, alice.user.id, 2)
    kyc(platform, bob.user.id, 2)
    wallet = open_wallet(platform, alice.user.id)
    open_wallet(platform, bob.user.id)
    chain.fund(wallet.address, "USD", 100_000)
    return World(alice, wallet, make_staff(platform, "regulator"),
                 make_staff(platform, "compliance_officer"))


def pay(client: TestClient, who: Actor, amount: str) -> dict[str, Any]:
    r = client.post("/v1/payments", headers=who.creating,
                    json={"recipient": {"type": "user", "email": "dave@example.com"},
                          "asset": "USD", "amount": amount})
    assert r.status_code == 201, r.text
    return dict(r.json())


def reads(platform: bootstrap.Platform, actor: Actor) -> list[AuditEntry]:
    with platform.deps.uow() as uow:
        return uow.repo(AuditEntry).many(actor_id=actor.user.id, action="supervise.read",
                                         order_by="seq")


def get(client: TestClient, who: Actor, path: str, **headers: str) -> Any:
    r = client.get(path, headers={**who.headers, **headers})
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def release(client: TestClient, officer: Actor, case_id: str) -> None:
    r = client.post(f"/v1/staff/compliance/cases/{case_id}/decisions",
                    headers=keyed(officer.headers), json={"kind": "release", "note": "ok"})
    assert r.status_code == 200, r.text


def test_the_regulator_reads_payments_alerts_cases_and_each_read_is_audited(
        client: TestClient, platform: bootstrap.Platform, world: World,
        chain: FakeChain) -> None:
    held = pay(client, world.alice, "600.00")
    assert held["status"] == "on_hold"
    reg = world.regulator

    listed = get(client, reg, "/v1/regulator/payments?status=on_hold&currency=USD"
                              f"&customer={world.alice.user.id}")
    assert [p["id"] for p in listed["items"]] == [held["id"]] and listed["more"] is False
    assert get(client, reg, "/v1/regulator/payments?status=credited")["items"] == []
    assert get(client, reg, "/v1/regulator/payments?currency=EUR")["items"] == []
    created = held["created_ms"]
    assert len(get(client, reg, f"/v1/regulator/payments?since_ms={created}"
                                f"&until_ms={created + 1}")["items"]) == 1
    assert get(client, reg, f"/v1/regulator/payments?since_ms={created + 1}")["items"] == []

    alerts = get(client, reg, "/v1/regulator/alerts?state=open&typology=sanctions")["items"]
    assert len(alerts) == 1 and alerts[0]["source_id"] == held["id"]
    assert alerts[0]["explanation"]["hits"][0]["source_id"] == "a2"
    cases = get(client, reg, "/v1/regulator/cases?state=open")["items"]
    assert [c["subject_id"] for c in cases] == [world.alice.user.id]
    case = get(client, reg, f"/v1/regulator/cases/{cases[0]['id']}")
    assert case["customer_name"] == "Carol Customer" and case["kyc"]["tier"] == 2
    assert [p["id"] for p in case["payments"]] == [held["id"]]
    assert case["alerts"][0]["explanation"]["screened_name"] == LISTED

    release(client, world.officer, cases[0]["id"])
    commit(platform, chain, held["id"], height=7)
    detail = get(client, reg, f"/v1/regulator/payments/{held['id']}")
    assert [h["status"] for h in detail["history"]][:3] == ["draft", "screening", "on_hold"]
    assert detail["status"] == "credited" and detail["height"] == 7
    assert detail["transfer"]["status"] == "committed"
    assert detail["transfer"]["tx_id"] == detail["tx_id"] == detail["proof"]["tx_id"]
    assert detail["proof"]["verify"].startswith(f"corridor light verify-tx {detail['tx_id']}")
    assert [a["id"] for a in detail["alerts"]] == [alerts[0]["id"]]
    assert get(client, reg, f"/v1/regulator/alerts/{alerts[0]['id']}")["state"] == "released"

    trail = [(e.object_type, e.object_id, e.after) for e in reads(platform, reg)]
    assert trail[0] == ("payments", "*", {
        "filters": {"status": "on_hold", "currency": "USD", "customer": world.alice.user.id},
        "limit": 50, "offset": 0})
    assert ("payments", "*", {"filters": {}, "since_ms": created, "until_ms": created + 1,
                              "limit": 50, "offset": 0}) in trail
    assert ("cases", cases[0]["id"], {"id": cases[0]["id"]}) in trail
    assert ("payments", held["id"], {"id": held["id"]}) in trail
    assert [t[0] for t in trail] == ["payments"] * 5 + ["alerts", "cases", "cases",
                                                         "payments", "alerts"]


def test_a_read_of_something_absent_is_audited_and_bad_filters_change_nothing(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    reg = world.regulator
    r = client.get(f"/v1/regulator/cases/{SOME_ID}", headers=reg.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    assert [(e.object_type, e.object_id) for e in reads(platform, reg)] == [("cases", SOME_ID)]
    for path, field in (("/v1/regulator/payments?state=open", "state"),
                        ("/v1/regulator/payments?status=nope", "status"),
                        ("/v1/regulator/cases?typology=x", "typology"),
                        ("/v1/regulator/alerts?since_ms=5&until_ms=5", "until_ms")):
        r = client.get(path, headers=reg.headers)
        assert r.status_code == 422, (path, r.text)
        assert field in r.json()["error"]["fields"], r.text
    assert client.get("/v1/regulator/wallets", headers=reg.headers).status_code == 422
    assert len(reads(platform, reg)) == 1  # refused input read nothing, traced nothing


def test_the_regulator_reads_and_verifies_the_audit_trail_audited(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    pay(client, world.alice, "600.00")
    reg = world.regulator
    page = get(client, reg, "/v1/regulator/audit?action=compliance.alert")
    assert [e["action"] for e in page["items"]] == ["compliance.alert"]
    newest = get(client, reg, "/v1/regulator/audit?limit=2")
    # a read is traced before it reads: it finds itself at the head, then the last one
    assert [e["action"] for e in newest["items"]] == ["supervise.read"] * 2
    assert [e["after"]["filters"] for e in newest["items"]] == [
        {}, {"action": "compliance.alert"}]
    assert newest["items"][0]["after"]["limit"] == 2 and newest["more"] is True
    report = get(client, reg, "/v1/regulator/audit/verify")
    assert report["ok"] is True and report["entries"] == report["head_seq"] > 3
    assert [e.object_id for e in reads(platform, reg)] == ["*", "*", "chain"]
    overview = get(client, reg, "/v1/regulator/overview")
    assert (overview["open_cases"], overview["open_alerts"],
            overview["payments_on_hold"]) == (1, 1, 1)


# path parameters bound to a few values: one the route accepts
PATH_SAMPLES = {"channel": "email", "decision": "approve"}


def _routes(client: TestClient, with_template: bool = False) -> list[Any]:
    out: list[Any] = []
    for template, ops in client.get("/openapi.json").json()["paths"].items():
        path = re.sub(r"\{resource\}", "payments", template)
        path = re.sub(r"\{(\w+)\}", lambda m: PATH_SAMPLES.get(m.group(1), SOME_ID), path)
        out.extend(((m.upper(), path, template) if with_template else (m.upper(), path))
                   for m in sorted(ops))
    return out


def test_only_supervisors_read_through_the_regulator_api(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    routes = [(m, p) for m, p in _routes(client) if p.startswith("/v1/regulator/")]
    assert len(routes) == 6
    others = [world.alice, world.officer] + [
        make_staff(platform, role.value) for role in StaffRole
        if role not in (StaffRole.REGULATOR, StaffRole.COMPLIANCE_OFFICER)]
    for who in others:
        for method, path in routes:
            r = client.request(method, path, headers=who.headers)
            assert r.status_code == 403, (who.user.staff_role, path, r.status_code)
    assert [r for r, perms in STAFF_PERMS.items() if Perm.SUPERVISE in perms] == [
        StaffRole.REGULATOR]
    with platform.deps.uow() as uow:
        assert uow.repo(AuditEntry).count(action="supervise.read") == 0


# Writes a signed-in member of staff may make about their own account and session.
OWN_ACCOUNT = re.compile(r"^/v1/(auth/(logout|sessions)|me)(/|$)")


def test_the_regulator_changes_nothing_through_any_endpoint(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    """Every write the API has, staff or customer side, refuses the regulator (403, or
    404 where the service hides the object), except its own sign-out and settings."""
    pay(client, world.alice, "600.00")
    with platform.deps.uow() as uow:
        head = uow.audit_head()[0]
    doc = client.get("/openapi.json").json()
    writes = [(m, p, t) for m, p, t in _routes(client, with_template=True)
              if m in ("POST", "PUT", "PATCH", "DELETE") and not OWN_ACCOUNT.match(p)
              and not p.startswith(("/v1/auth/", "/v1/rails/sim-bank/", "/v1/dev/"))]
    assert len(writes) > 30
    admitted = []
    for method, path, template in writes:
        op = doc["paths"][template][method.lower()]
        body = _plausible(doc, op)
        if isinstance(body, _Multipart):
            r = client.request(method, path, headers=keyed(world.regulator.headers),
                               data=body.fields,
                               files={"file": ("e.jpg", b"\xff\xd8\xff", "image/jpeg")})
        else:
            r = client.request(method, path, json=body,
                               headers=keyed(world.regulator.headers))
        if r.status_code not in (403, 404):
            admitted.append((method, path, r.status_code, r.text))
    assert admitted == [], "\n".join(map(str, admitted))
    with platform.deps.uow() as uow:
        later = uow.repo(AuditEntry).many(above={"seq": head}, order_by="seq")
    assert [e.action for e in later if e.actor_id == world.regulator.user.id] == []


@dataclasses.dataclass
class _Multipart:
    """A form upload: the file, and a value for each other required field."""

    fields: dict[str, Any]
_SAMPLES = {"email": "dave@example.com", "date": "2026-01-01", "uri": "https://example.com/h"}


def _sample(doc: dict[str, Any], schema: dict[str, Any]) -> Any:
    """A value the schema admits (the first of an enum or union; required fields only),
    so the request passes the HTTP layer and the role is what is judged."""
    if "$ref" in schema:
        return _sample(doc, doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            options = [s for s in schema[union] if s.get("type") != "null"]
            return _sample(doc, options[0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _sample(doc, props[k]) for k in schema.get("required", ()) if k in props}
    if kind == "array":
        return [_sample(doc, schema.get("items", {}))] * schema.get("minItems", 0)
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    return _SAMPLES.get(schema.get("format", ""), "1" * max(1, schema.get("minLength", 1)))


def _plausible(doc: dict[str, Any], op: dict[str, Any]) -> Any:
    content = op.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        form = _sample(doc, content["multipart/form-data"]["schema"])
        return _Multipart({k: v for k, v in form.items() if k != "file"})
    if "application/json" not in content:
        return {}
    return _sample(doc, content["application/json"]["schema"])


def test_every_perm_but_supervise_is_withheld_from_the_regulator() -> None:
    assert STAFF_PERMS[StaffRole.REGULATOR] == frozenset({Perm.SUPERVISE})


# --- the live feed --------------------------------------------------------------------------


def events(client: TestClient, who: Actor, query: str = "", **headers: str
           ) -> list[dict[str, Any]]:
    """The feed's events until the connection ends (max_ms=0: the backlog, then the end)."""
    got: list[dict[str, Any]] = []
    with client.stream("GET", f"/v1/regulator/feed?max_ms=0{query}",
                       headers={**who.headers, **headers}) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if line and not line.startswith(":"))
        if "data" in fields:
            data = json.loads(fields["data"])
            assert str(data["id"]) == fields["id"] and data["kind"] == fields["event"]
            got.append(data)
    return got


def test_the_feed_resumes_from_the_last_event_id_without_loss_or_repeats(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    reg = world.regulator
    assert events(client, reg) == []  # a new client starts from now
    first = pay(client, world.alice, "100.00")
    pay(client, world.alice, "1.00")  # ... the same listed recipient: held too
    got = events(client, reg, "&last_event_id=0")
    kinds = [(e["kind"], e["object_type"]) for e in got]
    assert kinds == [("alert", "alert"), ("hold", "payment")] * 2, kinds
    assert got[1]["object_id"] == first["id"] and got[1]["data"]["status"] == "on_hold"
    ids = [e["id"] for e in got]
    assert ids == sorted(ids) and len(set(ids)) == 4

    resumed = events(client, reg, **{"Last-Event-ID": str(ids[1])})
    assert [e["id"] for e in resumed] == ids[2:]
    case_id = get(client, world.officer, "/v1/staff/compliance/cases")["items"][0]["id"]
    release(client, world.officer, case_id)
    later = events(client, reg, **{"Last-Event-ID": str(ids[-1])})
    assert [e["kind"] for e in later] == ["release", "release"]
    assert {e["object_id"] for e in later} == {first["id"], got[3]["object_id"]}
    assert events(client, reg, **{"Last-Event-ID": str(later[-1]["id"])}) == []

    with platform.deps.uow() as uow:
        opened = uow.repo(AuditEntry).many(actor_id=reg.user.id, object_type="feed",
                                           order_by="seq")
    assert [e.after for e in opened] == [{}, {"last_event_id": 0},
                                         {"last_event_id": ids[1]},
                                         {"last_event_id": ids[-1]},
                                         {"last_event_id": later[-1]["id"]}]


def test_the_feed_refuses_everyone_but_supervisors(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    for who in (world.alice, world.officer, make_staff(platform, "auditor")):
        r = client.get("/v1/regulator/feed?max_ms=0", headers=who.headers)
        assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    assert client.get("/v1/regulator/feed").status_code == 401


class _Time:
    """A virtual clock whose sleep moves it on."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _drain(deps: Any, who: Principal, after: int | None, bounds: sse.Bounds,
           t: _Time) -> list[str]:
    async def run() -> list[str]:
        frames = await sse.stream(deps, who, after, bounds, sleep=t.sleep, clock=t.clock)
        return [f async for f in frames]
    return asyncio.run(run())


def _principal(a: Actor) -> Principal:
    return Principal(user_id=a.user.id, kind=UserKind(a.user.kind),
                     staff_role=StaffRole(a.user.staff_role), session_id="")


def test_a_quiet_feed_sends_heartbeats_and_a_connection_is_bounded(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    t = _Time()
    frames = _drain(platform.deps, _principal(world.regulator), None,
                    sse.Bounds(poll_ms=1_000, heartbeat_ms=3_000, connection_ms=10_000), t)
    assert frames[0].startswith("retry: 2000\n")
    assert frames[1:] == [": heartbeat\n\n"] * 3  # at 3, 6 and 9 s of silence
    assert t.now == 10.0 and len(t.slept) == 10

    pay(client, world.alice, "100.00")
    pay(client, world.alice, "1.00")
    t = _Time()
    frames = _drain(platform.deps, _principal(world.regulator), 0,
                    sse.Bounds(events_max=3), t)
    sent = [f for f in frames if f.startswith("id: ")]
    assert len(sent) == 3 and t.slept == []  # the bound ends it; nothing waited


def test_last_event_id_is_read_from_the_header_first() -> None:
    assert sse.last_event_id("12", "5") == 12
    assert sse.last_event_id(None, "5") == 5
    assert sse.last_event_id("x", None) is None
    assert sse.last_event_id("9" * 21, None) is None



def test_the_feed_page_script_listens_to_every_kind_of_event() -> None:
    script = (Path(web.__file__).parent / "static" / "regulator-feed.js").read_text()
    listed = re.search(r"var KINDS = \[([^\]]*)\]", script)
    assert listed and tuple(re.findall(r'"(\w+)"', listed.group(1))) == supervision.FEED_KINDS


def test_the_cli_prints_the_feed_and_resumes_after_an_id(
        client: TestClient, platform: bootstrap.Platform, settings: Settings,
        world: World) -> None:
    first = pay(client, world.alice, "100.00")
    where = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url]
    runner = CliRunner()
    out = runner.invoke(cli_app, ["compliance", "feed", "--no-follow", *where])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert [line.split()[2] for line in lines] == ["alert", "hold"]
    assert f"payment {first['id']}" in lines[1] and "status=on_hold" in lines[1]
    second = pay(client, world.alice, "1.00")
    out = runner.invoke(cli_app, ["compliance", "feed", "--no-follow", "--json",
                                  "--after", lines[-1].split()[0], *where])
    assert out.exit_code == 0, out.output
    got = [json.loads(line) for line in out.output.splitlines()]
    assert [(e["kind"], e["object_id"]) for e in got][1] == ("hold", second["id"])
    assert len(got) == 2 and got[0]["id"] > int(lines[-1].split()[0])


def test_a_cursor_read_while_others_write_loses_and_repeats_nothing(
        platform: bootstrap.Platform, world: World) -> None:
    """Writers commit feed events concurrently while a reader follows the cursor: every
    event is read exactly once, in order (audit entries become visible in seq order)."""
    deps, who = platform.deps, _principal(world.regulator)
    start = supervision.feed_start(deps, who, None)
    writers, each = 4, 15

    def write(n: int) -> None:
        for i in range(each):
            with deps.uow() as uow:
                uow.audit(actor_id=None, actor_kind="system", action="hold.open",
                          object_type="hold", object_id=f"h-{n}-{i}", after={"n": n})
                uow.commit()

    seen: list[int] = []
    cursor = start
    with concurrent.futures.ThreadPoolExecutor(writers) as pool:
        running = [pool.submit(write, n) for n in range(writers)]
        while not all(f.done() for f in running):
            events, cursor = supervision.feed_after(deps, who, cursor, limit=7)
            seen.extend(e.id for e in events)
        for f in running:
            f.result()
    while True:
        events, cursor = supervision.feed_after(deps, who, cursor)
        if not events:
            break
        seen.extend(e.id for e in events)
    with deps.uow() as uow:
        written = [e.seq for e in uow.repo(AuditEntry).many(
            action="hold.open", above={"seq": start}, order_by="seq")]
    assert len(written) == writers * each
    assert seen == written
