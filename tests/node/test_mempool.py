"""The mempool: admission (check_tx), bounds, sequence ordering, reaping and block updates."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from corridor.ledger.chain import Selection, select_txs
from corridor.ledger.context import ApplyContext
from corridor.ledger.errors import RejectCode, Rejection
from corridor.ledger.limits import TX_BYTES_MAX
from corridor.ledger.rules.v1 import apply_tx
from corridor.ledger.state import MemoryState, StateView
from corridor.ledger.statetree import StateTree
from corridor.ledger.tx import (
    Clawback,
    HolderAction,
    Payment,
    SetHolder,
    Signature,
    SignedTransaction,
)
from corridor.node.mempool import Mempool
from tests.ledger.builders import CHAIN, T0, asset, ctx, key, make_genesis, tx
from tests.reject_codes import note

R = RejectCode
USD = asset("USD")
HOLDERS = ("alice", "bob", "carol")
NOW = T0 + 1000
SEQUENCE_CODES = {R.BAD_SEQUENCE, R.FUTURE_SEQUENCE}


def addr(name: str) -> bytes:
    return key(name).address


def fresh_state() -> MemoryState:
    balances = (("alice", "USD", 100_000), ("bob", "USD", 100_000), ("carol", "USD", 100_000))
    return make_genesis(holders=HOLDERS, balances=balances).state


def pay(
    source: str, sequence: int, amount: int = 1, to: str | None = None, **kw: Any
) -> SignedTransaction:
    to = to or ("carol" if source != "carol" else "alice")
    op = Payment(destination=addr(to), asset=USD, amount=amount)
    return tx(source, sequence, op, **kw)


def clawback(sequence: int, holder: str, amount: int, **kw: Any) -> SignedTransaction:
    return tx("bank", sequence, Clawback(holder=addr(holder), code="USD", amount=amount), **kw)


def seq_of(state: StateView, name: str) -> int:
    account = state.account(addr(name))
    assert account is not None
    return account.sequence


def commit_block(
    state: MemoryState, txs: Iterable[SignedTransaction], time_ms: int, height: int = 1
) -> Selection:
    """Runs txs through the proposer's `select_txs` and commits the result."""
    selection = select_txs(state, StateTree(), list(txs), ctx(height=height, time_ms=time_ms))
    state.commit(selection.execution.state)
    return selection


def ids(txs: Iterable[SignedTransaction]) -> list[bytes]:
    return [stx.tx_id for stx in txs]


def admit(pool: Mempool, state: StateView, *txs: SignedTransaction, now: int = NOW) -> None:
    for stx in txs:
        assert pool.add(stx, state, ctx(time_ms=now)) is None
    assert pool.check_invariants() == []


def bad_signature(stx: SignedTransaction) -> SignedTransaction:
    sig = stx.signatures[0]
    flipped = bytes([sig.signature[0] ^ 1]) + sig.signature[1:]
    return SignedTransaction(
        tx=stx.tx,
        signatures=(Signature(public_key=sig.public_key, signature=flipped),),
        tx_id=stx.tx_id,
        body=stx.body,
    )


# --- admission -------------------------------------------------------------------------------


def test_admits_a_valid_tx() -> None:
    state, pool = fresh_state(), Mempool()
    stx = pay("alice", 1)
    assert pool.add(stx, state, ctx()) is None
    assert len(pool) == 1 and stx.tx_id in pool and pool.get(stx.tx_id) is stx
    assert pool.size_bytes == len(stx.encode())
    assert pool.verified_ids() == {stx.tx_id}
    assert pool.reap(10, 1 << 30) == [stx]
    assert pool.check_invariants() == []


REJECTED: list[tuple[str, Callable[[], SignedTransaction], RejectCode]] = [
    ("bad signature", lambda: bad_signature(pay("alice", 1)), R.BAD_SIGNATURE),
    ("expired", lambda: pay("alice", 1, not_after_ms=NOW - 1), R.EXPIRED),
    ("unknown account", lambda: pay("zed", 1), R.UNKNOWN_ACCOUNT),
    ("used sequence", lambda: pay("alice", 0), R.BAD_SEQUENCE),
    ("too far ahead", lambda: pay("alice", 1 + 16), R.FUTURE_SEQUENCE),
    ("wrong chain", lambda: pay("alice", 1, chain_id="other"), R.WRONG_CHAIN),
    ("not yet valid", lambda: pay("alice", 1, not_before_ms=NOW + 1), R.NOT_YET_VALID),
    ("unfunded", lambda: pay("alice", 1, amount=100_001), R.INSUFFICIENT_BALANCE),
    ("too big", lambda: pay("alice", 1, memo=bytes(TX_BYTES_MAX - 100)), R.LIMIT_EXCEEDED),
]


