"""`corridor platform wallets-check`: wallets open on the platform but absent on chain are
found, and with --repair their opening (and authorisations) queued again (issue 14/3)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.cli.main import app
from corridor.platform import bootstrap
from corridor.platform.config import load_settings
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.wallets import (
    Authorisation,
    AuthStatus,
    JobKind,
    JobStatus,
    LedgerJob,
    Wallet,
    WalletStatus,
)
from corridor.platform.services import wallets
from tests.platform.wallet_fakes import FakeNode

runner = CliRunner()


def _open(platform: bootstrap.Platform, owner_id: str, *, proven: bool = True,
          authorised: tuple[str, ...] = ()) -> Wallet:
    """A wallet the platform believes open, with `authorised` asset codes granted."""
    deps = platform.deps
    with deps.uow() as uow:
        wallet_id = wallets.ensure_wallet(deps, uow, owner_type="user", owner_id=owner_id)
        if authorised:
            wallets.request_authorisation(deps, uow, owner_type="user", owner_id=owner_id,
                                          asset_codes=authorised, actor_id="")
        for job in uow.repo(LedgerJob).many(wallet_id=wallet_id):
            wallets.record_done(deps, uow, job)
        wallet = uow.repo(Wallet).get(wallet_id)
        assert wallet is not None
        wallet = dataclasses.replace(wallet, proven=proven)
        uow.repo(Wallet).update(wallet)
        uow.commit()
    return wallet


def test_wallets_open_but_absent_on_chain_are_found_and_repaired(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = FakeNode()
    real_build = bootstrap.build
    monkeypatch.setattr(bootstrap, "build",
                        lambda settings, **kw: real_build(settings, ledger=node))
    platform = bootstrap.build(load_settings({}, data_dir=tmp_path))
    present = _open(platform, "u-present")
    node.opened.add(present.address)
    stranded = _open(platform, "u-stranded", authorised=("USD",))
    claimed = _open(platform, "u-claimed", proven=False)
    platform.close()

    def run(*args: str) -> tuple[int, str]:
        r = runner.invoke(app, ["platform", "wallets-check", "--data-dir", str(tmp_path),
                                *args])
        return r.exit_code, r.output

    code, out = run()
    assert code == 1, out
    assert "checked 3 open wallets: 2 absent on chain, 0 repaired" in out
    assert stranded.id in out and claimed.id in out and present.id not in out

    code, out = run("--repair")
    assert code == 1, out  # the unproven key is reported, never re-opened
    assert f"{stranded.id} {stranded.address} (user u-stranded): repaired" in out
    assert "NOT repaired: key not proven" in out
    platform = real_build(load_settings({}, data_dir=tmp_path))
    with platform.deps.uow() as uow:
        after = {w.id: w.status for w in uow.repo(Wallet).many()}
        assert after == {present.id: WalletStatus.OPEN, stranded.id: WalletStatus.OPENING,
                         claimed.id: WalletStatus.OPEN}
        queued = uow.repo(LedgerJob).many(wallet_id=stranded.id, status=JobStatus.QUEUED)
        assert sorted(j.kind for j in queued) == [JobKind.AUTHORISE, JobKind.OPEN_ACCOUNT]
        [auth] = uow.repo(Authorisation).many(wallet_id=stranded.id)
        assert auth.status == AuthStatus.REQUESTED
        assert uow.repo(AuditEntry).count(action="wallet.repair", object_id=stranded.id) == 1
    platform.close()
    code, out = run()
    assert code == 1 and "1 absent on chain" in out  # only the unproven one is left


def test_without_a_reachable_node_the_check_fails_cleanly(tmp_path: Path) -> None:
    platform = bootstrap.build(load_settings({}, data_dir=tmp_path))
    _open(platform, "u-1")
    platform.close()
    r = runner.invoke(app, ["platform", "wallets-check", "--data-dir", str(tmp_path),
                            "--node-rpc", "http://127.0.0.1:9"])
    assert r.exit_code == 1 and "error:" in r.output and "Traceback" not in r.output
