"""`corridor platform …`: run the platform API and administer it (staff accounts, the
development outbox, the audit chain, master-key rotation)."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import getpass
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from corridor.platform.config import (
    DB_POOL_MAX_MIN,
    ConfigError,
    Settings,
    load_settings,
    sqlite_path,
)

app = typer.Typer(help="The payment platform: API server and administration.",
                  no_args_is_help=True)

DataDir = Annotated[Path | None, typer.Option(
    "--data-dir", help="Platform data directory (default: CORRIDOR_DATA_DIR, else "
    "CORRIDOR_HOME/platform, else .corridor/local/platform: where `corridor up` keeps it).")]
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


def _existing(settings: Settings) -> Settings:
    """`settings` when their database exists. The administration commands that read the
    platform's records refuse a data directory without one: opening it would make a new,
    empty database and answer "(no messages)" as if that were the platform's state."""
    db = sqlite_path(settings)
    if db is not None and not db.exists():
        raise _fail(f"no platform database at {db}: start `corridor up` first, or point "
                    "--data-dir (or CORRIDOR_HOME) at the platform's data")
    return settings


def _build(settings: Settings):  # type: ignore[no-untyped-def]
    from corridor.platform import bootstrap
    from corridor.platform.adapters.vault import VaultError

    try:
        return bootstrap.build(settings)
    except (ConfigError, VaultError) as exc:
        raise _fail(str(exc)) from None


NodeRpc = Annotated[str | None, typer.Option(help="The node's RPC URL.")]
IssuerKey = Annotated[Path | None, typer.Option(help="Issuer key file.")]
OperatorKey = Annotated[Path | None, typer.Option(help="Operator (treasury) key file.")]


WORKERS_MAX = 16
LISTEN_BACKLOG = 2048


# PostgreSQL refuses connections past max_connections (100 by default, 3 of them kept for
# superusers): the processes of one `serve` share this many between them.
PG_CONNECTIONS_BUDGET = 90


