"""A forgotten password: a code to the verified address named, then a new password with
that code and, for an account with an authenticator, its code or a recovery code too (two
factors, as for sign-in). The same services as POST /v1/auth/recover and
/v1/auth/recover/reset, under the same rate limits."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from corridor.platform.domain.errors import PlatformError
from corridor.platform.services import security
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of
from corridor.web.pages_auth import limit, required

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Text = Annotated[str, Form(max_length=400)]


@router.get("/recover", response_class=HTMLResponse)
def recover_form(page: PageDep) -> Response:
    return render.form(page, "recover.html", values={})


@router.post("/recover")
def recover(page: PageDep, identifier: Text = "") -> Response:
    """The answer is the same whether or not the address has an account."""
    try:
        limit(page, identifier)
        required({"identifier": identifier})
        security.recovery_start(page.deps, identifier)
    except PlatformError as exc:
        return render.form(page, "recover.html", exc, values={"identifier": identifier})
    return RedirectResponse("/recover/reset?" + urlencode({"identifier": identifier}),
                            status_code=303)


@router.get("/recover/reset", response_class=HTMLResponse)
def reset_form(page: PageDep,
               identifier: Annotated[str, Query(max_length=320)] = "") -> Response:
    return render.form(page, "recover_reset.html", values={"identifier": identifier})


@router.post("/recover/reset")
def reset(page: PageDep, identifier: Text = "", code: Text = "", new_password: Text = "",
          totp_code: Text = "", recovery_code: Text = "") -> Response:
    values = {"identifier": identifier}
    try:
        limit(page, identifier)
        required({"identifier": identifier, "code": code, "new_password": new_password})
        security.recovery_finish(page.deps, identifier, code.strip(), new_password,
                                 page.origin, totp_code=totp_code.strip() or None,
                                 recovery_code=recovery_code.strip() or None)
    except PlatformError as exc:
        return render.form(page, "recover_reset.html", exc, values=values)
    return RedirectResponse("/signin?note=password_reset", status_code=303)
