"""The institution console's approval pages (issue 17): the approvals queue with approve and
reject, one approval with who decided when, the policy editor (a fieldset per rule and per
group, every problem shown at once beside its field), the beneficiary book (add; propose
new bank details, which another member approves), and, on a payment's page, its approval
timeline and the payer's consent to a re-quote.

The same services as the API (services/approvals.py, beneficiaries.py) and so the same
checks, made by the services: maker != checker, one decision per person, the roles. Every
form carries the CSRF token and an idempotency key made when it was shown."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from corridor.platform.domain import approvals as dom
from corridor.platform.domain import money
from corridor.platform.domain.errors import Err, Kind, PlatformError, Problems
from corridor.platform.domain.roles import OrgRole
from corridor.platform.services import approvals, beneficiaries, orgs
from corridor.web import render
from corridor.web.context import Page, PageRoute, page_of
from corridor.web.messages import N_
from corridor.web.pages_org import _context, _form_error, _guarded, _refused

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PageDep = Annotated[Page, Depends(page_of)]
Id = Annotated[str, Path(max_length=64)]
Text = Annotated[str, Form(max_length=600)]
StateQuery = Annotated[str, Query(max_length=24)]
HOUR_MS = 3_600_000
EXTRA_RULES = 2  # blank rule fieldsets the editor offers beyond the saved rules
EXTRA_GROUPS = 1
FIELD_LEN_MAX = 600

# The validation words of domain/approvals.py, in the catalogue (tests/web check both
# lists agree), so a Chinese reader reads each problem in Chinese.
POLICY_WORDS = (
    N_("a name of 1 to 64 printable characters"), N_("give members or a role, not both"),
    N_("one of the organisation's roles"), N_("no member holds this role"),
    N_("a group needs members (or a role)"), N_("at most 100 members"),
    N_("a member is listed twice"), N_("not all are members of the organisation"),
    N_("zero or more"), N_("must be above the minimum"), N_("an unknown currency"),
    N_("one of user, address, external"), N_("not departments of the organisation"),
    N_("an approval rule needs at least one level"), N_("only an approval rule has levels"),
    N_("at most 5 levels"), N_("no such group"), N_("at least 1"),
    N_("more approvals than the group has members"), N_("at least the default rule"),
    N_("at most 50 rules"), N_("at most 20 groups"), N_("two groups have the same name"),
    N_("unreachable: an earlier rule takes every payment it would"),
    N_("the last rule is the default: it must have no conditions"),
    N_("between one minute and 30 days"), N_("0 to 10000 basis points"), N_("0 to 30 days"),
    N_("a list of rules"), N_("not a valid rule"), N_("a list of groups"),
    N_("a group: a name, and members (user ids) or a role"), N_("a whole number"),
)
LEVELS_FORMAT = N_("levels as group:number, in order, e.g. heads:1, finance:2")
AMOUNT_FORMAT = N_("an amount in US dollars, such as 500.00")
HOURS_FORMAT = N_("a whole number of hours")
SAVED = N_("The policy is saved as version %(version)s.")


def _ms_hours(ms: int) -> str:
    return str(ms // HOUR_MS) if ms % HOUR_MS == 0 else f"{ms / HOUR_MS:.2f}"


# --- a payment's approval (on the payment's page) -----------------------------------------


@router.post("/payments/{payment_id}/requote-consent")
def requote_consent(page: PageDep, payment_id: Id, accept: Text = "",
                    key: Text = "") -> Response:
    who = page.customer()
    try:
        approvals.consent(page.deps, who, "payment", payment_id, accept=accept == "yes",
                          idempotency_key=key or None)
    except PlatformError as exc:
        return render.refusal(page, exc)
    return RedirectResponse(f"/payments/{payment_id}", status_code=303)


# --- the queue and one approval ---------------------------------------------------------------


def _queue(page: Page, org_id: str, state: str) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    views = approvals.queue(page.deps, who, org_id, state=state or None)
    return render.html(page, "org_approvals.html", **ctx, views=views, state=state,
                       states=[s.value for s in dom.ApprovalState],
                       key=page.form_key({}))


@router.get("/org/{org_id}/approvals", response_class=HTMLResponse)
def approval_queue(page: PageDep, org_id: Id, state: StateQuery = "pending") -> Response:
    return _guarded(page, _queue, org_id, state)


def _one(page: Page, org_id: str, approval_id: str, exc: PlatformError | None = None,
         values: Mapping[str, str] | None = None) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    view = approvals.get(page.deps, who, approval_id)
    if view.approval.org_id != org_id:
        raise PlatformError(Err.NOT_FOUND, "no such approval")
    shown = dict(values or {"note": ""})
    return render.form(page, "org_approval.html", exc, **ctx, view=view,
                       values={**shown, "key": page.form_key(shown)})


@router.get("/org/{org_id}/approvals/{approval_id}", response_class=HTMLResponse)
def approval_page(page: PageDep, org_id: Id, approval_id: Id) -> Response:
    return _guarded(page, _one, org_id, approval_id)


@router.get("/approvals/{approval_id}")
def approval_link(page: PageDep, approval_id: Id) -> Response:
    """Where a notification links: the approval in its organisation's console."""
    try:
        view = approvals.get(page.deps, page.customer(), approval_id)
    except PlatformError as exc:
        return render.refusal(page, exc)
    return RedirectResponse(f"/org/{view.approval.org_id}/approvals/{approval_id}",
                            status_code=303)


