"""`corridor org requests …` and `corridor org merchant …`: an organisation's payment
requests and merchant account from the command line (issue 17). A client of the platform
API (/v1/collections, /v1/orgs/{id}/merchant) with the caller's bearer token, so the CLI
goes through the same checks as the pages and the API, as the member the token belongs
to: `--api` (or CORRIDOR_API_URL) and `--token` (or CORRIDOR_TOKEN). `requests remind`
is the operator's: it runs one round of reminders on the database, as the worker does."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from corridor.cli.platform import DatabaseUrl, DataDir, _build, _existing, _settings

requests_app = typer.Typer(help="Payment requests: ask for money, list, show, cancel.",
                           no_args_is_help=True)
merchant_app = typer.Typer(help="Merchant account: checkout links, orders, refunds, "
                                "settlement.", no_args_is_help=True)

Api = Annotated[str, typer.Option("--api", envvar="CORRIDOR_API_URL",
                                  help="The platform API's address.")]
Token = Annotated[str, typer.Option("--token", envvar="CORRIDOR_TOKEN",
                                    help="Your session's bearer token.")]
Org = Annotated[str, typer.Option("--org", help="The organisation's id.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TIMEOUT_S = 30.0


def client(api: str, token: str) -> httpx.Client:
    """The API client (a test replaces it with one bound to an app)."""
    return httpx.Client(base_url=api, headers={"Authorization": f"Bearer {token}"},
                        timeout=TIMEOUT_S)


def _call(api: str, token: str, method: str, path: str, *, body: Any = None,
          params: dict[str, str] | None = None, key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    with client(api, token) as c:
        r = c.request(method, path, json=body, params=params, headers=headers)
    if r.status_code >= 400:
        try:
            err = r.json()["error"]
            fields = "".join(f"\n  {k}: {v}" for k, v in (err.get("fields") or {}).items())
            message = f"{err['code']}: {err['message']}{fields}"
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {r.status_code}"
        typer.echo(message, err=True)
        raise typer.Exit(1)
    return r


def _line(r: dict[str, Any]) -> str:
    who = r.get("payer_contact") or ("link" if r.get("channel") == "link" else "")
    return (f"{r['id']}  {r['reference']:<20} {r['amount']:>12} {r['currency']}  "
            f"{r['status']:<9} {who}")


def _show(data: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    for line in lines:
        typer.echo(line)


# --- requests -------------------------------------------------------------------------------


@requests_app.command("create")
def requests_create(
    amount: Annotated[str, typer.Option(help="What you receive, e.g. 100.00.")],
    currency: Annotated[str, typer.Option()],
    due: Annotated[str, typer.Option(help="Due date, YYYY-MM-DD (UTC).")],
    reference: Annotated[str, typer.Option(help="Your invoice number (unique).")],
    api: Api, token: Token,
    org: Annotated[str | None, typer.Option("--org")] = None,
    payer_email: Annotated[str | None, typer.Option()] = None,
    payer_phone: Annotated[str | None, typer.Option()] = None,
    link: Annotated[bool, typer.Option(help="Anyone with the link may pay.")] = False,
    description: str = "",
    as_json: AsJson = False,
) -> None:
    """Ask a customer (by e-mail or phone) or anyone with the link for money."""
    body = {"amount": amount, "currency": currency, "due_date": due, "reference": reference,
            "description": description, "payer_email": payer_email,
            "payer_phone": payer_phone, "link": link, "org_id": org}
    r = _call(api, token, "POST", "/v1/collections/requests", body=body).json()
    extra = [f"link: {api.rstrip('/')}{r['link_path']}"] if r.get("link_path") else []
    _show(r, as_json, [_line(r), *extra])


@requests_app.command("list")
def requests_list(api: Api, token: Token,
                  org: Annotated[str | None, typer.Option("--org")] = None,
                  as_json: AsJson = False) -> None:
    """Your (or the organisation's) requests, newest first."""
    params = {"org_id": org} if org else None
    data = _call(api, token, "GET", "/v1/collections/requests", params=params).json()
    _show(data, as_json, [_line(r) for r in data["items"]] or ["(no requests)"])


@requests_app.command("show")
def requests_show(request_id: str, api: Api, token: Token, as_json: AsJson = False) -> None:
    r = _call(api, token, "GET", f"/v1/collections/requests/{request_id}").json()
    lines = [_line(r), f"due_ms {r['due_ms']}  payment {r['payment_id'] or '-'}"]
    if r.get("mismatch_note"):
        lines.append(f"mismatch: {r['mismatch_note']} (payment {r['mismatch_payment_id']})")
    _show(r, as_json, lines)


@requests_app.command("cancel")
def requests_cancel(request_id: str, api: Api, token: Token) -> None:
    r = _call(api, token, "POST", f"/v1/collections/requests/{request_id}/cancel").json()
    typer.echo(_line(r))


@requests_app.command("remind")
def requests_remind(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Run one round of reminders now (the platform's worker runs it every few minutes);
    sends no reminder twice."""
    from corridor.platform.services import collections

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        n = collections.run_round(platform.deps)
    finally:
        platform.close()
    typer.echo(f"{n} request(s) reminded or reopened")


# --- merchant -------------------------------------------------------------------------------


@merchant_app.command("open")
def merchant_open(name: Annotated[str, typer.Option()], org: Org, api: Api, token: Token
                  ) -> None:
    """Open the organisation's merchant account (the same again shows it)."""
    m = _call(api, token, "POST", f"/v1/orgs/{org}/merchant", body={"name": name}).json()
    typer.echo(f"{m['id']}  {m['name']}")


@merchant_app.command("checkout")
def merchant_checkout(
    order: Annotated[str, typer.Option(help="The order reference.")],
    amount: Annotated[str, typer.Option()], currency: Annotated[str, typer.Option()],
    org: Org, api: Api, token: Token,
    description: str = "",
    qr: Annotated[Path | None, typer.Option(help="Write the link's QR code (SVG) here.")] = None,
    as_json: AsJson = False,
) -> None:
    """A checkout link (and QR code) for an order."""
    body = {"order_ref": order, "amount": amount, "currency": currency,
            "description": description}
    r = _call(api, token, "POST", f"/v1/orgs/{org}/merchant/checkouts", body=body).json()
    if qr is not None:
        svg = _call(api, token, "GET", f"/v1/orgs/{org}/merchant/orders/{r['id']}/qr.svg",
                    params={"base": api}).text
        qr.write_text(svg, encoding="utf-8")
    _show(r, as_json, [_line(r), f"link: {api.rstrip('/')}{r['link_path']}"])


@merchant_app.command("orders")
def merchant_orders(org: Org, api: Api, token: Token, as_json: AsJson = False) -> None:
    data = _call(api, token, "GET", f"/v1/orgs/{org}/merchant/orders").json()
    _show(data, as_json, [_line(r) for r in data["items"]] or ["(no orders)"])


@merchant_app.command("refund")
def merchant_refund(
    order_id: str, amount: Annotated[str, typer.Option()], org: Org, api: Api, token: Token,
    reason: str = "",
    key: Annotated[str | None, typer.Option(help="Idempotency-Key (retry with the same "
                                                 "one to refund once)")] = None,
) -> None:
    """Give back part or all of a paid order (never more than was paid)."""
    r = _call(api, token, "POST", f"/v1/orgs/{org}/merchant/orders/{order_id}/refunds",
              body={"amount": amount, "reason": reason}, key=key or uuid.uuid4().hex).json()
    typer.echo(f"{r['id']}  {r['amount']} {r['currency']}  {r['state']}  "
               f"payment {r['payment_id'] or '-'}")


@merchant_app.command("settlement")
def merchant_settlement(
    day: Annotated[str, typer.Option(help="YYYY-MM-DD (UTC)")], org: Org, api: Api,
    token: Token,
    csv: Annotated[bool, typer.Option("--csv", help="Print the CSV report.")] = False,
) -> None:
    """The day's orders, refunds, fees and net per currency."""
    params = {"day": day, "format": "csv" if csv else "json"}
    r = _call(api, token, "GET", f"/v1/orgs/{org}/merchant/settlement", params=params)
    if csv:
        typer.echo(r.text, nl=False)
        return
    data = r.json()
    for x in data["lines"] or []:
        typer.echo(f"{x['currency']}  orders {x['orders']}  gross {x['gross']}  refunds "
                   f"{x['refunds']} ({x['refunded']})  fees {x['fees']}  net {x['net']}")
    if not data["lines"]:
        typer.echo("(nothing on this day)")
