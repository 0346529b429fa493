"""Batch payments in the institution console (issue 17): the organisation's batches and
the upload form (`/org/{id}/batches`), a batch's validation report, totals, approval and
progress (`/org/{id}/batches/{batch}`), and its pain.002 and result CSV downloads.

The same services as /v1/batches (services/batches.py), so the same checks: pay.initiate
uploads, another member with pay.approve approves or rejects (maker != checker); the
page offers only what the reader's role allows. The upload form posts to one fixed
address (`/org-batches`, the organisation in a hidden field) so that its body may carry a
file as large as the API takes (`FORM_UPLOADS`), with an idempotency key made when the
form was shown: a resent form is the same batch.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from corridor.platform.domain import batches as dom
from corridor.platform.domain.errors import Err, Kind, PlatformError
from corridor.platform.services import batch_reads, batches
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of
from corridor.web.messages import N_
from corridor.web.pages_org import _context, _guarded, _refused

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Id = Annotated[str, Path(max_length=64)]
UPLOAD_PATH = "/org-batches"
FORM_UPLOADS = {UPLOAD_PATH: 2}  # one file and a few short fields
SHORT_LEN_MAX = 100
ITEMS_SHOWN_MAX = 500  # on the page; every item is in the downloads
PROBLEMS_SHOWN_MAX = 500
# Each problem code in words (the service's own message is shown beside it).
PROBLEMS = {
    dom.Code.FILE_UNREADABLE: N_("The file cannot be read"),
    dom.Code.SCHEMA_INVALID: N_("Not valid against the ISO 20022 schema"),
    dom.Code.VERSION_UNSUPPORTED: N_("A pain.001 version we do not read"),
    dom.Code.HEADER_INVALID: N_("The CSV header is not as documented"),
    dom.Code.COUNT_MISMATCH: N_("The stated number of payments is wrong"),
    dom.Code.SUM_MISMATCH: N_("The stated control sum is wrong"),
    dom.Code.EMPTY: N_("The file has no payments"),
    dom.Code.TOO_MANY_ITEMS: N_("Too many payments in one file"),
    dom.Code.TOO_MANY_CURRENCIES: N_("Too many currencies in one file"),
    dom.Code.AMOUNT_INVALID: N_("The amount is not valid"),
    dom.Code.CURRENCY_UNKNOWN: N_("A currency we do not hold"),
    dom.Code.CURRENCY_NOT_ALLOWED: N_("The organisation's verification does not allow "
                                      "this currency"),
    dom.Code.REFERENCE_INVALID: N_("The reference is missing or too long"),
    dom.Code.REFERENCE_DUPLICATE: N_("The same reference as another row"),
    dom.Code.ITEM_DUPLICATE: N_("The same payment as another row"),
    dom.Code.RECIPIENT_INVALID: N_("The recipient's details are not valid"),
    dom.Code.IBAN_INVALID: N_("The account number or IBAN is not valid"),
    dom.Code.BIC_INVALID: N_("The BIC or bank code is not valid"),
    dom.Code.RECIPIENT_NOT_FOUND: N_("No customer with an open wallet has these details"),
    dom.Code.RECIPIENT_CANNOT_RECEIVE: N_("The recipient cannot receive this currency"),
    dom.Code.SAME_WALLET: N_("The recipient is the paying wallet"),
    dom.Code.MEMO_INVALID: N_("The note is too long"),
    dom.Code.LIMIT_EXCEEDED: N_("Above the organisation's limit"),
    dom.Code.INSUFFICIENT_FUNDS: N_("Not enough money available"),
}
assert set(PROBLEMS) == set(dom.Code)
CHOOSE_FILE = N_("Choose a CSV or pain.001 file.")


def _batches_page(page: Page, org_id: str, values: dict[str, str],
                  exc: PlatformError | None = None) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    found = batch_reads.list_batches(page.deps, who, org_id)
    key = page.form_key(values)
    return render.form(page, "org_batches.html", exc, **ctx, batches=found,
                       values={**values, "key": key}, columns=dom.CSV_COLUMNS,
                       required=dom.CSV_REQUIRED)


@router.get("/org/{org_id}/batches", response_class=HTMLResponse)
def batch_list(page: PageDep, org_id: Id) -> Response:
    return _guarded(page, _batches_page, org_id, {})


@router.post(UPLOAD_PATH)
async def batch_upload(page: PageDep, request: Request) -> Response:
    form = await request.form()  # parsed once (PageRoute read it for the CSRF token)
    return await run_in_threadpool(_upload, page, form)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:SHORT_LEN_MAX] if isinstance(value, str) else ""


def _upload(page: Page, form: FormData) -> Response:
    who = page.customer()
    org_id, key = _text(form, "org_id"), _text(form, "key")
    sent = form.get("file")
    try:
        if not isinstance(sent, UploadFile) or not sent.filename:
            raise Err.INVALID_FIELDS.error(fields={"file": page.gettext(CHOOSE_FILE)})
        data = sent.file.read(page.deps.settings.upload_bytes_max + 1)
        b, _ = batches.upload(page.deps, who, org_id, data, sent.filename, key or None)
    except PlatformError as exc:
        if exc.kind in (Kind.NOT_FOUND, Kind.FORBIDDEN):
            return _refused(page, exc)
        return _guarded(page, _batches_page, org_id, {"key": key}, exc)
    return RedirectResponse(f"/org/{org_id}/batches/{b.id}", status_code=303)


def _batch_page(page: Page, org_id: str, batch_id: str,
                exc: PlatformError | None = None) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    view = batch_reads.show(page.deps, who, batch_id)
    if view.batch.org_id != org_id:
        raise Err.NOT_FOUND.error("no such batch")
    b = view.batch
    may_decide = (ctx["can"]["pay_approve"] and b.status == dom.BatchStatus.VALIDATED
                  and b.created_by != who.user_id)
    may_withdraw = b.status == dom.BatchStatus.VALIDATED and b.created_by == who.user_id
    shown: dict[str, Any] = {"view": view, "b": b, "items": view.items[:ITEMS_SHOWN_MAX],
                             "problems": b.problems[:PROBLEMS_SHOWN_MAX],
                             "item_problems": [p for i in view.items for p in i.problems
                                               ][:PROBLEMS_SHOWN_MAX],
                             "problem_names": PROBLEMS, "may_decide": may_decide,
                             "may_withdraw": may_withdraw, "values": {}}
    return render.form(page, "org_batch.html", exc, **ctx, **shown)


@router.get("/org/{org_id}/batches/{batch_id}", response_class=HTMLResponse)
def batch_show(page: PageDep, org_id: Id, batch_id: Id) -> Response:
    return _guarded(page, _batch_page, org_id, batch_id)


@router.post("/org/{org_id}/batches/{batch_id}/approve")
def batch_approve(page: PageDep, org_id: Id, batch_id: Id) -> Response:
    return _decide(page, org_id, batch_id, approve=True)


@router.post("/org/{org_id}/batches/{batch_id}/reject")
def batch_reject(page: PageDep, org_id: Id, batch_id: Id) -> Response:
    return _decide(page, org_id, batch_id, approve=False)


def _decide(page: Page, org_id: str, batch_id: str, *, approve: bool) -> Response:
    who = page.customer()
    try:
        if approve:
            batches.approve(page.deps, who, batch_id)
        else:
            batches.reject(page.deps, who, batch_id)
    except PlatformError as exc:
        if exc.kind is Kind.NOT_FOUND:
            return _refused(page, exc)
        return _guarded(page, _batch_page, org_id, batch_id, exc)
    return RedirectResponse(f"/org/{org_id}/batches/{batch_id}", status_code=303)


@router.get("/org/{org_id}/batches/{batch_id}/pain002")
def batch_pain002(page: PageDep, org_id: Id, batch_id: Id) -> Response:
    who = page.customer()
    try:
        data = batch_reads.status_report(page.deps, who, batch_id)
    except PlatformError as exc:
        return _refused(page, exc)
    return Response(data, media_type="application/xml", headers={
        "Content-Disposition": f'attachment; filename="{batch_id}-pain002.xml"'})


@router.get("/org/{org_id}/batches/{batch_id}/result.csv")
def batch_result(page: PageDep, org_id: Id, batch_id: Id) -> Response:
    who = page.customer()
    try:
        text = batch_reads.result_csv(page.deps, who, batch_id)
    except PlatformError as exc:
        return _refused(page, exc)
    return Response(text.encode(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{batch_id}-result.csv"'})
