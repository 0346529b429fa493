"""KYC re-review and the risk rating behind it (issue 16), on both databases, with the
test clock: acceptance rates the customer and sets the re-review date from the riskier of
the officer's level and the rating; when the date comes the review is opened once (state,
inbox, e-mail), the customer is limited (no payments or withdrawals out; receiving
allowed) until they send their details again, are screened again and accepted; an alert
raises the rating and brings the review forward; wrong roles are refused."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.adapters.review_worker import ReviewWorker
from corridor.platform.config import Settings
from corridor.platform.domain import risk as risk_domain
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.compliance import Alert
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.kyc import KycCustomer, KycStatus, Risk
from corridor.platform.domain.notifications import Notification
from corridor.platform.domain.principal import Origin
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.services import codes, reviews, screening, sessions
from corridor.platform.services.screening import ListFiles
from tests.platform.conftest import Actor, keyed, make_staff, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.payment_records import make_org
from tests.platform.wallet_fakes import CountingKeyGen

YEAR_MS = 366 * 86_400_000
LIST = ListFiles(file_name="consolidated.csv", main=(
    b"_id,source,name,type,alt_names,dates_of_birth,nationalities,programs\n"
    b'"a2","OFAC","KHOROSHEV, Dmitry Yuryevich","Individual","LOCKBITSUPP",1993-04-17,'
    b'RU,"CYBER2"\n'))
BASIC = {"first_name": "Carol", "last_name": "Customer", "birth_date": "1990-02-03",
         "address_country_code": "GB", "email_address": "carol@example.com"}
IBAN = "GB82 WEST 1234 5698 7654 32"


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def platform(settings: Settings, chain: FakeChain,
             clock: FakeClock) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=clock, ledger=chain, keygen=CountingKeyGen())
    screening.import_list(p.deps, None, LIST, ListFormat.CSL)
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


@dataclasses.dataclass
class World:
    carol: Actor
    dave: Actor  # another verified customer, who pays and is paid
    officer: Actor


@pytest.fixture
def world(platform: bootstrap.Platform, chain: FakeChain) -> World:
    carol = make_user(platform, email="carol@example.com", name="Carol Customer")
    dave = make_user(platform, email="dave@example.com", name="Dave Payer")
    kyc(platform, dave.user.id, 2)
    for who in (carol, dave):
        wallet = open_wallet(platform, who.user.id)
        chain.fund(wallet.address, "USD", 100_000)
    return World(carol, dave, make_staff(platform, "compliance_officer"))


def submit(client: TestClient, who: Actor, fields: dict[str, Any]) -> dict[str, Any]:
    r = client.put("/v1/kyc/customer", headers=who.headers, json={"fields": fields, "tier": 1})
    assert r.status_code == 200, r.text
    return dict(r.json())


def accept(client: TestClient, officer: Actor, record_id: str,
           risk: str = "low") -> dict[str, Any]:
    r = client.post(f"/v1/staff/kyc/{record_id}/decision", headers=officer.creating,
                    json={"decision": "accept", "reason": "documents checked", "tier": 1,
                          "risk": risk})
    assert r.status_code == 200, r.text
    return dict(r.json())


def pay(client: TestClient, who: Actor, to: str, expect: int = 201) -> dict[str, Any]:
    r = client.post("/v1/payments", headers=who.creating,
                    json={"recipient": {"type": "user", "email": to}, "asset": "USD",
                          "amount": "10.00"})
    assert r.status_code == expect, r.text
    return dict(r.json())


def fresh(platform: bootstrap.Platform, world: World) -> World:
    """The same people signed in again (sessions do not outlive a year of test clock)."""
    def again(who: Actor) -> Actor:
        with platform.deps.uow() as uow:
            token = sessions.open_session(platform.deps, uow, who.user, Origin(ip="127.0.0.1"))
            uow.commit()
        return Actor(who.user, token)
    return World(again(world.carol), again(world.dave), again(world.officer))


def record(platform: bootstrap.Platform, user_id: str) -> KycCustomer:
    with platform.deps.reader() as uow:
        rec = uow.repo(KycCustomer).one(subject_type="user", subject_id=user_id)
    assert rec is not None
    return rec


def accepted_carol(client: TestClient, world: World, **fields: str) -> dict[str, Any]:
    out = submit(client, world.carol, {**BASIC, **fields})
    assert out["status"] == "PROCESSING"
    return accept(client, world.officer, out["id"])


def test_acceptance_rates_the_customer_and_sets_the_review_from_the_riskier_level(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    out = accepted_carol(client, world, address_country_code="KP")
    rec = record(platform, world.carol.user.id)
    # the officer said low; the rating (a FATF "call for action" country) says high
    assert rec.risk == Risk.HIGH and out["review_due_ms"] == rec.review_due_ms
    assert rec.review_due_ms == risk_domain.review_due_ms(rec.decided_ms or 0, Risk.HIGH)
    r = client.get(f"/v1/staff/kyc/{rec.id}/risk", headers=world.officer.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["current"]["level"] == "high" and body["current"]["trigger"] == "kyc_accept"
    assert body["current"]["factors"] == [{"name": "country_black", "points": 60,
                                           "evidence": {"country": "KP"}}]
    assert (body["risk"], body["review_due_ms"]) == ("high", rec.review_due_ms)

    # before its date, sending the same details again is no resubmission
    assert submit(client, world.carol, {})["status"] == "ACCEPTED"


def test_a_due_review_opens_once_tells_limits_and_ends_with_a_new_acceptance(
        client: TestClient, platform: bootstrap.Platform, world: World,
        clock: FakeClock) -> None:
    deps = platform.deps
    first = accepted_carol(client, world)
    rec = record(platform, world.carol.user.id)
    assert rec.risk == Risk.LOW and rec.review_due_ms is not None
    assert reviews.run(deps) == reviews.Opened()  # not due yet
    pay(client, world.carol, "dave@example.com")

    clock.advance(rec.review_due_ms - clock.now_ms())
    world = fresh(platform, world)
    assert [r.id for r in reviews.due(deps, None)] == [rec.id]
    assert reviews.run(deps).record_ids == (rec.id,)
    assert reviews.run(deps) == reviews.Opened()  # once per due date
    due = record(platform, world.carol.user.id)
    assert (due.status, due.tier, due.review_opened_ms) == (KycStatus.REVIEW_DUE, 1,
                                                            clock.now_ms())
    with deps.reader() as uow:
        told = uow.repo(Notification).many(user_id=world.carol.user.id, topic="kyc.review_due")
        actions = [a.action for a in uow.repo(AuditEntry).many(object_id=rec.id)]
    assert len(told) == 1 and told[0].params == {"outcome": "user"}
    assert "kyc.review_due" in actions
    [mail] = codes.outbox(deps, "carol@example.com", 1)
    assert mail.subject == "Your verification is due for review"
    mine = client.get("/v1/kyc/customer", headers=world.carol.headers).json()
    assert (mine["status"], mine["review_limited"]) == ("REVIEW_DUE", True)

    refused = pay(client, world.carol, "dave@example.com", expect=409)
    assert refused["error"]["code"] == "KYC_REVIEW_DUE"
    r = client.post("/v1/withdrawals", headers=keyed(world.carol.headers),
                    json={"currency": "USD", "amount": "5.00",
                          "bank": {"name": "Carol Customer", "account": IBAN, "country": "GB",
                                   "bank_code": "WESTGB2L"}})
    assert r.status_code == 409 and r.json()["error"]["code"] == "KYC_REVIEW_DUE", r.text
    pay(client, world.dave, "carol@example.com")  # receiving stays allowed

    again = submit(client, world.carol, {})  # the same details, sent again
    assert again["status"] == "PROCESSING" and again["review_limited"] is True
    pay(client, world.carol, "dave@example.com", expect=409)  # until accepted
    done = accept(client, world.officer, first["id"])
    assert done["status"] == "ACCEPTED" and done["review_limited"] is False
    assert done["review_due_ms"] > clock.now_ms()
    pay(client, world.carol, "dave@example.com")
    assert reviews.run(deps) == reviews.Opened()


def test_resubmission_at_re_review_screens_the_customer_again(
        client: TestClient, platform: bootstrap.Platform, world: World,
        clock: FakeClock) -> None:
    accepted_carol(client, world, first_name="Dmitry", last_name="Khoroshev")
    rec = record(platform, world.carol.user.id)
    with platform.deps.reader() as uow:
        at_kyc = uow.repo(Alert).many(subject_id=world.carol.user.id)
    assert [a.source_type for a in at_kyc] == ["kyc"]  # the submission screening point
    # the open hit made the rating high: the review comes within a year
    assert rec.risk == Risk.HIGH
    assert rec.review_due_ms is not None and rec.review_due_ms - clock.now_ms() <= YEAR_MS
    clock.advance(rec.review_due_ms - clock.now_ms() + 1)
    world = fresh(platform, world)
    assert reviews.run(platform.deps).record_ids == (rec.id,)
    submit(client, world.carol, {})
    with platform.deps.reader() as uow:
        after = uow.repo(Alert).many(subject_id=world.carol.user.id, order_by="created_ms")
    assert [a.source_type for a in after] == ["kyc", "kyc"]
    assert after[1].created_ms == clock.now_ms()


def test_a_new_alert_raises_the_rating_and_brings_the_review_forward(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    accepted_carol(client, world)
    before = record(platform, world.carol.user.id)
    assert before.risk == Risk.LOW
    # carol sends a listed name: the screening at submission alerts her case
    submit(client, world.carol, {"last_name": "Khoroshev", "first_name": "Dmitry"})
    after = record(platform, world.carol.user.id)
    assert after.risk == Risk.HIGH
    assert after.review_due_ms is not None and before.review_due_ms is not None
    assert after.review_due_ms < before.review_due_ms
    assert after.review_due_ms == risk_domain.review_due_ms(before.decided_ms or 0, Risk.HIGH)
    body = client.get(f"/v1/staff/kyc/{after.id}/risk", headers=world.officer.headers).json()
    assert body["current"]["trigger"] == "alert"
    assert [h["trigger"] for h in body["history"]] == ["kyc_accept"]
    assert "sanctions_open" in {f["name"] for f in body["current"]["factors"]}


def test_wrong_roles_are_refused(client: TestClient, platform: bootstrap.Platform,
                                 world: World) -> None:
    out = accepted_carol(client, world)
    support = make_staff(platform, "support_agent")
    for who in (world.carol, support):
        r = client.get(f"/v1/staff/kyc/{out['id']}/risk", headers=who.headers)
        assert r.status_code in (403, 404), r.text
        r = client.post("/v1/staff/kyc/reviews/run", headers=who.headers)
        assert r.status_code in (403, 404), r.text
    auditor = make_staff(platform, "auditor")
    assert client.get(f"/v1/staff/kyc/{out['id']}/risk",
                      headers=auditor.headers).status_code == 200  # kyc.read
    assert client.post("/v1/staff/kyc/reviews/run",
                       headers=auditor.headers).status_code == 403  # not kyc.review
    r = client.post("/v1/staff/kyc/reviews/run", headers=world.officer.headers)
    assert r.status_code == 200 and r.json() == {"opened": []}


def test_clearing_the_hit_rates_again_but_never_pushes_the_review_back(
        client: TestClient, platform: bootstrap.Platform, world: World) -> None:
    accepted_carol(client, world, first_name="Dmitry", last_name="Khoroshev")
    raised = record(platform, world.carol.user.id)
    assert raised.risk == Risk.HIGH
    with platform.deps.reader() as uow:
        [alert] = uow.repo(Alert).many(subject_id=world.carol.user.id)
    r = client.post(f"/v1/staff/compliance/cases/{alert.case_id}/decisions",
                    headers=keyed(world.officer.headers),
                    json={"kind": "clear", "alert_id": alert.id,
                          "note": "another person: born 1961, British"})
    assert r.status_code == 200, r.text
    body = client.get(f"/v1/staff/kyc/{raised.id}/risk", headers=world.officer.headers).json()
    assert (body["current"]["trigger"], body["current"]["level"]) == ("case_clear", "low")
    assert [f["name"] for f in body["current"]["factors"]] == ["sanctions_cleared", "cases"]
    after = record(platform, world.carol.user.id)
    assert (after.risk, after.review_due_ms) == (raised.risk, raised.review_due_ms)


def test_the_platform_worker_opens_due_reviews(
        client: TestClient, platform: bootstrap.Platform, world: World,
        clock: FakeClock) -> None:
    accepted_carol(client, world)
    rec = record(platform, world.carol.user.id)
    assert rec.review_due_ms is not None
    worker = ReviewWorker(platform.deps)
    assert worker.run_once() == reviews.Opened()
    clock.advance(rec.review_due_ms - clock.now_ms() + 5)
    assert worker.run_once().record_ids == (rec.id,)
    assert record(platform, world.carol.user.id).status == KycStatus.REVIEW_DUE


def test_an_organisation_s_due_review_tells_its_owners_and_admins_and_limits_it(
        platform: bootstrap.Platform, world: World) -> None:
    deps = platform.deps
    admin = make_user(platform, email="erin@example.com", name="Erin Admin")
    org_id = make_org(platform, {"owner": world.carol, "admin": admin, "viewer": world.dave})
    kyc(platform, org_id, 3, "org")
    with deps.uow() as uow:
        rec = uow.repo(KycCustomer).one(subject_type="org", subject_id=org_id)
        assert rec is not None
        # accepted a year ago and due now, as the rating's interval would have it
        uow.repo(KycCustomer).update(dataclasses.replace(
            rec, risk=Risk.HIGH, review_due_ms=deps.clock.now_ms()))
        uow.commit()
    assert reviews.run(deps).record_ids == (rec.id,)
    with deps.reader() as uow:
        told = {n.user_id: n.params for n in uow.repo(Notification).many(topic="kyc.review_due")}
        with pytest.raises(PlatformError) as refused:
            reviews.check_not_limited(uow, "org", org_id)
        reviews.check_not_limited(uow, "user", world.carol.user.id)  # her own: not limited
    assert told == {world.carol.user.id: {"outcome": "org"}, admin.user.id: {"outcome": "org"}}
    assert refused.value.code == "KYC_REVIEW_DUE"
