"""`corridor genesis new`: build, validate and write a genesis document from the command line.

Keys and addresses are typed in their text forms (checked on the way in); the document is
validated by the ledger's own `genesis_from_document` before it is written, atomically.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from corridor.cli.common import die, parse_time_ms, run_cli
from corridor.ledger import keys
from corridor.ledger.errors import DecodeError
from corridor.ledger.genesis import genesis_from_document

genesis_app = typer.Typer(help="Build genesis documents.", no_args_is_help=True)

_ASSET_FLAGS = ("auth_required", "freezable", "clawback")


def _parse_validator(text: str) -> dict[str, Any]:
    key, _, power = text.partition(":")
    try:
        keys.decode_public_key(key)
    except DecodeError as exc:
        die(f"--validator {text!r}: {exc.message}")
    if power and not power.isdigit():
        die(f"--validator {text!r}: power must be a positive integer")
    if power and int(power) < 1:
        die(f"--validator {text!r}: power must be at least 1")
    return {"public_key": key, "power": int(power) if power else 1}


def _parse_asset(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) not in (3, 4):
        die(f"--asset {text!r}: expected CODE:ISSUER_ADDRESS:DECIMALS[:flags]")
    code, issuer, decimals = parts[:3]
    try:
        keys.decode_address(issuer)
    except DecodeError as exc:
        die(f"--asset {text!r}: issuer: {exc.message}")
    if not decimals.isdigit():
        die(f"--asset {text!r}: decimals must be an integer")
    entry: dict[str, Any] = {"code": code, "issuer": issuer, "decimals": int(decimals)}
    for flag in (f for f in (parts[3].split(",") if len(parts) == 4 else []) if f):
        if flag not in _ASSET_FLAGS:
            die(f"--asset {text!r}: unknown flag {flag!r} (flags: {', '.join(_ASSET_FLAGS)})")
        entry[flag] = True
    return entry


def _parse_balance(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) != 4:
        die(f"--balance {text!r}: expected HOLDER:CODE:ISSUER:AMOUNT")
    holder, code, issuer, amount = parts
    for what, value in (("holder", holder), ("issuer", issuer)):
        try:
            keys.decode_address(value)
        except DecodeError as exc:
            die(f"--balance {text!r}: {what}: {exc.message}")
    if not amount.isdigit():
        die(f"--balance {text!r}: amount must be an integer number of minor units")
    return {"holder": holder, "code": code, "issuer": issuer, "amount": int(amount)}


@genesis_app.command("new")
@run_cli
def genesis_new(
    out: Annotated[Path, typer.Option("--out", help="Where to write the genesis JSON.")],
    chain_id: Annotated[str, typer.Option("--chain-id", help="The network's chain id.")],
    validator: Annotated[list[str], typer.Option(
        "--validator", metavar="PUBKEY[:POWER]", help="A validator (power defaults to 1).")],
    account: Annotated[list[str] | None, typer.Option(
        "--account", metavar="PUBKEY", help="A genesis account (signed by its own key).")] = None,
    asset: Annotated[list[str] | None, typer.Option(
        "--asset", metavar="CODE:ISSUER_ADDRESS:DECIMALS[:flags]",
        help="An asset; flags comma-separated from auth_required,freezable,clawback.")] = None,
    balance: Annotated[list[str] | None, typer.Option(
        "--balance", metavar="HOLDER:CODE:ISSUER:AMOUNT",
        help="A starting balance, AMOUNT in integer minor units (as in the genesis file).")
    ] = None,
    genesis_time: Annotated[str | None, typer.Option(
        "--genesis-time", help="ISO-8601 genesis time (default: now).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out.")] = False,
) -> None:
    """Build, validate and write a genesis document."""
    accounts = []
    for text in account or []:
        try:
            keys.decode_public_key(text)
        except DecodeError as exc:
            die(f"--account {text!r}: {exc.message}")
        accounts.append({"public_key": text})
    time_ms = (int(time.time() * 1000) if genesis_time is None
               else parse_time_ms(genesis_time, "--genesis-time"))
    doc: dict[str, Any] = {
        "chain_id": chain_id,
        "genesis_time_ms": time_ms,
        "validators": [_parse_validator(v) for v in validator],
        "accounts": accounts,
        "assets": [_parse_asset(a) for a in asset or []],
        "balances": [_parse_balance(b) for b in balance or []],
    }
    try:
        genesis = genesis_from_document(doc)
    except DecodeError as exc:
        die(exc.message)
    if out.exists() and not force:
        die(f"{out} exists (use --force to overwrite)")
    text = json.dumps(doc, indent=2) + "\n"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(out)
    except OSError as exc:
        die(f"cannot write {out}: {exc.strerror}")
    typer.echo(f"wrote {out}: chain {genesis.chain_id}, {len(doc['validators'])} validator(s), "
               f"{len(accounts)} account(s), {len(doc['assets'])} asset(s)")


