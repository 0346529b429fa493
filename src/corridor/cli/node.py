"""`corridor node ...` and `corridor up`: initialise a home and run a node in the foreground."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import httpx
import typer

from corridor.cli.common import DEFAULT_HOME as UP_HOME
from corridor.cli.common import HOME_ENV
from corridor.ledger import keys
from corridor.node.home import DEMO_CUSTOMERS, Home, HomeError, init_demo_home
from corridor.node.rpc_access import (
    DEFAULT_MODE,
    MODES,
    AccessConfigError,
    add_token,
    check_mode,
    ensure_access,
    read_client_token,
    revoke_token,
)
from corridor.node.runner import RunnerConfig
from corridor.node.storage import StorageCorrupt

app = typer.Typer(help="Run a Corridor node.", no_args_is_help=True)

HomeOpt = Annotated[Path, typer.Option("--home", envvar=HOME_ENV,
                                       help="The node's home directory.")]
DEFAULT_HOME = Path(".corridor/node")
ACCESS_HELP = (
    f"RPC access mode: {', '.join(MODES)} (docs/node-rpc-access.md). "
)
NewAccessOpt = Annotated[str, typer.Option(
    "--rpc-access", help=ACCESS_HELP + f"Default {DEFAULT_MODE}.")]
RunAccessOpt = Annotated[str | None, typer.Option(
    "--rpc-access", help=ACCESS_HELP + "For this run; default: the home's rpc_access.json.")]
token_app = typer.Typer(help="Client tokens of a node's RPC.", no_args_is_help=True)
app.add_typer(token_app, name="token")


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _mode(mode: str | None) -> str | None:
    try:
        return None if mode is None else check_mode(mode)
    except AccessConfigError as exc:
        raise _fail(str(exc)) from None


@app.command("init")
def init(home: HomeOpt = DEFAULT_HOME, rpc_access: NewAccessOpt = DEFAULT_MODE) -> None:
    """Create a single-validator demo network in HOME (keys, genesis, demo wallets)."""
    try:
        created = init_demo_home(home, genesis_time_ms=int(time.time() * 1000),
                                 rpc_access=_mode(rpc_access) or DEFAULT_MODE)
    except HomeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"initialised {created.path} (chain {created.genesis().chain_id}, "
               f"RPC access {rpc_access}; client token in {created.path / 'rpc_token'})")


def _existing(home: Path) -> Path:
    if not Home(home).genesis_path.exists():
        raise _fail(f"no node home at {home} (no genesis.json; run `corridor node init`)")
    return home


@app.command("identity")
def identity(
    p2p_address: Annotated[str, typer.Option(
        "--p2p-address", help="HOST:PORT where the network's nodes reach this node's p2p "
        "listener (it listens on that port).")],
    home: HomeOpt = DEFAULT_HOME,
) -> None:
    """Print this node's entry for the network's peers.json: its p2p address, the
    fingerprint and certificate of its TLS identity (made in HOME on first use, kept
    there), and its validator key, or null for a non-validating full node such as a
    regulator's observer (docs/regulator-observer.md). Give it to the network's operators;
    every node pins the certificates its peers.json lists."""
    import json

    from corridor.node import p2p

    host, _, port = p2p_address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _fail(f"--p2p-address must be HOST:PORT, not {p2p_address!r}")
    home.mkdir(parents=True, exist_ok=True)
    try:
        key = Home(home).validator_key()
    except HomeError as exc:
        raise _fail(str(exc)) from None
    me = p2p.ensure_identity(home)
    entry = p2p.peer_entry(p2p.PeerInfo(
        host=host, port=int(port), fingerprint=me.fingerprint, certificate=me.cert_pem,
        validator_public_key=None if key is None else key.public_key))
    typer.echo(json.dumps(entry, indent=2))


@token_app.command("new")
def token_new(
    name: Annotated[str, typer.Option(help="What the token is for (to revoke it later).")],
    home: HomeOpt = DEFAULT_HOME,
) -> None:
    """Create a client token: printed once, only its hash is kept in HOME/rpc_access.json.
    A running node accepts it after its next start."""
    try:
        token = add_token(_existing(home), name)
    except AccessConfigError as exc:
        raise _fail(str(exc)) from None
    typer.echo(token)


@token_app.command("list")
def token_list(home: HomeOpt = DEFAULT_HOME) -> None:
    """The access mode and the names of the tokens HOME's node accepts."""
    try:
        access = ensure_access(_existing(home))
    except AccessConfigError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"mode {access.mode}")
    for t in access.tokens:
        typer.echo(f"token {t.name}")