@pytest.mark.parametrize(("make", "code"), [r[1:] for r in REJECTED], ids=[r[0] for r in REJECTED])
def test_each_rejection_adds_nothing(
    make: Callable[[], SignedTransaction], code: RejectCode
) -> None:
    state, pool = fresh_state(), Mempool()
    stx = make()
    rejection = pool.add(stx, state, ctx())
    assert rejection is not None and rejection.code is code, rejection
    assert len(pool) == 0 and pool.size_bytes == 0 and stx.tx_id not in pool
    assert pool.verified_ids() == set() and pool.reap(10, 1 << 30) == []
    assert pool.check_invariants() == []


def test_a_failed_chain_member_is_rejected_and_not_added() -> None:
    state, pool = fresh_state(), Mempool()
    admit(pool, state, pay("alice", 1, amount=60_000))
    second = pay("alice", 2, amount=60_000)  # fine alone, unfunded after the first
    rejection = pool.add(second, state, ctx())
    assert rejection is not None and rejection.code is R.INSUFFICIENT_BALANCE
    assert second.tx_id not in pool and len(pool) == 1


def test_duplicates_by_id_and_by_source_and_sequence() -> None:
    state, pool = fresh_state(), Mempool()
    first = pay("alice", 1)
    admit(pool, state, first)
    again = pool.add(first, state, ctx())
    assert again is not None and again.code is R.DUPLICATE
    note(again.code)
    rival = pay("alice", 1, memo=b"another body, same sequence")
    clash = pool.add(rival, state, ctx())
    assert clash is not None and clash.code is R.DUPLICATE
    held = pay("alice", 3)  # also for held sequences
    admit(pool, state, held)
    clash = pool.add(pay("alice", 3, memo=b"x"), state, ctx())
    assert clash is not None and clash.code is R.DUPLICATE
    assert len(pool) == 2 and pool.check_invariants() == []


# --- bounds ----------------------------------------------------------------------------------


def test_count_bound_is_transient() -> None:
    state, pool = fresh_state(), Mempool(txs_max=2)
    a1, b1, c1 = pay("alice", 1), pay("bob", 1), pay("carol", 1, to="bob")
    admit(pool, state, a1, b1)
    full = pool.add(c1, state, ctx())
    assert full is not None and full.code is R.MEMPOOL_FULL and not full.permanent
    note(full.code)
    assert c1.tx_id not in pool and len(pool) == 2
    commit_block(state, [a1], NOW)
    assert pool.update([a1.tx_id], state, ctx(height=2, time_ms=NOW + 1)) == []
    assert pool.add(c1, state, ctx(height=2, time_ms=NOW + 1)) is None


def test_byte_bound() -> None:
    state = fresh_state()
    a1 = pay("alice", 1)
    pool = Mempool(bytes_max=len(a1.encode()) + 10)
    admit(pool, state, a1)
    full = pool.add(pay("bob", 1), state, ctx())
    assert full is not None and full.code is R.MEMPOOL_FULL and not full.permanent
    assert len(pool) == 1 and pool.size_bytes == len(a1.encode())


def test_per_account_bound() -> None:
    state, pool = fresh_state(), Mempool(account_txs_max=2)
    admit(pool, state, pay("alice", 1), pay("alice", 2))
    full = pool.add(pay("alice", 3), state, ctx())
    assert full is not None and full.code is R.MEMPOOL_FULL
    admit(pool, state, pay("bob", 1))  # others are unaffected


# --- sequences and reaping -------------------------------------------------------------------


def test_future_sequences_wait_and_are_released_in_order() -> None:
    state, pool = fresh_state(), Mempool()
    a1, a2, a3 = pay("alice", 1), pay("alice", 2), pay("alice", 3)
    admit(pool, state, a3, a2)
    assert len(pool) == 2 and pool.reap(10, 1 << 30) == []  # held behind the gap at 1
    admit(pool, state, a1)
    assert pool.reap(10, 1 << 30) == [a1, a2, a3]


