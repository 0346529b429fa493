"""The audit trail for staff with audit access (auditors, regulators)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from corridor.api.deps import DepsDep, PrincipalDep
from corridor.api.deps import staff as staff_only
from corridor.api.json_body import JsonRoute
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import audit

router = APIRouter(route_class=JsonRoute, prefix="/staff/audit", tags=["audit"])

Auditor = Annotated[Principal, Depends(staff_only(Perm.AUDIT_READ))]
Filter = Annotated[str | None, Query(max_length=64)]


@router.get("")
def list_entries(
    who: PrincipalDep,
    deps: DepsDep,
    actor_id: Filter = None,
    action: Filter = None,
    object_type: Filter = None,
    object_id: Filter = None,
    since_ms: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    until_ms: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    limit: Annotated[int, Query(ge=1, le=audit.PAGE_MAX)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    """Entries newest first, filtered by actor, action, object or time (`since_ms`
    inclusive, `until_ms` exclusive)."""
    rows = audit.entries(deps, who, limit=limit, offset=offset, since_ms=since_ms,
                         until_ms=until_ms, actor_id=actor_id,
                         action=action, object_type=object_type, object_id=object_id)
    return [
        {"seq": e.seq, "at_ms": e.at_ms, "actor_id": e.actor_id, "actor_kind": e.actor_kind,
         "action": e.action, "object_type": e.object_type, "object_id": e.object_id,
         "before": e.before, "after": e.after, "ip": e.ip, "prev_hash": e.prev_hash,
         "hash": e.hash}
        for e in rows
    ]


@router.get("/verify")
def verify(who: Auditor, deps: DepsDep) -> dict[str, Any]:
    """Re-computes every entry's hash and link; reports the first break."""
    report = audit.verify(deps)
    return {"ok": report.ok, "entries": report.entries, "head_seq": report.head_seq,
            "problem": report.problem}
