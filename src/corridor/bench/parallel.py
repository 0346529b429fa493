"""Signature verification spread over all cores, ahead of the single-threaded apply loop.

The ledger core is pure and starts nothing: it offers `verify_signatures` and
`apply_into(..., signatures_verified=True)`. This shell-side helper does the fan-out. It lives
in `bench` until the node takes it over.

Processes, not threads, by default (measured by `corridor bench ledger`). cffi does release
the GIL inside libsecp256k1, and threads alone verify ~1.9x faster on two cores; but next to
a main thread that applies transactions (pure Python, holding the GIL), a verifier thread
waits for the GIL after every verification (the "convoy effect": up to the 5 ms switch
interval), so threads overlap verification with applying poorly (~1.3x). Worker processes
have their own GIL; the price is sending ~130 bytes per signature over a pipe.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from itertools import islice
from types import TracebackType

from corridor.ledger import keys
from corridor.ledger.limits import SIGNATURES_MAX
from corridor.ledger.rules.v1 import verify_signatures
from corridor.ledger.tx import HASH_LEN, SignedTransaction

# Transactions per task: large enough that a task's overhead (a future, a pickle round trip:
# ~50 µs) is small beside its ~256 x 45 µs of verification, small enough to pipeline finely.
VERIFY_CHUNK_TXS = 256
# Chunks submitted ahead of the consumer: bounds memory and the work wasted if it stops.
VERIFY_CHUNKS_AHEAD_MAX = 16
VERIFY_WORKERS_MAX = 64

assert 1 <= VERIFY_CHUNK_TXS <= 10_000
assert VERIFY_CHUNKS_AHEAD_MAX >= 2  # one being consumed, one being verified

# What a worker needs of a transaction, packed into one bytes object per chunk (pickling one
# bytes object costs next to nothing; a list of nested tuples cost the applying thread ~1.5 µs
# a transaction): tx id, a count byte, then (public key, signature) per signature. A count of
# _MALFORMED stands for a signature of the wrong size, which can never verify.
_PAIR_LEN = keys.PUBLIC_KEY_LEN + keys.SIGNATURE_LEN
_MALFORMED = 0xFF
assert SIGNATURES_MAX < _MALFORMED


def _to_wire(chunk: Sequence[SignedTransaction]) -> bytes:
    parts: list[bytes] = []
    for stx in chunk:
        sigs = stx.signatures
        assert len(stx.tx_id) == HASH_LEN
        if all(len(s.public_key) + len(s.signature) == _PAIR_LEN for s in sigs):
            parts += (stx.tx_id, bytes((len(sigs),)))
            for s in sigs:
                parts += (s.public_key, s.signature)
        else:
            parts += (stx.tx_id, bytes((_MALFORMED,)))
    return b"".join(parts)


def _verify_wire(wire: bytes) -> bytes:
    """One byte per transaction: 1 iff every signature verifies (`verify_signatures`' rule:
    a valid BIP-340 signature of the transaction id). Runs in a worker."""
    verify = keys.verify
    key_len, id_len = keys.PUBLIC_KEY_LEN, HASH_LEN
    flags = bytearray()
    at = 0
    while at < len(wire):
        tx_id = wire[at : at + id_len]
        count = wire[at + id_len]
        at += id_len + 1
        if count == _MALFORMED:
            flags.append(0)
            continue
        ok = True
        for _ in range(count):
            if ok:
                ok = verify(wire[at : at + key_len], tx_id, wire[at + key_len : at + _PAIR_LEN])
            at += _PAIR_LEN
        flags.append(ok)
    return bytes(flags)


class _Pending:
    """A chunk on its way: its transactions, and the worker's future or, once the consuming
    thread verified it itself, the flags."""

    __slots__ = ("chunk", "result")

    def __init__(self, chunk: list[SignedTransaction], result: Future[bytes]) -> None:
        self.chunk = chunk
        self.result: Future[bytes] | bytes = result


def _steal(pending: deque[_Pending]) -> bool:
    """Verifies in this thread the newest chunk no worker has started (its future is
    cancelled first, so it is verified once). False when there is none: all are started."""
    for entry in reversed(pending):
        if isinstance(entry.result, Future) and entry.result.cancel():
            entry.result = bytes(verify_signatures(stx) for stx in entry.chunk)
            return True
    return False


class ParallelVerifier:
    """A pool of workers (processes by default, or threads) verifying signatures in chunks.

    Use it as a context manager, or call `close`, so the workers end.
    """

    __slots__ = ("_pool", "processes", "workers")

    def __init__(self, workers: int | None = None, *, processes: bool = True) -> None:
        self.workers = min(workers or os.cpu_count() or 1, VERIFY_WORKERS_MAX)
        self.processes = processes
        assert self.workers >= 1
        self._pool: Executor
        if processes:
            # spawn, not fork: forking a process that runs threads can copy a held lock.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
        else:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="verify")

    def _submit(self, chunk: Sequence[SignedTransaction]) -> Future[bytes]:
        return self._pool.submit(_verify_wire, _to_wire(chunk))

    def verify_batch(self, stxs: Sequence[SignedTransaction]) -> set[bytes]:
        """The ids of the transactions whose every signature verifies."""
        chunks = [stxs[at : at + VERIFY_CHUNK_TXS] for at in range(0, len(stxs), VERIFY_CHUNK_TXS)]
        futures = [self._submit(chunk) for chunk in chunks]
        verified: set[bytes] = set()
        for chunk, future in zip(chunks, futures, strict=True):
            flags = future.result()
            assert len(flags) == len(chunk)
            verified.update(stx.tx_id for stx, ok in zip(chunk, flags, strict=True) if ok)
        return verified

    def verified_in_order(
        self, stxs: Iterable[SignedTransaction]
    ) -> Iterator[tuple[SignedTransaction, bool]]:
        """Each transaction, in order, with whether its signatures verified.

        Pipelined: while the caller handles chunk k, the workers verify the chunks after it
        (at most VERIFY_CHUNKS_AHEAD_MAX of them).
        """
        source = iter(stxs)
        pending: deque[_Pending] = deque()

        def submit_next() -> bool:
            chunk = list(islice(source, VERIFY_CHUNK_TXS))
            if chunk:
                pending.append(_Pending(chunk, self._submit(chunk)))
            return bool(chunk)

        while len(pending) < VERIFY_CHUNKS_AHEAD_MAX and submit_next():
            pass
        while pending:
            head = pending[0]
            # Rather than wait for the workers, this thread verifies queued chunks itself.
            while isinstance(head.result, Future) and not head.result.done() and _steal(pending):
                pass
            chunk, result = head.chunk, pending.popleft().result
            flags = result if isinstance(result, bytes) else result.result()
            assert len(flags) == len(chunk)
            submit_next()
            for stx, ok in zip(chunk, flags, strict=True):
                yield stx, bool(ok)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ParallelVerifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