def test_next_sequence_follows_the_ready_run() -> None:
    state, pool = fresh_state(), Mempool()
    alice = state.account(addr("alice"))
    assert alice is not None
    assert pool.next_sequence(alice) == alice.sequence + 1  # nothing pooled
    admit(pool, state, pay("alice", 1), pay("alice", 2), pay("alice", 4))  # 4 waits for 3
    assert pool.next_sequence(alice) == 3
    commit_block(state, [pay("alice", 1)], NOW + 1)
    pool.update([pay("alice", 1).tx_id], state, ctx(height=1, time_ms=NOW + 2))
    alice = state.account(addr("alice"))
    assert alice is not None and alice.sequence == 1 and pool.next_sequence(alice) == 3


def test_future_window_runs_from_the_last_ready_sequence() -> None:
    state, pool = fresh_state(), Mempool(future_max=4)
    too_far = pool.add(pay("alice", 5), state, ctx())
    assert too_far is not None and too_far.code is R.FUTURE_SEQUENCE and not too_far.permanent
    admit(pool, state, pay("alice", 1), pay("alice", 4), pay("alice", 5))  # window 2..5
    too_far = pool.add(pay("alice", 6), state, ctx())
    assert too_far is not None and too_far.code is R.FUTURE_SEQUENCE


def test_a_released_tx_that_fails_is_dropped_and_reported() -> None:
    state, pool = fresh_state(), Mempool()
    a2 = pay("alice", 2, amount=100_000)  # fine now, unfunded once a1 pays 1
    a3 = pay("alice", 3)
    admit(pool, state, a2, a3)
    a1 = pay("alice", 1)
    admit(pool, state, a1)
    assert pool.reap(10, 1 << 30) == [a1]  # a3 is held again, behind the gap at 2
    assert a2.tx_id not in pool and a3.tx_id in pool
    dropped = pool.update([], state, ctx(height=1, time_ms=NOW + 1))
    assert [(s.tx_id, r.code) for s, r in dropped] == [(a2.tx_id, R.INSUFFICIENT_BALANCE)]


def test_reap_is_fifo_across_accounts_and_in_sequence_within() -> None:
    state, pool = fresh_state(), Mempool()
    a1, a2, a3 = pay("alice", 1), pay("alice", 2), pay("alice", 3)
    b1, b2 = pay("bob", 1), pay("bob", 2)
    c1 = pay("carol", 1, to="bob")
    admit(pool, state, a1, a3, b2, c1, b1, a2)
    # a1 ready first; c1; then b1 releases b2; then a2 releases a3.
    assert pool.reap(100, 1 << 30) == [a1, c1, b1, b2, a2, a3]
    assert pool.reap(3, 1 << 30) == [a1, c1, b1]
    size = len(a1.encode())
    assert pool.reap(100, 2 * size + 1) == [a1, c1]  # stops at the first tx that does not fit
    assert pool.reap(0, 1 << 30) == [] and len(pool) == 6  # nothing removed


# --- updates after a block -------------------------------------------------------------------


def test_update_removes_committed_and_keeps_the_rest_ready() -> None:
    state, pool = fresh_state(), Mempool()
    a1, a2, b1 = pay("alice", 1), pay("alice", 2), pay("bob", 1)
    admit(pool, state, a1, a2, b1)
    selection = commit_block(state, pool.reap(2, 1 << 30), NOW)
    assert ids(selection.execution.txs) == ids([a1, a2])
    assert pool.update(ids(selection.execution.txs), state, ctx(height=2, time_ms=NOW + 1)) == []
    assert len(pool) == 1 and pool.reap(10, 1 << 30) == [b1]
    assert pool.verified_ids() == {b1.tx_id}
    assert pool.check_invariants() == []
    admit(pool, state, pay("alice", 3), now=NOW + 1)  # the account's next sequence moved on


