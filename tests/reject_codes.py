"""One registry of the ledger reject codes that tests produced: test helpers `note` every
rejection they see, and tests/ledger/test_reject_codes.py runs, for each code, the test that
should reach it inside `capture` (so the check depends on no test order and never skips)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from corridor.ledger.errors import RejectCode

_SEEN: set[RejectCode] = set()


def note(code: RejectCode) -> None:
    _SEEN.add(code)


@contextmanager
def capture() -> Iterator[set[RejectCode]]:
    """The codes noted inside the block (the registry's earlier content is kept aside)."""
    saved = set(_SEEN)
    _SEEN.clear()
    seen: set[RejectCode] = set()
    try:
        yield seen
    finally:
        seen |= _SEEN
        _SEEN.clear()
        _SEEN.update(saved)
