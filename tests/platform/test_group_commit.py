"""SQLite's group commit (adapters/group_commit.py): work queued while the write lock is
taken runs in one transaction; a piece that fails leaves the others committed and itself
unchanged; a failed commit fails every caller of the batch; on PostgreSQL each piece is a
transaction of its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from corridor.platform import bootstrap
from corridor.platform.adapters.db import SqlUnitOfWork, make_engine, write_gate
from corridor.platform.adapters.group_commit import GroupCommitter
from corridor.platform.adapters.system import SystemClock
from corridor.platform.config import Settings
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import Err, PlatformError
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Origin
from corridor.platform.domain.transfers import Transfer
from corridor.platform.services import audit, payments, sessions
from corridor.platform.services.payments import PaymentRequest
from corridor.platform.services.ports import UnitOfWork
from tests.platform.conftest import make_user
from tests.platform.payment_fakes import FakeChain, kyc, open_wallet
from tests.platform.wallet_fakes import CountingKeyGen

QUEUED_WAIT_S = 10.0


def _note(i: int, *, fail: bool = False) -> Callable[[UnitOfWork], int]:
    """Appends an audit entry for `i` (a write: the entry and the head row), then fails
    if told to."""

    def work(uow: UnitOfWork) -> int:
        uow.audit(actor_id=None, actor_kind="system", action="test.batch", object_type="t",
                  object_id=str(i), after={"i": i})
        if fail:
            raise Err.CONFLICT.error(f"item {i} refused after its write")
        return i * 10

    return work


def _noted(platform: bootstrap.Platform) -> list[str]:
    with platform.deps.reader() as uow:
        rows = uow.repo(AuditEntry).many(action="test.batch", order_by="seq")
    return [r.object_id for r in rows]


def _committer(platform: bootstrap.Platform) -> GroupCommitter:
    run = platform.deps.group_write
    assert run is not None
    committer = getattr(run, "__self__", None)
    assert isinstance(committer, GroupCommitter)
    return committer


def _queued(committer: GroupCommitter, n: int) -> None:
    deadline = time.monotonic() + QUEUED_WAIT_S
    while committer.queued() < n:
        assert time.monotonic() < deadline, f"{committer.queued()} of {n} queued"
        time.sleep(0.005)


class _Calls:
    """Runs works in threads through the committer, keeping each one's result or error."""

    def __init__(self, run: Callable[[Callable[[UnitOfWork], Any]], Any]) -> None:
        self.run = run
        self.out: dict[int, Any] = {}
        self.threads: list[threading.Thread] = []

    def start(self, i: int, work: Callable[[UnitOfWork], Any]) -> None:
        def call() -> None:
            try:
                self.out[i] = self.run(work)
            except Exception as exc:
                self.out[i] = exc

        t = threading.Thread(target=call)
        t.start()
        self.threads.append(t)

    def join(self) -> None:
        for t in self.threads:
            t.join(timeout=30)
            assert not t.is_alive()


@pytest.fixture
def sqlite_platform(platform: bootstrap.Platform) -> Iterator[bootstrap.Platform]:
    if platform.engine.dialect.name != "sqlite":
        pytest.skip("group commit is SQLite's")
    yield platform


def test_a_failing_item_leaves_the_others_committed(
        sqlite_platform: bootstrap.Platform) -> None:
    p = sqlite_platform
    committer = _committer(p)
    gate = write_gate(p.engine)
    assert gate is not None
    calls = _Calls(committer.run)
    gate.acquire()  # another writer holds the lock: the three queue behind the first
    try:
        for i, fail in ((1, False), (2, True), (3, False)):
            calls.start(i, _note(i, fail=fail))
            _queued(committer, i)
        batches = committer.batches
    finally:
        gate.release()
    calls.join()
    assert committer.batches == batches + 1  # all three in one transaction
    assert calls.out[1] == 10 and calls.out[3] == 30
    refused = calls.out[2]
    assert isinstance(refused, PlatformError) and refused.message.startswith("item 2 refused")
    assert _noted(p) == ["1", "3"]  # the refused one's entry is gone, the others' kept
    report = audit.verify(p.deps)
    assert report.problem is None and report.head_seq == report.entries == 2