@router.post("/org/{org_id}/approvals/{approval_id}/decide")
def approval_decide(page: PageDep, org_id: Id, approval_id: Id, decision: Text = "",
                    note: Text = "", key: Text = "") -> Response:
    who = page.customer()
    try:
        approvals.decide_by_id(page.deps, who, approval_id, decision, note=note,
                               idempotency_key=key or None)
    except PlatformError as exc:
        if exc.kind is Kind.NOT_FOUND:
            return _refused(page, exc)
        return _guarded(page, _one, org_id, approval_id, exc, {"note": note, "key": key})
    return RedirectResponse(f"/org/{org_id}/approvals/{approval_id}", status_code=303)


# --- the policy editor --------------------------------------------------------------------------


def _policy_values(p: dom.Policy) -> dict[str, Any]:
    """The saved policy as the editor's field values."""
    values: dict[str, Any] = {
        "approval_ttl_h": _ms_hours(p.approval_ttl_ms), "tolerance_bp": str(p.tolerance_bp),
        "cooling_off_h": _ms_hours(p.cooling_off_ms)}
    for i, g in enumerate(p.groups):
        values[f"group-{i}-name"] = g.name
        values[f"group-{i}-role"] = g.role or ""
        values[f"group-{i}-members"] = list(g.members)
    for i, r in enumerate(p.rules):
        values.update(_rule_values(i, r))
    return values


def _rule_values(i: int, r: dom.Rule) -> dict[str, Any]:
    def major(minor: int | None) -> str:
        return "" if minor is None else money.format_minor(minor, dom.REFERENCE)
    return {f"rule-{i}-action": r.action.value, f"rule-{i}-usd_min": major(r.usd_min_minor),
            f"rule-{i}-usd_max": major(r.usd_max_minor),
            f"rule-{i}-currencies": list(r.currencies),
            f"rule-{i}-recipient_type": r.recipient_types[0] if r.recipient_types else "",
            f"rule-{i}-beneficiary": r.beneficiary.value if r.beneficiary else "",
            f"rule-{i}-department": r.departments[0] if r.departments else "",
            f"rule-{i}-initiator": r.initiators[0] if r.initiators else "",
            f"rule-{i}-levels": ", ".join(f"{lv.group}:{lv.required}" for lv in r.levels)}


def _count(values: Mapping[str, Any], prefix: str) -> int:
    found = [int(k.split("-")[1]) for k in values
             if k.startswith(prefix) and k.split("-")[1].isdigit()]
    return max(found, default=-1) + 1


def _policy(page: Page, org_id: str, values: Mapping[str, Any] | None = None,
            exc: PlatformError | None = None, saved: int | None = None) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    current = approvals.get_policy(page.deps, who, org_id)
    shown = dict(values) if values is not None else _policy_values(current)
    members, _total = orgs.list_members(page.deps, who, org_id, limit=200)
    departments = orgs.list_departments(page.deps, who, org_id)
    rules_n = min(_count(shown, "rule-") + EXTRA_RULES, dom.RULES_MAX)
    groups_n = min(_count(shown, "group-") + EXTRA_GROUPS, dom.GROUPS_MAX)
    return render.form(page, "org_policy.html", exc, **ctx, policy=current, values=shown,
                       rules_n=rules_n, groups_n=groups_n, members=members,
                       departments=departments, currencies=money.CURRENCIES,
                       roles=[r.value for r in OrgRole], saved=saved,
                       recipient_types=dom.RECIPIENT_TYPES,
                       actions=[a.value for a in dom.Action])


@router.get("/org/{org_id}/policy", response_class=HTMLResponse)
def policy_page(page: PageDep, org_id: Id, saved: Annotated[int | None, Query(ge=1)] = None
                ) -> Response:
    return _guarded(page, _policy, org_id, None, None, saved)


