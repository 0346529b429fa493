"""Supporting documents of a payment held for them, and its travel-rule data (issue 16).

Customer side: a payment's page says when its documents are needed and links to
`/payments/{id}/documents` (what is needed, what was sent, an officer's finding, the upload
form). The form posts to one fixed address, `/payment-documents` (the payment named in the
form), so the body limit lets one document through (`FORM_UPLOADS`), as for refunds. The
same services as POST /v1/payment-documents/{id} and GET /v1/payments/{id}/documents.

Staff side (compliance.review): `/staff/compliance/payments/{id}` shows the payment, why it
is held, the travel-rule data, the documents (downloaded as attachments, never shown
inline) and the checks, with the check form; the same services as
/v1/staff/authenticity. Releasing or returning stays a decision on the case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from corridor.platform.domain import authenticity as dom
from corridor.platform.domain.errors import Err, Kind, PlatformError
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services import authenticity
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of
from corridor.web.messages import N_
from corridor.web.pages_kyc import TOO_LARGE

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Id = Annotated[str, Path(max_length=64)]
Short = Annotated[str, Form(max_length=100)]
Reason = Annotated[str, Form(max_length=dom.REASON_LEN_MAX + 1)]
SHORT_LEN_MAX = 100
# The form's body: one document plus its few short fields: twice the upload limit.
FORM_UPLOADS = {"/payment-documents": 2}
KIND_NAMES = {dom.DocumentKind.INVOICE: N_("Invoice"),
              dom.DocumentKind.CONTRACT: N_("Contract"),
              dom.DocumentKind.OTHER: N_("Other (order, bill of lading, customs declaration)")}
assert set(KIND_NAMES) == set(dom.DocumentKind)
# The service's field names as the upload form names them.
FORM_FIELDS = {"file": "document"}
STAFF_FIELDS = {"reason": "check_reason"}


def payment_documents(page: Page, who: Principal, p: Payment) -> dict[str, Any]:
    """What a payment's page shows of its documents and travel-rule data: its sender side
    only (the recipient sees neither)."""
    try:
        view = authenticity.mine(page.deps, who, p.id)
        record = authenticity.travel_rule_of(page.deps, who, p.id)
    except PlatformError as exc:
        if exc.kind is not Kind.NOT_FOUND:
            raise
        return {"authenticity": None, "travel_rule": None}
    return {"authenticity": view if view.review is not None else None, "travel_rule": record}


def _documents_page(page: Page, payment_id: str, values: dict[str, str],
                    exc: PlatformError | None = None) -> Response:
    who = page.customer()
    view = authenticity.mine(page.deps, who, payment_id)
    if exc is not None and exc.err is Err.FILE_TOO_LARGE:
        exc = PlatformError(exc.err, exc.message, {"document": TOO_LARGE})
    elif exc is not None and exc.fields:
        exc = PlatformError(exc.err, exc.message,
                            {FORM_FIELDS.get(k, k): v for k, v in exc.fields.items()})
    return render.form(page, "payment_documents.html", exc, view=view, kinds=KIND_NAMES,
                       values=values)


@router.get("/payments/{payment_id}/documents", response_class=HTMLResponse)
def documents(page: PageDep, payment_id: Id) -> Response:
    return _documents_page(page, payment_id, {"kind": ""})


@router.post("/payment-documents")
async def upload(page: PageDep, request: Request) -> Response:
    form = await request.form()  # parsed once (PageRoute read it for the CSRF token)
    return await run_in_threadpool(_upload, page, form)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:SHORT_LEN_MAX] if isinstance(value, str) else ""


def _upload(page: Page, form: FormData) -> Response:
    who = page.customer()
    payment_id, kind = _text(form, "payment_id"), _text(form, "kind")
    sent = form.get("document")
    try:
        if not isinstance(sent, UploadFile) or not sent.filename:
            raise Err.INVALID_FIELDS.error(fields={"document": "choose a file"})
        data = sent.file.read(page.deps.settings.upload_bytes_max + 1)
        authenticity.upload(page.deps, who, payment_id, kind=kind, data=data,
                            content_type=sent.content_type or "")
    except PlatformError as exc:
        if exc.kind is Kind.NOT_FOUND:
            raise
        return _documents_page(page, payment_id, {"kind": kind}, exc)
    return RedirectResponse(f"/payments/{payment_id}/documents", status_code=303)


# --- staff ----------------------------------------------------------------------------------


def _review_page(page: Page, who: Principal, payment_id: str, values: dict[str, str],
                 exc: PlatformError | None = None) -> Response:
    view = authenticity.staff_view(page.deps, who, payment_id)
    if exc is not None and exc.fields:
        exc = PlatformError(exc.err, exc.message,
                            {STAFF_FIELDS.get(k, k): v for k, v in exc.fields.items()})
    key = page.form_key(values)
    return render.form(page, "staff_authenticity.html", exc, view=view, kinds=KIND_NAMES,
                       values={**values, "key": key})


@router.get("/staff/compliance/payments/{payment_id}", response_class=HTMLResponse)
def staff_review(page: PageDep, payment_id: Id) -> Response:
    who = page.staff(Perm.COMPLIANCE_REVIEW)
    return _review_page(page, who, payment_id, {"reason": ""})


@router.get("/staff/compliance/payments/{payment_id}/documents/{document_id}")
def staff_download(page: PageDep, payment_id: Id, document_id: Id) -> Response:
    who = page.staff(Perm.COMPLIANCE_REVIEW)
    doc, data = authenticity.staff_document(page.deps, who, payment_id, document_id)
    return Response(data, media_type=doc.content_type, headers={
        "Content-Disposition": f'attachment; filename="{doc.id}.{doc.file_kind}"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


@router.post("/staff/compliance/payments/{payment_id}/check")
def staff_check(page: PageDep, payment_id: Id, reason: Reason = "", key: Short = "",
                amount_agrees: Short = "", parties_agree: Short = "",
                purpose_agrees: Short = "") -> Response:
    who = page.staff(Perm.COMPLIANCE_REVIEW)
    req = authenticity.CheckRequest(amount_agrees=amount_agrees == "yes",
                                    parties_agree=parties_agree == "yes",
                                    purpose_agrees=purpose_agrees == "yes", reason=reason)
    try:
        authenticity.record_check(page.deps, who, payment_id, req, key or None)
    except PlatformError as exc:
        if exc.kind is Kind.NOT_FOUND:
            raise
        values = {"reason": reason, "key": key, "amount_agrees": amount_agrees,
                  "parties_agree": parties_agree, "purpose_agrees": purpose_agrees}
        return _review_page(page, who, payment_id, values, exc)
    return RedirectResponse(f"/staff/compliance/payments/{payment_id}", status_code=303)