@pytest.mark.parametrize("touched", [True, False])
@pytest.mark.parametrize("amount", [1, 2], ids=["same effect", "other effect"])
def test_update_drops_txs_whose_sequence_a_foreign_block_used(touched: bool, amount: int) -> None:
    state, pool = fresh_state(), Mempool()
    a1, a2 = pay("alice", 1), pay("alice", 2)
    admit(pool, state, a1, a2)
    foreign = pay("alice", 1, amount=amount, memo=b"sent through another node")
    selection = commit_block(state, [foreign], NOW)
    touched_accounts = selection.execution.state.accounts.keys() if touched else None
    dropped = pool.update(
        [foreign.tx_id], state, ctx(height=2, time_ms=NOW + 1), touched_accounts=touched_accounts
    )
    assert [(s.tx_id, r.code) for s, r in dropped] == [(a1.tx_id, R.BAD_SEQUENCE)]
    assert pool.reap(10, 1 << 30) == [a2]  # now the next executable one
    assert pool.check_invariants() == []


def test_update_drops_expired_and_holds_their_successors() -> None:
    state, pool = fresh_state(), Mempool()
    a1 = pay("alice", 1, not_after_ms=NOW + 500)
    a2 = pay("alice", 2)
    b1 = pay("bob", 1, not_after_ms=NOW + 10_000)
    admit(pool, state, a1, a2, b1)
    dropped = pool.update([], state, ctx(height=1, time_ms=NOW + 501))
    assert [(s.tx_id, r.code) for s, r in dropped] == [(a1.tx_id, R.EXPIRED)]
    assert pool.reap(10, 1 << 30) == [b1] and a2.tx_id in pool
    assert pool.check_invariants() == []


@pytest.mark.parametrize("how", ["pooled", "foreign with hint", "foreign, swept"])
def test_update_drops_what_the_block_made_unfundable(how: str) -> None:
    state, pool = fresh_state(), Mempool()
    a1, a2 = pay("alice", 1, amount=50_000), pay("alice", 2, amount=40_000)
    grab = clawback(1, "alice", 55_000)
    admit(pool, state, a1, a2)
    if how == "pooled":
        admit(pool, state, grab)
    selection = commit_block(state, [grab], NOW)
    assert ids(selection.execution.txs) == [grab.tx_id]
    # Our own block needs no hint: the pool knows the clawback names alice. A foreign block
    # is described by what it wrote, or else the pool compares every account it holds.
    touched = selection.execution.state.accounts.keys() if how == "foreign with hint" else None
    dropped = pool.update(
        [grab.tx_id], state, ctx(height=2, time_ms=NOW + 1), touched_accounts=touched
    )
    assert [(s.tx_id, r.code) for s, r in dropped] == [(a1.tx_id, R.INSUFFICIENT_BALANCE)]
    assert a2.tx_id in pool and pool.reap(10, 1 << 30) == []  # a2 waits for a new sequence 1
    assert pool.check_invariants() == []


def test_update_rechecks_the_whole_run_of_a_changed_account() -> None:
    state, pool = fresh_state(), Mempool()
    a1, a2, a3 = (pay("alice", n, amount=30_000) for n in (1, 2, 3))
    admit(pool, state, a1, a2, a3)
    commit_block(state, [clawback(1, "alice", 30_000)], NOW)  # a3 is now one too many
    dropped = pool.update(
        [], state, ctx(height=2, time_ms=NOW + 1), touched_accounts=[addr("alice")]
    )
    assert [(s.tx_id, r.code) for s, r in dropped] == [(a3.tx_id, R.INSUFFICIENT_BALANCE)]
    assert pool.reap(10, 1 << 30) == [a1, a2]


def test_update_of_an_account_as_predicted_rechecks_only_its_next_tx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, pool = fresh_state(), Mempool()
    a1, a2, a3 = (pay("alice", n) for n in (1, 2, 3))
    admit(pool, state, a1, a2, a3)
    commit_block(state, [a1], NOW)
    with monkeypatch.context() as m:
        m.setattr(Mempool, "_resync", None)  # the whole run is not re-applied
        assert pool.update([a1.tx_id], state, ctx(height=2, time_ms=NOW + 1)) == []
    assert pool.reap(10, 1 << 30) == [a2, a3] and pool.check_invariants() == []
    a4 = pay("alice", 4)
    admit(pool, state, a4, now=NOW + 1)  # the stale tip is rebuilt on the next admission
    assert pool.reap(10, 1 << 30) == [a2, a3, a4]


