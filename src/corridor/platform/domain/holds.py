"""Holds: money that arrived but may not be credited as it stands (issue 14, item 1).

Inbound money is checked against its owner's limits when it arrives; what would exceed
them is never credited on arrival: the record it belongs to (today a deposit) waits in a
`held` state, and a `Hold` puts it in front of staff. A reviewer decides once: RELEASE
(credit it, allowed only if it now fits the owner's limits) or RETURN (send it back to
the sender through the rail it came by). The hold names its subject (`subject_type`,
`subject_id`) and knows nothing else about it, so a later compliance case can own holds
of any kind of record; each kind of subject registers what release and return mean.
"""

from __future__ import annotations

import dataclasses
import enum

from corridor.platform.domain.wallets import OwnerType

NOTE_LEN_MAX = 1000
QUEUE_PAGE_MAX = 100
REASON_LEN_MAX = 500


class HoldStatus(enum.StrEnum):
    OPEN = "open"  # waiting for a decision
    RELEASED = "released"  # credited after review
    RETURNED = "returned"  # sent back to the sender through the rail


class Decision(enum.StrEnum):
    RELEASE = "release"
    RETURN = "return"


DECIDED = {Decision.RELEASE: HoldStatus.RELEASED, Decision.RETURN: HoldStatus.RETURNED}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Hold:
    """Money held for review instead of being credited: whose it is, how much, why, and
    (once decided) who decided what."""

    id: str
    subject_type: str  # "deposit"
    subject_id: str
    owner_type: OwnerType  # whose limits it broke
    owner_id: str
    currency: str
    amount_minor: int
    reason_code: str  # e.g. LIMIT_EXCEEDED
    reason_message: str
    status: HoldStatus
    decided_by: str | None
    decided_ms: int | None
    decision_note: str | None
    return_ref: str | None  # the rail's reference of the return
    created_ms: int
    updated_ms: int


def decided(hold: Hold, decision: Decision, *, staff_id: str, note: str, now_ms: int,
            return_ref: str | None = None) -> Hold:
    assert hold.status == HoldStatus.OPEN, f"hold {hold.id} is {hold.status}"
    return dataclasses.replace(hold, status=DECIDED[decision], decided_by=staff_id,
                               decided_ms=now_ms, decision_note=note, return_ref=return_ref,
                               updated_ms=now_ms)
