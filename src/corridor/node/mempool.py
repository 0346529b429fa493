"""The mempool: transactions this node admitted (check_tx) and that wait for a block.

Shell code (STYLE 1): it keeps mutable state but reads no clock and does no I/O; every call
gets the committed state and the context of the next block from the caller.

Each pooled transaction is either *ready* or *held*:

- ready: its sequence belongs to the contiguous run that starts at its account's next
  sequence, and it applied cleanly, in sequence order, on top of the committed state and the
  account's earlier ready transactions (`apply_into`: the very rules a block runs);
- held: a later sequence behind a gap (at most `future_max` past the ready run). Filling the
  gap validates the held ones in order, as if they had arrived in order, and makes them ready.

Ready transactions sit in one insertion-ordered dict in the order they became ready: admission
order across accounts, and sequence order within an account by construction (a transaction
becomes ready only after its predecessor). `reap` reads a prefix of it, so it costs O(result),
and every prefix holds, per account, exactly that account's next sequences.

The guarantee is per account against the committed state. A block can still reject a reaped
transaction because of another account's transaction earlier in the same block (a clawback or
freeze by the issuer, an operation sourced by this account inside someone else's transaction);
`select_txs` drops it and reports it, and the node should then `remove` it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from corridor.ledger.context import ApplyContext
from corridor.ledger.errors import RejectCode, Rejection
from corridor.ledger.limits import TX_BYTES_MAX
from corridor.ledger.records import Account
from corridor.ledger.rules.v1 import apply_into, verify_signatures
from corridor.ledger.state import Overlay, StateView
from corridor.ledger.tx import Clawback, EscrowCreate, Payment, SetHolder, SignedTransaction
from corridor.node.limits import (
    MEMPOOL_ACCOUNT_TXS_MAX,
    MEMPOOL_BYTES_MAX,
    MEMPOOL_FUTURE_SEQUENCES_MAX,
    MEMPOOL_TXS_MAX,
)

R = RejectCode

# Stale expiry-heap records (of txs that left the pool otherwise) tolerated before a rebuild.
# A rebuild costs O(pool) and happens after at least this many removals: amortised O(1).
_EXPIRY_HEAP_SLACK = 1024

Dropped = list[tuple[SignedTransaction, Rejection]]


@dataclass(frozen=True, slots=True)
class _Entry:
    """A pooled transaction with what the pool needs about it, computed once at admission."""

    stx: SignedTransaction
    size_bytes: int
    order: int  # admission counter: unique and increasing, tells heap records apart


class _AccountQueue:
    """One source account's pooled transactions by sequence, and what its ready ones predict.

    Ready sequences are exactly `next_sequence .. ready_end - 1`; everything at or after
    `ready_end` is held. `base` is the committed account record the ready run was validated
    on and `after[s]` the record the run predicts after sequence `s`: when a block leaves the
    account exactly as predicted, `update` need not re-apply the run. `tip` is the committed
    state with the ready txs applied, valid only while `tip_generation` is the pool's
    generation (`update` bumps it: the committed state under every tip changes in place).
    """

    __slots__ = ("after", "base", "next_sequence", "ready_end", "tip", "tip_generation", "txs")

    def __init__(self, base: Account, tip: Overlay, generation: int) -> None:
        self.txs: dict[int, _Entry] = {}
        self.base = base
        self.after: dict[int, Account] = {}
        self.next_sequence = base.sequence + 1
        self.ready_end = self.next_sequence
        self.tip = tip
        self.tip_generation = generation


class Mempool:
    """Bounded, de-duplicating, per-account sequence-ordered pool with expiry."""

    def __init__(
        self,
        *,
        txs_max: int = MEMPOOL_TXS_MAX,
        bytes_max: int = MEMPOOL_BYTES_MAX,
        future_max: int = MEMPOOL_FUTURE_SEQUENCES_MAX,
        account_txs_max: int = MEMPOOL_ACCOUNT_TXS_MAX,
    ) -> None:
        assert txs_max >= 1 and bytes_max >= 1 and future_max >= 1 and account_txs_max >= 1
        self._txs_max = txs_max
        self._bytes_max = bytes_max
        self._future_max = future_max
        self._account_txs_max = account_txs_max
        self._entries: dict[bytes, _Entry] = {}
        self._ready: dict[bytes, _Entry] = {}  # insertion order = the order txs became ready
        self._accounts: dict[bytes, _AccountQueue] = {}
        self._expiry: list[tuple[int, int, bytes]] = []  # (not_after_ms, order, tx_id), lazy
        self._verified: set[bytes] = set()
        self._size_bytes = 0
        self._order = 0
        self._generation = 0
        self._evicted: Dropped = []  # dropped outside `update`; reported by the next one

    # --- queries -------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, tx_id: object) -> bool:
        return tx_id in self._entries

    @property
    def size_bytes(self) -> int:
        """The sum of the encoded sizes of the pooled transactions."""
        return self._size_bytes

    def get(self, tx_id: bytes) -> SignedTransaction | None:
        entry = self._entries.get(tx_id)
        return None if entry is None else entry.stx

    def verified_ids(self) -> set[bytes]:
        """Ids of pooled txs whose signatures `add` verified (all of them), for `select_txs`.

        The pool's own set, returned without a copy (this runs every block): read it, never
        change it. It only ever holds verified ids, so reading it after later calls is safe.
        """
        return self._verified

    def next_sequence(self, account: Account) -> int:
        """The sequence a new transaction from `account` (its committed record) should use:
        the one after its ready run in the pool, so a wallet can send again before the last
        one commits."""
        queue = self._accounts.get(account.address)
        if queue is None or queue.next_sequence != account.sequence + 1:
            return account.sequence + 1  # nothing pooled, or the queue awaits an update
        return queue.ready_end

    def reap(self, max_txs: int, max_bytes: int) -> list[SignedTransaction]:
        """Ready txs in the order they became ready, up to `max_txs` and `max_bytes`; O(result).

        Stops at the first tx that does not fit, rather than skipping it: skipping would also
        have to skip that account's later txs. Nothing is removed.
        """
        assert max_txs >= 0 and max_bytes >= 0
        out: list[SignedTransaction] = []
        total = 0
        for entry in self._ready.values():
            if len(out) >= max_txs or total + entry.size_bytes > max_bytes:
                break
            out.append(entry.stx)
            total += entry.size_bytes
        return out

    # --- admission -----------------------------------------------------------------------------

    def add(
        self,
        stx: SignedTransaction,
        state: StateView,
        ctx: ApplyContext,
        *,
        signatures_verified: bool = False,
    ) -> Rejection | None:
        """check_tx: admits `stx` or says why not (and then adds nothing).

        `state` is the committed state and `ctx` the context of the next block (time = now).
        Cheap checks run before the signature, and the signature before the rules; a caller
        that verified every signature of these very bytes already (the RPC does, for a batch,
        off the event loop) says so with `signatures_verified`. Held txs
        that this one releases but that fail to apply are dropped, and reported by the next
        `update`; so are txs dropped when the first admission after a block re-validates the
        account's ready run (its cached state is rebuilt lazily: O(the account's pending txs)).
        """
        tx = stx.tx
        if stx.tx_id in self._entries:
            return Rejection(R.DUPLICATE, "this transaction is already pending")
        if tx.chain_id != ctx.chain_id:
            return Rejection(
                R.WRONG_CHAIN, f"signed for chain {tx.chain_id!r}, not {ctx.chain_id!r}"
            )
        if tx.not_after_ms < ctx.time_ms:
            return Rejection(R.EXPIRED, f"valid until {tx.not_after_ms} ms, now {ctx.time_ms}")
        account = state.account(tx.source)
        if account is None:
            return Rejection(R.UNKNOWN_ACCOUNT, "the source account does not exist")
        queue = self._synced_queue(account, state, ctx)
        if queue is not None and tx.sequence in queue.txs:
            return Rejection(
                R.DUPLICATE, f"another transaction with sequence {tx.sequence} is pending"
            )
        refused = self._check_sequence(tx.sequence, account, queue)
        if refused is not None:
            return refused
        size_bytes = len(stx.encode())
        refused = self._check_room(size_bytes, queue)
        if refused is not None:
            return refused
        if not signatures_verified and not verify_signatures(stx):
            return Rejection(R.BAD_SIGNATURE, "a signature does not verify")
        if queue is None:
            queue = _AccountQueue(account, Overlay(state), self._generation)
        self._order += 1
        entry = _Entry(stx, size_bytes, self._order)
        if tx.sequence == queue.ready_end:
            refused = self._apply(queue, entry, ctx)
            if refused is not None:
                return refused
            self._insert(queue, entry)
            self._ready[stx.tx_id] = entry
            queue.ready_end += 1
            self._promote(queue, ctx, self._evicted)
        else:
            self._insert(queue, entry)  # held behind a gap
        return None

    def _synced_queue(
        self, account: Account, state: StateView, ctx: ApplyContext
    ) -> _AccountQueue | None:
        """The account's queue, re-validated first if the committed state moved under it."""
        queue = self._accounts.get(account.address)
        if queue is None:
            return None
        if queue.next_sequence != account.sequence + 1 or queue.tip_generation != self._generation:
            self._resync(queue, account, state, ctx, self._evicted)
            if not queue.txs:
                del self._accounts[account.address]
                return None
        return queue

    def _check_sequence(
        self, sequence: int, account: Account, queue: _AccountQueue | None
    ) -> Rejection | None:
        if sequence <= account.sequence:
            return Rejection(R.BAD_SEQUENCE, f"sequence {sequence} already used")
        last_ready = account.sequence if queue is None else queue.ready_end - 1
        if sequence > last_ready + self._future_max:
            return Rejection(
                R.FUTURE_SEQUENCE,
                f"sequence {sequence} is more than {self._future_max} past {last_ready}, "
                "the last one committed or pending",
            )
        return None

    def _check_room(self, size_bytes: int, queue: _AccountQueue | None) -> Rejection | None:
        if size_bytes > TX_BYTES_MAX:
            return Rejection(R.LIMIT_EXCEEDED, f"transaction exceeds {TX_BYTES_MAX} bytes")
        if len(self._entries) >= self._txs_max:
            return Rejection(R.MEMPOOL_FULL, f"the pool holds {self._txs_max} transactions")
        if self._size_bytes + size_bytes > self._bytes_max:
            return Rejection(R.MEMPOOL_FULL, f"the pool holds {self._bytes_max} bytes")
        if queue is not None and len(queue.txs) >= self._account_txs_max:
            return Rejection(
                R.MEMPOOL_FULL, f"this account has {self._account_txs_max} pending transactions"
            )
        return None

    # --- after a block -------------------------------------------------------------------------

    def update(
        self,
        committed_tx_ids: Iterable[bytes],
        state: StateView,
        ctx: ApplyContext,
        *,
        touched_accounts: Iterable[bytes] | None = None,
    ) -> Dropped:
        """Forgets committed txs and drops those the new state or time made invalid.

        `state` is the committed state after the block, `ctx` the context of the next one.
        Returns every dropped tx with its rejection (including any dropped by `add` since the
        last update), so the node can report them by hash.

        Cost: O(1) per affected account left exactly as its ready run predicted (one apply,
        of its next tx), O(its pending txs) for one changed otherwise (a payment received, a
        clawback), O(log pool) per expired tx. Affected accounts are those the block wrote: pass
        them as `touched_accounts` (`execution.state.accounts`). Without it the pool derives
        them from the committed txs it holds; a committed id it never held (a block from
        another proposer) makes it compare every pooled account with the state: O(accounts).
        """
        self._generation += 1  # every tip was built on the state that just changed
        dropped, self._evicted = self._evicted, []
        affected: set[bytes] = set()
        unknown = False
        for tx_id in committed_tx_ids:
            entry = self._entries.get(tx_id)
            if entry is None:
                unknown = True
                continue
            tx = entry.stx.tx
            self._discard(self._accounts[tx.source], tx.sequence)
            affected.update(_named_accounts(entry.stx))
        if touched_accounts is not None:
            affected.update(touched_accounts)
        elif unknown:
            affected.update(self._moved_accounts(state))
        self._expire(ctx, affected, dropped)
        for address in affected:
            queue = self._accounts.get(address)
            if queue is None:
                continue
            account = state.account(address)
            assert account is not None, "accounts are never deleted: is this another chain?"
            self._settle(queue, account, state, ctx, dropped)
            if not queue.txs:
                del self._accounts[address]
        self._compact_expiry()
        return dropped

    def remove(self, tx_id: bytes) -> SignedTransaction | None:
        """Takes a tx out (say, `select_txs` rejected it); the account's later ones wait again."""
        entry = self._entries.get(tx_id)
        if entry is None:
            return None
        tx = entry.stx.tx
        queue = self._accounts[tx.source]
        self._discard(queue, tx.sequence)
        if tx.sequence < queue.ready_end:
            self._demote_from(queue, tx.sequence)
            queue.tip_generation = -1  # the tip holds the removed tx's writes: rebuild it
        if not queue.txs:
            del self._accounts[tx.source]
        self._compact_expiry()
        return entry.stx

    def _moved_accounts(self, state: StateView) -> Iterator[bytes]:
        for address, queue in self._accounts.items():
            account = state.account(address)
            if account != queue.base:
                yield address

    def _expire(self, ctx: ApplyContext, affected: set[bytes], dropped: Dropped) -> None:
        heap = self._expiry
        while heap and heap[0][0] < ctx.time_ms:
            not_after_ms, order, tx_id = heapq.heappop(heap)
            entry = self._entries.get(tx_id)
            if entry is None or entry.order != order:
                continue  # a stale record: that tx already left
            tx = entry.stx.tx
            reason = Rejection(R.EXPIRED, f"valid until {not_after_ms} ms, now {ctx.time_ms}")
            queue = self._accounts[tx.source]
            self._drop(queue, tx.sequence, reason, dropped)
            if tx.sequence < queue.ready_end:
                self._demote_from(queue, tx.sequence)  # its successors lost their predecessor
            affected.add(tx.source)

    def _compact_expiry(self) -> None:
        if len(self._expiry) > 2 * len(self._entries) + _EXPIRY_HEAP_SLACK:
            self._expiry = [
                (e.stx.tx.not_after_ms, e.order, tx_id) for tx_id, e in self._entries.items()
            ]
            heapq.heapify(self._expiry)

    # --- the ready run -------------------------------------------------------------------------

    def _settle(
        self,
        queue: _AccountQueue,
        account: Account,
        state: StateView,
        ctx: ApplyContext,
        dropped: Dropped,
    ) -> None:
        """After a block: re-checks the account's next tx if the account is exactly as its
        ready run predicted (the run stays valid for the account's own record), else the run.
        """
        committed = account.sequence
        if committed == queue.next_sequence - 1:
            expected: Account | None = queue.base
        else:
            expected = queue.after.get(committed)
        if expected != account:
            self._resync(queue, account, state, ctx, dropped)
            return
        # The run predicted this record, so sequences up to `committed` were ready: committed
        # ones are gone already; any left were beaten by a foreign tx with the same effect.
        for sequence in range(queue.next_sequence, committed + 1):
            del queue.after[sequence]
            if sequence in queue.txs:
                reason = Rejection(R.BAD_SEQUENCE, f"sequence {sequence} used by a committed tx")
                self._drop(queue, sequence, reason, dropped)
        queue.next_sequence = committed + 1
        queue.base = account
        entry = queue.txs.get(queue.next_sequence)
        if entry is None or queue.ready_end == queue.next_sequence:
            return
        # Its other reads (destination, asset, escrow) may have changed under it.
        outcome = apply_into(Overlay(state), entry.stx, ctx, signatures_verified=True)
        if isinstance(outcome, Rejection):
            self._drop(queue, queue.next_sequence, outcome, dropped)
            self._demote_from(queue, queue.next_sequence)

    def _resync(
        self,
        queue: _AccountQueue,
        account: Account,
        state: StateView,
        ctx: ApplyContext,
        dropped: Dropped,
    ) -> None:
        """Re-validates an account's run on the current committed state.

        Drops txs whose sequence is used, re-applies the ready ones in place (they keep their
        place in the ready order), drops the first one that fails and makes the txs after it
        wait; then promotes held txs that now follow on.
        """
        next_sequence = account.sequence + 1
        for sequence in sorted(queue.txs):
            if sequence >= next_sequence:
                break
            reason = Rejection(R.BAD_SEQUENCE, f"sequence {sequence} used by a committed tx")
            self._drop(queue, sequence, reason, dropped)
        queue.next_sequence = next_sequence
        queue.base = account
        queue.after.clear()
        queue.tip = Overlay(state)
        queue.tip_generation = self._generation
        sequence = next_sequence
        while (entry := queue.txs.get(sequence)) is not None:
            refused = self._apply(queue, entry, ctx)
            if refused is not None:
                self._drop(queue, sequence, refused, dropped)
                break
            self._ready.setdefault(entry.stx.tx_id, entry)  # in place if it was ready
            sequence += 1
        self._demote_from(queue, sequence)

    def _promote(self, queue: _AccountQueue, ctx: ApplyContext, dropped: Dropped) -> None:
        """Makes the held txs that now follow the ready run ready, in order, while they apply."""
        while (entry := queue.txs.get(queue.ready_end)) is not None:
            refused = self._apply(queue, entry, ctx)
            if refused is not None:
                self._drop(queue, queue.ready_end, refused, dropped)
                return
            self._ready[entry.stx.tx_id] = entry
            queue.ready_end += 1

    def _demote_from(self, queue: _AccountQueue, sequence: int) -> None:
        """Ends the ready run before `sequence`: later txs are held again."""
        for seq in range(sequence, queue.ready_end):
            entry = queue.txs.get(seq)
            if entry is not None:
                self._ready.pop(entry.stx.tx_id, None)
            queue.after.pop(seq, None)
        queue.ready_end = sequence

    def _apply(self, queue: _AccountQueue, entry: _Entry, ctx: ApplyContext) -> Rejection | None:
        """Applies `entry` on the account's tip; on success the tip includes it."""
        outcome = apply_into(queue.tip, entry.stx, ctx, signatures_verified=True)  # checked in add
        if isinstance(outcome, Rejection):
            return outcome
        tx = entry.stx.tx
        queue.after[tx.sequence] = queue.tip.accounts[tx.source]
        return None

    # --- bookkeeping ---------------------------------------------------------------------------

    def _insert(self, queue: _AccountQueue, entry: _Entry) -> None:
        tx = entry.stx.tx
        assert tx.sequence not in queue.txs and entry.stx.tx_id not in self._entries
        if not queue.txs:
            self._accounts[tx.source] = queue
        queue.txs[tx.sequence] = entry
        self._entries[entry.stx.tx_id] = entry
        self._verified.add(entry.stx.tx_id)
        self._size_bytes += entry.size_bytes
        heapq.heappush(self._expiry, (tx.not_after_ms, entry.order, entry.stx.tx_id))

    def _discard(self, queue: _AccountQueue, sequence: int) -> _Entry:
        """Removes one tx from every index but the (lazy) expiry heap."""
        entry = queue.txs.pop(sequence)
        tx_id = entry.stx.tx_id
        del self._entries[tx_id]
        self._ready.pop(tx_id, None)
        self._verified.discard(tx_id)
        self._size_bytes -= entry.size_bytes
        return entry

    def _drop(
        self, queue: _AccountQueue, sequence: int, reason: Rejection, dropped: Dropped
    ) -> None:
        dropped.append((self._discard(queue, sequence).stx, reason))

    # --- self-check (tests, debug mode) --------------------------------------------------------

    def check_invariants(self) -> list[str]:
        """Every broken internal invariant, described; O(pool). Empty means consistent."""
        problems: list[str] = []
        if set(self._entries) != self._verified:
            problems.append("verified ids differ from the pooled ids")
        if sum(e.size_bytes for e in self._entries.values()) != self._size_bytes:
            problems.append("size_bytes is not the sum of the entries' sizes")
        in_heap = {(order, tx_id) for _, order, tx_id in self._expiry}
        if any((e.order, tx_id) not in in_heap for tx_id, e in self._entries.items()):
            problems.append("a pooled tx has no expiry record")
        counted = 0
        for address, queue in self._accounts.items():
            counted += len(queue.txs)
            problems.extend(self._queue_problems(address, queue))
        if counted != len(self._entries):
            problems.append("account queues and the id index hold different txs")
        last: dict[bytes, int] = {}
        for tx_id, entry in self._ready.items():
            tx = entry.stx.tx
            if self._entries.get(tx_id) is not entry:
                problems.append("a ready tx is not pooled")
            elif last.get(tx.source, tx.sequence - 1) != tx.sequence - 1:
                problems.append(f"ready order breaks the sequence run at {tx.sequence}")
            last[tx.source] = tx.sequence
        return problems

    def _queue_problems(self, address: bytes, queue: _AccountQueue) -> list[str]:
        problems = []
        if not queue.txs:
            problems.append("an empty account queue is kept")
        if not queue.next_sequence <= queue.ready_end:
            problems.append("the ready run ends before it starts")
        for sequence, entry in queue.txs.items():
            tx = entry.stx.tx
            if tx.source != address or tx.sequence != sequence:
                problems.append("a tx is filed under the wrong account or sequence")
            if self._entries.get(entry.stx.tx_id) is not entry:
                problems.append("a queued tx is not in the id index")
            if sequence < queue.next_sequence:
                problems.append(f"sequence {sequence} is below the account's next")
            ready = entry.stx.tx_id in self._ready
            if ready != (sequence < queue.ready_end):
                problems.append(f"sequence {sequence} ready={ready} outside/inside the run")
        run = range(queue.next_sequence, queue.ready_end)
        if any(s not in queue.txs for s in run):
            problems.append("the ready run has a gap")
        if set(queue.after) != set(run):
            problems.append("predicted records do not match the ready run")
        if queue.base.sequence + 1 != queue.next_sequence:
            problems.append("the base record is not the one before the ready run")
        return problems


def _named_accounts(stx: SignedTransaction) -> set[bytes]:
    """Accounts a tx may have changed in a way that can invalidate their own pending txs."""
    named = set(stx.tx.sources())
    for op in stx.tx.operations:
        if isinstance(op, Payment | EscrowCreate):
            named.add(op.destination)
        elif isinstance(op, SetHolder | Clawback):
            named.add(op.holder)
    return named
