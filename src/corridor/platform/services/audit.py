"""Reading and verifying the audit trail (requirements R8, L12)."""

from __future__ import annotations

import dataclasses
from typing import Any

from corridor.platform.domain import audit as chain
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services.access import require_staff
from corridor.platform.services.ports import Deps

PAGE_MAX = 200
VERIFY_BATCH = 1000
FILTERS = ("actor_id", "action", "object_type", "object_id")


@dataclasses.dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    head_seq: int
    problem: str | None  # None: the chain is intact

    @property
    def ok(self) -> bool:
        return self.problem is None


def entries(deps: Deps, who: Principal, *, limit: int, offset: int,
            since_ms: int | None = None, until_ms: int | None = None,
            **filters: Any) -> list[AuditEntry]:
    """Newest first; staff with audit access only. `since_ms` (inclusive) and `until_ms`
    (exclusive) bound the entries' time."""
    require_staff(who, Perm.AUDIT_READ)
    eq = {k: v for k, v in filters.items() if k in FILTERS and v is not None}
    above = {"at_ms": since_ms - 1} if since_ms is not None else None
    below = {"at_ms": until_ms} if until_ms is not None else None
    with deps.uow() as uow:
        return uow.repo(AuditEntry).many(order_by="seq", descending=True,
                                         limit=min(limit, PAGE_MAX), offset=offset,
                                         above=above, below=below, **eq)


def verify(deps: Deps) -> ChainReport:
    """Walks the whole chain in batches and compares its end with the head row, so a
    deleted tail is caught as well as an edited or removed middle entry."""
    prev, seen = chain.GENESIS_HASH, 0
    with deps.uow() as uow:
        head_seq, head_hash = uow.audit_head()
        repo = uow.repo(AuditEntry)
        while True:
            batch = repo.many(order_by="seq", limit=VERIFY_BATCH, offset=seen)
            if not batch:
                break
            problem = chain.verify_chain(batch, prev, seen + 1)
            if problem:
                return ChainReport(seen + len(batch), head_seq, problem)
            prev, seen = batch[-1].hash, seen + len(batch)
    if seen != head_seq or prev != head_hash:
        return ChainReport(seen, head_seq,
                           f"the chain ends at entry {seen} but its head says {head_seq}")
    return ChainReport(seen, head_seq, None)
