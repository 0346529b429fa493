"""Batch payments of an organisation (issue 17): upload a CSV or pain.001 file, read the
validation report, approve or reject it as a whole, follow each item, and download the
pain.002 status report and the result CSV (services/batches.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile, status
from pydantic import BaseModel

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import money
from corridor.platform.domain.batches import Batch, BatchItem
from corridor.platform.services import batch_reads, batches
from corridor.platform.services.batch_reads import View

router = APIRouter(route_class=JsonRoute, tags=["batches"])

BatchId = Annotated[str, Path(max_length=64)]
ITEMS_PAGE_MAX = 1_000


class ProblemOut(BaseModel):
    row: int
    field: str
    code: str
    message: str


class ItemOut(BaseModel):
    row: int
    reference: str
    currency: str
    amount: str
    fee: str
    recipient_type: str
    recipient_name: str
    status: str
    payment_id: str | None
    reason_code: str | None
    problems: list[ProblemOut]

    @classmethod
    def of(cls, i: BatchItem) -> ItemOut:
        shown = money.is_currency(i.currency)
        return cls(row=i.row, reference=i.reference, currency=i.currency,
                   amount=money.format_minor(i.amount_minor, i.currency) if shown else "",
                   fee=money.format_minor(i.fee_minor, i.currency) if shown else "",
                   recipient_type=i.recipient.get("type", ""), recipient_name=i.recipient_name,
                   status=i.status, payment_id=i.payment_id, reason_code=i.reason_code,
                   problems=[ProblemOut(**p.as_json()) for p in i.problems])


class BatchOut(BaseModel):
    """A batch: `totals` and `fees` per currency (exact decimal text; totals include
    fees), `problems` the first PROBLEMS_MAX of `problem_count`, `counts` items per status,
    `items` the page asked for (offset, limit)."""

    id: str
    org_id: str
    created_by: str
    format: str
    version: str
    message_id: str | None
    file_name: str
    status: str
    done: bool
    item_count: int
    totals: dict[str, str]
    fees: dict[str, str]
    problem_count: int
    problems: list[ProblemOut]
    counts: dict[str, int]
    decided_by: str | None
    decided_ms: int | None
    created_ms: int
    items: list[ItemOut]

    @classmethod
    def of(cls, b: Batch, view: View | None = None, offset: int = 0,
           limit: int = 0) -> BatchOut:
        return cls(id=b.id, org_id=b.org_id, created_by=b.created_by, format=b.format,
                   version=b.version, message_id=b.message_id, file_name=b.file_name,
                   status=b.status, done=view.done if view else False,
                   item_count=b.item_count,
                   totals={k: money.format_minor(v, k) for k, v in b.totals.items()},
                   fees={k: money.format_minor(v, k) for k, v in b.fees.items()},
                   problem_count=b.problem_count,
                   problems=[ProblemOut(**p.as_json()) for p in b.problems],
                   counts=view.counts if view else {}, decided_by=b.decided_by,
                   decided_ms=b.decided_ms, created_ms=b.created_ms,
                   items=[ItemOut.of(i) for i in view.items[offset:offset + limit]]
                   if view else [])


@router.post("/batches", status_code=status.HTTP_201_CREATED,
             responses={200: {"description": "The same file and key again: the same batch."}})
def upload_batch(
    who: PrincipalDep, deps: DepsDep, response: Response, key: IdempotencyKey,
    file: Annotated[UploadFile, File(description="CSV (see docs) or ISO 20022 pain.001")],
    org_id: Annotated[str, Form(max_length=64)],
) -> BatchOut:
    """Uploads a batch (pay.initiate): every item validated up front; a batch without
    problems has its total reserved and waits for approval (status `validated`), one with
    problems is `invalid` and lists every problem per row."""
    data = file.file.read(deps.settings.upload_bytes_max + 1)
    b, created = batches.upload(deps, who, org_id, data, file.filename or "batch", key)
    if not created:
        response.status_code = status.HTTP_200_OK
    view = batch_reads.show(deps, who, b.id)
    return BatchOut.of(b, view, 0, 100)


@router.get("/batches", response_model=list[BatchOut])
def list_batches(who: PrincipalDep, deps: DepsDep,
                 org_id: Annotated[str, Query(max_length=64)]) -> list[BatchOut]:
    """The organisation's latest batches (org.read), newest first."""
    return [BatchOut.of(b) for b in batch_reads.list_batches(deps, who, org_id)]


@router.get("/batches/{batch_id}", response_model=BatchOut)
def show_batch(batch_id: BatchId, who: PrincipalDep, deps: DepsDep,
               offset: Annotated[int, Query(ge=0)] = 0,
               limit: Annotated[int, Query(ge=0, le=ITEMS_PAGE_MAX)] = 100) -> BatchOut:
    """The batch, its items' progress (each follows its payment) and a page of items."""
    view = batch_reads.show(deps, who, batch_id)
    return BatchOut.of(view.batch, view, offset, limit)


@router.post("/batches/{batch_id}/approve", response_model=BatchOut)
def approve_batch(batch_id: BatchId, who: PrincipalDep, deps: DepsDep) -> BatchOut:
    """Approves the batch as a whole (pay.approve, not the uploader) and starts it: its
    items become payments, settled in as few ledger transactions as the ledger allows.
    Approving again answers the approved batch."""
    batches.approve(deps, who, batch_id)
    view = batch_reads.show(deps, who, batch_id)
    return BatchOut.of(view.batch, view, 0, 100)


class RejectIn(BaseModel):
    reason: str = ""


@router.post("/batches/{batch_id}/reject", response_model=BatchOut)
def reject_batch(batch_id: BatchId, who: PrincipalDep, deps: DepsDep,
                 body: RejectIn | None = None) -> BatchOut:
    """Refuses the batch (an approver; or the uploader withdraws it): the reservation
    ends and nothing moves."""
    b = batches.reject(deps, who, batch_id, (body.reason if body else "")[:500])
    return BatchOut.of(b)


@router.get("/batches/{batch_id}/pain002", response_class=Response,
            responses={200: {"content": {"application/xml": {}}}})
def batch_pain002(batch_id: BatchId, who: PrincipalDep, deps: DepsDep) -> Any:
    """The ISO 20022 pain.002 status report of every item (schema-valid)."""
    data = batch_reads.status_report(deps, who, batch_id)
    return Response(content=data, media_type="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{batch_id}-pain002.xml"'})


@router.get("/batches/{batch_id}/result.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def batch_result_csv(batch_id: BatchId, who: PrincipalDep, deps: DepsDep) -> Any:
    """The result file: one line per item with its status and reason."""
    text = batch_reads.result_csv(deps, who, batch_id)
    return Response(content=text.encode(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{batch_id}-result.csv"'})
