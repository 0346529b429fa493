"""The rules of the one outbox of on-chain work (adapters/outbox_worker.py): how long a
signed transaction may live, what the chain's refusal of one means for the work it
carried, and where the worker stands in the chain's event stream.

Two kinds of rows wait in the outbox: ledger jobs (open an account, authorise a holder;
domain/wallets.py) and transfers (payments, deposits' mints, withdrawals' burns,
reversals, refunds; domain/transfers.py). Both follow the same rules, written once here.
"""

from __future__ import annotations

import dataclasses
import enum

from corridor.ledger.errors import RejectCode

# --- the transaction lifetime rule ------------------------------------------------------
# Every transaction is valid until `not_after_ms` = (the later of our clock and the
# chain's) + TX_TTL_MS. Its work is given a new, different transaction only once the old
# one can never commit: refused at admission by the node it was sent to, or past its
# window and in no block. Blocks are made only when there is work, so the chain's clock may
# stand still: past the window by our clock plus CLOCK_SKEW_MAX_MS also counts, as no
# honest proposer's clock is that far behind.
TX_TTL_MS = 10_000
CLOCK_SKEW_MAX_MS = 3_000
ATTEMPTS_MAX = 5  # transactions built for one piece of work before it fails for good


def not_after_ms(now_ms: int, chain_time_ms: int) -> int:
    """The end of the validity window of a transaction built now."""
    return max(now_ms, chain_time_ms) + TX_TTL_MS


def past_window(not_after: int, *, chain_time_ms: int, now_ms: int) -> bool:
    """Whether no block can include a transaction valid until `not_after` any more."""
    return not_after < chain_time_ms or now_ms > not_after + CLOCK_SKEW_MAX_MS


# --- the retry policy -------------------------------------------------------------------


class Retry(enum.StrEnum):
    """What to do with work whose transaction the chain refused."""

    REBUILD = "rebuild"  # a fresh transaction (new sequence, new window) may succeed
    REACHED = "reached"  # the chain may already hold what the work wanted: look
    FAIL = "fail"  # record the work as failed with the chain's code


# Refusals caused by our own transaction (its sequence, its window, the node's capacity),
# not by the work it carried: building it again cures them.
OURS = frozenset({RejectCode.BAD_SEQUENCE, RejectCode.FUTURE_SEQUENCE, RejectCode.EXPIRED,
                  RejectCode.NOT_YET_VALID, RejectCode.MEMPOOL_FULL, RejectCode.DUPLICATE})


def reject_code(name: str) -> RejectCode | None:
    """The ledger's code by its wire name (upper case); None for a name it does not know."""
    return RejectCode.__members__.get(name.upper())


def on_refusal(code: str, *, attempts: int,
               reached: frozenset[RejectCode] = frozenset()) -> Retry:
    """The one retry policy, keyed on the ledger's reject code. `attempts`: transactions
    built so far for the work; `reached`: codes saying the work's goal may already hold
    (an account to open that exists). A code the ledger does not know fails the work:
    nothing is guessed about an answer nobody specified."""
    rc = reject_code(code)
    if rc is None:
        return Retry.FAIL
    if rc in reached:
        return Retry.REACHED
    if (rc in OURS or not rc.permanent) and attempts < ATTEMPTS_MAX:
        return Retry.REBUILD
    return Retry.FAIL


# --- the cursor -----------------------------------------------------------------------------

OUTCOMES_CURSOR = "outcomes"  # the one cursor: the last block whose outcomes are recorded


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class OutboxCursor:
    """How far the outbox worker has followed the chain: every block up to `height` has had
    its outcomes recorded (in the unit of work that moved the cursor)."""

    id: str
    height: int
    updated_ms: int
