"""Refunds as their customer asks for and follows them: from a credited payment's page, a
form (what went wrong, from the allowed list; why, in their own words; optionally one
evidence file), the list of their refunds with each one's state, and a refund's timeline
with our staff's decision. The same services as POST /v1/refunds/files,
POST /v1/payments/{id}/refund and GET /v1/refunds/{id}: the evidence goes through the
API's upload (same size limit, type checked by its bytes), and the form carries an
idempotency key made when it was shown, so a double click or a resent form asks once.

The form posts to one fixed address (/refunds, the payment named in the form) so the body
limit can let one evidence file through it (`FORM_UPLOADS`), as it does for the KYC form.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from corridor.platform.domain import refunds as dom
from corridor.platform.domain.errors import Err, Kind, PlatformError, not_found
from corridor.platform.domain.payments import Payment, PaymentStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.refunds import Refund, RefundKind, RefundStatus
from corridor.platform.services import payment_reads, refunds
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of
from corridor.web.messages import N_
from corridor.web.pages_kyc import TOO_LARGE

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Id = Annotated[str, Path(max_length=64)]
PAGE_SIZE = 20
SHORT_LEN_MAX = 100  # a payment id, a kind, an idempotency key
# The form's body: one evidence file, plus room for its text fields (the reason at most
# REASON_LEN_MAX characters, the token and key): twice the upload limit covers both.
FORM_UPLOADS = {"/refunds": 2}
KIND_NAMES = {RefundKind.WRONG_PAYEE: N_("It went to the wrong person or account"),
              RefundKind.REVOCATION: N_("I changed my mind after it was sent")}
assert set(KIND_NAMES) == dom.REQUESTABLE
# The service's field names as this form names them (so the error summary links to them).
FORM_FIELDS = {"file": "evidence", "evidence.0": "evidence"}


def payment_refunds(page: Page, who: Principal, p: Payment) -> dict[str, Any]:
    """What a payment's page shows of its refunds: each one (to its sender only; the
    recipient sees none) and whether a refund may be asked for now."""
    try:
        items = refunds.of_payment(page.deps, who, p.id)
    except PlatformError as exc:
        if exc.kind is not Kind.NOT_FOUND:
            raise
        return {"refunds": [], "refundable": False, "sender": False}
    return {"refunds": items, "refundable": p.status == PaymentStatus.CREDITED,
            "sender": True}


def _form(page: Page, payment_id: str, values: dict[str, str],
          exc: PlatformError | None = None) -> Response:
    """The request form (a fresh idempotency key, unless shown again after a refusal:
    then the key it was sent with). Only a credited payment's sender gets it; anything
    else is told why not (the service's own refusal, in the reader's language)."""
    who = page.customer()
    p = payment_reads.get(page.deps, who, payment_id)
    if exc is None:
        shown = payment_refunds(page, who, p)
        if not shown["sender"]:
            raise not_found("payment")  # the recipient: only the sender may ask
        if not shown["refundable"]:
            dom.check_requestable(p)  # says why not (only a credited payment passes)
            raise AssertionError(f"payment {p.id} is {p.status}: requestable, not shown")
    if exc is not None and exc.err is Err.FILE_TOO_LARGE and not exc.fields:
        exc = PlatformError(exc.err, exc.message, {"evidence": TOO_LARGE})
    elif exc is not None and exc.fields:
        exc = PlatformError(exc.err, exc.message,
                            {FORM_FIELDS.get(k, k): v for k, v in exc.fields.items()})
    key = page.form_key(values)
    return render.form(page, "refund_request.html", exc, payment=p, kinds=KIND_NAMES,
                       values={**values, "key": key})


@router.get("/payments/{payment_id}/refund", response_class=HTMLResponse)
def refund_form(page: PageDep, payment_id: Id) -> Response:
    return _form(page, payment_id, {"kind": "", "reason": ""})


@router.post("/refunds")
async def refund_ask(page: PageDep, request: Request) -> Response:
    form = await request.form()  # parsed once (PageRoute read it for the CSRF token)
    return await run_in_threadpool(_ask, page, form)


def _text(form: FormData, name: str, size_max: int = SHORT_LEN_MAX) -> str:
    value = form.get(name)
    return value[:size_max] if isinstance(value, str) else ""


def _ask(page: Page, form: FormData) -> Response:
    who = page.customer()
    payment_id = _text(form, "payment_id")
    values = {"kind": _text(form, "kind"),
              "reason": _text(form, "reason", dom.REASON_LEN_MAX + 1),
              "key": _text(form, "key")}
    try:
        files = _evidence(page, form.get("evidence"))
        r = refunds.request_with_evidence(page.deps, who, payment_id, kind=values["kind"],
                                          reason=values["reason"], files=files,
                                          idempotency_key=values["key"] or None)
    except PlatformError as exc:
        if exc.kind is Kind.NOT_FOUND:
            raise
        return _form(page, payment_id, values, exc)
    return RedirectResponse(f"/refunds/{r.id}", status_code=303)


def _evidence(page: Page, sent: Any) -> list[tuple[bytes, str]]:
    """The file chosen, as POST /v1/refunds/files takes it (no file: none); one byte past
    the size limit is read, so the service can say it is too large."""
    if not isinstance(sent, UploadFile) or not sent.filename:
        return []
    data = sent.file.read(page.deps.settings.upload_bytes_max + 1)
    return [(data, sent.content_type or "")]


@router.get("/refunds", response_class=HTMLResponse)
def refund_list(page: PageDep,
                offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> Response:
    who = page.customer()
    items, total = refunds.mine(page.deps, who, PAGE_SIZE, offset)
    return render.html(page, "refunds.html", refunds=items, total=total, offset=offset,
                       page_size=PAGE_SIZE)


def steps(r: Refund) -> list[tuple[str, int]]:
    """A refund's timeline: asked (or released), decided by staff, then closed by the
    ledger's answer; each row a refund state and its time."""
    out = [(RefundStatus.REQUESTED.value, r.created_ms)]
    if r.decided_ms is not None:
        decided = (r.status if r.status in (RefundStatus.REJECTED, RefundStatus.HELD)
                   else RefundStatus.PROCESSING)
        out.append((decided.value, r.decided_ms))
    elif r.status == RefundStatus.PROCESSING:
        out.append((r.status.value, r.updated_ms))
    if r.status in (RefundStatus.REFUNDED, RefundStatus.FAILED):
        out.append((r.status.value, r.updated_ms))
    return out


@router.get("/refunds/{refund_id}", response_class=HTMLResponse)
def refund_detail(page: PageDep, refund_id: Id) -> Response:
    who = page.customer()
    view = refunds.get(page.deps, who, refund_id)
    return render.html(page, "refund.html", refund=view.refund, payment=view.payment,
                       steps=steps(view.refund), kinds=KIND_NAMES)