@token_app.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument()], home: HomeOpt = DEFAULT_HOME) -> None:
    """Stop accepting the token NAME (after the node's next start)."""
    try:
        revoke_token(_existing(home), name)
    except AccessConfigError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"revoked {name}")


def _start(
    home: Home,
    rpc_host: str,
    rpc_port: int,
    block_interval_ms: int,
    empty_blocks: bool,
    debug_invariants: bool,
    banner: bool,
    after_ready: Callable[[str], None] | None = None,
    rpc_access: str | None = None,
    before_stop: Callable[[], None] | None = None,
) -> None:
    from corridor.node.app import NodeFailed, NodeOptions, new_event_loop, serve

    options = NodeOptions(
        rpc_host=rpc_host,
        rpc_port=rpc_port,
        debug_invariants=debug_invariants,
        runner=RunnerConfig(block_interval_ms=block_interval_ms, empty_blocks=empty_blocks),
        rpc_access=_mode(rpc_access),
    )

    def ready(core: object, url: str) -> None:
        from corridor.node.core import NodeCore

        assert isinstance(core, NodeCore)
        typer.echo(f"corridor node: chain {core.genesis.chain_id}, height {core.head.height}")
        typer.echo(f"  RPC      {url}/v1/status")
        typer.echo(f"  API docs {url}/docs")
        typer.echo(f"  events   {url}/v1/events")
        mode = rpc_access or ensure_access(home.path).mode
        typer.echo(f"  access   {mode} (client token: {home.path / 'rpc_token'}, "
                   "or CORRIDOR_RPC_TOKEN)")
        if banner:
            _print_demo_hint(home, url)
        if after_ready is not None:
            after_ready(url)
        typer.echo("Ctrl-C stops the node" + (" and the platform." if before_stop else "."),
                   err=True)

    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(serve(home, options, on_ready=ready, before_stop=before_stop))
    except (HomeError, StorageCorrupt, NodeFailed) as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot serve on {rpc_host}:{rpc_port}: {exc.strerror} (choose another "
                    "port with --rpc-port)") from None
    except KeyboardInterrupt:
        pass


def _print_demo_hint(home: Home, url: str) -> None:
    wallets = {
        n: keys.encode_address(
            keys.keypair_from_keyfile_json(home.wallet_path(n).read_text()).address
        )
        for n in DEMO_CUSTOMERS
    }
    typer.echo("\nDemo wallets: " + ", ".join(f"{n} {a}" for n, a in wallets.items()))
    typer.echo("Send a payment (in another terminal):")
    typer.echo(
        f"  .venv/bin/corridor tx pay --home {home.path} --from alice --to bob "
        f"--amount 12.50 --currency USD --rpc {url}"
    )
    typer.echo(f"  .venv/bin/corridor account show {wallets['bob']} --home {home.path} --rpc {url}")


@app.command("start")
def start(
    home: HomeOpt = DEFAULT_HOME,
    rpc_host: Annotated[str, typer.Option(help="Address the RPC listens on.")] = "127.0.0.1",
    rpc_port: Annotated[int, typer.Option(help="RPC port.")] = 26657,
    block_interval_ms: Annotated[
        int, typer.Option(min=10, help="Minimum time between blocks.")
    ] = 250,
    empty_blocks: Annotated[
        bool, typer.Option(help="Make blocks even with no transactions.")
    ] = False,
    debug_invariants: Annotated[
        bool, typer.Option(help="Check ledger invariants on every block.")
    ] = False,
    rpc_access: RunAccessOpt = None,
) -> None:
    """Run the node in HOME in the foreground."""
    problem = port_problem(rpc_host, rpc_port)
    if problem is not None:
        raise _fail(f"the node's RPC cannot listen on {rpc_host}:{rpc_port} ({problem}): "
                    "choose another port with --rpc-port")
    _start(
        Home(home),
        rpc_host,
        rpc_port,
        block_interval_ms,
        empty_blocks,
        debug_invariants,
        banner=False,
        rpc_access=rpc_access,
    )


