"""Custody (L2): sealed seeds, master key rotation, the ledger job outbox and its worker
against a fake node, and authorisation of every wallet endpoint."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from corridor.ledger import keys
from corridor.ledger.keys import KeyPair
from corridor.ledger.tx import OpenAccount, SetHolder, decode_transaction
from corridor.platform import bootstrap
from corridor.platform.adapters import custody_admin
from corridor.platform.adapters.ledger_worker import LedgerWorker
from corridor.platform.adapters.vault import Keyring, VaultError
from corridor.platform.config import Settings
from corridor.platform.domain import wallets as w
from corridor.platform.domain.identity import User
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import UserKind
from corridor.platform.domain.wallets import (
    Authorisation,
    JobKind,
    JobStatus,
    LedgerJob,
    Signer,
    Wallet,
)
from corridor.platform.services import wallets
from corridor.platform.services.ledger_port import Refusal, TxState
from tests.platform.conftest import Actor, make_user
from tests.platform.wallet_fakes import CountingKeyGen, FakeNode, make_org, system_keys


@pytest.fixture
def platform(settings: Settings) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, extras={"ledger": None, "keygen": CountingKeyGen()})
    yield p
    p.close()


def principal(actor: Actor) -> Principal:
    return Principal(user_id=actor.user.id, kind=UserKind.CUSTOMER, staff_role=None,
                     session_id="test")


def ensure(platform: bootstrap.Platform, owner_id: str, owner_type: str = "user") -> str:
    with platform.deps.uow() as uow:
        wallet_id = wallets.ensure_wallet(platform.deps, uow, owner_type=owner_type,
                                          owner_id=owner_id)
        uow.commit()
    return wallet_id


def authorise(platform: bootstrap.Platform, owner_id: str, *codes: str) -> None:
    with platform.deps.uow() as uow:
        wallets.request_authorisation(platform.deps, uow, owner_type="user", owner_id=owner_id,
                                      asset_codes=codes, actor_id=owner_id)
        uow.commit()


def get_wallet(platform: bootstrap.Platform, wallet_id: str) -> Wallet:
    with platform.deps.uow() as uow:
        wallet = uow.repo(Wallet).get(wallet_id)
    assert wallet is not None
    return wallet


def jobs(platform: bootstrap.Platform, **eq: object) -> list[LedgerJob]:
    with platform.deps.uow() as uow:
        return uow.repo(LedgerJob).many(order_by="created_ms", **eq)


# --- sealing and rotation ------------------------------------------------------------------


def test_custodial_seed_is_sealed_and_bound_to_its_wallet(
        platform: bootstrap.Platform, customer: Actor, other_customer: Actor) -> None:
    mine = get_wallet(platform, ensure(platform, customer.user.id))
    theirs = get_wallet(platform, ensure(platform, other_customer.user.id))
    assert mine.custodial and mine.key_sealed is not None and mine.status == "opening"
    seed = platform.vault.open(mine.key_sealed, w.wallet_context(mine.id))
    kp = KeyPair.from_seed(seed)
    assert keys.encode_public_key(kp.public_key) == mine.public_key
    assert keys.encode_address(kp.address) == mine.address
    assert seed.hex() not in mine.key_sealed and keys.encode_seed(seed) not in mine.key_sealed
    # The sealed seed copied onto another wallet's row does not open there.
    with pytest.raises(VaultError):
        platform.vault.open(mine.key_sealed, w.wallet_context(theirs.id))


def test_ensure_wallet_is_idempotent_and_queues_one_open_job(
        platform: bootstrap.Platform, customer: Actor) -> None:
    first = ensure(platform, customer.user.id)
    assert ensure(platform, customer.user.id) == first
    queued = jobs(platform, wallet_id=first)
    assert [(j.kind, j.status, j.signer) for j in queued] == [
        ("open_account", "queued", "operator")]
    assert queued[0].payload == {"public_key": get_wallet(platform, first).public_key}


def test_rotation_rewraps_every_sealed_column(platform: bootstrap.Platform,
                                             customer: Actor) -> None:
    deps = platform.deps
    wallet = get_wallet(platform, ensure(platform, customer.user.id))
    totp = deps.sealer.seal(b"totp secret", f"totp:{customer.user.id}")
    with deps.uow() as uow:
        uow.repo(User).update(dataclasses.replace(customer.user, totp_secret_enc=totp))
        uow.commit()
    old_kid = platform.vault.keyring.active
    assert wallet.key_sealed is not None and wallet.key_sealed.split(".")[1] == old_kid
    seed = platform.vault.open(wallet.key_sealed, w.wallet_context(wallet.id))

    count, new_kid = custody_admin.rotate_master_key(platform)

    assert count == 2 and new_kid != old_kid
    assert Keyring.load(platform.settings.keyring_path).active == new_kid  # saved first
    rewrapped = get_wallet(platform, wallet.id)
    assert rewrapped.key_sealed is not None and rewrapped.key_sealed.split(".")[1] == new_kid
    with deps.uow() as uow:
        user = uow.repo(User).get(customer.user.id)
    assert user is not None and user.totp_secret_enc is not None
    assert user.totp_secret_enc.split(".")[1] == new_kid
    assert platform.vault.open(rewrapped.key_sealed, w.wallet_context(wallet.id)) == seed
    assert platform.vault.open(user.totp_secret_enc, f"totp:{user.id}") == b"totp secret"
    # Values sealed before the rotation still open (the old key stays in the ring) ...
    assert platform.vault.open(wallet.key_sealed, w.wallet_context(wallet.id)) == seed
    assert platform.vault.open(totp, f"totp:{user.id}") == b"totp secret"
    # ... and new ones use the new key.
    assert deps.sealer.seal(b"x", "c").split(".")[1] == new_kid


# --- authorisation requests ----------------------------------------------------------------


def test_request_authorisation_is_idempotent(platform: bootstrap.Platform,
                                             customer: Actor) -> None:
    wallet_id = ensure(platform, customer.user.id)
    authorise(platform, customer.user.id, "USD", "CNY")
    authorise(platform, customer.user.id, "USD", "CNY", "USD")
    auth_jobs = jobs(platform, kind="authorise")
    assert sorted(j.payload["code"] for j in auth_jobs) == ["CNY", "USD"]
    assert all(j.signer == "issuer" and j.wallet_id == wallet_id for j in auth_jobs)
    # A failed one is asked for anew; the others are left alone.
    with platform.deps.uow() as uow:
        usd = next(j for j in auth_jobs if j.payload["code"] == "USD")
        wallets.record_failed(platform.deps, uow, usd, "NOT_AUTHORISED", "test")
        uow.commit()
    authorise(platform, customer.user.id, "USD", "CNY")
    assert len(jobs(platform, kind="authorise")) == 3
    with platform.deps.uow() as uow:
        auths = {a.asset_code: a for a in uow.repo(Authorisation).many(wallet_id=wallet_id)}
    assert {c: a.status for c, a in auths.items()} == {"USD": "requested", "CNY": "requested"}
    assert auths["USD"].job_id != usd.id


def test_request_authorisation_rejects_bad_codes(platform: bootstrap.Platform,
                                                 customer: Actor) -> None:
    ensure(platform, customer.user.id)
    with pytest.raises(Exception) as info:
        authorise(platform, customer.user.id, "usd", "TOOLONGCODE1234")
    assert getattr(info.value, "code", None) == "INVALID_ASSET_CODE"
    assert jobs(platform, kind="authorise") == []


# --- the worker against a fake node ---------------------------------------------------------


def worker_for(platform: bootstrap.Platform) -> tuple[LedgerWorker, FakeNode]:
    sk = system_keys()
    node = FakeNode(sequences={keys.encode_address(kp.address): 7 for kp in sk.values()})
    signers = {Signer.ISSUER: sk["issuer"], Signer.OPERATOR: sk["operator"]}
    return LedgerWorker(platform.deps, node, signers), node


def test_worker_groups_jobs_per_signer_and_waits_for_open_accounts(
        platform: bootstrap.Platform) -> None:
    owners = [make_user(platform, email=f"u{i}@example.com").user.id for i in range(3)]
    for owner in owners:
        ensure(platform, owner)
        authorise(platform, owner, "USD")
    worker, node = worker_for(platform)
    assert worker.build(Signer.ISSUER) is None  # no account is open yet
    prepared = worker.build(Signer.OPERATOR)
    assert prepared is not None and len(prepared.job_ids) == 3
    stx = decode_transaction(bytes.fromhex(prepared.tx_hex))
    assert stx.tx.sequence == 8 and stx.tx.source == system_keys()["operator"].address
    assert all(isinstance(op, OpenAccount) for op in stx.tx.operations)
    assert stx.tx_id.hex() == prepared.tx_id
    # Stored before submission; one transaction in flight per signer.
    stored = jobs(platform, kind="open_account")
    assert {j.status for j in stored} == {"submitted"}
    assert {(j.tx_id, j.tx_hex) for j in stored} == {(prepared.tx_id, prepared.tx_hex)}
    assert sorted(j.op_index or 0 for j in stored) == [0, 1, 2]
    assert worker.build(Signer.OPERATOR) is None
    worker.submit(prepared)
    node.commit(prepared.tx_id)
    worker.run_once()
    assert {get_wallet(platform, j.wallet_id).status for j in stored} == {"open"}
    issuer_tx = [h for h in node.submitted
                 if decode_transaction(bytes.fromhex(h)).tx.source
                 == system_keys()["issuer"].address]
    assert len(issuer_tx) == 1
    ops = decode_transaction(bytes.fromhex(issuer_tx[0])).tx.operations
    assert len(ops) == 3 and all(isinstance(op, SetHolder) and op.code == "USD" for op in ops)


def test_worker_bounds_operations_per_transaction(platform: bootstrap.Platform) -> None:
    for i in range(w.JOB_OPS_PER_TX_MAX + 3):
        ensure(platform, f"org-{i}", owner_type="org")
    worker, _node = worker_for(platform)
    first = worker.build(Signer.OPERATOR)
    assert first is not None and len(first.job_ids) == w.JOB_OPS_PER_TX_MAX
    oldest = [j.id for j in jobs(platform)][: w.JOB_OPS_PER_TX_MAX]
    assert sorted(first.job_ids) == sorted(oldest)


def test_refused_operation_decides_alone_and_others_are_rebuilt(
        platform: bootstrap.Platform) -> None:
    ids = [ensure(platform, f"org-{i}", owner_type="org") for i in range(3)]
    worker, node = worker_for(platform)
    prepared = worker.build(Signer.OPERATOR)
    assert prepared is not None
    node.refuse_next = Refusal(code="ACCOUNT_EXISTS", message="exists", permanent=True,
                               op_index=1)
    worker.submit(prepared)
    by_wallet = {j.wallet_id: j for j in jobs(platform)}
    at_fault = next(j for j in by_wallet.values() if j.op_index == 1)
    # ACCOUNT_EXISTS for an open_account: the chain already is what the job wanted.
    assert at_fault.status == "done" and get_wallet(platform, at_fault.wallet_id).status == "open"
    innocent = [j for j in by_wallet.values() if j.id != at_fault.id]
    assert {(j.status, j.tx_id, j.attempts) for j in innocent} == {("queued", None, 0)}
    again = worker.build(Signer.OPERATOR)
    assert again is not None and len(again.job_ids) == 2 and again.tx_id != prepared.tx_id
    assert len(ids) == 3


def test_sequence_conflicts_rebuild_then_fail_after_bounded_attempts(
        platform: bootstrap.Platform) -> None:
    wallet_id = ensure(platform, "org-1", owner_type="org")
    worker, node = worker_for(platform)
    tx_ids = set()
    for _ in range(w.JOB_ATTEMPTS_MAX):
        prepared = worker.build(Signer.OPERATOR)
        assert prepared is not None
        tx_ids.add(prepared.tx_id)
        node.sequences = {k: v + 1 for k, v in node.sequences.items()}  # someone else's tx
        node.refuse_next = Refusal(code="BAD_SEQUENCE", message="used", permanent=True,
                                   op_index=None)
        worker.submit(prepared)
    assert len(tx_ids) == w.JOB_ATTEMPTS_MAX
    [job] = jobs(platform)
    assert (job.status, job.error_code, job.attempts) == ("failed", "BAD_SEQUENCE",
                                                         w.JOB_ATTEMPTS_MAX)
    assert get_wallet(platform, wallet_id).status == "failed"
    assert worker.build(Signer.OPERATOR) is None


def test_unknown_transaction_is_resubmitted_with_the_same_bytes(
        platform: bootstrap.Platform) -> None:
    ensure(platform, "org-1", owner_type="org")
    worker, node = worker_for(platform)
    prepared = worker.build(Signer.OPERATOR)  # stored, then the process "crashes"
    assert prepared is not None and node.submitted == []
    fresh, _ = worker_for(platform)
    fresh.node = node
    fresh.run_once()
    assert node.submitted == [prepared.tx_hex]
    node.states[prepared.tx_id] = TxState(status="unknown")  # the node lost its mempool
    fresh.run_once()
    assert node.submitted == [prepared.tx_hex, prepared.tx_hex]
    node.commit(prepared.tx_id)
    fresh.run_once()
    [job] = jobs(platform)
    assert (job.status, job.tx_id, job.attempts) == ("done", prepared.tx_id, 1)


def test_failed_wallet_fails_its_authorisations(platform: bootstrap.Platform,
                                                customer: Actor) -> None:
    wallet_id = ensure(platform, customer.user.id)
    authorise(platform, customer.user.id, "USD")
    with platform.deps.uow() as uow:
        [open_job] = uow.repo(LedgerJob).many(kind=JobKind.OPEN_ACCOUNT)
        wallets.record_failed(platform.deps, uow, open_job, "BAD_ADDRESS", "test")
        uow.commit()
    worker, _ = worker_for(platform)
    assert worker.build(Signer.ISSUER) is None
    [auth_job] = jobs(platform, kind="authorise")
    assert (auth_job.status, auth_job.error_code) == (JobStatus.FAILED, "WALLET_FAILED")
    with platform.deps.uow() as uow:
        auth = uow.repo(Authorisation).one(wallet_id=wallet_id, asset_code="USD")
    assert auth is not None and auth.status == "failed"
    assert get_wallet(platform, wallet_id).status == "failed"
    # A new custodial wallet replaces the failed one.
    assert ensure(platform, customer.user.id) != wallet_id


def test_workers_do_not_start_without_keys(platform: bootstrap.Platform) -> None:
    assert platform.start_workers() is False
    assert platform.worker is None
    platform.stop_workers()


# --- the API -------------------------------------------------------------------------------

EXTERNAL = keys.encode_public_key(KeyPair.from_seed(bytes(31) + b"\x07").public_key)
ENDPOINTS = (
    ("GET", "/v1/orgs/{org}/wallets", None),
    ("POST", "/v1/orgs/{org}/wallets", {"label": "payouts"}),
    ("POST", "/v1/orgs/{org}/wallets/external", {"public_key": EXTERNAL, "label": "hsm"}),
)


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_org_wallet_endpoints_authorise_every_caller(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        other_customer: Actor, method: str, path: str, body: dict[str, str] | None) -> None:
    viewer = make_user(platform, email="vera@example.com")
    org = make_org(platform, customer.user.id, {viewer.user.id: "viewer"})
    url = path.format(org=org)
    assert client.request(method, url, json=body).status_code == 401
    r = client.request(method, url, json=body, headers=other_customer.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "NOT_FOUND")
    r = client.request(method, path.format(org="no-such-org"), json=body,
                       headers=customer.headers)
    assert r.status_code == 404
    r = client.request(method, url, json=body, headers=viewer.headers)
    if method == "GET":
        assert r.status_code == 200
    else:
        assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN")
    r = client.request(method, url, json=body, headers=customer.headers)
    assert r.status_code == (200 if method == "GET" else 201), r.text
    assert "key_sealed" not in r.text and "seed" not in r.text


def test_my_wallets_needs_a_session_and_shows_only_mine(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        other_customer: Actor) -> None:
    assert client.get("/v1/wallets").status_code == 401
    mine = ensure(platform, customer.user.id)
    ensure(platform, other_customer.user.id)
    authorise(platform, customer.user.id, "USD")
    r = client.get("/v1/wallets", headers=customer.headers)
    assert r.status_code == 200
    data = r.json()
    assert [x["id"] for x in data["items"]] == [mine]
    [item] = data["items"]
    assert item["status"] == "opening" and item["address"].startswith("c")
    assert item["authorisations"] == [{"asset_code": "USD", "status": "requested"}]
    assert item["chain"] is None
    assert "key_sealed" not in r.text


def test_org_wallets_create_and_register_external_keys(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    org = make_org(platform, customer.user.id)
    h = customer.headers
    r = client.post(f"/v1/orgs/{org}/wallets", json={"label": "payouts"}, headers=h)
    assert r.status_code == 201 and r.json()["custodial"] is True
    r = client.post(f"/v1/orgs/{org}/wallets/external",
                    json={"public_key": EXTERNAL, "label": "hsm"}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["custodial"] is False and r.json()["public_key"] == EXTERNAL
    r = client.post(f"/v1/orgs/{org}/wallets/external",
                    json={"public_key": EXTERNAL, "label": "again"}, headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "WALLET_EXISTS")
    r = client.post(f"/v1/orgs/{org}/wallets/external",
                    json={"public_key": EXTERNAL[:-1] + "x", "label": " "}, headers=h)
    assert r.status_code == 422
    assert set(r.json()["error"]["fields"]) == {"public_key", "label"}
    r = client.get(f"/v1/orgs/{org}/wallets", headers=h)
    items = r.json()["items"]
    assert [(x["label"], x["custodial"]) for x in items] == [("payouts", True), ("hsm", False)]
    with platform.deps.uow() as uow:
        external = uow.repo(Wallet).one(public_key=EXTERNAL)
        assert external is not None and external.key_sealed is None
        assert uow.repo(LedgerJob).count(wallet_id=external.id, kind="open_account") == 1


def test_an_unreachable_node_is_unavailable_and_wallets_still_list(
        settings: Settings, customer: Actor) -> None:
    from corridor.platform.adapters.ledger_client import LedgerClient
    from corridor.platform.domain.errors import Kind, PlatformError
    from tests.node.conftest import free_port

    node = LedgerClient(f"http://127.0.0.1:{free_port()}", timeout_s=1.0)
    with pytest.raises(PlatformError) as info:
        node.status()
    assert (info.value.kind, info.value.code) == (Kind.UNAVAILABLE, "NODE_UNAVAILABLE")
    p = bootstrap.build(settings, extras={"ledger": node, "keygen": CountingKeyGen()})
    try:
        wallet_id = ensure(p, customer.user.id)
        [open_job] = jobs(p, wallet_id=wallet_id)
        with p.deps.uow() as uow:  # as if the worker had opened it
            wallets.record_done(p.deps, uow, open_job)
            uow.commit()
        views, reached = wallets.list_wallets(p.deps, principal(customer))
        assert reached is False and [v.wallet.id for v in views] == [wallet_id]
        assert views[0].chain is None and views[0].wallet.status == "open"
    finally:
        p.close()
