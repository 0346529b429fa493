"""`corridor node ...` and `corridor up`: initialise a home and run a node in the foreground."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer

from corridor.ledger import keys
from corridor.node.home import DEMO_CUSTOMERS, Home, HomeError, init_demo_home
from corridor.node.runner import RunnerConfig
from corridor.node.storage import StorageCorrupt

app = typer.Typer(help="Run a Corridor node.", no_args_is_help=True)

HomeOpt = Annotated[Path, typer.Option("--home", help="The node's home directory.")]
DEFAULT_HOME = Path(".corridor/node")


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


@app.command("init")
def init(home: HomeOpt = DEFAULT_HOME) -> None:
    """Create a single-validator demo network in HOME (keys, genesis, demo wallets)."""
    try:
        created = init_demo_home(home, genesis_time_ms=int(time.time() * 1000))
    except HomeError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"initialised {created.path} (chain {created.genesis().chain_id})")


def _start(
    home: Home,
    rpc_host: str,
    rpc_port: int,
    block_interval_ms: int,
    empty_blocks: bool,
    debug_invariants: bool,
    banner: bool,
) -> None:
    from corridor.node.app import NodeFailed, NodeOptions, serve

    options = NodeOptions(
        rpc_host=rpc_host,
        rpc_port=rpc_port,
        debug_invariants=debug_invariants,
        runner=RunnerConfig(block_interval_ms=block_interval_ms, empty_blocks=empty_blocks),
    )

    def ready(core: object, url: str) -> None:
        from corridor.node.core import NodeCore

        assert isinstance(core, NodeCore)
        typer.echo(f"corridor node: chain {core.genesis.chain_id}, height {core.head.height}")
        typer.echo(f"  RPC      {url}/v1/status")
        typer.echo(f"  API docs {url}/docs")
        typer.echo(f"  events   {url}/v1/events")
        if banner:
            _print_demo_hint(home, url)
        typer.echo("Ctrl-C stops the node.", err=True)

    try:
        asyncio.run(serve(home, options, on_ready=ready))
    except (HomeError, StorageCorrupt, NodeFailed) as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot serve on {rpc_host}:{rpc_port}: {exc.strerror}") from None
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
    typer.echo(f"  .venv/bin/corridor account show {wallets['bob']} --rpc {url}")


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
) -> None:
    """Run the node in HOME in the foreground."""
    _start(
        Home(home),
        rpc_host,
        rpc_port,
        block_interval_ms,
        empty_blocks,
        debug_invariants,
        banner=False,
    )


def up(
    home: HomeOpt = Path(".corridor/local"),
    rpc_port: Annotated[int, typer.Option(help="Node RPC port.")] = 26657,
) -> None:
    """Start the whole system on its embedded defaults (today: a one-validator network)."""
    target = Home(home)
    if not target.genesis_path.exists():
        init_demo_home(home, genesis_time_ms=int(time.time() * 1000))
        typer.echo(f"created a demo network in {home}")
    _start(target, "127.0.0.1", rpc_port, 250, False, False, banner=True)
