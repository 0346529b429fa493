"""`corridor org`: the organisations' commands (issue 17; each area adds its group: `report`
in cli/org_reports.py, `requests` and `merchant` in cli/org_collections.py, `policy`,
`approvals` and `decide` in cli/org_approvals.py, `batch` in cli/org_batches.py). Here `keys
create|list|rotate|revoke`, an
organisation's API keys, managed by an
owner or admin through the platform API with their own session (the same use cases and
checks as the web console's and the API's; nothing here touches the database).

The session is the bearer token of a signed-in owner or admin (`--token`, or
CORRIDOR_TOKEN); the API's address is `--api` (or CORRIDOR_API)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer

from corridor.cli import org_approvals, org_batches, org_collections, org_reports
from corridor.cli.common import fail

app = typer.Typer(help="Organisations: API keys, payment requests, merchant account, "
                       "treasury reports.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for an organisation's servers: create, list, rotate, "
                            "revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(org_reports.report_app, name="report")
app.add_typer(org_collections.requests_app, name="requests")
app.add_typer(org_collections.merchant_app, name="merchant")
app.add_typer(org_batches.batch_app, name="batch")
# `policy show|set`, `approvals`, `decide` (cli/org_approvals.py)
app.registered_groups += org_approvals.app.registered_groups
app.registered_commands += org_approvals.app.registered_commands

API_DEFAULT = "http://127.0.0.1:8000"
TIMEOUT_S = 30.0

Api = Annotated[str, typer.Option("--api", envvar="CORRIDOR_API",
                                  help="The platform API's address.")]
Token = Annotated[str, typer.Option("--token", envvar="CORRIDOR_TOKEN",
                                    help="Your session's bearer token (an owner or admin).")]
OrgOpt = Annotated[str, typer.Option("--org", help="The organisation's id.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]


def _http(api: str) -> httpx.Client:
    return httpx.Client(base_url=api, timeout=TIMEOUT_S)


# Tests swap in a client over the app itself (starlette's TestClient is an httpx.Client).
client_factory: Callable[[str], httpx.Client] = _http


def _call(api: str, token: str, method: str, path: str, *, body: dict[str, Any] | None = None,
          creating: bool = False) -> Any:
    if not token:
        raise fail("give your session token: --token or CORRIDOR_TOKEN")
    headers = {"Authorization": f"Bearer {token}"}
    if creating:  # one key per command: a retry of this command would be a new request
        headers["Idempotency-Key"] = uuid.uuid4().hex
    try:
        with client_factory(api) as c:
            r = c.request(method, path, headers=headers, json=body)
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach the API at {api}: {type(exc).__name__}") from None
    if r.status_code >= 400:
        try:
            err = r.json()["error"]
            fields = "; ".join(f"{k}: {v}" for k, v in err.get("fields", {}).items())
            message = f"{err['code']}: {err['message']}" + (f" ({fields})" if fields else "")
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {r.status_code}"
        raise fail(message)
    return r.json()


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _line(k: dict[str, Any]) -> str:
    allow = ",".join(k["allowlist"]) or "any address"
    return (f"{k['id']}  cor_{k['prefix']}_…  {k['state']:<8} {k['name']}  "
            f"[{' '.join(k['scopes'])}]  from {allow}  expires {_when(k['expires_ms'])}  "
            f"last used {_when(k['last_used_ms'])}")


def _show_token(k: dict[str, Any]) -> None:
    typer.echo(_line(k))
    typer.echo("")
    typer.echo(f"token (shown once, stored nowhere): {k['token']}")
    typer.echo("Use it as 'Authorization: Bearer <token>' over HTTPS.")


@keys_app.command("create")
def create(
    org: OrgOpt,
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'payroll server'.")],
    scope: Annotated[list[str], typer.Option(
        "--scope", help="read or pay-initiate; repeat for both (pay-approve never).")],
    allow: Annotated[list[str] | None, typer.Option(
        "--allow", help="A network in CIDR form the key may be used from; repeat.")] = None,
    expires_in_days: Annotated[int, typer.Option(min=1, max=366)] = 90,
    api: Api = API_DEFAULT,
    token: Token = "",
    as_json: AsJson = False,
) -> None:
    """Create a key; its token is printed once."""
    k = _call(api, token, "POST", f"/v1/orgs/{org}/api-keys", creating=True,
              body={"name": name, "scopes": scope, "allowlist": allow or [],
                    "expires_in_days": expires_in_days})
    typer.echo(json.dumps(k, indent=2)) if as_json else _show_token(k)


@keys_app.command("list")
def list_keys(org: OrgOpt, api: Api = API_DEFAULT, token: Token = "",
              as_json: AsJson = False) -> None:
    """The organisation's keys, newest first (no tokens: they are shown once)."""
    items = _call(api, token, "GET", f"/v1/orgs/{org}/api-keys")["items"]
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    for k in items:
        typer.echo(_line(k))
    if not items:
        typer.echo("(no keys)")


@keys_app.command("rotate")
def rotate(
    org: OrgOpt,
    key_id: Annotated[str, typer.Argument(help="The key to replace.")],
    overlap_hours: Annotated[int, typer.Option(
        min=0, max=168, help="How long the old key keeps working.")] = 24,
    api: Api = API_DEFAULT,
    token: Token = "",
    as_json: AsJson = False,
) -> None:
    """Replace a key: the new token is printed once; the old one works for the overlap."""
    k = _call(api, token, "POST", f"/v1/orgs/{org}/api-keys/{key_id}/rotate", creating=True,
              body={"overlap_hours": overlap_hours})
    typer.echo(json.dumps(k, indent=2)) if as_json else _show_token(k)


@keys_app.command("revoke")
def revoke(org: OrgOpt, key_id: Annotated[str, typer.Argument(help="The key to stop.")],
           api: Api = API_DEFAULT, token: Token = "") -> None:
    """Stop a key now."""
    k = _call(api, token, "POST", f"/v1/orgs/{org}/api-keys/{key_id}/revoke")
    typer.echo(_line(k))
