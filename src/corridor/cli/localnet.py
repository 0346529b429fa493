"""`corridor localnet up|down`: a local network of validator (and full-node) processes.

DIR/localnet.json        the nodes: name, home, RPC and p2p ports, validator or not
DIR/wallets/NAME.json    the demo wallets (issuer, treasury, alice, bob), mode 0600
DIR/rpc_token            the client token every node's RPC accepts (mode 0600)
DIR/nodeN/               each node's home (genesis.json, validator_key.json for validators,
                         p2p_key.pem, p2p_cert.pem, peers.json, rpc_access.json, data/),
                         node.log, node.pid

`up` creates the network on first use (keys, TLS identities, one genesis, peers.json in every
home), then starts every node that is not running, each in its own session so it outlives
the command; `down` stops them (SIGTERM, then SIGKILL after a grace period). Data is kept:
`up` again continues the chain.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from corridor.node.network_homes import LOCALNET_FILE, create
from corridor.node.rpc_access import (
    DEFAULT_MODE,
    MODES,
    AccessConfigError,
    check_mode,
    init_access,
    read_client_token,
    set_mode,
)

app = typer.Typer(help="A local multi-validator network.", no_args_is_help=True)

DirOpt = Annotated[Path, typer.Option("--dir", help="Where the network's homes live.")]
DEFAULT_DIR = Path(".corridor/localnet")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CLI = "from corridor.cli.main import app; app()"


def load(directory: Path) -> list[dict[str, Any]] | None:
    path = directory / LOCALNET_FILE
    if not path.exists():
        return None
    nodes: list[dict[str, Any]] = json.loads(path.read_text())
    return nodes


def running_pid(home: Path) -> int | None:
    """The pid of the node running in `home`, or None."""
    try:
        pid = int((home / "node.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    try:  # a zombie (our own dead child) is not running
        status = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return pid
    return None if status == "Z" else pid


def start_node(directory: Path, node: dict[str, Any], block_interval_ms: int) -> int:
    """Starts one node process in its own session; returns its pid."""
    home = directory / node["home"]
    cmd = [
        sys.executable,
        "-c",
        CLI,
        "node",
        "start",
        "--home",
        str(home),
        "--rpc-port",
        str(node["rpc_port"]),
        "--block-interval-ms",
        str(block_interval_ms),
    ]
    with (home / "node.log").open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    (home / "node.pid").write_text(f"{proc.pid}\n")
    return proc.pid


def wait_ready(
    node: dict[str, Any], pid: int, timeout_s: float = START_TIMEOUT_S, token: str | None = None
) -> None:
    import httpx

    url = f"http://127.0.0.1:{node['rpc_port']}/v1/status"
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0, headers=headers).status_code == 200:
                return
        except httpx.TransportError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            raise RuntimeError(f"{node['name']} exited during start-up") from None
        time.sleep(0.1)
    raise RuntimeError(f"{node['name']} did not answer within {timeout_s:.0f} s")


def stop_node(directory: Path, node: dict[str, Any]) -> bool:
    home = directory / node["home"]
    pid = running_pid(home)
    if pid is None:
        (home / "node.pid").unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while running_pid(home) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    if running_pid(home) is not None:
        os.kill(pid, signal.SIGKILL)
    (home / "node.pid").unlink(missing_ok=True)
    return True


@app.command("up")
def up(
    directory: DirOpt = DEFAULT_DIR,
    validators: Annotated[int, typer.Option(min=1, max=64, help="Validators (new network).")] = 4,
    full_nodes: Annotated[
        int, typer.Option(min=0, max=16, help="Non-validating nodes (new network).")
    ] = 0,
    node: Annotated[
        list[str] | None, typer.Option("--node", help="Start only these nodes (repeatable).")
    ] = None,
    block_interval_ms: Annotated[int, typer.Option(min=10, help="Minimum block interval.")] = 250,
    rpc_access: Annotated[str | None, typer.Option(
        "--rpc-access", help=f"The nodes' RPC access mode: {', '.join(MODES)} "
        f"(docs/node-rpc-access.md); new network default {DEFAULT_MODE}; given for an existing "
        "network, it is saved in the homes of the nodes started now.")] = None,
) -> None:
    """Create (first time) and start a local network; prints each node's ports."""
    try:
        mode = None if rpc_access is None else check_mode(rpc_access)
    except AccessConfigError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    nodes = load(directory)
    if nodes is None:
        nodes = create(directory, validators, full_nodes, rpc_access=mode or DEFAULT_MODE)
        typer.echo(f"created a {validators}-validator network in {directory}")
    elif read_client_token(directory) is None:  # made before access modes: one token for all
        init_access([directory / n["home"] for n in nodes], mode=mode or DEFAULT_MODE,
                    client_dir=directory)
    wanted = [n for n in nodes if not node or n["name"] in node]
    started: list[tuple[dict[str, Any], int]] = []
    for n in wanted:
        if running_pid(directory / n["home"]) is None:
            if mode is not None:
                set_mode(directory / n["home"], mode)
            started.append((n, start_node(directory, n, block_interval_ms)))
    try:
        token = read_client_token(directory)
        for n, pid in started:
            wait_ready(n, pid, token=token)
    except RuntimeError as exc:
        typer.secho(f"error: {exc} (see its node.log)", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None
    for n in wanted:
        role = "validator" if n["validator"] else "full node"
        typer.echo(
            f"{n['name']:<8} {role:<10} RPC http://127.0.0.1:{n['rpc_port']}  "
            f"p2p 127.0.0.1:{n['p2p_port']}  pid {running_pid(directory / n['home'])}"
        )


@app.command("down")
def down(
    directory: DirOpt = DEFAULT_DIR,
    node: Annotated[
        list[str] | None, typer.Option("--node", help="Stop only these nodes (repeatable).")
    ] = None,
) -> None:
    """Stop the network's processes (data is kept)."""
    nodes = load(directory)
    if nodes is None:
        typer.echo(f"no local network in {directory}")
        return
    for n in nodes:
        if (not node or n["name"] in node) and stop_node(directory, n):
            typer.echo(f"stopped {n['name']}")
