"""Templates (Jinja2, autoescaped) rendered in the reader's language: `{% trans %}` and
`_()` look the message up in the page's own catalogue (not a process-wide one), so
concurrent requests in different languages never mix."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from corridor.platform.domain.errors import PlatformError
from corridor.platform.services import notifications
from corridor.web import i18n, labels, messages, staff_nav
from corridor.web.context import Page


@pass_context
def _gettext(context: Context, message: str) -> str:
    fmt: i18n.Formats = context["fmt"]
    return fmt.gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    fmt: i18n.Formats = context["fmt"]
    return i18n.translations(fmt.language).ngettext(singular, plural, n)


@functools.cache
def environment() -> Environment:
    env = Environment(loader=PackageLoader("corridor.web", "templates"),
                      autoescape=select_autoescape(default=True),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["label"] = _label
    env.globals["row_status"] = _row_status
    env.globals["chain_op"] = _chain_op
    env.globals["unread_notifications"] = _unread_notifications
    env.globals["staff_links"] = _staff_links
    return env


@pass_context
def _unread_notifications(context: Context) -> int:
    """The signed-in reader's unread notifications (the nav's badge)."""
    page: Page = context["page"]
    if page.principal is None:
        return 0
    return notifications.unread_count(page.deps, page.principal)


@pass_context
def _staff_links(context: Context) -> list[tuple[str, str]]:
    """The back-office areas the signed-in member of staff may open (templates/_staff_nav)."""
    page: Page = context["page"]
    return staff_nav.links(page.principal)


@pass_context
def _label(context: Context, table: str, value: str) -> str:
    return labels.label(context["fmt"], table, value)


@pass_context
def _row_status(context: Context, row_type: str, status: str) -> str:
    return labels.row_status(context["fmt"], row_type, status)


@pass_context
def _chain_op(context: Context, kind: str) -> str:
    return labels.chain_op(context["fmt"], kind)


def html(page: Page, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A page rendered with what every template may use (`page`, `fmt`, `csrf`, `user`,
    the languages and time zones the switcher offers)."""
    body = environment().get_template(template).render(
        page=page, fmt=page.fmt, csrf=page.csrf, user=page.user, path=page.request.url.path,
        languages=LANGUAGE_NAMES, zones=i18n.TIME_ZONES, **values)
    return HTMLResponse(body, status_code=status)


# Each language named in itself, as a switcher lists them.
LANGUAGE_NAMES = {"en": "English", "zh-Hans": "简体中文"}


def form(page: Page, template: str, exc: PlatformError | None = None, status: int = 200,
         **values: Any) -> HTMLResponse:
    """A form page, with a refusal shown as one summary at the top linking to each field
    that needs correcting (and each field's own message beside it)."""
    errors = messages.field_texts(page.fmt, exc.fields) if exc is not None else {}
    summary = messages.refusal_text(page.fmt, exc) if exc is not None else ""
    return html(page, template, exc.kind.http_status if exc is not None else status,
                errors=errors, summary=summary, **values)


def refusal(page: Page, exc: PlatformError) -> HTMLResponse:
    return html(page, "error.html", exc.kind.http_status,
                message=messages.refusal_text(page.fmt, exc), code=exc.code)


def steps(history: Sequence[Any]) -> list[tuple[str, int]]:
    """A record's history (payment, deposit or withdrawal steps) as the timeline's rows."""
    return [(step.status, step.at_ms) for step in history]