def up(
    home: HomeOpt = UP_HOME,
    rpc_port: Annotated[int, typer.Option(help="Node RPC port.")] = 26657,
    platform_port: Annotated[int, typer.Option(help="Platform API port.")] = 8000,
    rpc_access: RunAccessOpt = None,
) -> None:
    """Start the whole system on its embedded defaults: a one-validator network and the
    platform API on it (the demo issuer issues; the demo treasury opens accounts). Both
    run or neither: a platform that cannot start stops the node, and the exit code is 1."""
    target = Home(home)
    mode = _mode(rpc_access)
    for port, flag, what in ((rpc_port, "--rpc-port", "the node's RPC"),
                             (platform_port, "--platform-port", "the platform API")):
        problem = port_problem("127.0.0.1", port)
        if problem is not None:
            raise _fail(f"{what} cannot listen on 127.0.0.1:{port} ({problem}): choose "
                        f"another port with {flag}")
    if not target.genesis_path.exists():
        init_demo_home(home, genesis_time_ms=int(time.time() * 1000),
                       rpc_access=mode or DEFAULT_MODE)
        typer.echo(f"created a demo network in {home}")
    platform = PlatformProcess(target, platform_port)
    try:
        _start(target, "127.0.0.1", rpc_port, 250, False, False, banner=True,
               after_ready=platform.start, rpc_access=mode, before_stop=platform.stop)
    finally:
        platform.stop()
    if platform.failure is not None:
        raise _fail(platform.failure)


def port_problem(host: str, port: int) -> str | None:
    """Why nothing could listen on host:port now (None: it can). Checked before anything
    starts, so a taken port is one clear line instead of half a system running."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
    try:
        sock.bind((host, port))
    except OSError as exc:
        return exc.strerror or str(exc)
    finally:
        sock.close()
    return None


class PlatformProcess:
    """The platform API as a child process of `corridor up`: it is a client of the node
    over RPC, exactly as in a deployment where they run on different machines.

    It runs in its own session, so a Ctrl-C in the terminal reaches `corridor up` alone,
    which stops the platform (its workers last) before the node: the workers never find
    the node gone (no "settlement round failed ... Connection refused" on a normal stop).
    It follows `corridor up` (PR_SET_PDEATHSIG) in case `up` itself is killed."""

    STOP_TIMEOUT_S = 30.0

    def __init__(self, home: Home, port: int) -> None:
        self.home = home
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.failure: str | None = None  # why the platform stopped on its own
        self._stopping = threading.Event()

    def start(self, node_url: str) -> None:
        from corridor.cli.platform import PARENT_PID_ENV

        cmd = [
            sys.executable, "-m", "corridor.cli.main", "platform", "serve",
            "--port", str(self.port), "--data-dir", str(self.home.path / "platform"),
            "--node-rpc", node_url,
            "--issuer-key", str(self.home.wallet_path("issuer")),
            "--operator-key", str(self.home.wallet_path("treasury")),
        ]
        env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
        token = read_client_token(self.home.path)  # after the node start made it, if missing
        if token is not None:
            env["CORRIDOR_NODE_RPC_TOKEN"] = token  # not in argv: `ps` shows argv to all
        self.proc = subprocess.Popen(cmd, env=env, start_new_session=True)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        """Announces the platform once it answers; if it exits on its own (a taken port,
        a bad setting), records why and stops the node (SIGTERM to this process)."""
        url = f"http://127.0.0.1:{self.port}"
        announced = False
        deadline = time.monotonic() + 60
        while self.proc is not None and not self._stopping.is_set():
            code = self.proc.poll()
            if code is not None:
                self._failed(f"the platform API exited (code {code}; its output is above); "
                             f"if port {self.port} is taken, choose another with "
                             "--platform-port")
                return
            if not announced and time.monotonic() > deadline:
                self._failed("the platform API did not start within 60 s; see its output "
                             "above")
                return
            if not announced and _answers(f"{url}/v1/health"):
                announced = True
                typer.echo(f"\nPortal         {url}/\nPlatform API   {url}/v1\n"
                           f"  API docs     {url}/docs")
                typer.echo(f"  dev outbox   .venv/bin/corridor platform outbox "
                           f"--data-dir {self.home.path / 'platform'}")
            time.sleep(0.2)

    def _failed(self, why: str) -> None:
        if self._stopping.is_set():
            return
        self.failure = why
        os.kill(os.getpid(), signal.SIGTERM)  # the node's own clean stop

    def stop(self) -> None:
        """Stops the platform and waits for it (its workers first); idempotent."""
        self._stopping.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=self.STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
