"""Custody against a real node process: the worker opens accounts and has the issuer
authorise them on chain, and a restart never puts a second transaction on chain for a job."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.ledger import keys
from corridor.ledger.keys import keypair_from_keyfile_json
from corridor.platform import bootstrap
from corridor.platform.adapters.ledger_client import LedgerClient
from corridor.platform.adapters.outbox_jobs import JobLane
from corridor.platform.config import Settings
from corridor.platform.domain.wallets import Authorisation, LedgerJob, Signer, Wallet
from corridor.platform.services import wallets
from tests.node.conftest import NodeProcess, init_home
from tests.platform.conftest import make_user

WAIT_S = 60.0


def wait_until(what: str, check: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[NodeProcess]:
    proc = NodeProcess(init_home(tmp_path / "home"))
    proc.start()
    try:
        yield proc
    finally:
        assert proc.stop() == 0, proc.log_tail()


@pytest.fixture
def settings(tmp_path: Path, db_url: str, node: NodeProcess) -> Settings:
    wallets_dir = node.home / "wallets"
    return Settings(data_dir=tmp_path / "platform", database_url=db_url,
                    fast_password_hashing=True, node_rpc=node.url, node_rpc_token=node.token,
                    issuer_key=wallets_dir / "issuer.json",
                    operator_key=wallets_dir / "treasury.json")


@pytest.fixture
def chain(node: NodeProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=node.url, timeout=10.0, headers=node.headers) as c:
        yield c


def address_of_keyfile(path: Path) -> str:
    return keys.encode_address(keypair_from_keyfile_json(path.read_text()).address)


def sequence(chain: httpx.Client, address: str) -> int:
    return int(chain.get(f"/v1/accounts/{address}").json()["sequence"])


def all_jobs(platform: bootstrap.Platform) -> list[LedgerJob]:
    with platform.deps.uow() as uow:
        return uow.repo(LedgerJob).many(order_by="created_ms")


def settled(platform: bootstrap.Platform) -> bool:
    return all(j.status in ("done", "failed") for j in all_jobs(platform))


def open_and_authorise(platform: bootstrap.Platform, owner_id: str,
                       owner_type: str = "user") -> str:
    deps = platform.deps
    with deps.uow() as uow:
        wallet_id = wallets.ensure_wallet(deps, uow, owner_type=owner_type, owner_id=owner_id)
        wallets.request_authorisation(deps, uow, owner_type=owner_type, owner_id=owner_id,
                                      asset_codes=("USD", "CNY"), actor_id=owner_id)
        uow.commit()
    return wallet_id


def test_worker_opens_and_authorises_on_chain(
        platform: bootstrap.Platform, chain: httpx.Client, settings: Settings) -> None:
    customer = make_user(platform, email="carol@example.com")
    wallet_id = open_and_authorise(platform, customer.user.id)
    assert platform.start_workers() is True
    try:
        wait_until("every job settled", lambda: settled(platform))
    finally:
        platform.stop_workers()
    assert {j.status for j in all_jobs(platform)} == {"done"}
    with platform.deps.uow() as uow:
        wallet = uow.repo(Wallet).get(wallet_id)
        auths = uow.repo(Authorisation).many(wallet_id=wallet_id)
    assert wallet is not None and wallet.status == "open"
    assert {(a.asset_code, a.status) for a in auths} == {("USD", "authorised"),
                                                         ("CNY", "authorised")}
    acct = chain.get(f"/v1/accounts/{wallet.address}").json()
    # The node runs in the default access mode: the platform did all this with its token,
    # and the account is not readable without one.
    anonymous = httpx.get(f"{settings.node_rpc}/v1/accounts/{wallet.address}", timeout=10)
    assert anonymous.status_code == 401, anonymous.text
    issuer = address_of_keyfile(settings.issuer_key)  # type: ignore[arg-type]
    held = {(b["code"], b["issuer"]): b for b in acct["balances"]}
    assert held[("USD", issuer)]["authorised"] is True
    assert held[("CNY", issuer)]["authorised"] is True
    # The API shows the on-chain state to its owner.
    with TestClient(create_app(platform)) as client:
        data = client.get("/v1/wallets", headers=customer.headers).json()
    assert data["node_reachable"] is True
    [item] = data["items"]
    assert item["status"] == "open" and item["chain"]["sequence"] == 0
    assert {(b["code"], b["authorised"]) for b in item["chain"]["balances"]} == {
        ("USD", True), ("CNY", True)}


def test_restart_never_submits_a_job_twice(
        platform: bootstrap.Platform, chain: httpx.Client, settings: Settings) -> None:
    assert settings.issuer_key is not None and settings.operator_key is not None
    operator = address_of_keyfile(settings.operator_key)
    issuer = address_of_keyfile(settings.issuer_key)
    before = {operator: sequence(chain, operator), issuer: sequence(chain, issuer)}
    owners = [make_user(platform, email=f"u{i}@example.com").user.id for i in range(4)]
    for owner in owners[:2]:
        open_and_authorise(platform, owner)

    # A worker that stores its transaction and "crashes" before submitting it.
    node = LedgerClient(settings.node_rpc, token=settings.node_rpc_token)
    crashed = JobLane(
        platform.deps, node,
        {Signer.OPERATOR: keypair_from_keyfile_json(settings.operator_key.read_text())})
    stored = crashed.build(Signer.OPERATOR)
    node.close()
    assert stored is not None and len(stored.job_ids) == 2
    assert chain.get(f"/v1/txs/{stored.tx_id}").status_code == 404  # never submitted

    # The real worker starts, is stopped mid-way, more work arrives, and it starts again.
    assert platform.start_workers() is True
    wait_until("the stored transaction to commit",
               lambda: chain.get(f"/v1/txs/{stored.tx_id}").json().get("status") == "committed")
    platform.stop_workers()
    for owner in owners[2:]:
        open_and_authorise(platform, owner)
    assert platform.start_workers() is True
    try:
        wait_until("every job settled", lambda: settled(platform))
    finally:
        platform.stop_workers()

    jobs = all_jobs(platform)
    assert len(jobs) == 4 * 3 and {j.status for j in jobs} == {"done"}
    assert all(j.attempts == 1 for j in jobs), [(j.kind, j.attempts) for j in jobs]
    opened = {j.id: j.tx_id for j in jobs if j.kind == "open_account"}
    assert {opened[i] for i in stored.job_ids} == {stored.tx_id}  # the stored bytes, no others
    tx_ids = {j.tx_id for j in jobs}
    by_signer: dict[str, set[str]] = {operator: set(), issuer: set()}
    for tx_id in tx_ids:
        status = chain.get(f"/v1/txs/{tx_id}").json()
        assert status["status"] == "committed", status
        by_signer[status["transaction"]["source"]].add(str(tx_id))
    # Each signer's sequence moved once per distinct transaction: nothing else committed.
    for address, ids in by_signer.items():
        assert sequence(chain, address) - before[address] == len(ids)
    for owner in owners:
        with platform.deps.uow() as uow:
            [wallet] = uow.repo(Wallet).many(owner_type="user", owner_id=owner)
        acct = chain.get(f"/v1/accounts/{wallet.address}").json()
        assert {(b["code"], b["authorised"]) for b in acct["balances"]} == {
            ("USD", True), ("CNY", True)}
