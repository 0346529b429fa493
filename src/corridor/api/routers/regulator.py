"""Supervision (issue 16): the regulator's read-only API. Payments, alerts and cases (and
every resource in `supervision.RESOURCES`) listed with filters and read one by one, the
audit trail with its chain verification, an overview, and the live feed of alerts and
holds as Server-Sent Events. Everything needs `supervise` (the regulator role); every
read is written to the audit log, list reads with their filters. There is no write here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import StreamingResponse

from corridor.api import sse
from corridor.api.deps import DepsDep
from corridor.api.deps import staff as staff_only
from corridor.api.json_body import JsonRoute
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import audit, supervision

router = APIRouter(route_class=JsonRoute, prefix="/regulator", tags=["regulator"])

Supervisor = Annotated[Principal, Depends(staff_only(Perm.SUPERVISE))]
Filter = Annotated[str | None, Query(max_length=supervision.FILTER_LEN_MAX)]
Ms = Annotated[int | None, Query(ge=0, le=2**53)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Resource = Annotated[str, Path(pattern="^(" + "|".join(supervision.RESOURCES) + ")$",
                               description=", ".join(supervision.RESOURCES))]
Id = Annotated[str, Path(max_length=64)]


@router.get("/overview")
def overview(who: Supervisor, deps: DepsDep) -> dict[str, int]:
    """Open cases, open alerts, payments on hold, and the audit head (the feed's now)."""
    o = supervision.overview(deps, who)
    return {"open_cases": o.open_cases, "open_alerts": o.open_alerts,
            "payments_on_hold": o.payments_on_hold, "audit_head": o.audit_head}


@router.get("/audit")
def audit_log(who: Supervisor, deps: DepsDep, actor_id: Filter = None, action: Filter = None,
              object_type: Filter = None, object_id: Filter = None, since_ms: Ms = None,
              until_ms: Ms = None,
              limit: Annotated[int, Query(ge=1, le=audit.PAGE_MAX)] = 50,
              offset: Offset = 0) -> dict[str, Any]:
    """Audit entries newest first, filtered by actor, action, object and time (`since_ms`
    inclusive, `until_ms` exclusive), each with its hash and the previous one's."""
    found = supervision.audit_entries(deps, who, supervision.Query(
        filters={"actor_id": actor_id, "action": action, "object_type": object_type,
                 "object_id": object_id},
        since_ms=since_ms, until_ms=until_ms, limit=limit, offset=offset))
    return {"items": [supervision.entry_json(e) for e in found.items], "limit": found.limit,
            "offset": found.offset, "more": found.more}


@router.get("/audit/verify")
def audit_verify(who: Supervisor, deps: DepsDep) -> dict[str, Any]:
    """Re-computes every entry's hash and link, and the head; reports the first break."""
    report = supervision.audit_verify(deps, who)
    return {"ok": report.ok, "entries": report.entries, "head_seq": report.head_seq,
            "problem": report.problem}


@router.get("/feed", response_class=StreamingResponse,
            responses={200: {"content": {sse.MEDIA_TYPE: {}},
                             "description": "Events: alert, hold, release, return, freeze, "
                                            "unfreeze; each `id` is a resume point."}})
async def feed(who: Supervisor, deps: DepsDep,
               last_event_id_header: Annotated[str | None, Header(
                   alias="Last-Event-ID", max_length=sse.LAST_EVENT_ID_LEN_MAX)] = None,
               last_event_id: Annotated[str | None, Query(
                   max_length=sse.LAST_EVENT_ID_LEN_MAX)] = None,
               max_ms: Annotated[int, Query(ge=0, le=sse.CONNECTION_MS_MAX)] = (
                   sse.CONNECTION_MS_MAX)) -> StreamingResponse:
    """New alerts, holds, releases, returns and freezes as Server-Sent Events
    (`text/event-stream`), from now on, or after `Last-Event-ID` (header, or query for a
    first connection) without loss or repeats. Heartbeat comments every 15 s; a
    connection ends after `max_ms` (at most 5 minutes) or 1,000 events: reconnect with
    the last id. Opening it is audited."""
    bounds = sse.Bounds(connection_ms=max_ms)
    frames = await sse.stream(deps, who, sse.last_event_id(last_event_id_header,
                                                           last_event_id), bounds)
    return StreamingResponse(frames, media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


@router.get("/{resource}")
def records(resource: Resource, who: Supervisor, deps: DepsDep, status: Filter = None,
            state: Filter = None, currency: Filter = None, customer: Filter = None,
            typology: Filter = None, case: Filter = None, kind: Filter = None,
            since_ms: Ms = None,
            until_ms: Ms = None,
            limit: Annotated[int, Query(ge=1, le=supervision.PAGE_MAX)] = 50,
            offset: Offset = 0) -> dict[str, Any]:
    """A resource's records newest first. Filters (each resource takes its own; another is
    refused): payments `status`, `currency` (sent), `customer` (owner id); alerts `state`,
    `typology`, `customer`, `case`; cases `state`, `customer`; filed reports `kind` (STR,
    SAR), `customer`, `case`. `since_ms` (inclusive) and `until_ms` (exclusive) bound the
    creation (a case's opening, a report's filing) time."""
    found = supervision.records(deps, who, resource, supervision.Query(
        filters={"status": status, "state": state, "currency": currency,
                 "customer": customer, "typology": typology, "case": case, "kind": kind},
        since_ms=since_ms, until_ms=until_ms, limit=limit, offset=offset))
    return {"items": found.rows(), "limit": found.limit, "offset": found.offset,
            "more": found.more}


@router.get("/{resource}/{record_id}")
def record(resource: Resource, record_id: Id, who: Supervisor,
           deps: DepsDep) -> dict[str, Any]:
    """One record with what belongs to it: a payment's timeline (`history`), transfer,
    transaction and the reference to check its inclusion with the light client, and its
    alerts; a case's evidence (alerts with their explanations, payments, KYC summary,
    notes, decisions)."""
    return supervision.record(deps, who, resource, record_id)
