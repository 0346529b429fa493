"""Staff administration for admins (staff.manage): the staff list, a new account with a
role, a change of role and disabling an account, through the same service as the API's
/v1/staff/users routes (which audits every change and refuses an admin demoting or
disabling themselves). The form asks for no password: the page makes a one-time initial
password, shown once on the answer and never stored in clear, which the new member of
staff changes after signing in (their e-mail address is verified, so sign-in codes reach
them). A resent form makes no second account: the e-mail address is then taken."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain import identity as idn
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.roles import Perm, StaffRole
from corridor.platform.services import staff
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Id = Annotated[str, Path(max_length=64)]
Short = Annotated[str, Form(max_length=64)]
PAGE_SIZE = 50


def _list(page: Page, values: dict[str, str], exc: PlatformError | None = None,
          offset: int = 0, created: tuple[str, str] | None = None) -> Response:
    who = page.staff(Perm.STAFF_MANAGE)
    found = staff.list_staff(page.deps, who, limit=PAGE_SIZE + 1, offset=offset)
    # The add form carries an idempotency key made when it is shown (kept when it is shown
    # again after a refusal), so a resent form makes one account.
    values = {**values, "key": page.form_key(values)}
    return render.form(page, "staff_admin.html", exc, people=found[:PAGE_SIZE],
                       more=len(found) > PAGE_SIZE, offset=offset, page_size=PAGE_SIZE,
                       values=values, roles=[r.value for r in StaffRole], me=who.user_id,
                       created=created)


@router.get("/staff/admin", response_class=HTMLResponse)
def staff_list(page: PageDep,
               offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> Response:
    page.staff(Perm.STAFF_MANAGE)
    return _list(page, {"email": "", "name": "", "role": ""}, offset=offset)


@router.post("/staff/admin", response_class=HTMLResponse)
def staff_create(page: PageDep, email: Annotated[str, Form(max_length=320)] = "",
                 name: Annotated[str, Form(max_length=idn.NAME_LEN_MAX)] = "",
                 role: Short = "", key: Short = "") -> Response:
    who = page.staff(Perm.STAFF_MANAGE)
    values = {"email": email, "name": name, "role": role, "key": key}
    initial = page.deps.rand.token()  # 256 bits: strong, shown once below
    try:
        user = staff.create_staff(page.deps, who, email=email, name=name, password=initial,
                                  role=role, idempotency_key=key or None)
    except PlatformError as exc:
        return _list(page, values, exc)
    if not page.deps.hasher.verify(user.password_hash, initial):
        # A resent form: the account was made by the first submission, whose answer
        # showed its initial password; this one was never set, so it is not shown.
        return _list(page, {"email": "", "name": "", "role": ""}, created=(user.email or email, ""))
    return _list(page, {"email": "", "name": "", "role": ""},
                 created=(user.email or email, initial))


@router.post("/staff/admin/{user_id}/role")
def staff_role(page: PageDep, user_id: Id, role: Short = "") -> Response:
    who = page.staff(Perm.STAFF_MANAGE)
    staff.change_staff_role(page.deps, who, user_id, role=role)
    return RedirectResponse("/staff/admin", status_code=303)


@router.get("/staff/admin/{user_id}/disable", response_class=HTMLResponse)
def staff_disable_confirm(page: PageDep, user_id: Id) -> Response:
    """Disabling cannot be undone from the back office: the list's button leads here, and
    this page's form disables."""
    who = page.staff(Perm.STAFF_MANAGE)
    person = staff.get_staff(page.deps, who, user_id)
    return render.html(page, "staff_admin_disable.html", person=person)


@router.post("/staff/admin/{user_id}/disable")
def staff_disable(page: PageDep, user_id: Id) -> Response:
    who = page.staff(Perm.STAFF_MANAGE)
    staff.disable_staff(page.deps, who, user_id)
    return RedirectResponse("/staff/admin", status_code=303)
