"""`corridor org policy show|set FILE` and `corridor org approvals`: an organisation's
approval policy and its approvals queue (registered in cli/org.py), through the platform's
API as one of its members (issue 17). The CLI holds no authority of its own: it sends the
member's session token (CORRIDOR_TOKEN), so the API's checks apply as for any request (the
policy is written by owners and admins only, and every save is audited and versioned)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

# the commands `corridor org` takes from here (cli/org.py adds them to its group)
app = typer.Typer(help="An organisation's approval policy and approvals.", no_args_is_help=True)
policy_app = typer.Typer(help="The approval policy: show it, or save a new version.",
                         no_args_is_help=True)
app.add_typer(policy_app, name="policy")

TOKEN_ENV = "CORRIDOR_TOKEN"  # a member's session token (POST /v1/auth/login)
API_DEFAULT = "http://127.0.0.1:8080"
POLICY_FILE_MAX = 1_000_000  # bytes

Api = Annotated[str, typer.Option("--api", envvar="CORRIDOR_API", help="The platform's URL.")]
OrgId = Annotated[str, typer.Argument(help="The organisation's id.")]


def client(api: str) -> Any:
    """An HTTP client for the API, with the member's token (tests replace this)."""
    import httpx

    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise typer.BadParameter(f"set {TOKEN_ENV} to a member's session token")
    return httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"},
                        timeout=30.0)


def _answer(r: Any) -> Any:
    body = r.json()
    if r.status_code >= 400:
        error = body.get("error", {})
        lines = [f"{error.get('code')}: {error.get('message')}"]
        lines += [f"  {k}: {v}" for k, v in sorted(error.get("fields", {}).items())]
        typer.echo("\n".join(lines), err=True)
        raise typer.Exit(1)
    return body


@policy_app.command("show")
def policy_show(org_id: OrgId, api: Api = API_DEFAULT) -> None:
    """The current policy as JSON (the document `set` takes)."""
    with client(api) as c:
        typer.echo(json.dumps(_answer(c.get(f"/v1/orgs/{org_id}/approval-policy")),
                              ensure_ascii=False, indent=2))


@policy_app.command("set")
def policy_set(org_id: OrgId,
               file: Annotated[Path, typer.Argument(help="A JSON document: rules, groups, "
                                                         "approval_ttl_ms, tolerance_bp, "
                                                         "cooling_off_ms.")],
               api: Api = API_DEFAULT) -> None:
    """Saves FILE as the organisation's next policy version; every problem is listed."""
    if file.stat().st_size > POLICY_FILE_MAX:
        raise typer.BadParameter(f"{file} is larger than {POLICY_FILE_MAX} bytes")
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{file}: {exc}") from None
    if not isinstance(doc, dict):
        raise typer.BadParameter(f"{file}: a JSON object")
    keep = ("rules", "groups", "approval_ttl_ms", "tolerance_bp", "cooling_off_ms")
    with client(api) as c:
        saved = _answer(c.put(f"/v1/orgs/{org_id}/approval-policy",
                              json={k: v for k, v in doc.items() if k in keep}))
    typer.echo(f"saved version {saved['version']} ({len(saved['rules'])} rules)")


@app.command("approvals")
def approvals_list(org_id: OrgId,
                   state: Annotated[str, typer.Option(help="pending, awaiting_consent, "
                                                           "approved, rejected or expired.")
                                    ] = "pending",
                   as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
                   api: Api = API_DEFAULT) -> None:
    """The organisation's approvals queue, newest first."""
    from corridor.platform.domain import money

    with client(api) as c:
        items = _answer(c.get(f"/v1/orgs/{org_id}/approvals", params={"state": state}))
    if as_json:
        typer.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    if not items["items"]:
        typer.echo("(no approvals)")
    for item in items["items"]:
        a = item["approval"]
        amount = (f"{money.format_minor(a['amount_minor'], a['currency'])} {a['currency']}"
                  if a["currency"] else "")
        mine = "  <- yours to decide" if item["can_decide"] else ""
        typer.echo(f"{a['id']}  {a['subject_kind']} {a['subject_id']}  {a['state']}  "
                   f"level {a['level']}/{len(a['levels'])}  {amount}  {a['summary']}{mine}")


@app.command("decide")
def decide(approval_id: Annotated[str, typer.Argument(help="The approval's id.")],
           decision: Annotated[str, typer.Argument(help="approve or reject")],
           note: Annotated[str, typer.Option(help="Why, for the record.")] = "",
           api: Api = API_DEFAULT) -> None:
    """Approves or rejects one approval as the member whose token is set."""
    if decision not in ("approve", "reject"):
        raise typer.BadParameter("approve or reject")
    with client(api) as c:
        body = _answer(c.post(f"/v1/approvals/{approval_id}/{decision}", json={"note": note},
                              headers={"Idempotency-Key": uuid.uuid4().hex}))
    a = body["approval"]
    typer.echo(f"{a['id']}: {a['state']}, level {a['level']}/{len(a['levels'])}")