@router.post("/org/{org_id}/policy")
async def policy_save(page: PageDep, org_id: Id, request: Request) -> Response:
    form = await request.form()  # parsed once (PageRoute read it for the CSRF token)
    return await run_in_threadpool(_save, page, org_id, form)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip()[:FIELD_LEN_MAX] if isinstance(value, str) else ""


def _texts(form: FormData, name: str) -> list[str]:
    return [v[:FIELD_LEN_MAX] for v in form.getlist(name) if isinstance(v, str) and v][:200]


def _form_values(form: FormData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in {k for k in form if k.startswith(("rule-", "group-"))}:
        multi = name.endswith(("-members", "-currencies"))
        out[name] = _texts(form, name) if multi else _text(form, name)
    for name in ("approval_ttl_h", "tolerance_bp", "cooling_off_h"):
        out[name] = _text(form, name)
    return out


def _levels(text: str) -> list[dict[str, object]] | None:
    out: list[dict[str, object]] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        group, sep, number = part.rpartition(":")
        if not sep or not group.strip() or not number.strip().isdigit():
            return None
        out.append({"group": group.strip(), "required": int(number)})
    return out


def _whole(text: str, scale: int, field: str, problems: Problems) -> int | None:
    try:
        return int(Decimal(text) * scale) if text else None
    except (InvalidOperation, ValueError, OverflowError):
        problems.add(field, HOURS_FORMAT)
        return None


def _document(values: Mapping[str, Any], problems: Problems) -> tuple[dict[str, Any],
                                                                         list[int], list[int]]:
    """The API's policy document from the editor's values, and which fieldset each rule
    and group came from (a fieldset without an action, or a group without a name, is
    left out)."""
    rules, rule_rows, groups, group_rows = [], [], [], []
    for i in range(_count(values, "group-")):
        name = values.get(f"group-{i}-name", "")
        if not name:
            continue
        role = values.get(f"group-{i}-role") or None
        groups.append({"name": name, "role": role,
                       "members": [] if role else list(values.get(f"group-{i}-members", []))})
        group_rows.append(i)
    for i in range(_count(values, "rule-")):
        action = values.get(f"rule-{i}-action", "")
        if not action:
            continue
        rule: dict[str, Any] = {"action": action}
        for edge in ("usd_min", "usd_max"):
            text = values.get(f"rule-{i}-{edge}", "")
            if text:
                try:
                    rule[f"{edge}_minor"] = money.parse_major(text, dom.REFERENCE)
                except PlatformError:
                    problems.add(f"rule-{i}-{edge}", AMOUNT_FORMAT)
        rule["currencies"] = list(values.get(f"rule-{i}-currencies", []))
        for name, key in (("recipient_type", "recipient_types"), ("department", "departments"),
                          ("initiator", "initiators")):
            chosen = values.get(f"rule-{i}-{name}", "")
            rule[key] = [chosen] if chosen else []
        rule["beneficiary"] = values.get(f"rule-{i}-beneficiary") or None
        levels = _levels(values.get(f"rule-{i}-levels", ""))
        if levels is None:
            problems.add(f"rule-{i}-levels", LEVELS_FORMAT)
            levels = []
        rule["levels"] = levels
        rules.append(rule)
        rule_rows.append(i)
    doc: dict[str, Any] = {"rules": rules, "groups": groups}
    for name, key, scale in (("approval_ttl_h", "approval_ttl_ms", HOUR_MS),
                             ("cooling_off_h", "cooling_off_ms", HOUR_MS),
                             ("tolerance_bp", "tolerance_bp", 1)):
        number = _whole(values.get(name, ""), scale, name, problems)
        if number is not None:
            doc[key] = number
    return doc, rule_rows, group_rows


def _form_field(name: str, rule_rows: list[int], group_rows: list[int]) -> str:
    """The editor's field for a problem the service names (`rules[2].levels[0].required`
    -> the levels field of the fieldset that rule came from)."""
    head, _, rest = name.partition(".")
    for prefix, rows, form in (("rules[", rule_rows, "rule"), ("groups[", group_rows, "group")):
        if head.startswith(prefix) and head.endswith("]") and head[len(prefix):-1].isdigit():
            index = int(head[len(prefix):-1])
            row = rows[index] if index < len(rows) else 0
            attr = rest.split(".")[0].split("[")[0]
            attr = {"usd_min_minor": "usd_min", "usd_max_minor": "usd_max",
                    "recipient_types": "recipient_type", "departments": "department",
                    "initiators": "initiator", "": "action" if form == "rule" else "name",
                    "group": "levels", "required": "levels"}.get(attr, attr)
            if form == "rule" and rest.startswith("levels"):
                attr = "levels"
            return f"{form}-{row}-{attr}"
    return {"approval_ttl_ms": "approval_ttl_h", "cooling_off_ms": "cooling_off_h",
            "rules": "rule-0-action", "groups": "group-0-name"}.get(name, name)


def _save(page: Page, org_id: str, form: FormData) -> Response:
    who = page.customer()
    values = _form_values(form)
    problems = Problems()
    doc, rule_rows, group_rows = _document(values, problems)
    try:
        if problems:  # the service's problems too, all at once
            for name, message in approvals.check_policy(page.deps, who, org_id,
                                                        doc).items():
                problems.add(name, message)
        problems.raise_if_any(Err.POLICY_INVALID)
        saved = approvals.set_policy(page.deps, who, org_id, doc)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        fields: dict[str, str] = {}
        for name, message in {**problems.fields, **exc.fields}.items():
            fields.setdefault(_form_field(name, rule_rows, group_rows), message)
        shown = PlatformError(exc.err, exc.message, fields)
        return _guarded(page, _policy, org_id, values, shown)
    return RedirectResponse(f"/org/{org_id}/policy?saved={saved.version}", status_code=303)


# --- the beneficiary book -----------------------------------------------------------------------


def _book(page: Page, org_id: str, values: Mapping[str, str] | None = None,
          exc: PlatformError | None = None) -> Response:
    who = page.customer()
    ctx = _context(page, who, org_id)
    found = beneficiaries.book(page.deps, who, org_id)
    shown = dict(values or {"name": "", "type": "external", "email": "", "country": "",
                            "iban": "", "account_number": "", "bank_code": ""})
    return render.form(page, "org_beneficiaries.html", exc, **ctx, book=found,
                       now_ms=page.deps.clock.now_ms(),
                       values={**shown, "key": page.form_key(shown)},
                       change_key=page.form_key({}))


@router.get("/org/{org_id}/beneficiaries", response_class=HTMLResponse)
def beneficiary_book(page: PageDep, org_id: Id) -> Response:
    return _guarded(page, _book, org_id)


# the service's fields (recipient.iban, ...) -> the form's
BOOK_FIELDS = {"recipient.email": "email", "recipient.phone": "email",
               "recipient.iban": "iban", "recipient.account_number": "iban",
               "recipient.country": "country", "recipient.bank_code": "bank_code",
               "recipient.name": "name", "recipient.type": "type", "recipient": "email"}


@router.post("/org/{org_id}/beneficiaries")
def beneficiary_add(page: PageDep, org_id: Id, name: Text = "", type: Text = "",
                    email: Text = "", country: Text = "", iban: Text = "",
                    bank_code: Text = "", key: Text = "") -> Response:
    who = page.customer()
    recipient = ({"type": "user", "email": email} if type == "user" else
                 {"type": "external", "name": name, "country": country, "iban": iban,
                  "bank_code": bank_code})
    try:
        beneficiaries.add(page.deps, who, org_id, name=name,
                          recipient={k: v for k, v in recipient.items() if v},
                          idempotency_key=key or None)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        shown = PlatformError(exc.err, exc.message,
                              {BOOK_FIELDS.get(k, k): v for k, v in exc.fields.items()})
        values = {"name": name, "type": type, "email": email, "country": country,
                  "iban": iban, "bank_code": bank_code, "key": key}
        return _guarded(page, _book, org_id, values, shown)
    return RedirectResponse(f"/org/{org_id}/beneficiaries", status_code=303)


@router.post("/org/{org_id}/beneficiaries/{beneficiary_id}/bank-details")
def beneficiary_change(page: PageDep, org_id: Id, beneficiary_id: Id, name: Text = "",
                       country: Text = "", iban: Text = "", bank_code: Text = "",
                       key: Text = "") -> Response:
    who = page.customer()
    bank = {"name": name, "country": country, "iban": iban, "bank_code": bank_code}
    try:
        beneficiaries.propose_change(page.deps, who, org_id, beneficiary_id,
                                     {k: v for k, v in bank.items() if v},
                                     idempotency_key=key or None)
    except PlatformError as exc:
        if not _form_error(exc):
            return _refused(page, exc)
        shown = PlatformError(exc.err, exc.message,
                              {BOOK_FIELDS.get(k, k): v for k, v in exc.fields.items()})
        return _guarded(page, _book, org_id, None, shown)
    return RedirectResponse(f"/org/{org_id}/beneficiaries", status_code=303)