def test_a_failed_commit_fails_every_caller_and_keeps_nothing(
        sqlite_platform: bootstrap.Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    p = sqlite_platform
    committer = _committer(p)
    gate = write_gate(p.engine)
    assert gate is not None

    def broken_commit(self: SqlUnitOfWork) -> None:
        raise RuntimeError("disk full")

    calls = _Calls(committer.run)
    gate.acquire()
    try:
        calls.start(1, _note(1))
        _queued(committer, 1)
        calls.start(2, _note(2))
        _queued(committer, 2)
        monkeypatch.setattr(SqlUnitOfWork, "commit", broken_commit)
    finally:
        gate.release()
    calls.join()
    monkeypatch.undo()
    assert all(isinstance(calls.out[i], RuntimeError) for i in (1, 2))
    assert _noted(p) == []
    assert committer.run(_note(4)) == 40  # the committer goes on afterwards
    assert _noted(p) == ["4"]


def test_many_threads_each_get_their_own_result(sqlite_platform: bootstrap.Platform) -> None:
    p = sqlite_platform
    calls = _Calls(p.deps.write)
    for i in range(40):
        calls.start(i, _note(i, fail=i % 7 == 0))
    calls.join()
    for i in range(40):
        if i % 7 == 0:
            assert isinstance(calls.out[i], PlatformError), i
        else:
            assert calls.out[i] == i * 10, i
    assert sorted(_noted(p), key=int) == [str(i) for i in range(40) if i % 7]
    assert audit.verify(p.deps).problem is None


def test_batch_max_bounds_a_transaction(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    committer = GroupCommitter(lambda: SqlUnitOfWork(engine, SystemClock()), batch_max=2)
    gate = write_gate(engine)
    assert gate is not None
    seen: list[int] = []
    calls = _Calls(committer.run)
    gate.acquire()
    try:
        for i in range(5):
            calls.start(i, lambda uow, i=i: seen.append(i))
            _queued(committer, i + 1)
    finally:
        gate.release()
    calls.join()
    assert sorted(seen) == list(range(5))
    assert committer.batches == 3  # 2 + 2 + 1
    engine.dispose()


def test_write_on_postgresql_is_a_transaction_of_its_own(
        platform: bootstrap.Platform) -> None:
    if platform.engine.dialect.name == "sqlite":
        assert platform.deps.group_write is not None
        return
    assert platform.deps.group_write is None
    assert platform.deps.write(_note(1)) == 10
    with pytest.raises(PlatformError):
        platform.deps.write(_note(2, fail=True))
    assert _noted(platform) == ["1"]


# --- payment creations in one batch ----------------------------------------------------------


def test_payments_in_one_batch_one_refused_the_others_made(
        tmp_path: Path) -> None:
    chain = FakeChain()
    settings = Settings(data_dir=tmp_path / "platform",
                        database_url=f"sqlite:///{tmp_path / 'platform.db'}",
                        fast_password_hashing=True)
    p = bootstrap.build(settings, ledger=chain, keygen=CountingKeyGen())
    try:
        senders = []
        for name in ("ann", "ben", "cat"):
            actor = make_user(p, email=f"{name}@example.com", name=name)
            kyc(p, actor.user.id, 2)
            wallet = open_wallet(p, actor.user.id)
            chain.fund(wallet.address, "USD", 10_000)  # 100.00 USD: one payment of 60 fits
            senders.append(sessions.authenticate(p.deps, actor.token, Origin(ip="127.0.0.1")))
        ann, ben, _ = senders
        to_cat = PaymentRequest(recipient={"type": "user", "email": "cat@example.com"},
                                asset="USD", amount="60.00")
        committer = _committer(p)
        gate = write_gate(p.engine)
        assert gate is not None
        calls = _Calls(lambda work: work(None))
        jobs = ((1, ann, "a1"), (2, ann, "a2"), (3, ben, "b1"), (4, ann, "a1"))
        gate.acquire()
        try:
            for i, who, key in jobs:
                calls.start(i, lambda _, who=who, key=key: payments.create(
                    p.deps, who, to_cat, key))
                _queued(committer, i)
            batches = committer.batches
        finally:
            gate.release()
        calls.join()
        assert committer.batches == batches + 1
        first, made = calls.out[1]
        assert made and first.status == "submitted"
        refused = calls.out[2]  # ann's second: her first, in the same batch, took the money
        assert isinstance(refused, PlatformError) and refused.code == "INSUFFICIENT_FUNDS"
        assert calls.out[3][1] is True
        replay, made = calls.out[4]  # ann's first again: the payment made in this batch
        assert replay.id == first.id and made is False
        with p.deps.reader() as uow:
            rows = uow.repo(Payment).many()
            transfers = uow.repo(Transfer).count()
        assert sorted(r.idempotency_key for r in rows) == ["a1", "b1"] and transfers == 2
        assert audit.verify(p.deps).problem is None
    finally:
        p.close()


def test_a_transaction_sqlite_rolled_back_fails_the_whole_batch(
        sqlite_platform: bootstrap.Platform) -> None:
    p = sqlite_platform
    committer = _committer(p)
    gate = write_gate(p.engine)
    assert gate is not None

    def lost(uow: UnitOfWork) -> int:
        assert isinstance(uow, SqlUnitOfWork)
        uow._raw().execute("ROLLBACK")  # as SQLite does itself after a full disk
        raise RuntimeError("database or disk is full")

    calls = _Calls(committer.run)
    gate.acquire()
    try:
        for i, work in ((1, _note(1)), (2, lost), (3, _note(3))):
            calls.start(i, work)
            _queued(committer, i)
    finally:
        gate.release()
    calls.join()
    # The first had succeeded, but its writes went with the transaction: nobody is told
    # their payment was made when it was not.
    assert all(isinstance(calls.out[i], RuntimeError) for i in (1, 2, 3))
    assert _noted(p) == []
    assert committer.run(_note(4)) == 40
    assert _noted(p) == ["4"] and audit.verify(p.deps).problem is None