def test_update_rechecks_the_next_tx_of_an_account_as_predicted() -> None:
    state, pool = fresh_state(), Mempool()
    a1, a2 = pay("alice", 1), pay("alice", 2, to="bob")
    admit(pool, state, a1, a2)
    freeze = tx("bank", 1, SetHolder(holder=addr("bob"), code="USD", action=HolderAction.FREEZE))
    selection = commit_block(state, [a1, freeze], NOW)
    assert len(selection.execution.txs) == 2
    touched = selection.execution.state.accounts.keys()
    dropped = pool.update(
        ids(selection.execution.txs),
        state,
        ctx(height=2, time_ms=NOW + 1),
        touched_accounts=touched,
    )
    assert [(s.tx_id, r.code) for s, r in dropped] == [(a2.tx_id, R.FROZEN)]
    assert len(pool) == 0 and pool.check_invariants() == []


def test_admission_revalidates_a_run_the_last_update_missed() -> None:
    state, pool = fresh_state(), Mempool()
    a1 = pay("alice", 1, amount=100_000)
    admit(pool, state, a1)
    commit_block(state, [clawback(1, "alice", 1)], NOW)
    # A wrong hint: alice is not named, so update leaves her run alone...
    assert pool.update([], state, ctx(height=2, time_ms=NOW + 1), touched_accounts=[]) == []
    # ...but the next admission for her rebuilds it on the new state and finds a1 unfunded.
    a2 = pay("alice", 2)
    assert pool.add(a2, state, ctx(height=2, time_ms=NOW + 1)) is None
    assert a1.tx_id not in pool and pool.reap(10, 1 << 30) == []  # a2 waits behind the gap
    dropped = pool.update([], state, ctx(height=2, time_ms=NOW + 2))
    assert [(s.tx_id, r.code) for s, r in dropped] == [(a1.tx_id, R.INSUFFICIENT_BALANCE)]
    assert pool.check_invariants() == []


def test_remove_holds_the_successors_again() -> None:
    state, pool = fresh_state(), Mempool()
    a1, a2, a3 = pay("alice", 1), pay("alice", 2), pay("alice", 3)
    admit(pool, state, a1, a2, a3)
    assert pool.remove(a2.tx_id) is a2 and pool.remove(a2.tx_id) is None
    assert pool.reap(10, 1 << 30) == [a1] and a3.tx_id in pool
    assert pool.check_invariants() == []
    admit(pool, state, pay("alice", 2, memo=b"replacement"))
    assert [s.tx.sequence for s in pool.reap(10, 1 << 30)] == [1, 2, 3]


def test_expiry_heap_stays_bounded() -> None:
    state, pool = fresh_state(), Mempool()
    a1 = pay("alice", 1)
    for _ in range(3_000):  # each admission pushes a record; removal leaves it stale
        admit(pool, state, a1)
        assert pool.remove(a1.tx_id) is a1
    assert len(pool) == 0 and len(pool._expiry) <= 1024 + 1


# --- property: reaped lists are sequence-consistent ------------------------------------------

SENDERS = ("alice", "bob", "carol")


