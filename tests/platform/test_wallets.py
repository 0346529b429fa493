"""Custody (L2): sealed seeds, master key rotation, the ledger job outbox and its worker
against a fake node, and authorisation of every wallet endpoint."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.ledger import keys
from corridor.ledger.keys import KeyPair
from corridor.ledger.tx import OpenAccount, SetHolder, decode_transaction
from corridor.platform import bootstrap
from corridor.platform.adapters import custody_admin
from corridor.platform.adapters.outbox_jobs import JobLane
from corridor.platform.adapters.vault import Keyring, VaultError
from corridor.platform.config import Settings
from corridor.platform.domain import wallets as w
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.identity import User
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import UserKind
from corridor.platform.domain.wallets import (
    Authorisation,
    JobKind,
    JobStatus,
    KeyChallenge,
    LedgerJob,
    Signer,
    Wallet,
)
from corridor.platform.services import wallets
from corridor.platform.services.ledger_port import Refusal, TxState, TxStatus
from tests.platform.conftest import Actor, keyed, make_user
from tests.platform.wallet_fakes import CountingKeyGen, FakeNode, make_org, system_keys, use_ledger


@pytest.fixture
def platform(settings: Settings) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, ledger=None, keygen=CountingKeyGen())
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


def worker_for(platform: bootstrap.Platform) -> tuple[JobLane, FakeNode]:
    sk = system_keys()
    node = FakeNode(sequences={keys.encode_address(kp.address): 7 for kp in sk.values()})
    signers = {Signer.ISSUER: sk["issuer"], Signer.OPERATOR: sk["operator"]}
    return JobLane(platform.deps, node, signers), node


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
        ensure(platform, f"owner-{i}")
    worker, _node = worker_for(platform)
    first = worker.build(Signer.OPERATOR)
    assert first is not None and len(first.job_ids) == w.JOB_OPS_PER_TX_MAX
    oldest = [j.id for j in jobs(platform)][: w.JOB_OPS_PER_TX_MAX]
    assert sorted(first.job_ids) == sorted(oldest)


@pytest.mark.parametrize("exists_on_chain", [False, True])
def test_a_refused_batch_marks_nobody_done_and_each_job_is_retried_alone(
        platform: bootstrap.Platform, exists_on_chain: bool) -> None:
    """Issue 14/3b: the chain refused a batch of "open account" operations because one
    key's account already existed, and every job in it was marked done: another customer's
    wallet showed open but was absent on chain. One bad job is planted in a batch."""
    ids = [ensure(platform, f"owner-{i}") for i in range(3)]
    bad = get_wallet(platform, ids[1])
    worker, node = worker_for(platform)
    node.refuse_key[bad.public_key] = Refusal(code="ACCOUNT_EXISTS", message="exists",
                                              permanent=True, op_index=None)
    if exists_on_chain:
        node.opened.add(bad.address)
    batch = worker.build(Signer.OPERATOR)
    assert batch is not None and len(batch.job_ids) == 3
    worker.submit(batch)
    # The batch's refusal decides nobody: all back in the queue, each to be built alone.
    assert {(j.status, j.alone, j.attempts) for j in jobs(platform)} == {("queued", True, 0)}
    assert {get_wallet(platform, i).status for i in ids} == {"opening"}
    for _ in ids:
        alone = worker.build(Signer.OPERATOR)
        assert alone is not None and len(alone.job_ids) == 1
        worker.submit(alone)
        if node.tx_state(alone.tx_id).status == "pending":
            node.commit(alone.tx_id)
            worker.resolve_submitted()
    assert worker.build(Signer.OPERATOR) is None
    innocent = [get_wallet(platform, i) for i in ids if i != bad.id]
    assert {x.status for x in innocent} == {"open"}
    assert {x.address for x in innocent} <= node.opened  # open only what the chain applied
    [bad_job] = jobs(platform, wallet_id=bad.id)
    if exists_on_chain:  # the goal already holds, and the node shows it
        assert (bad_job.status, get_wallet(platform, bad.id).status) == ("done", "open")
    else:
        assert (bad_job.status, bad_job.error_code) == ("failed", "ACCOUNT_EXISTS")
        assert get_wallet(platform, bad.id).status == "failed"


def test_a_batch_refused_for_a_stale_sequence_is_rebuilt_whole(
        platform: bootstrap.Platform) -> None:
    for i in range(3):
        ensure(platform, f"owner-{i}")
    worker, node = worker_for(platform)
    first = worker.build(Signer.OPERATOR)
    assert first is not None
    node.refuse_next = Refusal(code="BAD_SEQUENCE", message="used", permanent=True,
                               op_index=None)
    worker.submit(first)
    assert {(j.status, j.alone) for j in jobs(platform)} == {("queued", False)}
    again = worker.build(Signer.OPERATOR)
    assert again is not None and len(again.job_ids) == 3 and again.tx_id != first.tx_id


def test_sequence_conflicts_rebuild_then_fail_after_bounded_attempts(
        platform: bootstrap.Platform) -> None:
    wallet_id = ensure(platform, "owner-1")
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
    ensure(platform, "owner-1")
    worker, node = worker_for(platform)
    prepared = worker.build(Signer.OPERATOR)  # stored, then the process "crashes"
    assert prepared is not None and node.submitted == []
    fresh, _ = worker_for(platform)
    fresh.node = node
    fresh.run_once()
    assert node.submitted == [prepared.tx_hex]
    node.states[prepared.tx_id] = TxState(status=TxStatus.UNKNOWN)  # the node lost its mempool
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

EXTERNAL_KEY = KeyPair.from_seed(bytes(31) + b"\x07")
EXTERNAL = keys.encode_public_key(EXTERNAL_KEY.public_key)
UNPROVEN = {"public_key": EXTERNAL, "label": "hsm", "challenge_id": "none",
            "signature": "00" * 64}
ENDPOINTS = (
    ("GET", "/v1/orgs/{org}/wallets", None),
    ("POST", "/v1/orgs/{org}/wallets", {"label": "payouts"}),
    ("POST", "/v1/orgs/{org}/wallets/external/challenges", {"public_key": EXTERNAL}),
    ("POST", "/v1/orgs/{org}/wallets/external", UNPROVEN),
)


def challenge(client: TestClient, headers: dict[str, str], org: str,
              kp: KeyPair = EXTERNAL_KEY) -> dict[str, Any]:
    r = client.post(f"/v1/orgs/{org}/wallets/external/challenges",
                    json={"public_key": keys.encode_public_key(kp.public_key)},
                    headers=keyed(headers))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    assert hashlib.sha256(out["message"].encode()).hexdigest() == out["digest"]
    return out


def proven(client: TestClient, headers: dict[str, str], org: str, label: str = "hsm",
           kp: KeyPair = EXTERNAL_KEY, signer: KeyPair | None = None) -> dict[str, Any]:
    """A registration body with a fresh challenge signed by `signer` (default: the key)."""
    c = challenge(client, headers, org, kp)
    sig = (signer or kp).sign(bytes.fromhex(c["digest"]))
    return {"public_key": keys.encode_public_key(kp.public_key), "label": label,
            "challenge_id": c["challenge_id"], "signature": sig.hex()}


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_org_wallet_endpoints_authorise_every_caller(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        other_customer: Actor, method: str, path: str, body: dict[str, str] | None) -> None:
    viewer = make_user(platform, email="vera@example.com")
    org = make_org(platform, customer.user.id, {viewer.user.id: "viewer"}, kyb=True)
    url = path.format(org=org)
    assert client.request(method, url, json=body).status_code == 401
    r = client.request(method, url, json=body, headers=other_customer.creating)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "NOT_FOUND")
    r = client.request(method, path.format(org="no-such-org"), json=body,
                       headers=customer.creating)
    assert r.status_code == 404
    r = client.request(method, url, json=body, headers=viewer.creating)
    if method == "GET":
        assert r.status_code == 200
    else:
        assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN")
    if body is UNPROVEN:
        body = proven(client, customer.headers, org)
    r = client.request(method, url, json=body, headers=customer.creating)
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
    org = make_org(platform, customer.user.id, kyb=True)
    h = customer.headers
    r = client.post(f"/v1/orgs/{org}/wallets", json={"label": "payouts"}, headers=keyed(h))
    assert r.status_code == 201 and r.json()["custodial"] is True
    r = client.post(f"/v1/orgs/{org}/wallets/external", json=proven(client, h, org),
                    headers=keyed(h))
    assert r.status_code == 201, r.text
    assert r.json()["custodial"] is False and r.json()["public_key"] == EXTERNAL
    assert r.json()["proven"] is True
    r = client.post(f"/v1/orgs/{org}/wallets/external",
                    json=proven(client, h, org, label="again"), headers=keyed(h))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "WALLET_EXISTS")
    r = client.post(f"/v1/orgs/{org}/wallets/external",
                    json={**UNPROVEN, "public_key": EXTERNAL[:-1] + "x", "label": " ",
                          "signature": "zz"}, headers=keyed(h))
    assert r.status_code == 422
    assert set(r.json()["error"]["fields"]) == {"public_key", "label", "signature"}
    r = client.get(f"/v1/orgs/{org}/wallets", headers=h)
    items = r.json()["items"]
    assert [(x["label"], x["custodial"]) for x in items] == [("payouts", True), ("hsm", False)]
    with platform.deps.uow() as uow:
        external = uow.repo(Wallet).one(public_key=EXTERNAL)
        assert external is not None and external.key_sealed is None
        assert uow.repo(LedgerJob).count(wallet_id=external.id, kind="open_account") == 1


def _wallet_rows(platform: bootstrap.Platform) -> list[Wallet]:
    with platform.deps.uow() as uow:
        return uow.repo(Wallet).many(order_by="created_ms")


def test_an_external_key_is_registered_only_with_its_signature_of_a_challenge_naming_the_org(
        client: TestClient, platform: bootstrap.Platform, customer: Actor,
        other_customer: Actor) -> None:
    """Issue 14/3a: an organisation claimed another customer's public key (visible on the
    node) as its own external wallet. Now the key must sign a challenge that names the
    organisation; challenges are single-use and expire."""
    org = make_org(platform, customer.user.id, kyb=True)
    other_org = make_org(platform, other_customer.user.id, kyb=True)
    h, url = customer.headers, f"/v1/orgs/{org}/wallets/external"
    c = challenge(client, h, org)
    assert f"organisation:{org}" in c["message"] and EXTERNAL in c["message"]
    # A bare claim, as before the fix: refused, nothing made.
    r = client.post(url, json={"public_key": EXTERNAL, "label": "hsm"}, headers=keyed(h))
    assert r.status_code == 422 and _wallet_rows(platform) == []
    # Signed by another key (the claimant does not hold this one).
    thief = KeyPair.from_seed(bytes(31) + b"\x09")
    r = client.post(url, json=proven(client, h, org, signer=thief), headers=keyed(h))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "KEY_NOT_PROVEN")
    # Another organisation's challenge, correctly signed, does not serve here.
    theirs = proven(client, other_customer.headers, other_org)
    r = client.post(url, json=theirs, headers=keyed(h))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "CHALLENGE_UNKNOWN")
    # A challenge for another key does not serve either.
    body = proven(client, h, org)
    other_key = keys.encode_public_key(thief.public_key)
    r = client.post(url, json={**body, "public_key": other_key}, headers=keyed(h))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "CHALLENGE_UNKNOWN")
    # Expired.
    expiring = proven(client, h, org)
    with platform.deps.uow() as uow:
        row = uow.repo(KeyChallenge).get(expiring["challenge_id"])
        assert row is not None
        uow.repo(KeyChallenge).update(dataclasses.replace(
            row, expires_ms=platform.deps.clock.now_ms() - 1))
        uow.commit()
    r = client.post(url, json=expiring, headers=keyed(h))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "CHALLENGE_EXPIRED")
    assert _wallet_rows(platform) == []
    # The proof: made once; the same challenge never serves twice.
    r = client.post(url, json=body, headers=keyed(h))
    assert r.status_code == 201, r.text
    r = client.post(url, json={**body, "label": "again"}, headers=keyed(h))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "CHALLENGE_USED")
    assert [x.public_key for x in _wallet_rows(platform)] == [EXTERNAL]


def test_open_challenges_are_bounded_per_org(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    org = make_org(platform, customer.user.id, kyb=True)
    for _ in range(w.KEY_CHALLENGES_OPEN_MAX):
        challenge(client, customer.headers, org)
    r = client.post(f"/v1/orgs/{org}/wallets/external/challenges",
                    json={"public_key": EXTERNAL}, headers=keyed(customer.headers))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "TOO_MANY_CHALLENGES")


def test_org_wallets_need_accepted_kyb_and_are_capped(
        client: TestClient, platform: bootstrap.Platform, customer: Actor) -> None:
    """Issue 14/9: wallets (each a chain account) without verification, without limit."""
    org = make_org(platform, customer.user.id)  # no KYB
    h = customer.headers
    r = client.post(f"/v1/orgs/{org}/wallets", json={"label": "x"}, headers=keyed(h))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "KYB_REQUIRED")
    r = client.post(f"/v1/orgs/{org}/wallets/external", json=proven(client, h, org),
                    headers=keyed(h))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "KYB_REQUIRED")
    with platform.deps.uow() as uow, pytest.raises(PlatformError) as exc:
        wallets.ensure_wallet(platform.deps, uow, owner_type="org", owner_id=org)
    assert exc.value.code == "KYB_REQUIRED"
    assert _wallet_rows(platform) == []
    kybd = make_org(platform, customer.user.id, kyb=True)
    cap = platform.settings.wallets_per_org_max
    for i in range(cap):
        r = client.post(f"/v1/orgs/{kybd}/wallets", json={"label": f"w{i}"}, headers=keyed(h))
        assert r.status_code == 201, r.text
    r = client.post(f"/v1/orgs/{kybd}/wallets", json={"label": "one more"}, headers=keyed(h))
    assert (r.status_code, r.json()["error"]["code"]) == (409, "TOO_MANY_WALLETS")
    assert len(_wallet_rows(platform)) == cap


def test_an_unreachable_node_is_unavailable_and_wallets_still_list(
        settings: Settings, customer: Actor) -> None:
    from corridor.platform.adapters.ledger_client import LedgerClient
    from corridor.platform.domain.errors import Kind, PlatformError
    from tests.node.conftest import free_port

    node = LedgerClient(f"http://127.0.0.1:{free_port()}", timeout_s=1.0)
    with pytest.raises(PlatformError) as info:
        node.status()
    assert (info.value.kind, info.value.code) == (Kind.UNAVAILABLE, "NODE_UNAVAILABLE")
    p = bootstrap.build(settings, ledger=node, keygen=CountingKeyGen())
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


def test_an_unproven_key_shows_no_chain_state_to_its_claimant(
        platform: bootstrap.Platform, customer: Actor) -> None:
    """A key registered before proofs existed: the organisation sees the row, never the
    account's balances (issue 14/5)."""
    org = make_org(platform, customer.user.id, kyb=True)
    with platform.deps.uow() as uow:
        custodial = wallets.ensure_wallet(platform.deps, uow, owner_type="org", owner_id=org)
        uow.commit()
    node = FakeNode()
    use_ledger(platform, node)
    with platform.deps.uow() as uow:
        mine = uow.repo(Wallet).get(custodial)
        assert mine is not None
        uow.repo(Wallet).update(dataclasses.replace(mine, status="open"))
        claimed = dataclasses.replace(mine, id="claimed-1", address="cCLAIMED", public_key=EXTERNAL,
                                      custodial=False, key_sealed=None, proven=False)
        uow.repo(Wallet).add(claimed)
        uow.commit()
    node.opened |= {mine.address, claimed.address}
    who = Principal(user_id=customer.user.id, kind=UserKind.CUSTOMER, staff_role=None,
                    session_id="s")
    views, reached = wallets.list_wallets(platform.deps, who, org_id=org)
    assert reached
    shown = {v.wallet.id: v.chain for v in views}
    assert shown[custodial] is not None and shown["claimed-1"] is None
