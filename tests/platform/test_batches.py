"""Batch payments (issue 17) through the API on both databases against an in-memory chain:
upload (CSV, pain.001 .03 and .09) with every problem per row, reservation, maker !=
checker approval, execution in chunks of at most 99 items per ledger transaction, each
item exactly once across replays and a restart, pain.002 (schema-valid) and result CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.bench.batch_file import Line, pain001
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.batches import BatchItem
from corridor.platform.domain.iso20022 import errors, parse
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.transfers import Purpose, Transfer, TransferStatus
from corridor.platform.services import settlement
from tests.platform.conftest import Actor, keyed, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.wallet_fakes import CountingKeyGen, make_org

CSV_HEAD = "reference,currency,amount,recipient_type,email,name,iban,bank_code,country,memo\n"


@pytest.fixture
def chain() -> FakeChain:
    return FakeChain()


@pytest.fixture
def platform(settings: Settings, chain: FakeChain) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=FakeClock(), ledger=chain, keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


class Org:
    def __init__(self, platform: bootstrap.Platform, chain: FakeChain) -> None:
        self.maker = make_user(platform, email="maker@example.com", name="Mia Maker")
        self.checker = make_user(platform, email="checker@example.com", name="Carl Checker")
        self.viewer = make_user(platform, email="viewer@example.com", name="Vic Viewer")
        self.id = make_org(platform, self.maker.user.id, {self.checker.user.id: "approver",
                                                          self.viewer.user.id: "viewer"})
        kyc(platform, self.id, 3, owner_type="org")
        self.wallet = open_wallet(platform, self.id, owner_type="org")
        chain.fund(self.wallet.address, "USD", 10_000_00)


@pytest.fixture
def org(platform: bootstrap.Platform, chain: FakeChain) -> Org:
    return Org(platform, chain)


@pytest.fixture
def payees(platform: bootstrap.Platform) -> list[Actor]:
    out = []
    for n in range(3):
        a = make_user(platform, email=f"payee{n}@example.com", name=f"Payee {n}")
        kyc(platform, a.user.id, 2)
        open_wallet(platform, a.user.id)
        out.append(a)
    return out


def upload(client: TestClient, who: Actor, org_id: str, data: bytes,
           headers: dict[str, str] | None = None, name: str = "batch.csv") -> Any:
    return client.post("/v1/batches", headers=headers or keyed(who.headers),
                       data={"org_id": org_id}, files={"file": (name, data, "text/plain")})


def rows(n: int, amount: str = "1.00") -> bytes:
    return (CSV_HEAD + "".join(f"r{i},USD,{amount},user,payee{i % 3}@example.com,,,,,inv {i}\n"
                               for i in range(n))).encode()


def transfers(platform: bootstrap.Platform, purpose: Purpose) -> list[Transfer]:
    with platform.deps.uow() as uow:
        return uow.repo(Transfer).many(purpose=purpose, order_by="created_ms")


def commit_all(platform: bootstrap.Platform, chain: FakeChain, ts: list[Transfer],
               first_height: int = 10) -> None:
    for n, t in enumerate(ts):
        stx = chain.include(first_height + n)
        settlement.record_outcome(platform.deps, t.id, committed=True,
                                  tx_id=stx.tx_id.hex(), height=first_height + n)


def test_a_valid_csv_is_reserved_then_approved_and_executed_in_chunks(
        client: TestClient, platform: bootstrap.Platform, chain: FakeChain, org: Org,
        payees: list[Actor]) -> None:
    headers = keyed(org.maker.headers)
    r = upload(client, org.maker, org.id, rows(120), headers)
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["status"], b["item_count"], b["problem_count"]) == ("validated", 120, 0)
    # the fee of a same-currency payment (0.51) per item, on top of what each receives
    assert b["totals"] == {"USD": "181.20"} and b["fees"] == {"USD": "61.20"}
    [held] = transfers(platform, Purpose.BATCH)  # the reservation: held, never signed
    assert held.status == TransferStatus.HELD and held.legs[0].amount_minor == 181_20
    # the same key and file: the same batch; the same key, another file: refused
    again = upload(client, org.maker, org.id, rows(120), headers)
    assert again.status_code == 200 and again.json()["id"] == b["id"]
    other = upload(client, org.maker, org.id, rows(121), headers)
    assert other.status_code == 409 and other.json()["error"]["code"] == \
        "IDEMPOTENCY_KEY_REUSED"
    # maker != checker; a viewer may read but not approve; outsiders see nothing
    url = f"/v1/batches/{b['id']}"
    own = client.post(f"{url}/approve", headers=org.maker.headers)
    assert own.status_code == 403 and own.json()["error"]["code"] == "BATCH_SELF_APPROVAL"
    assert client.post(f"{url}/approve", headers=org.viewer.headers).status_code == 403
    assert client.get(url, headers=org.viewer.headers).status_code == 200
    assert client.get(url, headers=payees[0].headers).status_code == 404
    ok = client.post(f"{url}/approve", headers=org.checker.headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "approved" and ok.json()["counts"] == {"submitted": 120}
    chunks = [t for t in transfers(platform, Purpose.BATCH) if t.id != held.id]
    assert sorted(len(t.legs) for t in chunks) == [22, 100]  # a debit + 99 credits; 21
    assert sum(t.legs[0].amount_minor for t in chunks) == 181_20
    assert sum(leg.amount_minor for t in chunks for leg in t.legs[1:]) == 120_00
    with platform.deps.uow() as uow:
        assert uow.repo(Transfer).get(held.id).status == TransferStatus.REJECTED  # type: ignore[union-attr]
    # approving again (a retry) changes nothing
    assert client.post(f"{url}/approve", headers=org.checker.headers).status_code == 200
    assert len(transfers(platform, Purpose.BATCH)) == 3
    commit_all(platform, chain, chunks)
    commit_all(platform, chain, chunks)  # a replayed outcome: nothing more
    done = client.get(url, headers=org.viewer.headers, params={"limit": 1000}).json()
    assert done["done"] and done["counts"] == {"credited": 120}
    with platform.deps.uow() as uow:
        assert uow.repo(Payment).count(owner_id=org.id, status="credited") == 120
        # each payment audited as made (and credited), the batch as uploaded and approved
        assert uow.repo(AuditEntry).count(action="payment.create") == 120
        assert uow.repo(AuditEntry).count(action="payment.credited") == 120
        assert uow.repo(AuditEntry).count(action="batch.approve",
                                          actor_id=org.checker.user.id) == 1
    report = client.get(f"{url}/pain002", headers=org.viewer.headers)
    assert report.status_code == 200 and b"<TxSts>ACSC</TxSts>" in report.content
    assert not errors("pain.002.001.10", parse(report.content))
    lines = list(csv.DictReader(io.StringIO(client.get(f"{url}/result.csv",
                                                       headers=org.viewer.headers).text)))
    assert len(lines) == 120 and {x["status"] for x in lines} == {"credited"}


def test_every_problem_of_every_row_is_reported_and_nothing_is_reserved(
        client: TestClient, platform: bootstrap.Platform, org: Org,
        payees: list[Actor]) -> None:
    data = (CSV_HEAD
            + "a,USD,1.001,user,payee0@example.com,,,,,\n"
            + "a,XXX,1,user,nobody@example.com,,,,,\n"
            + "c,EUR,2,external,,Hans,DE00370400440532013000,DEUTXXFF,DE,\n"
            + "d,USD,1,user,ghost@example.com,,,,,\n"
            + "e,USD,1,user,payee1@example.com,,,,,x\n"
            + "f,USD,1,user,payee1@example.com,,,,,x\n").encode()
    r = upload(client, org.maker, org.id, data)
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["status"] == "invalid"
    found = {(p["row"], p["code"]) for p in b["problems"]}
    assert {(1, "AMOUNT_INVALID"), (2, "REFERENCE_DUPLICATE"), (2, "CURRENCY_UNKNOWN"),
            (3, "IBAN_INVALID"), (3, "BIC_INVALID"), (4, "RECIPIENT_NOT_FOUND"),
            (6, "ITEM_DUPLICATE")} <= found
    assert transfers(platform, Purpose.BATCH) == []
    refused = client.post(f"/v1/batches/{b['id']}/approve", headers=org.checker.headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "BATCH_STATE"
    report = client.get(f"/v1/batches/{b['id']}/pain002", headers=org.maker.headers)
    assert b"<TxSts>RJCT</TxSts>" in report.content and b"AMOUNT_INVALID" in report.content


def test_bad_files_are_refused_with_their_reason(client: TestClient, org: Org,
                                                payees: list[Actor]) -> None:
    r = upload(client, org.maker, org.id, b"ref,amount\n1,2\n")
    assert [p["code"] for p in r.json()["problems"]] == ["HEADER_INVALID"]
    bad = pain001([Line(f"r{n}", "1.00", "USD", email="payee0@example.com")
                   for n in range(3)]).replace(b"<PmtMtd>TRF</PmtMtd>", b"<PmtMtd>XXX</PmtMtd>"
                                               ).replace(b'<InstdAmt Ccy="USD">1.00<',
                                                         b'<InstdAmt Ccy="USD">-1<', 2)
    r = upload(client, org.maker, org.id, bad, name="b.xml")
    assert r.json()["status"] == "invalid"
    # every schema error, each with its element's path and the item (row) it is in
    assert [(p["code"], p["row"], p["field"].rsplit("/", 1)[-1])
            for p in r.json()["problems"]] == [("SCHEMA_INVALID", 0, "PmtMtd"),
                                               ("SCHEMA_INVALID", 1, "InstdAmt"),
                                               ("SCHEMA_INVALID", 2, "InstdAmt")]
    assert r.json()["problems"][0]["field"] == "/Document/CstmrCdtTrfInitn/PmtInf/PmtMtd"
    broken = upload(client, org.maker, org.id, b"<Document xmlns='urn:iso:std:iso:20022:"
                    b"tech:xsd:pain.001.001.09'><unclosed>", name="c.xml")
    assert [p["code"] for p in broken.json()["problems"]] == ["FILE_UNREADABLE"]
    entity = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
              b"<Document xmlns='urn:iso:std:iso:20022:tech:xsd:pain.001.001.09'>&x;"
              b"</Document>")
    refused = upload(client, org.maker, org.id, entity, name="d.xml").json()
    assert refused["status"] == "invalid" and "root:" not in str(refused)
    short = upload(client, org.maker, org.id, rows(3, "5000.00"))  # 15,000 > 10,000 held
    assert short.json()["status"] == "invalid"
    assert [p["code"] for p in short.json()["problems"]] == ["INSUFFICIENT_FUNDS"]


def test_only_members_with_pay_initiate_upload(client: TestClient, org: Org,
                                               payees: list[Actor]) -> None:
    r = upload(client, org.viewer, org.id, rows(1))
    assert r.status_code == 403
    assert upload(client, payees[0], org.id, rows(1)).status_code == 404
    missing = client.post("/v1/batches", headers=org.maker.headers, data={"org_id": org.id},
                          files={"file": ("b.csv", rows(1), "text/csv")})
    assert missing.status_code == 422
    assert "header.Idempotency-Key" in missing.json()["error"]["fields"]


@pytest.mark.parametrize("version", ["pain.001.001.03", "pain.001.001.09",
                                     "pain.001.001.12"])
def test_pain001_versions_pay_customers_and_answer_in_pain002(
        client: TestClient, platform: bootstrap.Platform, chain: FakeChain, org: Org,
        payees: list[Actor], version: str) -> None:
    data = pain001([Line(f"E2E-{n}", "2.50", "USD", email=f"payee{n}@example.com",
                         memo=f"invoice {n}") for n in range(3)], version=version,
                   message_id="MSG-1")
    b = upload(client, org.maker, org.id, data, name="p.xml").json()
    assert (b["status"], b["version"], b["message_id"]) == ("validated", version, "MSG-1")
    client.post(f"/v1/batches/{b['id']}/approve", headers=org.checker.headers)
    accepted = client.get(f"/v1/batches/{b['id']}/pain002", headers=org.maker.headers).text
    assert "<TxSts>ACSP</TxSts>" in accepted and "<OrgnlMsgId>MSG-1<" in accepted
    commit_all(platform, chain, [t for t in transfers(platform, Purpose.BATCH)
                                 if t.status == TransferStatus.QUEUED])
    report = client.get(f"/v1/batches/{b['id']}/pain002", headers=org.maker.headers).text
    answer = "pain.002.001.03" if version.endswith("03") else (
        "pain.002.001.14" if version.endswith("12") else "pain.002.001.10")
    assert not errors(answer, parse(report.encode()))
    assert report.count("<TxSts>ACSC</TxSts>") == 3 and "<GrpSts>ACSC</GrpSts>" in report


def test_a_restart_mid_execution_credits_every_item_exactly_once(
        settings: Settings, platform: bootstrap.Platform, client: TestClient,
        chain: FakeChain, org: Org, payees: list[Actor]) -> None:
    b = upload(client, org.maker, org.id, rows(200)).json()
    client.post(f"/v1/batches/{b['id']}/approve", headers=org.checker.headers)
    chunks = [t for t in transfers(platform, Purpose.BATCH)
              if t.status == TransferStatus.QUEUED]
    assert len(chunks) == 3
    commit_all(platform, chain, chunks[:1])
    platform.close()  # the process stops mid-execution
    restarted = bootstrap.build(settings, clock=FakeClock(), ledger=chain,
                                keygen=CountingKeyGen())
    try:
        commit_all(restarted, chain, chunks)  # the first one replayed, the rest new
        with restarted.deps.uow() as uow:
            items = uow.repo(BatchItem).many(batch_id=b["id"])
            pays = uow.repo(Payment).many(owner_id=org.id)
        assert len(pays) == 200 == len({i.payment_id for i in items})
        assert {p.status for p in pays} == {"credited"}
        # the approval retried after the restart makes nothing new
        with TestClient(create_app(restarted)) as c2:
            assert c2.post(f"/v1/batches/{b['id']}/approve",
                           headers=org.checker.headers).status_code == 200
        assert len(transfers(restarted, Purpose.BATCH)) == 4
    finally:
        restarted.close()


def test_a_rejected_batch_releases_its_reservation(
        client: TestClient, platform: bootstrap.Platform, org: Org,
        payees: list[Actor]) -> None:
    b = upload(client, org.maker, org.id, rows(5)).json()
    r = client.post(f"/v1/batches/{b['id']}/reject", headers=org.checker.headers,
                    json={"reason": "wrong month"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    [held] = transfers(platform, Purpose.BATCH)
    assert held.status == TransferStatus.REJECTED
    late = client.post(f"/v1/batches/{b['id']}/approve", headers=org.checker.headers)
    assert late.status_code == 409


def test_the_cli_uploads_approves_and_reports_through_the_api(
        client: TestClient, platform: bootstrap.Platform, org: Org, payees: list[Actor],
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from corridor.cli import org as org_cli

    def through_client(method: str, url: str, **kw: Any) -> Any:
        kw.pop("timeout", None)
        return client.request(method, url.removeprefix("http://api"), **kw)

    monkeypatch.setattr(org_cli.httpx, "request", through_client)
    path = tmp_path / "batch.csv"
    path.write_bytes(rows(4))
    run = CliRunner()
    up = run.invoke(org_cli.app, ["batch", "upload", str(path), "--org", org.id, "--json",
                                  "--api", "http://api", "--token", org.maker.token])
    assert up.exit_code == 0, up.output
    batch_id = json.loads(up.output)["id"]
    own = run.invoke(org_cli.app, ["batch", "approve", batch_id, "--api", "http://api",
                                   "--token", org.maker.token])
    assert own.exit_code == 1 and "BATCH_SELF_APPROVAL" in own.output
    ok = run.invoke(org_cli.app, ["batch", "approve", batch_id, "--api", "http://api",
                                  "--token", org.checker.token])
    assert ok.exit_code == 0 and "approved" in ok.output and "submitted: 4" in ok.output
    out = tmp_path / "r.xml"
    rep = run.invoke(org_cli.app, ["batch", "report", batch_id, "--out", str(out),
                                   "--api", "http://api", "--token", org.viewer.token])
    assert rep.exit_code == 0 and out.read_bytes().count(b"<TxSts>ACSP</TxSts>") == 4


def test_an_item_held_by_compliance_does_not_block_the_rest(
        client: TestClient, platform: bootstrap.Platform, chain: FakeChain, org: Org,
        payees: list[Actor]) -> None:
    from corridor.platform.domain.screening.entries import ListFormat
    from corridor.platform.services import screening
    from tests.platform.conftest import make_staff
    from tests.platform.test_compliance_cases import LIST, LISTED, decide, only_case

    screening.import_list(platform.deps, None, LIST, ListFormat.CSL)
    listed = make_user(platform, email="listed@example.com", name=LISTED)
    kyc(platform, listed.user.id, 2)
    open_wallet(platform, listed.user.id)
    data = (CSV_HEAD + "a,USD,1.00,user,payee0@example.com,,,,,\n"
            "b,USD,2.00,user,listed@example.com,,,,,\n"
            "c,USD,3.00,user,payee1@example.com,,,,,\n").encode()
    b = upload(client, org.maker, org.id, data).json()
    r = client.post(f"/v1/batches/{b['id']}/approve", headers=org.checker.headers)
    assert r.json()["counts"] == {"submitted": 2, "on_hold": 1}
    [chunk] = [t for t in transfers(platform, Purpose.BATCH)
               if t.status == TransferStatus.QUEUED]
    assert [leg.amount_minor for leg in chunk.legs[1:]] == [1_00, 3_00]
    [held] = [t for t in transfers(platform, Purpose.PAYMENT)]
    assert held.status == TransferStatus.HELD and held.legs[1].amount_minor == 2_00
    commit_all(platform, chain, [chunk])
    view = client.get(f"/v1/batches/{b['id']}", headers=org.maker.headers).json()
    assert view["counts"] == {"credited": 2, "on_hold": 1} and not view["done"]
    officer = make_staff(platform, "compliance_officer")
    case = only_case(client, officer)
    assert decide(client, officer, case["case"]["id"], kind="release").status_code == 200
    released = [t for t in transfers(platform, Purpose.PAYMENT)
                if t.status == TransferStatus.QUEUED]
    assert [t.id for t in released] == [held.id]
    commit_all(platform, chain, released, first_height=50)
    done = client.get(f"/v1/batches/{b['id']}", headers=org.maker.headers).json()
    assert done["counts"] == {"credited": 3} and done["done"]


def test_the_reservation_holds_the_money_until_the_batch_is_decided(
        client: TestClient, platform: bootstrap.Platform, org: Org,
        payees: list[Actor]) -> None:
    b = upload(client, org.maker, org.id, rows(3, "3000.00")).json()  # 9,000 of 10,000
    assert b["status"] == "validated"
    body = {"recipient": {"type": "user", "email": "payee0@example.com"}, "asset": "USD",
            "amount": "2000.00", "org_id": org.id}
    r = client.post("/v1/payments", headers=keyed(org.maker.headers), json=body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "INSUFFICIENT_FUNDS"
    second = upload(client, org.maker, org.id, rows(1, "2000.00")).json()
    assert [p["code"] for p in second["problems"]] == ["INSUFFICIENT_FUNDS"]
    client.post(f"/v1/batches/{b['id']}/reject", headers=org.maker.headers)  # withdrawn
    r = client.post("/v1/payments", headers=keyed(org.maker.headers), json=body)
    assert r.status_code == 201, r.text


def test_a_bank_recipient_is_paid_out_through_the_rails_once_its_chunk_settles(
        client: TestClient, platform: bootstrap.Platform, chain: FakeChain, org: Org,
        payees: list[Actor]) -> None:
    data = (CSV_HEAD + "a,USD,4.00,user,payee0@example.com,,,,,\n"
            "b,USD,6.00,external,,Hans Schmidt,GB82WEST12345698765432,WESTGB2L,GB,\n"
            ).encode()
    b = upload(client, org.maker, org.id, data).json()
    assert b["status"] == "validated", b["problems"]
    # the account is stored masked on the item (sealed for the payment)
    with platform.deps.uow() as uow:
        stored = uow.repo(BatchItem).one(batch_id=b["id"], row=2)
    assert stored is not None and stored.recipient["iban"].endswith("5432")
    assert "12345698765432" not in str(stored.recipient) and stored.recipient_sealed
    client.post(f"/v1/batches/{b['id']}/approve", headers=org.checker.headers)
    [chunk] = [t for t in transfers(platform, Purpose.BATCH)
               if t.status == TransferStatus.QUEUED]
    # one debit for both (fees included), one on-chain credit: the bank's money stays in
    # the treasury for its payout
    assert len(chunk.legs) == 2 and chunk.legs[1].amount_minor == 4_00
    commit_all(platform, chain, [chunk])
    view = client.get(f"/v1/batches/{b['id']}", headers=org.maker.headers).json()
    assert view["counts"] == {"credited": 2}
    external = next(i for i in view["items"] if i["recipient_type"] == "external")
    with platform.deps.uow() as uow:
        assert [e.action for e in uow.repo(AuditEntry).many(
            object_id=external["payment_id"], action="payment.payout_requested")]
