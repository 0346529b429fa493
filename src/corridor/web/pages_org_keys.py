"""The institution console's integration pages (issue 17): an organisation's API keys
(create with scopes, allowlist and expiry; the token shown once; rotate with an overlap;
revoke; each key's audited uses) and each webhook's delivery log with redelivery by hand.

The same services as the API (services/apikeys.py, webhooks.py) and so the same checks:
owners and admins (Perm.ORG_MANAGE) only. A token is shown on the answer to the form that
made it, never on a page that can be reloaded (it is stored nowhere)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import apikeys as dom
from corridor.platform.domain.apikeys import Scope
from corridor.platform.domain.errors import PlatformError
from corridor.platform.services import apikeys, webhooks
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of
from corridor.web.messages import N_
from corridor.web.pages_org import (
    _context,
    _form_error,
    _fresh,
    _guarded,
    _refused,
    _webhooks,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
OrgId = Annotated[str, Path(max_length=64)]
ItemId = Annotated[str, Path(max_length=64)]
Text = Annotated[str, Form(max_length=400)]
LongText = Annotated[str, Form(max_length=2000)]
Scopes = Annotated[list[str], Form()]
USES_SHOWN = 50
DELIVERIES_SHOWN = 50
# The services' own words for these forms' fields, in the catalogue for Chinese readers.
SERVICE_WORDS = (N_("1 to 100 characters"),
                 N_("at least one of: read, pay-initiate"),
                 N_("only read and pay-initiate: approvals are made by people"),
                 N_("1 to 366 days"), N_("0 to 168 hours"),
                 N_("at most 20 networks"))
STATES = {"active": N_("Active"), "rotating": N_("Replaced (still valid)"),
          "expired": N_("Expired"), "revoked": N_("Revoked")}
SCOPES = {Scope.READ.value: N_("Read the organisation and its payments"),
          Scope.PAY_INITIATE.value: N_("Start payments (approvals stay with people)")}
DELIVERY_STATES = {"pending": N_("Waiting to be sent"), "delivered": N_("Delivered"),
                   "failed": N_("Failed")}


def _int(text: str, default: int) -> int:
    """A whole number typed in a form; anything else becomes -1, which the service's own
    range check then refuses with its message (one road for bad input)."""
    text = text.strip()
    if not text:
        return default
    return int(text) if text.isdigit() and len(text) < 6 else -1


# --- API keys ---------------------------------------------------------------------------


def _keys(page: Page, org_id: str, values: Mapping[str, Any],
          exc: PlatformError | None = None, issued: apikeys.Issued | None = None) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    found = apikeys.list_keys(page.deps, who, org_id)
    return render.form(page, "org_api_keys.html", exc, **ctx, keys=found, issued=issued,
                       now_ms=page.deps.clock.now_ms(), state_of=dom.state, states=STATES,
                       scopes=SCOPES, values=_fresh(values, page),
                       rotate_keys={k.id: page.deps.rand.token() for k in found})


BLANK = {"name": "", "scopes": (), "allowlist": "",
         "expires_in_days": str(dom.EXPIRY_DAYS_DEFAULT)}


@router.get("/org/{org_id}/api-keys", response_class=HTMLResponse)
def key_list(page: PageDep, org_id: OrgId) -> Response:
    return _guarded(page, _keys, org_id, BLANK)


@router.post("/org/{org_id}/api-keys")
def key_create(page: PageDep, org_id: OrgId, name: Text = "", scopes: Scopes | None = None,
               allowlist: LongText = "", expires_in_days: Text = "",
               key: Text = "") -> Response:
    """The answer is the page itself with the token (not a redirect to a page that could
    be reloaded); a resent form is the same key, without its token."""
    who = page.customer()
    values = {"name": name, "scopes": tuple(scopes or ()), "allowlist": allowlist,
              "expires_in_days": expires_in_days, "key": key}
    try:
        issued = apikeys.create(page.deps, who, org_id, name=name, scopes=scopes or [],
                                allowlist=allowlist.replace(",", "\n").splitlines(),
                                expires_in_days=_int(expires_in_days,
                                                     dom.EXPIRY_DAYS_DEFAULT),
                                idempotency_key=key or None)
    except PlatformError as exc:
        if not _form_error(exc) and exc.code != "API_KEY_SCOPE":
            return _refused(page, exc)
        return _guarded(page, _keys, org_id, values, exc)
    return _guarded(page, _keys, org_id, BLANK, None, issued)


@router.post("/org/{org_id}/api-keys/{key_id}/rotate")
def key_rotate(page: PageDep, org_id: OrgId, key_id: ItemId, overlap_hours: Text = "",
               key: Text = "") -> Response:
    who = page.customer()
    try:
        issued = apikeys.rotate(page.deps, who, org_id, key_id,
                                overlap_hours=_int(overlap_hours, dom.OVERLAP_HOURS_DEFAULT),
                                idempotency_key=key or None)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        return _guarded(page, _keys, org_id, BLANK, exc)
    return _guarded(page, _keys, org_id, BLANK, None, issued)


@router.post("/org/{org_id}/api-keys/{key_id}/revoke")
def key_revoke(page: PageDep, org_id: OrgId, key_id: ItemId) -> Response:
    who = page.customer()
    try:
        apikeys.revoke(page.deps, who, org_id, key_id)
    except PlatformError as exc:
        return _refused(page, exc)
    return RedirectResponse(f"/org/{org_id}/api-keys", status_code=303)


def _key_uses(page: Page, org_id: str, key_id: str) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    k = apikeys.get_key(page.deps, who, org_id, key_id)
    used = apikeys.uses(page.deps, who, org_id, key_id, limit=USES_SHOWN)
    return render.html(page, "org_api_key.html", **ctx, key=k, uses=used, states=STATES,
                       state=dom.state(k, page.deps.clock.now_ms()), scopes=SCOPES)


@router.get("/org/{org_id}/api-keys/{key_id}", response_class=HTMLResponse)
def key_detail(page: PageDep, org_id: OrgId, key_id: ItemId) -> Response:
    return _guarded(page, _key_uses, org_id, key_id)


# --- webhook deliveries -----------------------------------------------------------------


def _deliveries(page: Page, org_id: str, endpoint_id: str, open_id: str = "") -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    endpoint = next((e for e in webhooks.endpoints(page.deps, who, org_id)
                     if e.id == endpoint_id), None)
    found = webhooks.deliveries(page.deps, who, org_id, endpoint_id, limit=DELIVERIES_SHOWN)
    logs = {d.id: webhooks.delivery_log(page.deps, who, org_id, endpoint_id, d.id)[1]
            for d in found[:10]}  # the ten newest with their attempts
    return render.html(page, "org_webhook_deliveries.html", **ctx, endpoint=endpoint,
                       deliveries=found, logs=logs, delivery_states=DELIVERY_STATES,
                       redelivered=open_id)


@router.get("/org/{org_id}/webhooks/{endpoint_id}/deliveries", response_class=HTMLResponse)
def delivery_list(page: PageDep, org_id: OrgId, endpoint_id: ItemId) -> Response:
    return _guarded(page, _deliveries, org_id, endpoint_id)


@router.post("/org/{org_id}/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")
def delivery_redeliver(page: PageDep, org_id: OrgId, endpoint_id: ItemId,
                       delivery_id: ItemId) -> Response:
    """Queues the delivery again (the same event id); resending the form queues it once."""
    who = page.customer()
    try:
        webhooks.redeliver(page.deps, who, org_id, endpoint_id, delivery_id)
    except PlatformError as exc:
        return _refused(page, exc)
    return _guarded(page, _deliveries, org_id, endpoint_id, delivery_id)


@router.post("/org/{org_id}/webhooks/{endpoint_id}/rotate-secret")
def webhook_rotate_secret(page: PageDep, org_id: OrgId, endpoint_id: ItemId,
                          key: Text = "") -> Response:
    """A new signing secret, shown on the answer (the webhooks page); the previous one
    also signs for the default overlap (24 hours). A resent form rotates once."""
    who = page.customer()
    try:
        _endpoint, secret = webhooks.rotate_secret(page.deps, who, org_id, endpoint_id,
                                                   idempotency_key=key or None)
    except PlatformError as exc:
        return _refused(page, exc)
    return _guarded(page, _webhooks, org_id, {"url": "", "events": ""}, None, secret, True)
