"""Queueing on-chain transfers and reacting to their outcome (see domain/transfers.py).

The outbox worker (adapters/outbox_worker.py) reports each outcome here; the handlers of
the transfer's purpose (`deps.handlers`, the table bootstrap builds) run inside the unit of
work that records it. Handlers must be idempotent in effect: a crash between the chain's
commit and the platform's record replays the outcome on restart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from corridor.platform.domain.errors import Err
from corridor.platform.domain.transfers import (
    BATCH_LEGS_MAX,
    LEGS_MAX,
    MEMO_LEN_MAX,
    Leg,
    Purpose,
    Transfer,
    TransferStatus,
)
from corridor.platform.services.ports import Deps, UnitOfWork


def queue(deps: Deps, uow: UnitOfWork, *, purpose: Purpose, ref_id: str, source: str,
          legs: Sequence[Leg], memo: str = "", held: bool = False) -> Transfer:
    """Adds a transfer to the outbox inside the caller's unit of work; `held`: waiting for
    compliance (TransferStatus.HELD), its debit reserved but never signed until released."""
    legs_max = BATCH_LEGS_MAX if purpose == Purpose.BATCH else LEGS_MAX
    if not 1 <= len(legs) <= legs_max or any(leg.amount_minor <= 0 for leg in legs):
        raise Err.INVALID_TRANSFER.error(f"1-{legs_max} legs with positive amounts")
    memo_bytes = memo.encode()[:MEMO_LEN_MAX]
    now = deps.clock.now_ms()
    t = Transfer(
        id=deps.rand.new_id(), purpose=purpose, ref_id=ref_id, source=source,
        legs=tuple(legs), memo=memo_bytes.decode(errors="ignore"),
        status=TransferStatus.HELD if held else TransferStatus.QUEUED, sequence=None,
        tx_id=None, tx_hex=None, height=None,
        result_code=None, result_message=None, attempts=0, created_ms=now, updated_ms=now,
    )
    uow.repo(Transfer).add(t)
    return t


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    transfer_id: str
    committed: bool
    tx_id: str | None
    height: int | None = None
    code: str | None = None
    message: str | None = None


def record_outcome(deps: Deps, transfer_id: str, *, committed: bool, tx_id: str | None,
                   height: int | None = None, code: str | None = None,
                   message: str | None = None) -> Transfer | None:
    """Records a transfer's outcome and runs its purpose's handlers, in one unit of work.
    Returns None (and does nothing) if the outcome was already recorded: replays are safe.
    The outbox worker calls this; tests call it to play the chain's part."""
    done = record_outcomes(deps, [Outcome(transfer_id, committed, tx_id, height, code,
                                          message)])
    return done[0] if done else None


def record_outcomes(deps: Deps, outcomes: Sequence[Outcome], *,
                    also: Callable[[UnitOfWork], None] | None = None) -> list[Transfer]:
    """Records many outcomes (a block's worth) in one unit of work: one commit instead of
    one per transfer; `also` writes more in it (the outbox's cursor). Returns the transfers
    whose outcome was new."""
    now = deps.clock.now_ms()
    done: list[Transfer] = []
    with deps.uow() as uow:
        for o in outcomes:
            t = uow.repo(Transfer).get(o.transfer_id, for_update=True)
            assert t is not None, f"no transfer {o.transfer_id}"
            if t.status in (TransferStatus.COMMITTED, TransferStatus.REJECTED):
                continue
            t = dataclasses.replace(
                t, status=TransferStatus.COMMITTED if o.committed else TransferStatus.REJECTED,
                tx_id=o.tx_id or t.tx_id, height=o.height, result_code=o.code,
                result_message=(o.message or "")[:500] or None, updated_ms=now,
            )
            uow.repo(Transfer).update(t)
            run_handlers(deps, uow, t)
            done.append(t)
        if also is not None:
            also(uow)
        uow.commit()
    return done


def run_handlers(deps: Deps, uow: UnitOfWork, t: Transfer) -> None:
    """The handlers of `t`'s purpose, on its recorded outcome, in the caller's unit of work."""
    for handler in deps.handlers.on_transfer(t.purpose):
        handler(deps, uow, t)
