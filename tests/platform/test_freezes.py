"""Freezes (issue 16) through the API and the outbox's job lane against a fake node, on
SQLite and PostgreSQL: the issuer's FREEZE/UNFREEZE per held asset, the freeze following
the chain's word (frozen with its transaction and block, or failed with the reject
code), idempotent requests, four eyes, the refusals that change nothing, audit entries,
and the CLI. The real chain: tests/platform/test_freezes_node.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from corridor.api.app import create_app
from corridor.cli.main import app as cli_app
from corridor.ledger.tx import HolderAction, SetHolder, decode_transaction
from corridor.platform import bootstrap
from corridor.platform.adapters.outbox_jobs import JobLane
from corridor.platform.config import Settings
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.freezes import Freeze
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import StaffRole, UserKind
from corridor.platform.domain.wallets import LedgerJob, Signer, Wallet
from corridor.platform.services import freezes, wallets
from corridor.platform.services.ledger_port import Refusal, TxState, TxStatus
from tests.platform.conftest import Actor, keyed, make_staff, make_user, new_key
from tests.platform.wallet_fakes import CountingKeyGen, FakeNode, make_org, system_keys


@pytest.fixture
def platform(settings: Settings) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, ledger=None, keygen=CountingKeyGen())
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


def lane(platform: bootstrap.Platform) -> tuple[JobLane, FakeNode]:
    from corridor.ledger import keys

    sk = system_keys()
    node = FakeNode(sequences={keys.encode_address(kp.address): 7 for kp in sk.values()})
    return JobLane(platform.deps, node, {Signer.ISSUER: sk["issuer"],
                                         Signer.OPERATOR: sk["operator"]}), node


def open_wallet(platform: bootstrap.Platform, worker: JobLane, node: FakeNode, owner_id: str,
                owner_type: str = "user", codes: tuple[str, ...] = ("USD", "CNY")) -> Wallet:
    """A wallet open on (fake) chain and authorised for `codes`."""
    deps = platform.deps
    with deps.uow() as uow:
        wallet_id = wallets.ensure_wallet(deps, uow, owner_type=owner_type, owner_id=owner_id)
        wallets.request_authorisation(deps, uow, owner_type=owner_type, owner_id=owner_id,
                                      asset_codes=codes, actor_id=owner_id)
        uow.commit()
    drain(worker, node)
    with deps.uow() as uow:
        wallet = uow.repo(Wallet).get(wallet_id)
    assert wallet is not None and wallet.status == "open"
    return wallet


def drain(worker: JobLane, node: FakeNode, refuse: Refusal | None = None) -> None:
    """Runs the lane, committing (or refusing) every transaction it sends, until idle."""
    for _ in range(20):
        worker.run_once()
        pending = [tx_id for tx_id, s in node.states.items() if s.status == TxStatus.PENDING]
        if not pending:
            return
        for tx_id in pending:
            if refuse is not None:
                node.states[tx_id] = TxState(status=TxStatus.REJECTED, refusal=refuse)
            else:
                node.commit(tx_id)
    raise AssertionError("the lane did not settle")


def freezes_of(platform: bootstrap.Platform, owner_id: str) -> list[Freeze]:
    with platform.deps.uow() as uow:
        return uow.repo(Freeze).many(owner_id=owner_id, order_by="created_ms")


def jobs_of(platform: bootstrap.Platform, kind: str) -> list[LedgerJob]:
    with platform.deps.uow() as uow:
        return uow.repo(LedgerJob).many(kind=kind, order_by="created_ms")


def audit_actions(platform: bootstrap.Platform, object_id: str) -> list[str]:
    with platform.deps.uow() as uow:
        return [e.action for e in uow.repo(AuditEntry).many(object_id=object_id,
                                                             order_by="seq")]


def holder_ops(node: FakeNode) -> list[tuple[str, HolderAction]]:
    out = []
    for h in node.submitted:
        for op in decode_transaction(bytes.fromhex(h)).tx.operations:
            if isinstance(op, SetHolder) and op.action != HolderAction.AUTHORISE:
                out.append((op.code, op.action))
    return out


@pytest.fixture
def officers(platform: bootstrap.Platform) -> tuple[Actor, Actor]:
    return (make_staff(platform, "compliance_officer", "olive@corridor.example"),
            make_staff(platform, "compliance_officer", "sam@corridor.example"))


def test_freeze_follows_the_chain_and_unfreeze_needs_another_officer(
        platform: bootstrap.Platform, client: TestClient,
        officers: tuple[Actor, Actor]) -> None:
    olive, sam = officers
    carol = make_user(platform, email="carol@example.com")
    worker, node = lane(platform)
    wallet = open_wallet(platform, worker, node, carol.user.id)
    url = f"/v1/staff/customers/{carol.user.id}"

    headers = keyed(olive.headers)
    body = {"reason": "sanctions hit under review", "reference": "CASE-1"}
    r = client.post(f"{url}/freeze", headers=headers, json=body)
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["status"] == "requested" and first["active"] is True
    assert first["asset_codes"] == ["CNY", "USD"] and first["reference"] == "CASE-1"
    # A retry under the same key is the same freeze; another key: ALREADY_FROZEN.
    again = client.post(f"{url}/freeze", headers=headers, json=body)
    assert again.status_code == 200 and again.json()["id"] == first["id"]
    r = client.post(f"{url}/freeze", headers=keyed(olive.headers), json=body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "ALREADY_FROZEN"
    assert len(jobs_of(platform, "freeze")) == 2
    assert {j.signer for j in jobs_of(platform, "freeze")} == {"issuer"}
    # Not lifted before the chain has answered.
    r = client.post(f"{url}/unfreeze", headers=keyed(sam.headers), json={"reason": "ok"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "FREEZE_PENDING"

    drain(worker, node)
    assert sorted(holder_ops(node)) == [("CNY", HolderAction.FREEZE),
                                        ("USD", HolderAction.FREEZE)]
    [frozen] = freezes_of(platform, carol.user.id)
    assert frozen.status == "frozen" and frozen.tx_id and frozen.height == 2
    assert frozen.frozen_ms is not None
    with platform.deps.reader() as uow, pytest.raises(PlatformError) as refused:
        freezes.check_not_frozen(uow, "user", carol.user.id)
    assert refused.value.code == "ACCOUNT_FROZEN"
    mine = client.get("/v1/wallets", headers=carol.headers).json()
    assert mine["frozen"] is True and mine["freeze_status"] == "frozen"

    r = client.post(f"{url}/unfreeze", headers=keyed(olive.headers), json={"reason": "ok"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "FOUR_EYES_REQUIRED"
    r = client.post(f"{url}/unfreeze", headers=keyed(sam.headers),
                    json={"reason": "cleared: a namesake"})
    assert r.status_code == 200 and r.json()["status"] == "releasing", r.text
    assert client.get("/v1/wallets", headers=carol.headers).json()["frozen"] is True
    drain(worker, node)
    [released] = freezes_of(platform, carol.user.id)
    assert released.status == "released" and released.released_by == sam.user.id
    assert released.release_tx_id and released.release_tx_id != frozen.tx_id
    assert released.release_height == 2
    assert sorted(holder_ops(node))[:2] == [("CNY", HolderAction.FREEZE),
                                            ("CNY", HolderAction.UNFREEZE)]
    assert client.get("/v1/wallets", headers=carol.headers).json()["frozen"] is False
    r = client.post(f"{url}/unfreeze", headers=keyed(sam.headers), json={"reason": "again"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "NOT_FROZEN"

    history = client.get(f"{url}/freezes", headers=olive.headers).json()
    assert history["total"] == 1 and history["items"][0]["status"] == "released"
    actions = audit_actions(platform, carol.user.id)
    for action in ("freeze.request", "freeze.frozen", "freeze.release", "freeze.released"):
        assert action in actions, actions
    assert wallet.address  # the wallet's holdings were the ones frozen


def test_a_refused_freeze_fails_with_the_chain_code_and_can_be_lifted(
        platform: bootstrap.Platform, officers: tuple[Actor, Actor]) -> None:
    olive, sam = officers
    carol = make_user(platform, email="carol@example.com")
    worker, node = lane(platform)
    open_wallet(platform, worker, node, carol.user.id, codes=("USD",))
    who = bootstrap_principal(olive)
    freezes.freeze(platform.deps, who, "user", carol.user.id, reason="case",
                   idempotency_key=new_key())
    drain(worker, node, refuse=Refusal(code="FLAG_NOT_SET", message="not freezable",
                                       permanent=True, op_index=0))
    [failed] = freezes_of(platform, carol.user.id)
    assert failed.status == "failed" and failed.error_code == "FLAG_NOT_SET"
    assert not failed.active
    with platform.deps.reader() as uow:
        freezes.check_not_frozen(uow, "user", carol.user.id)  # money may move again
    assert "ledger.freeze.failed" in audit_actions(platform, carol.user.id)
    # Lifting a failed freeze undoes whatever part of it the chain did carry out.
    out = freezes.unfreeze(platform.deps, bootstrap_principal(sam), "user", carol.user.id,
                           reason="lift", idempotency_key=new_key())
    assert out.status == "releasing"
    drain(worker, node)
    assert freezes_of(platform, carol.user.id)[0].status == "released"


def bootstrap_principal(actor: Actor) -> Principal:
    assert actor.user.staff_role is not None
    return Principal(user_id=actor.user.id, kind=UserKind(actor.user.kind),
                     staff_role=StaffRole(actor.user.staff_role), session_id="test")


def test_wrong_role_and_bad_input_change_nothing(
        platform: bootstrap.Platform, client: TestClient,
        officers: tuple[Actor, Actor]) -> None:
    olive, _ = officers
    carol = make_user(platform, email="carol@example.com")
    support = make_staff(platform, "support_agent")
    url = f"/v1/staff/customers/{carol.user.id}"
    body = {"reason": "why"}
    for actor in (carol, support, make_staff(platform, "operator")):
        r = client.post(f"{url}/freeze", headers=keyed(actor.headers), json=body)
        assert r.status_code == 403, r.text
    assert client.get(f"{url}/freezes", headers=carol.headers).status_code == 403
    assert client.get(f"{url}/freezes", headers=support.headers).status_code == 200
    r = client.post(f"{url}/freeze", headers=olive.headers, json=body)  # no key
    assert r.status_code == 422 and r.json()["error"]["code"] == "IDEMPOTENCY_KEY_MISSING"
    r = client.post(f"{url}/freeze", headers=keyed(olive.headers),
                    json={"reason": "", "reference": "x" * 101})
    assert r.status_code == 422, r.text
    r = client.post(f"{url}/freeze", headers=keyed(olive.headers),
                    json={"reason": "bad\u0007bell"})
    assert r.status_code == 422 and "reason" in r.json()["error"]["fields"], r.text
    r = client.post(f"/v1/staff/customers/{olive.user.id}/freeze", headers=keyed(olive.headers),
                    json=body)  # staff are not customers
    assert r.status_code == 404, r.text
    r = client.post(f"{url}/unfreeze", headers=keyed(olive.headers), json=body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "NOT_FROZEN"
    assert freezes_of(platform, carol.user.id) == []
    assert jobs_of(platform, "freeze") == []
    assert "freeze.request" not in audit_actions(platform, carol.user.id)


def test_an_organisation_without_holdings_is_frozen_at_once(
        platform: bootstrap.Platform, client: TestClient,
        officers: tuple[Actor, Actor]) -> None:
    olive, sam = officers
    owner = make_user(platform, email="owner@example.com")
    org_id = make_org(platform, owner.user.id, kyb=True)
    r = client.post(f"/v1/staff/orgs/{org_id}/freeze", headers=keyed(olive.headers),
                    json={"reason": "adverse media"})
    assert r.status_code == 200 and r.json()["status"] == "frozen", r.text
    assert r.json()["tx_id"] is None and r.json()["asset_codes"] == []  # nothing on chain
    org_wallets = client.get(f"/v1/orgs/{org_id}/wallets", headers=owner.headers).json()
    assert org_wallets["frozen"] is True
    r = client.post(f"/v1/staff/orgs/{org_id}/unfreeze", headers=keyed(sam.headers),
                    json={"reason": "resolved"})
    assert r.status_code == 200 and r.json()["status"] == "released", r.text


def test_cli_freeze_unfreeze_and_history(platform: bootstrap.Platform, settings: Settings,
                                         officers: tuple[Actor, Actor]) -> None:
    carol = make_user(platform, email="carol@example.com")
    where = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url]
    runner = CliRunner()
    out = runner.invoke(cli_app, ["compliance", "freeze", "carol@example.com", "--reason",
                                  "case 9", "--reference", "CASE-9", "--by",
                                  "olive@corridor.example", *where])
    assert out.exit_code == 0, out.output
    assert "frozen" in out.output and "CASE-9" in out.output  # no wallet: frozen at once
    out = runner.invoke(cli_app, ["compliance", "unfreeze", carol.user.id, "--reason", "done",
                                  "--by", "olive@corridor.example", *where])
    assert out.exit_code == 1 and "FOUR_EYES_REQUIRED" in out.output
    out = runner.invoke(cli_app, ["compliance", "unfreeze", carol.user.id, "--reason", "done",
                                  "--by", "sam@corridor.example", *where])
    assert out.exit_code == 0 and "released" in out.output, out.output
    out = runner.invoke(cli_app, ["compliance", "freezes", "carol@example.com", "--by",
                                  "olive@corridor.example", *where])
    assert out.exit_code == 0 and len(out.output.splitlines()) == 1, out.output
    assert out.output.split()[1] == "released" and "CASE-9" in out.output
    out = runner.invoke(cli_app, ["compliance", "freeze", "carol@example.com", "--reason",
                                  "x", "--by", "carol@example.com", *where])
    assert out.exit_code == 1  # a customer is no officer
    assert len(freezes_of(platform, carol.user.id)) == 1


def test_a_holding_authorised_while_frozen_is_frozen_too(
        platform: bootstrap.Platform, officers: tuple[Actor, Actor]) -> None:
    olive, _ = officers
    carol = make_user(platform, email="carol@example.com")
    worker, node = lane(platform)
    open_wallet(platform, worker, node, carol.user.id, codes=("USD",))
    freezes.freeze(platform.deps, bootstrap_principal(olive), "user", carol.user.id,
                   reason="case", idempotency_key=new_key())
    drain(worker, node)
    assert freezes_of(platform, carol.user.id)[0].status == "frozen"
    with platform.deps.uow() as uow:  # e.g. a KYC upgrade after the freeze
        wallets.request_authorisation(platform.deps, uow, owner_type="user",
                                      owner_id=carol.user.id, asset_codes=("EUR",),
                                      actor_id=carol.user.id)
        uow.commit()
    [extended] = freezes_of(platform, carol.user.id)
    assert extended.status == "requested" and extended.codes == ("EUR", "USD")
    assert extended.jobs_total == 2
    drain(worker, node)
    [after] = freezes_of(platform, carol.user.id)
    assert after.status == "frozen" and after.jobs_done == 2
    assert ("EUR", HolderAction.FREEZE) in holder_ops(node)
