"""The institution console: a customer's organisations (with their role in each) and a form
to create one; for each organisation an overview (name, role, wallets and balances per
currency, rename), its departments, members, wallets, webhooks and audit trail.

The same services as the API's /v1/orgs routes (services/orgs.py, wallets.py,
webhooks.py) and so the same permission checks, made by the services themselves: a
member whose role lacks the permission gets a refusal page saying so, a non-member the
same "nothing here" as for an organisation that does not exist. A page offers only the
forms the reader's role may use; the service checks again whatever is sent. Every
creating form carries an idempotency key made when it was shown (kept when the form is
shown again after a refusal), so a double click or a resent form creates once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import orgs as dom
from corridor.platform.domain.errors import Kind, PlatformError
from corridor.platform.domain.freezes import Freeze
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import GRANTABLE, OrgRole, Perm, org_allows
from corridor.platform.domain.wallets import OwnerType
from corridor.platform.domain.webhooks import URL_LEN_MAX
from corridor.platform.services import freezes, orgs, wallets, webhooks
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of
from corridor.web.messages import N_
from corridor.web.pages_money import balances

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
OrgId = Annotated[str, Path(max_length=64)]
ItemId = Annotated[str, Path(max_length=64)]
Text = Annotated[str, Form(max_length=400)]
Url = Annotated[str, Form(max_length=URL_LEN_MAX + 100)]
Offset = Annotated[int, Query(ge=0, le=dom.PAGE_OFFSET_MAX)]
AUDIT_PAGE_SIZE = 50

# What each section needs (the services check the same permissions).
SECTIONS: tuple[tuple[str, Perm], ...] = (
    ("departments", Perm.ORG_READ), ("members", Perm.ORG_READ),
    ("wallets", Perm.ORG_READ), ("webhooks", Perm.ORG_MANAGE), ("audit", Perm.ORG_AUDIT),
    ("reports", Perm.ORG_REPORTS),
    ("api-keys", Perm.ORG_MANAGE),  # pages_org_keys.py
    # approvals (issue 17, web/pages_approvals.py)
    ("approvals", Perm.ORG_READ), ("policy", Perm.ORG_READ), ("beneficiaries", Perm.ORG_READ),
    ("batches", Perm.ORG_READ))  # batch payments: pages_batches.py
REFUSED_FORBIDDEN = N_("Your role in this organisation does not allow this.")
KYC_FIRST = N_("Verify your own identity before creating an organisation.")
# The services' own words for this console's fields, in the catalogue so that a Chinese
# reader gets them too (messages.field_texts looks each field's message up).
SERVICE_WORDS = (N_("1 to 200 characters"), N_("1 to 100 characters"),
                 N_("an ISO 3166-1 alpha-2 country code, e.g. GB"),
                 N_("no such department in this organisation"))
# The audit trail's actions in words; an action not listed is shown as its code.
ACTIONS = {
    "org.create": N_("Organisation created"),
    "org.rename": N_("Organisation renamed"),
    "org.department.create": N_("Department created"),
    "org.department.delete": N_("Department deleted"),
    "org.member.add": N_("Member added"),
    "org.member.change": N_("Member's role or department changed"),
    "org.member.remove": N_("Member removed"),
    "org.member.leave": N_("Member left"),
    "org.suspend": N_("Suspended by the platform"),
    "org.unsuspend": N_("Reinstated by the platform"),
}


def _refused(page: Page, exc: PlatformError) -> Response:
    """A refusal page; a member whose role lacks the permission is told so in those
    words (the API's FORBIDDEN), not that their account may not open the page."""
    response = render.refusal(page, exc)
    if exc.kind is Kind.FORBIDDEN and page.principal is not None and not page.principal.is_staff:
        response = render.html(page, "error.html", 403, code=exc.code,
                               message=page.gettext(REFUSED_FORBIDDEN))
    return response


def _guarded(page: Page, show: Callable[..., Response], *args: Any) -> Response:
    """`show(page, *args)`, or the refusal page if the service refuses to show it."""
    try:
        return show(page, *args)
    except PlatformError as exc:
        return _refused(page, exc)


def _context(page: Page, who: Principal, org_id: str) -> dict[str, Any]:
    """What every page of one organisation shows: the organisation, the reader's role,
    what that role may do, and the sections it may open."""
    org, role = orgs.get_org(page.deps, who, org_id)
    can = {perm.name.lower(): org_allows(role, perm) for perm in Perm
           if perm.name.startswith(("ORG_", "PAY_"))}
    sections = [name for name, perm in SECTIONS if org_allows(role, perm)]
    return {"org": org, "role": role, "can": can, "sections": sections,
            "grantable": sorted(GRANTABLE.get(role, frozenset()),
                                key=list(OrgRole).index)}


def _form_error(exc: PlatformError) -> bool:
    """A refusal shown on the form it answers (bad input, a conflict such as a taken
    name); the rest (not allowed, not found) get a page of their own."""
    return exc.kind not in (Kind.FORBIDDEN, Kind.NOT_FOUND) or exc.code == "USER_NOT_FOUND"


def _fresh(values: Mapping[str, str], page: Page) -> dict[str, str]:
    return {**values, "key": page.form_key(values)}


# --- my organisations ------------------------------------------------------------------


def _list(page: Page, values: Mapping[str, str], exc: PlatformError | None = None) -> Response:
    who = page.customer()
    mine = orgs.list_my_orgs(page.deps, who)
    shown: dict[str, Any] = {"orgs": mine, "values": _fresh(values, page),
                             "countries": sorted(dom.COUNTRIES)}
    if exc is not None and exc.code == "KYC_REQUIRED":  # the portal's words are about paying
        return render.html(page, "org_list.html", exc.kind.http_status, errors={},
                           summary=page.gettext(KYC_FIRST), **shown)
    return render.form(page, "org_list.html", exc, **shown)


@router.get("/org", response_class=HTMLResponse)
def org_list(page: PageDep) -> Response:
    return _list(page, {"name": "", "country": ""})


@router.post("/org")
def org_create(page: PageDep, name: Text = "", country: Text = "", key: Text = "") -> Response:
    who = page.customer()
    values = {"name": name, "country": country, "key": key}
    try:
        org = orgs.create_org(page.deps, who, name=name, country=country,
                              idempotency_key=key or None)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        return _list(page, values, exc)
    return RedirectResponse(f"/org/{org.id}", status_code=303)


# --- overview --------------------------------------------------------------------------


def _overview(page: Page, org_id: str, values: Mapping[str, str],
              exc: PlatformError | None = None) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    views, reached = wallets.list_wallets(page.deps, who, org_id=org_id)
    return render.form(page, "org.html", exc, **ctx, wallets=views, balances=balances(views),
                       node_reachable=reached, frozen=_frozen(page, org_id),
                       values={"name": ctx["org"].name, **values})


@router.get("/org/{org_id}", response_class=HTMLResponse)
def org_overview(page: PageDep, org_id: OrgId) -> Response:
    return _guarded(page, _overview, org_id, {})


@router.post("/org/{org_id}/name")
def org_rename(page: PageDep, org_id: OrgId, name: Text = "") -> Response:
    who = page.customer()
    try:
        orgs.rename_org(page.deps, who, org_id, name=name)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        return _guarded(page, _overview, org_id, {"name": name}, exc)
    return RedirectResponse(f"/org/{org_id}", status_code=303)


# --- departments -----------------------------------------------------------------------


def _departments(page: Page, org_id: str, values: Mapping[str, str],
                 exc: PlatformError | None = None) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    found = orgs.list_departments(page.deps, who, org_id)
    return render.form(page, "org_departments.html", exc, **ctx, departments=found,
                       values=_fresh(values, page))


@router.get("/org/{org_id}/departments", response_class=HTMLResponse)
def department_list(page: PageDep, org_id: OrgId) -> Response:
    return _guarded(page, _departments, org_id, {"name": ""})


@router.post("/org/{org_id}/departments")
def department_create(page: PageDep, org_id: OrgId, name: Text = "",
                      key: Text = "") -> Response:
    who = page.customer()
    try:
        orgs.create_department(page.deps, who, org_id, name=name, idempotency_key=key or None)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        values = {"name": name, "key": key}
        return _guarded(page, _departments, org_id, values, exc)
    return RedirectResponse(f"/org/{org_id}/departments", status_code=303)


@router.post("/org/{org_id}/departments/{department_id}/delete")
def department_delete(page: PageDep, org_id: OrgId, department_id: ItemId) -> Response:
    who = page.customer()
    try:
        orgs.delete_department(page.deps, who, org_id, department_id)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        return _guarded(page, _departments, org_id, {"name": ""}, exc)
    return RedirectResponse(f"/org/{org_id}/departments", status_code=303)


# --- members ---------------------------------------------------------------------------


def _members(page: Page, org_id: str, values: Mapping[str, str], offset: int = 0,
             exc: PlatformError | None = None) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    found, total = orgs.list_members(page.deps, who, org_id, limit=dom.MEMBERS_PAGE_MAX,
                                     offset=offset)
    departments = orgs.list_departments(page.deps, who, org_id)
    return render.form(page, "org_members.html", exc, **ctx, members=found, total=total,
                       offset=offset, page_size=dom.MEMBERS_PAGE_MAX,
                       departments=departments, names={d.id: d.name for d in departments},
                       me=who.user_id, values=_fresh(values, page))


@router.get("/org/{org_id}/members", response_class=HTMLResponse)
def member_list(page: PageDep, org_id: OrgId, offset: Offset = 0) -> Response:
    blank = {"email": "", "role": OrgRole.VIEWER.value, "department_id": ""}
    return _guarded(page, _members, org_id, blank, offset)


@router.post("/org/{org_id}/members")
def member_add(page: PageDep, org_id: OrgId, email: Text = "", role: Text = "",
               department_id: Text = "", key: Text = "") -> Response:
    who = page.customer()
    try:
        orgs.add_member(page.deps, who, org_id, email=email, role=role,
                        department_id=department_id or None, idempotency_key=key or None)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        values = {"email": email, "role": role, "department_id": department_id, "key": key}
        return _guarded(page, _members, org_id, values, 0, exc)
    return RedirectResponse(f"/org/{org_id}/members", status_code=303)


@router.post("/org/{org_id}/members/{user_id}/change")
def member_change(page: PageDep, org_id: OrgId, user_id: ItemId, role: Text = "",
                  department_id: Text = "") -> Response:
    """Sets both the role and the department (an empty department: none), as shown."""
    who = page.customer()
    try:
        orgs.change_member(page.deps, who, org_id, user_id, role=role or None,
                           department_id=department_id or None)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        blank = {"email": "", "role": OrgRole.VIEWER.value, "department_id": ""}
        return _guarded(page, _members, org_id, blank, 0, exc)
    return RedirectResponse(f"/org/{org_id}/members", status_code=303)


@router.post("/org/{org_id}/members/{user_id}/remove")
def member_remove(page: PageDep, org_id: OrgId, user_id: ItemId) -> Response:
    """Removes a member, or (one's own row) leaves the organisation."""
    who = page.customer()
    try:
        orgs.remove_member(page.deps, who, org_id, user_id)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        blank = {"email": "", "role": OrgRole.VIEWER.value, "department_id": ""}
        return _guarded(page, _members, org_id, blank, 0, exc)
    return RedirectResponse("/org" if user_id == who.user_id else f"/org/{org_id}/members",
                            status_code=303)


# --- wallets ---------------------------------------------------------------------------


def _wallets(page: Page, org_id: str, values: Mapping[str, str],
             exc: PlatformError | None = None) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    views, reached = wallets.list_wallets(page.deps, who, org_id=org_id)
    return render.form(page, "org_wallets.html", exc, **ctx, wallets=views,
                       node_reachable=reached, values=_fresh(values, page),
                       frozen=_frozen(page, org_id))


def _frozen(page: Page, org_id: str) -> Freeze | None:
    """The organisation's compliance freeze, if any (its wallets' cards say so)."""
    return freezes.state_of(page.deps, OwnerType.ORG, org_id)


@router.get("/org/{org_id}/wallets", response_class=HTMLResponse)
def wallet_list(page: PageDep, org_id: OrgId) -> Response:
    return _guarded(page, _wallets, org_id, {"label": ""})


@router.post("/org/{org_id}/wallets")
def wallet_create(page: PageDep, org_id: OrgId, label: Text = "", key: Text = "") -> Response:
    who = page.customer()
    try:
        wallets.create_org_wallet(page.deps, who, org_id, label, idempotency_key=key or None)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        values = {"label": label, "key": key}
        return _guarded(page, _wallets, org_id, values, exc)
    return RedirectResponse(f"/org/{org_id}/wallets", status_code=303)


# --- webhooks --------------------------------------------------------------------------


def _webhooks(page: Page, org_id: str, values: Mapping[str, str],
              exc: PlatformError | None = None, secret: str = "",
              rotated: bool = False) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    found = webhooks.endpoints(page.deps, who, org_id)
    # each endpoint's "new signing secret" form has its own idempotency key
    # (pages_org_keys.webhook_rotate_secret)
    return render.form(page, "org_webhooks.html", exc, **ctx, endpoints=found, secret=secret,
                       values=_fresh(values, page), rotated=rotated,
                       rotate_keys={e.id: page.deps.rand.token() for e in found})


@router.get("/org/{org_id}/webhooks", response_class=HTMLResponse)
def webhook_list(page: PageDep, org_id: OrgId) -> Response:
    return _guarded(page, _webhooks, org_id, {"url": "", "events": ""})


@router.post("/org/{org_id}/webhooks")
def webhook_create(page: PageDep, org_id: OrgId, url: Url = "", key: Text = "",
                   events: Text = "") -> Response:
    """The signing secret is shown on the answer to this form only (never stored in clear
    in a page that can be reloaded): the answer is the page itself, not a redirect. A
    resent form is the same registration, and shows the same secret. `events`: the
    subscription filter, separated by commas or spaces (empty: every event)."""
    who = page.customer()
    try:
        _endpoint, secret = webhooks.register(page.deps, who, org_id, url,
                                             idempotency_key=key or None,
                                             events=events.replace(",", " ").split())
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        values = {"url": url, "key": key, "events": events}
        return _guarded(page, _webhooks, org_id, values, exc)
    return _guarded(page, _webhooks, org_id, {"url": "", "events": ""}, None, secret)


# --- audit trail -----------------------------------------------------------------------


def _audit(page: Page, org_id: str, offset: int) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    entries = orgs.org_audit(page.deps, who, org_id, limit=AUDIT_PAGE_SIZE + 1, offset=offset)
    # Actors named as the member list names them (a former member keeps their id).
    members, _total = orgs.list_members(page.deps, who, org_id, limit=dom.MEMBERS_PAGE_MAX)
    names = {m.membership.user_id: m.name for m in members}
    return render.html(page, "org_audit.html", **ctx, entries=entries[:AUDIT_PAGE_SIZE],
                       more=len(entries) > AUDIT_PAGE_SIZE, offset=offset,
                       page_size=AUDIT_PAGE_SIZE, actions=ACTIONS, names=names)


@router.get("/org/{org_id}/audit", response_class=HTMLResponse)
def audit_trail(page: PageDep, org_id: OrgId, offset: Offset = 0) -> Response:
    return _guarded(page, _audit, org_id, offset)
