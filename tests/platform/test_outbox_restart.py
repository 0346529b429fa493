"""The outbox worker against a real node, killed mid-stream: its cursor in the chain's event
stream is stored with the outcomes it covers, so a restart resumes from it and every
transfer's outcome is recorded exactly once, none missed, none applied twice — whether the
worker dies before or after the commit that moves the cursor."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from corridor.platform import bootstrap
from corridor.platform.adapters import outbox_worker
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.outbox import OUTCOMES_CURSOR, OutboxCursor
from corridor.platform.domain.transfers import (
    ISSUER,
    TREASURY,
    Leg,
    Purpose,
    Transfer,
    wallet_ref,
)
from corridor.platform.services import settlement
from corridor.platform.services.ports import Deps, UnitOfWork
from tests.platform.test_settlement_node import _balance, _queue, _ready_wallet, _transfers
from tests.platform.test_wallets_node import (  # noqa: F401  (fixtures)
    chain,
    node,
    settings,
    wait_until,
)

TRANSFERS = 24
AMOUNT_MINOR = 100


class Killed(BaseException):
    """The worker's death: not an Exception, so its loop does not catch and retry it."""


@pytest.fixture
def quiet_deaths(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[BaseException]]:
    """Threads killed on purpose die silently; anything else still fails the test."""
    deaths: list[BaseException] = []
    default = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if isinstance(args.exc_value, Killed):
            deaths.append(args.exc_value)
        else:
            default(args)

    monkeypatch.setattr(threading, "excepthook", hook)
    yield deaths


def _counting(platform: bootstrap.Platform) -> None:
    """The REFUND purpose's handlers replaced by one that writes an audit row per outcome, in
    the unit of work that records it, as the real handlers do: what it counts is applied."""
    def count(deps: Deps, uow: UnitOfWork, t: Transfer) -> None:
        uow.audit(actor_id=None, actor_kind="system", action=f"test.{t.status}",
                  object_type="transfer", object_id=t.id)

    handlers = dataclasses.replace(platform.deps.handlers,
                                   transfer_outcome={Purpose.REFUND: (count,)})
    platform.deps = dataclasses.replace(platform.deps, handlers=handlers)


def _applied(platform: bootstrap.Platform) -> Counter[tuple[str, str]]:
    with platform.deps.reader() as uow:
        rows = uow.repo(AuditEntry).many(object_type="transfer")
    return Counter((r.object_id, r.action) for r in rows if r.action.startswith("test."))


def _all_committed(platform: bootstrap.Platform) -> bool:
    return all(t.status == "committed" for t in _transfers(platform))


def _cursor(platform: bootstrap.Platform) -> int:
    with platform.deps.reader() as uow:
        row = uow.repo(OutboxCursor).get(OUTCOMES_CURSOR)
    assert row is not None
    return row.height


@pytest.mark.parametrize("dies", ["before_commit", "after_commit"])
def test_a_worker_killed_mid_stream_resumes_from_its_cursor(
        platform: bootstrap.Platform, chain: httpx.Client,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, quiet_deaths: list[BaseException], dies: str) -> None:
    assert platform.start_workers()
    try:
        wallet = _ready_wallet(platform)
        mint = _queue(platform, ISSUER, [Leg(source=ISSUER, destination=wallet_ref(wallet.id),
                                             code="USD", amount_minor=10_000)])
        wait_until("the mint", lambda: _all_committed(platform))
    finally:
        platform.stop_workers()
    start_cursor = _cursor(platform)
    _counting(platform)

    # The worker dies on the second move of its cursor: before the commit that would record
    # the outcomes and the cursor together, or just after it.
    moves = Counter[str]()
    real_save = outbox_worker.save_cursor_in
    real_apply = outbox_worker.OutboxWorker.apply

    def save(uow: UnitOfWork, height: int, now_ms: int) -> None:
        moves["save"] += 1
        if dies == "before_commit" and moves["save"] == 2:
            raise Killed
        real_save(uow, height, now_ms)

    def apply(self: outbox_worker.OutboxWorker, blocks: list) -> None:  # type: ignore[type-arg]
        real_apply(self, blocks)
        moves["apply"] += 1
        if dies == "after_commit" and moves["apply"] == 2:
            raise Killed

    monkeypatch.setattr(outbox_worker, "save_cursor_in", save)
    monkeypatch.setattr(outbox_worker.OutboxWorker, "apply", apply)
    w = wallet_ref(wallet.id)
    ids = [_queue(platform, w, [Leg(source=w, destination=TREASURY, code="USD",
                                    amount_minor=AMOUNT_MINOR)]) for _ in range(TRANSFERS)]
    with platform.deps.uow() as uow:  # the payments' purpose, so the counting handler runs
        for t in uow.repo(Transfer).many(status="queued"):
            uow.repo(Transfer).update(dataclasses.replace(t, purpose=Purpose.REFUND))
        uow.commit()
    assert platform.start_workers()
    worker = platform.worker
    assert worker is not None
    wait_until("the worker's death", lambda: not worker.running)
    assert len(quiet_deaths) == 1
    platform.stop_workers()
    dead_at = _cursor(platform)
    assert dead_at > start_cursor  # it had followed the stream before it died

    monkeypatch.undo()  # a healthy worker, from the stored cursor
    _counting(platform)
    assert platform.start_workers()
    try:
        wait_until("every transfer to settle", lambda: _all_committed(platform))
    finally:
        platform.stop_workers()
    by_id = {t.id: t for t in _transfers(platform)}
    assert _applied(platform) == Counter({(i, "test.committed"): 1 for i in ids})  # once each
    assert all(by_id[i].attempts == 1 for i in ids)  # no transfer was signed twice
    assert len({by_id[i].tx_id for i in ids}) == TRANSFERS
    assert by_id[mint].status == "committed"
    assert _balance(chain, wallet.address, "USD") == 10_000 - TRANSFERS * AMOUNT_MINOR
    assert _cursor(platform) >= max(by_id[i].height or 0 for i in ids)
    # Replaying what is already recorded changes nothing.
    t = by_id[ids[0]]
    assert settlement.record_outcome(platform.deps, t.id, committed=True, tx_id=t.tx_id,
                                     height=t.height) is None
    assert _applied(platform)[(t.id, "test.committed")] == 1
