"""`corridor light`: verify what a node says from a trusted genesis, without trusting the node.

Both commands print only what verified: the header's commit (who signed, with how much
power), then the proven transaction or account. Any failure is one red line and exit 1.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from corridor.cli.common import DEFAULT_HOME, DEFAULT_RPC, HOME_ENV, CliError, format_money
from corridor.cli.node_client import client_token
from corridor.cli.wallet import resolve_address
from corridor.ledger import keys
from corridor.node import views
from corridor.node.light_client import LightClient, LightClientError, VerifiedHeader, load_trust

app = typer.Typer(help="A light client: verify transactions and accounts by commits and proofs.",
                  no_args_is_help=True)

RpcOpt = Annotated[str, typer.Option("--rpc", help="The node's RPC URL.")]
GenesisOpt = Annotated[Path, typer.Option(
    "--genesis",
    help="The network's genesis document (the trust root: get it from the network, not the node).",
)]
HomeOpt = Annotated[Path, typer.Option(
    "--home", envvar=HOME_ENV, help="Where wallet NAME is looked up, and rpc_token (the "
    "node's client token; CORRIDOR_RPC_TOKEN overrides it).")]


def _one_line_errors(fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LightClientError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(1) from None

    return wrapper


def _token(home: Path) -> str | None:
    try:
        return client_token(home)
    except CliError as exc:
        raise LightClientError("bad_argument", str(exc)) from None


def _echo_header(at: VerifiedHeader) -> None:
    h, vals = at.header, at.trusted.validators
    typer.echo(f"  chain       {h.chain_id}")
    typer.echo(f"  header      height {h.height}, hash {h.hash().hex()}")
    if at.commit is None:
        typer.echo("  commit      none needed: this is the trusted genesis header")
        return
    power = sum(vals.power_of(s.public_key) for s in at.commit.signatures)
    typer.echo(f"  commit      {len(at.commit.signatures)} of {len(vals.validators)} validators, "
               f"power {power} of {vals.total_power} (> 2/3), round {at.commit.round}")


def _decimals(genesis: Path) -> dict[tuple[str, str], int]:
    """Each genesis asset's decimals, to show amounts in major units (the genesis file is
    what the light client trusts; an asset issued later is shown in minor units)."""
    try:
        doc = json.loads(genesis.read_text())
        return {(str(a["code"]), str(a["issuer"])): int(a["decimals"])
                for a in doc.get("assets", [])}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}  # load_trust reports an unreadable genesis in its own words


@app.command("verify-tx")
@_one_line_errors
def verify_tx(tx_hash: Annotated[str, typer.Argument(metavar="HASH", help="The tx id (hex).")],
              genesis: GenesisOpt, rpc: RpcOpt = DEFAULT_RPC,
              home: HomeOpt = DEFAULT_HOME) -> None:
    """Verify that a transaction is in a block committed by the genesis validators."""
    try:
        tx_id = bytes.fromhex(tx_hash)
    except ValueError:
        tx_id = b""
    if len(tx_id) != 32:
        raise LightClientError("bad_argument", f"{tx_hash!r} is not a 64-hex-digit tx id")
    places = _decimals(genesis)
    with LightClient(rpc, load_trust(genesis), token=_token(home)) as client:
        got = client.verify_tx(tx_id)
    typer.echo(f"verified transaction {tx_id.hex()}")
    _echo_header(got.at)
    tx = got.stx.tx
    typer.echo(f"  included    at index {got.index} of {got.at.header.tx_count}")
    typer.echo(f"  source      {keys.encode_address(tx.source)}, sequence {tx.sequence}")
    for op in tx.operations:
        view = views.operation_view(op)
        if "amount" in view:
            view["amount"] = format_money(int(view["amount"]), view["code"],
                                          places.get((view["code"], view["issuer"])))
            del view["code"]
        detail = ", ".join(f"{k} {v}" for k, v in view.items() if k != "type" and v is not None)
        typer.echo(f"  operation   {view['type']}: {detail}")


@app.command("verify-account")
@_one_line_errors
def verify_account(address: Annotated[str, typer.Argument(metavar="ADDR|NAME")],
                   genesis: GenesisOpt, rpc: RpcOpt = DEFAULT_RPC,
                   home: HomeOpt = DEFAULT_HOME) -> None:
    """Verify an account's state (or absence) under a header the genesis validators committed."""
    try:
        raw = resolve_address(home, address, "account")
    except CliError as exc:
        raise LightClientError("bad_argument", str(exc)) from None
    address = keys.encode_address(raw)
    places = _decimals(genesis)
    with LightClient(rpc, load_trust(genesis), token=_token(home)) as client:
        got = client.verify_account(raw)
    typer.echo(f"verified account {address}")
    _echo_header(got.at)
    if got.account is None:
        typer.echo("  state       does not exist (proven absent)")
        return
    view = views.account_view(got.account)
    typer.echo(f"  sequence    {view['sequence']}, threshold {view['threshold']}, "
               f"{len(view['signers'])} signer(s)")
    for b in view["balances"]:
        flags = (" authorised" if b["authorised"] else "") + (" frozen" if b["frozen"] else "")
        shown = format_money(int(b["balance"]), b["code"], places.get((b["code"], b["issuer"])))
        typer.echo(f"  balance     {shown} (issuer {b['issuer']}){flags}")