def pool_share(settings: Settings, processes: int) -> Settings:
    """`settings` with each process's PostgreSQL pool cut to its share of the budget (never
    above what was asked for, never below DB_POOL_MAX_MIN). SQLite: unchanged."""
    if settings.db_url.startswith("sqlite"):
        return settings
    share = max(DB_POOL_MAX_MIN, PG_CONNECTIONS_BUDGET // max(1, processes))
    return dataclasses.replace(settings, db_pool_max=min(settings.db_pool_max, share))


def default_workers() -> int:
    """API worker processes when not told: one per core, at most 4 (each holds its own
    connection pool and a thread pool; past a few, SQLite's one writer is the limit)."""
    return max(1, min(os.cpu_count() or 1, 4))


def _settings_args(settings: Settings) -> list[str]:
    """The options that give a child process these very settings."""
    return [
        *("--data-dir", str(settings.data_dir)), *("--database-url", settings.db_url),
        *(("--node-rpc", settings.node_rpc) if settings.node_rpc else ()),
        *(("--issuer-key", str(settings.issuer_key)) if settings.issuer_key else ()),
        *(("--operator-key", str(settings.operator_key)) if settings.operator_key else ()),
    ]


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket every API process accepts on (the kernel hands each new
    connection to one of them)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(uvicorn: Any, app: Any) -> Any:
    """The API server's settings. uvicorn's proxy headers are off: by default it believes
    X-Forwarded-For from 127.0.0.1, so anything on the host (or a local proxy passing the
    header through) could choose the client address that rate limits and the audit trail
    see. The API reads the header itself, from configured proxies only (api/deps.py)."""
    return uvicorn.Config(app, log_level="warning", proxy_headers=False,
                          forwarded_allow_ips=[])


def _run_api(platform: Any, sock: socket.socket) -> None:
    """Serves the API on `sock` in this process until SIGTERM or SIGINT."""
    import uvicorn

    from corridor.web.site import create_site

    server = _Server(uvicorn_config(uvicorn, create_site(platform)))  # the API and the pages

    def _stop(*_: object) -> None:
        server.should_exit = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server.run(sockets=[sock])


@app.command("serve")
def serve(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="API port.")] = 8000,
    node_rpc: NodeRpc = None,
    issuer_key: IssuerKey = None,
    operator_key: OperatorKey = None,
    chain_workers: Annotated[str, typer.Option(
        help="Where the outbox worker (all chain work) runs: 'process' (a child process, "
             "on its own core) or 'thread' (inside the API process).")] = "process",
    workers: Annotated[int | None, typer.Option(
        min=1, max=WORKERS_MAX,
        help="API processes sharing the port (default: one per core, at most 4). This "
             "process is the first and also runs the rail and webhook workers; the others "
             "are its children, restarted if they die.")] = None,
) -> None:
    """Run the platform API in the foreground (Ctrl-C stops it)."""
    _follow_parent()  # started by `corridor up`: stops if `up` dies
    if chain_workers not in ("process", "thread"):
        raise _fail("--chain-workers is 'process' or 'thread'")
    settings = _settings(data_dir, database_url, node_rpc=node_rpc, issuer_key=issuer_key,
                         operator_key=operator_key)
    api_processes = workers or default_workers()
    settings = pool_share(settings, api_processes + (chain_workers == "process"))
    os.environ["CORRIDOR_DB_POOL_MAX"] = str(settings.db_pool_max)  # the children's share too
    if settings.node_rpc_token:  # the children's too, by environment: argv is public in `ps`
        os.environ["CORRIDOR_NODE_RPC_TOKEN"] = settings.node_rpc_token
    platform = _build(settings)  # migrates the database before any child starts
    sock = _listen(host, port)
    platform.start_workers(chain=chain_workers == "thread")
    children: list[_Child] = []
    args = _settings_args(settings)
    try:
        if chain_workers == "process":
            children.append(_Child("chain workers", ["settle", *args]))
        for _ in range(1, api_processes):
            children.append(_Child("API worker", ["api-worker", "--fd", str(sock.fileno()),
                                                  *args], pass_fds=(sock.fileno(),)))
        url = f"http://{host}:{port}"
        typer.echo(f"corridor platform API  {url}/v1   docs {url}/docs   portal {url}/",
                   err=True)
        _run_api(platform, sock)
    finally:
        for child in children:
            child.stop()
        sock.close()
        platform.stop_workers()
        platform.close()


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """This command owns SIGINT/SIGTERM, so its clean-up (stopping the child
        processes) runs: uvicorn's own capture re-raises the signal after shutting down."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server


def _Server(config: Any) -> Any:
    return _server_class()(config)


PARENT_PID_ENV = "CORRIDOR_SERVE_PARENT_PID"  # set by serve for its children


def _follow_parent() -> None:
    """In a child of `serve` (first thing its command does): the kernel sends SIGTERM when
    the parent dies, even by kill -9, so no child outlives its API process (Linux). Set
    here rather than between fork and exec (`preexec_fn`), which may deadlock in a parent
    with threads; a parent that died before this line is noticed by its pid."""
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent:
        return  # run by hand: nobody to follow
    with contextlib.suppress(OSError):  # not Linux: the parent's clean stop still works
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if str(os.getppid()) != parent:
        raise typer.Exit(0)


class _Child:
    """`corridor platform <args>` as a child of the API process, restarted if it dies (the
    chain workers resume from the database, an API worker holds nothing of its own:
    nothing is lost or done twice)."""

    RESTART_DELAY_S = 1.0
    STOP_TIMEOUT_S = 30.0

    def __init__(self, name: str, args: list[str], pass_fds: tuple[int, ...] = ()) -> None:
        import subprocess
        import threading

        self.name = name
        self._cmd = [sys.executable, "-m", "corridor.cli.main", "platform", *args]
        self._pass_fds = pass_fds
        self._popen = subprocess.Popen
        self._stopping = threading.Event()
        self.proc = self._start()
        threading.Thread(target=self._watch, name=name, daemon=True).start()

    def _start(self) -> Any:
        env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
        return self._popen(self._cmd, pass_fds=self._pass_fds, env=env)

    def _watch(self) -> None:
        while not self._stopping.wait(self.RESTART_DELAY_S):
            if self.proc.poll() is not None and not self._stopping.is_set():
                typer.secho(f"{self.name} exited ({self.proc.returncode}); restarting",
                            fg=typer.colors.YELLOW, err=True)
                self.proc = self._start()

    def stop(self) -> None:
        import subprocess

        self._stopping.set()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=self.STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@app.command("api-worker", hidden=True)
def api_worker(
    fd: Annotated[int, typer.Option(help="The listening socket inherited from serve.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    node_rpc: NodeRpc = None,
    issuer_key: IssuerKey = None,
    operator_key: OperatorKey = None,
) -> None:
    """One more API process of `serve` (which starts it): serves the inherited socket and
    pumps its own simulated banks; payouts, webhooks and chain work run elsewhere."""
    _follow_parent()
    settings = _settings(data_dir, database_url, node_rpc=node_rpc, issuer_key=issuer_key,
                         operator_key=operator_key)
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise _fail(f"--fd {fd} is not a socket: {exc.strerror}") from None
    platform = _build(settings)
    platform.start_rail_worker(dispatch=False)
    try:
        _run_api(platform, sock)
    finally:
        sock.close()
        platform.stop_workers()
        platform.close()


@app.command("settle")
def settle(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    node_rpc: NodeRpc = None,
    issuer_key: IssuerKey = None,
    operator_key: OperatorKey = None,
) -> None:
    """Run only the outbox worker (account opening, authorisation, settlement) in the
    foreground; `serve` starts this itself. SIGTERM or Ctrl-C stops it cleanly."""
    _follow_parent()
    # SIGTERM and SIGINT are blocked in every thread (threads inherit the mask) and taken
    # by sigwait below. A handler that set a threading.Event could run inside the main
    # thread's own Event.wait, on the same non-reentrant lock, and hang the process.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    settings = _settings(data_dir, database_url, node_rpc=node_rpc, issuer_key=issuer_key,
                         operator_key=operator_key)
    platform = _build(settings)
    try:
        if not platform.start_workers(local=False, chain=True):
            typer.echo("no node or keys configured: chain work stays queued", err=True)
        signal.sigwait(stop_signals)
    except ConfigError as exc:
        raise _fail(str(exc)) from None
    finally:
        platform.stop_workers()
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
    """Show the development outbox: the e-mails and SMS the platform would send. Messages
    with codes stay only while their code lives, and never outside development."""
    from corridor.platform.domain import identity as idn
    from corridor.platform.services import codes

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        destination = None
        if to:
            try:
                destination = (idn.normalise_email(to) if "@" in to
                               else idn.normalise_phone(to))
            except Exception:
                raise _fail(f"{to} is not an e-mail address or phone number") from None
        rows = codes.outbox(platform.deps, destination, limit)
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

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        report = audit.verify(platform.deps)
    finally:
        platform.close()
    if not report.ok:
        raise _fail(f"audit chain broken: {report.problem}")
    typer.echo(f"audit chain intact: {report.entries} entries")


@app.command("wallets-check")
def wallets_check(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    node_rpc: NodeRpc = None,
    repair: Annotated[bool, typer.Option(
        "--repair", help="Queue the opening of each absent wallet again.")] = False,
) -> None:
    """Find wallets `open` on the platform but absent on chain (exit 1 if any is left
    unrepaired); with --repair, queue their opening (and authorisations) again."""
    from corridor.platform.domain.errors import PlatformError
    from corridor.platform.services import reconcile

    platform = _build(_existing(_settings(data_dir, database_url, node_rpc=node_rpc)))
    try:
        report = reconcile.check_open_wallets(platform.deps, repair=repair)
    except PlatformError as exc:
        raise _fail(exc.message) from None
    finally:
        platform.close()
    for a in report.absent:
        state = "repaired: opening queued" if a.repaired else (
            "NOT repaired: key not proven" if repair else "absent")
        typer.echo(f"{a.wallet_id} {a.address} ({a.owner_type} {a.owner_id}): {state}")
    typer.echo(f"checked {report.checked} open wallets: {len(report.absent)} absent on chain"
               f", {sum(a.repaired for a in report.absent)} repaired")
    if not report.ok:
        raise typer.Exit(1)


@app.command("rotate-keys")
def rotate_keys(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Make a new master key active and re-wrap every sealed secret under it."""
    from corridor.platform.adapters import custody_admin

    platform = _build(_existing(_settings(data_dir, database_url)))
    try:
        n, key_id = custody_admin.rotate_master_key(platform)
    finally:
        platform.close()
    typer.echo(f"re-wrapped {n} secrets under master key {key_id}")