class MempoolMachine(RuleBasedStateMachine):
    """Random admissions, blocks (ours and foreign), expiry: every reap stays executable."""

    def __init__(self) -> None:
        super().__init__()
        self.state = fresh_state()
        self.pool = Mempool(txs_max=30, future_max=4, account_txs_max=8)
        self.now = NOW
        self.height = 1
        self.nonce = 0

    def ctx(self) -> ApplyContext:
        return ApplyContext(chain_id=CHAIN, height=self.height, time_ms=self.now)

    def unique(self) -> bytes:
        self.nonce += 1
        return self.nonce.to_bytes(4, "big")

    @rule(
        source=st.sampled_from(SENDERS),
        offset=st.integers(-1, 6),
        amount=st.sampled_from([1, 700, 30_000, 150_000]),
        ttl_ms=st.sampled_from([400, 3_000, 3_600_000]),
        forged=st.integers(0, 9),
    )
    def add_payment(self, source: str, offset: int, amount: int, ttl_ms: int, forged: int) -> None:
        to = "carol" if source != "carol" else "alice"
        sequence = max(seq_of(self.state, source) + offset, 0)
        stx = pay(
            source, sequence, amount, to=to, memo=self.unique(), not_after_ms=self.now + ttl_ms
        )
        if forged == 0:
            stx = bad_signature(stx)
        before = len(self.pool)
        rejection = self.pool.add(stx, self.state, self.ctx())
        if rejection is None:  # releasing held txs may have dropped one that failed
            assert forged != 0 and stx.tx_id in self.pool and len(self.pool) <= before + 1
        else:
            assert stx.tx_id not in self.pool and len(self.pool) == before

    @rule(holder=st.sampled_from(SENDERS), amount=st.sampled_from([1_000, 60_000]))
    def add_clawback(self, holder: str, amount: int) -> None:
        stx = clawback(seq_of(self.state, "bank") + 1, holder, amount, memo=self.unique())
        self.pool.add(stx, self.state, self.ctx())

    @rule(
        take=st.integers(0, 12),
        foreign=st.sampled_from(["none", "payment", "clawback"]),
        hint=st.booleans(),
        advance_ms=st.sampled_from([1, 500, 4_000]),
    )
    def block(self, take: int, foreign: str, hint: bool, advance_ms: int) -> None:
        """A block: optionally a tx this pool never saw first, then a prefix of the reap."""
        extra: list[SignedTransaction] = []
        if foreign == "payment":
            extra.append(pay("bob", seq_of(self.state, "bob") + 1, 5, memo=b"f" + self.unique()))
        elif foreign == "clawback":
            extra.append(clawback(seq_of(self.state, "bank") + 1, "alice", 30_000, memo=b"f"))
        candidates = self.pool.reap(take, 1 << 30)
        selection = select_txs(
            self.state,
            StateTree(),
            extra + candidates,
            self.ctx(),
            verified=self.pool.verified_ids(),
        )
        # A foreign tx may take a sequence a pooled one of the same account wanted.
        assert_sequence_consistent(selection, {stx.tx.source for stx in extra})
        for stx, _ in selection.rejected:
            self.pool.remove(stx.tx_id)  # what the node does with select_txs' rejections
        self.state.commit(selection.execution.state)
        self.height += 1
        self.now += advance_ms
        committed = ids(selection.execution.txs)
        touched = selection.execution.state.accounts.keys() if hint else None
        dropped = self.pool.update(committed, self.state, self.ctx(), touched_accounts=touched)
        assert all(tx_id not in self.pool for tx_id in committed)
        assert all(stx.tx_id not in self.pool for stx, _ in dropped)

    @precondition(lambda self: len(self.pool) > 0)
    @rule(data=st.data())
    def remove_one(self, data: st.DataObject) -> None:
        tx_id = data.draw(st.sampled_from(sorted(self.pool._entries)))
        assert self.pool.remove(tx_id) is not None and tx_id not in self.pool

    @invariant()
    def internally_consistent(self) -> None:
        assert self.pool.check_invariants() == []

    @invariant()
    def every_reap_is_sequence_consistent(self) -> None:
        """Each account's reaped txs are its next sequences, in order. Applied in order on the
        committed state, every payment succeeds (its validity depends on its source's record,
        which the pool tracks); a clawback reads the holder's record, which another account's
        tx may have changed since: the pool does not promise it, `select_txs` decides. As a
        block, `select_txs` rejects nothing for a sequence reason of its own."""
        reaped = self.pool.reap(1_000, 1 << 30)
        next_sequence: dict[bytes, int] = {}
        tips: dict[bytes, StateView | None] = {}
        for stx in reaped:
            source = stx.tx.source
            account = self.state.account(source)
            assert account is not None
            expected = next_sequence.get(source, account.sequence + 1)
            assert stx.tx.sequence == expected
            next_sequence[source] = expected + 1
            base = tips.get(source, self.state)
            if base is None:
                continue  # an earlier clawback of this account failed
            tip, outcome = apply_tx(base, stx, self.ctx())
            if isinstance(outcome, Rejection):
                assert isinstance(stx.tx.operations[0], Clawback), outcome
            tips[source] = None if isinstance(outcome, Rejection) else tip
        selection = select_txs(
            self.state, StateTree(), reaped, self.ctx(), verified=self.pool.verified_ids()
        )
        assert_sequence_consistent(selection)


def assert_sequence_consistent(selection: Selection, excused: Iterable[bytes] = ()) -> None:
    """A sequence rejection may only follow an earlier rejection of the same account's tx
    (for example after a clawback earlier in the block), never happen on its own."""
    failed = set(excused)
    for stx, rejection in selection.rejected:
        if rejection.code in SEQUENCE_CODES:
            assert stx.tx.source in failed, rejection
        failed.add(stx.tx.source)


TestMempoolMachine = MempoolMachine.TestCase
TestMempoolMachine.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
