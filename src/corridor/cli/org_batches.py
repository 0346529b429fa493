"""`corridor org batch upload|show|approve|reject|report`: an organisation's batch payments
through the platform's API (issue 17), as its members do: signed in with a session token
(`--token`, or CORRIDOR_TOKEN), against `--api` (CORRIDOR_API, default the local
platform). Every permission is the API's: pay.initiate uploads, another member with
pay.approve approves."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

app = typer.Typer(help="An organisation's business: batch payments.", no_args_is_help=True)
batch_app = typer.Typer(help="Batch payments from CSV or ISO 20022 pain.001 files.",
                        no_args_is_help=True)
app.add_typer(batch_app, name="batch")

Api = Annotated[str, typer.Option("--api", envvar="CORRIDOR_API",
                                  help="The platform's base URL.")]
Token = Annotated[str, typer.Option("--token", envvar="CORRIDOR_TOKEN",
                                    help="A session token of the acting member.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]
DEFAULT_API = "http://127.0.0.1:8000"
TIMEOUT_S = 300.0  # approving 10,000 items is one request


def _call(method: str, api: str, token: str, path: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
    try:
        r = httpx.request(method, api.rstrip("/") + path, headers=headers, timeout=TIMEOUT_S,
                          **kw)
    except httpx.TransportError as exc:
        typer.echo(f"error: cannot reach {api}: {exc}", err=True)
        raise typer.Exit(1) from None
    if r.status_code >= 400:
        try:
            err = r.json()["error"]
            typer.echo(f"error: {err['code']}: {err['message']}", err=True)
            for field, message in (err.get("fields") or {}).items():
                typer.echo(f"  {field}: {message}", err=True)
        except (ValueError, KeyError, TypeError):
            typer.echo(f"error: HTTP {r.status_code}", err=True)
        raise typer.Exit(1)
    return r


def _print(b: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(b, indent=2, ensure_ascii=False))
        return
    totals = ", ".join(f"{v} {k}" for k, v in b["totals"].items()) or "-"
    typer.echo(f"{b['id']}  {b['status']}  {b['item_count']} items  {totals}  "
               f"({b['version']}, {b['file_name']})")
    if b.get("counts"):
        typer.echo("  " + ", ".join(f"{k}: {v}" for k, v in sorted(b["counts"].items())))
    for p in b["problems"]:
        where = f"row {p['row']}" if p["row"] else "file"
        typer.echo(f"  {where}  {p['field']}  {p['code']}: {p['message']}")
    if b["problem_count"] > len(b["problems"]):
        typer.echo(f"  ... {b['problem_count'] - len(b['problems'])} more problem(s)")


@batch_app.command("upload")
def upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    org: Annotated[str, typer.Option("--org", help="The organisation's id.")],
    key: Annotated[str | None, typer.Option(
        "--key", help="Idempotency-Key (default: a new one; give the same to retry).")] = None,
    api: Api = DEFAULT_API, token: Token = "", as_json: AsJson = False,
) -> None:
    """Uploads a CSV or pain.001 file: every problem is listed per row; a batch without
    problems is reserved and waits for approval."""
    r = _call("POST", api, token, "/v1/batches",
              headers={"Idempotency-Key": key or uuid.uuid4().hex},
              data={"org_id": org}, files={"file": (file.name, file.read_bytes())})
    _print(r.json(), as_json)


@batch_app.command("show")
def show(batch_id: str, api: Api = DEFAULT_API, token: Token = "",
         as_json: AsJson = False) -> None:
    """The batch, its problems and its items' progress."""
    _print(_call("GET", api, token, f"/v1/batches/{batch_id}").json(), as_json)


@batch_app.command("approve")
def approve(batch_id: str, api: Api = DEFAULT_API, token: Token = "",
            as_json: AsJson = False) -> None:
    """Approves the batch (pay.approve; not its uploader) and starts its execution."""
    _print(_call("POST", api, token, f"/v1/batches/{batch_id}/approve").json(), as_json)


@batch_app.command("reject")
def reject(batch_id: str, reason: Annotated[str, typer.Option()] = "",
           api: Api = DEFAULT_API, token: Token = "", as_json: AsJson = False) -> None:
    """Refuses the batch: its reservation ends, nothing moves."""
    _print(_call("POST", api, token, f"/v1/batches/{batch_id}/reject",
                 json={"reason": reason}).json(), as_json)


@batch_app.command("report")
def report(
    batch_id: str,
    kind: Annotated[str, typer.Option("--format", help="pain002 | csv")] = "pain002",
    out: Annotated[Path | None, typer.Option("--out", help="Write here (default: stdout).")
                   ] = None,
    api: Api = DEFAULT_API, token: Token = "",
) -> None:
    """The pain.002 status report or the result CSV."""
    if kind not in ("pain002", "csv"):
        typer.echo("error: --format is pain002 or csv", err=True)
        raise typer.Exit(2)
    path = f"/v1/batches/{batch_id}/" + ("pain002" if kind == "pain002" else "result.csv")
    data = _call("GET", api, token, path).content
    if out is None:
        typer.echo(data.decode(), nl=False)
    else:
        out.write_bytes(data)
        typer.echo(f"wrote {out} ({len(data)} bytes)")
