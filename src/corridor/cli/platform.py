"""`corridor platform …`: run the platform API and administer it (staff accounts, the
development outbox, the audit chain, master-key rotation)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from corridor.platform.config import ConfigError, Settings, load_settings

app = typer.Typer(help="The payment platform: API server and administration.",
                  no_args_is_help=True)

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="Platform data directory (default: CORRIDOR_DATA_DIR or "
    ".corridor/platform).")]
DatabaseUrl = Annotated[str | None, typer.Option("--database-url", help="SQLAlchemy URL "
                                                 "(default: SQLite in the data directory).")]


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _settings(data_dir: Path | None, database_url: str | None, **more: Any) -> Settings:
    try:
        return load_settings(None, data_dir=data_dir, database_url=database_url, **more)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _build(settings: Settings):  # type: ignore[no-untyped-def]
    from corridor.platform import bootstrap
    from corridor.platform.adapters.vault import VaultError

    try:
        return bootstrap.build(settings)
    except (ConfigError, VaultError) as exc:
        raise _fail(str(exc)) from None


@app.command("serve")
def serve(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="API port.")] = 8000,
    node_rpc: Annotated[str | None, typer.Option(help="The node's RPC URL.")] = None,
    issuer_key: Annotated[Path | None, typer.Option(help="Issuer key file.")] = None,
    operator_key: Annotated[Path | None, typer.Option(help="Operator key file.")] = None,
) -> None:
    """Run the platform API in the foreground (Ctrl-C stops it)."""
    import uvicorn

    from corridor.api.app import create_app

    settings = _settings(data_dir, database_url, node_rpc=node_rpc, issuer_key=issuer_key,
                         operator_key=operator_key)
    platform = _build(settings)
    start = getattr(platform, "start_workers", None)
    if start is not None:
        start()
    url = f"http://{host}:{port}"
    typer.echo(f"corridor platform API  {url}/v1   docs {url}/docs", err=True)
    try:
        uvicorn.run(create_app(platform), host=host, port=port, log_level="warning")
    finally:
        stop = getattr(platform, "stop_workers", None)
        if stop is not None:
            stop()
        platform.close()


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password for the new staff account: ")
    if getpass.getpass("Again: ") != first:
        raise _fail("the passwords differ")
    return first


@app.command("staff-add")
def staff_add(
    email: Annotated[str, typer.Option(help="The staff member's e-mail (their sign-in).")],
    name: Annotated[str, typer.Option(help="Their full name.")],
    role: Annotated[str, typer.Option(help="admin, compliance_officer, support_agent, "
                                      "operator, auditor or regulator.")],
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin "
                                                 "instead of prompting.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a staff account (the administrator's command; audited)."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import staff

    platform = _build(_settings(data_dir, database_url))
    try:
        user = staff.create_staff(platform.deps, None, email=email, name=name,
                                  password=_read_password(password_stdin), role=role)
    except PlatformError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in exc.fields.items())
        raise _fail(f"{exc.message}" + (f" ({detail})" if detail else "")) from None
    finally:
        platform.close()
    typer.echo(f"created staff {user.email} ({role}), id {user.id}")


@app.command("outbox")
def outbox(
    to: Annotated[str | None, typer.Option("--to", help="Only messages to this address.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Show the development outbox: the e-mails and SMS the platform would send."""
    from corridor.platform.domain import identity as idn
    from corridor.platform.domain.notices import Notice

    platform = _build(_settings(data_dir, database_url))
    try:
        with platform.deps.uow() as uow:
            eq = {}
            if to:
                try:
                    eq["destination"] = (idn.normalise_email(to) if "@" in to
                                         else idn.normalise_phone(to))
                except Exception:
                    raise _fail(f"{to} is not an e-mail address or phone number") from None
            rows = uow.repo(Notice).many(order_by="created_ms", descending=True, limit=limit,
                                         **eq)
    finally:
        platform.close()
    if not rows:
        typer.echo("(no messages)")
    for n in reversed(rows):
        typer.echo(f"[{n.channel}] to {n.destination}: {n.subject}\n    {n.body}")


@app.command("audit-verify")
def audit_verify(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Re-check every audit entry's hash and link; exit 1 on the first break."""
    from corridor.platform.services import audit

    platform = _build(_settings(data_dir, database_url))
    try:
        report = audit.verify(platform.deps)
    finally:
        platform.close()
    if not report.ok:
        raise _fail(f"audit chain broken: {report.problem}")
    typer.echo(f"audit chain intact: {report.entries} entries")


@app.command("rotate-keys")
def rotate_keys(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Make a new master key active and re-wrap every sealed secret under it."""
    from corridor.platform.adapters import custody_admin

    platform = _build(_settings(data_dir, database_url))
    try:
        n, key_id = custody_admin.rotate_master_key(platform)
    finally:
        platform.close()
    typer.echo(f"re-wrapped {n} secrets under master key {key_id}")
