"""Identity verification (KYC) as its customer sees it and does it: the state, the level
granted, and a form for the level chosen with every field it needs, the documents to
upload, and what is missing or was not accepted with our team's reason. The same services
as GET and PUT /v1/kyc/customer and POST /v1/kyc/files (documents: the same types and
size limit, checked by their bytes).

A value already provided is never echoed back (the page says "provided"). Nothing is
stored unless the whole form is acceptable: every needed field is checked for presence,
the answers and the documents are checked before the first document is stored, so a
refused form leaves no orphan upload behind it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from corridor.platform.domain import kyc as kyc_domain
from corridor.platform.domain.errors import PlatformError, Problems
from corridor.platform.domain.kyc import FieldStatus, SubjectType
from corridor.platform.domain.kyc_fields import ID_TYPES, PHOTO_FIELDS
from corridor.platform.services import kyc
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of
from corridor.web.messages import N_

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
TEXT_LEN_MAX = 600  # longer than any field allows (an address: 500); the service says why
# Fields to show again: never provided, or marked by our team for sending again.
TO_PROVIDE = frozenset({FieldStatus.NOT_PROVIDED, FieldStatus.REJECTED,
                        FieldStatus.VERIFICATION_REQUIRED})
DATE_FIELDS = frozenset({"birth_date", "id_issue_date", "id_expiration_date"})
ID_TYPE_NAMES = {"passport": N_("Passport"), "id_card": N_("Identity card"),
                 "drivers_license": N_("Driving licence")}
TIER_NAMES = {1: N_("Basic: up to $1,000 a payment, USD and EUR"),
              2: N_("Full: up to $50,000 a payment, every currency")}
REQUIRED = N_("The level you chose needs this.")
WRONG_FILE = N_("Upload a JPEG, PNG or PDF file.")
TOO_LARGE = N_("The file is too large.")
# The form sends every document at once: its body may hold one upload per document.
DOCUMENTS_MAX = len(PHOTO_FIELDS & set(kyc_domain.fields_of(SubjectType.USER)))
FORM_UPLOADS = {"/verification": DOCUMENTS_MAX}
assert set(ID_TYPE_NAMES) == set(ID_TYPES)
assert set(TIER_NAMES) == set(kyc_domain.tiers_for(SubjectType.USER))


def _tier(view: kyc.KycView, asked: int | None) -> int:
    if asked in TIER_NAMES:
        return asked
    return view.record.requested_tier if view.record else kyc_domain.default_tier(
        SubjectType.USER)


def _page(page: Page, asked: int | None, exc: PlatformError | None = None,
          typed: dict[str, str] | None = None) -> Response:
    """The state and the form; after a refusal, the form keeps what was just typed (not
    stored, so not "provided"; a browser cannot refill a file input)."""
    who = page.customer()
    view = kyc.get_customer(page.deps, who)
    tier = _tier(view, asked)
    fields = view.fields
    asks = [(name, fields.get(name, {}).get("status", FieldStatus.NOT_PROVIDED))
            for name in kyc_domain.TIERS[tier].required_fields]
    missing = [name for name, f in fields.items()
               if f["required"] and f["status"] in TO_PROVIDE]
    closed = view.record is not None and view.record.status == kyc_domain.KycStatus.REJECTED
    return render.form(page, "verification.html", exc, record=view.record, fields=fields,
                       missing=missing, tier=tier, tiers=TIER_NAMES, asks=asks,
                       to_provide=TO_PROVIDE, photos=PHOTO_FIELDS, dates=DATE_FIELDS,
                       id_types=ID_TYPE_NAMES, closed=closed, typed=typed or {})


@router.get("/verification", response_class=HTMLResponse)
def verification(page: PageDep,
                 tier: Annotated[int | None, Query(ge=0, le=9)] = None) -> Response:
    return _page(page, tier)


@router.post("/verification")
async def submit(page: PageDep, request: Request) -> Response:
    form = await request.form()  # parsed once (PageRoute read it for the CSRF token)
    return await run_in_threadpool(_submit, page, form)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip()[:TEXT_LEN_MAX] if isinstance(value, str) else ""


def _submit(page: Page, form: FormData) -> Response:
    who = page.customer()
    asked = int(_text(form, "tier")) if _text(form, "tier").isdigit() else None
    try:
        tier = asked if asked in TIER_NAMES else 0
        changes, documents = _checked(page, form, tier)
        for name, (data, content_type) in documents.items():
            changes[name] = kyc.upload_file(page.deps, who, data, content_type).id
        kyc.put_customer(page.deps, who, changes, tier)
    except PlatformError as exc:
        typed = {name: _text(form, name) for name in kyc_domain.fields_of(SubjectType.USER)
                 if name not in PHOTO_FIELDS}
        return _page(page, asked, exc, typed)
    return RedirectResponse("/verification", status_code=303)


def _checked(page: Page, form: FormData,
             tier: int) -> tuple[dict[str, object], dict[str, tuple[bytes, str]]]:
    """The answers and documents sent, after checking that every field the level needs
    is sent or already provided, each answer is acceptable and each document is a JPEG,
    PNG or PDF within the size limit; else INVALID_FIELDS naming every problem."""
    problems = Problems()
    if tier not in TIER_NAMES:
        problems.add("tier", N_("Choose a level."))
        problems.raise_if_any()
    view = kyc.get_customer(page.deps, page.customer())
    if view.record is not None:
        kyc_domain.check_open(view.record)  # a closed record: refused before any upload
    changes: dict[str, object] = {}
    documents: dict[str, tuple[bytes, str]] = {}
    for name in kyc_domain.fields_of(SubjectType.USER):
        if name in PHOTO_FIELDS:
            document = _document(page, form.get(name), name, problems)
            if document is not None:
                documents[name] = document
        elif _text(form, name):
            changes[name] = _text(form, name)
    fields = view.fields
    for name in kyc_domain.TIERS[tier].required_fields:
        provided = name in fields and fields[name]["status"] not in TO_PROVIDE
        if name not in changes and name not in documents and not provided:
            problems.add(name, REQUIRED)
    today = kyc_domain.today_of(page.deps.clock.now_ms())
    norm = kyc_domain.normalise(SubjectType.USER, changes, today=today,
                                owned_files=frozenset(), problems=problems)
    kyc_domain.cross_check(kyc_domain.merge(view.values, norm), problems)
    problems.raise_if_any()
    return changes, documents


def _document(page: Page, sent: Any, name: str,
              problems: Problems) -> tuple[bytes, str] | None:
    """A document as POST /v1/kyc/files takes it, or None when none was chosen."""
    if not isinstance(sent, UploadFile) or not sent.filename:
        return None
    size_max: int = page.deps.settings.upload_bytes_max
    data = sent.file.read(size_max + 1)  # one byte past the limit says it is too large
    content_type = sent.content_type or ""
    if not data:
        return None  # an empty choice: as if none was chosen
    if len(data) > size_max:
        problems.add(name, TOO_LARGE)
        return None
    try:
        kyc_domain.file_kind(data, content_type)
    except PlatformError:
        problems.add(name, WRONG_FILE)
        return None
    return data, content_type
