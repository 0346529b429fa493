"""Wallet and explorer commands: `corridor keys`, `tx`, `account`, `block` (`genesis`: cli.genesis).

Wallets are key files in HOME/wallets/NAME.json (see `corridor.node.home`). Commands that
talk to a node use its HTTP RPC (`--rpc`). Amounts are typed as decimal strings ("12.50") and
converted exactly to integer minor units by the platform's one amount parser
(`corridor.platform.domain.money`), using the asset's decimals as the node reports them; a
float never touches an amount.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from corridor.cli import node_client
from corridor.cli.common import (
    DEFAULT_HOME,
    DEFAULT_RPC,
    HOME_ENV,
    die,
    format_money,
    ms_text,
    parse_amount,
    parse_time_ms,
    run_cli,
)
from corridor.cli.node_client import Node, NodeError, build_tx, check_result, find_asset, submit
from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.errors import DecodeError
from corridor.ledger.keys import KeyPair
from corridor.ledger.limits import SIGNER_WEIGHT_MAX
from corridor.ledger.tx import (
    HASH_LEN,
    PREIMAGE_BYTES_MAX,
    EscrowCancel,
    EscrowCreate,
    EscrowFinish,
    OpenAccount,
    Operation,
    Payment,
    SetSigners,
    Signer,
)
from corridor.node.home import Home, new_key, read_key, write_key

keys_app = typer.Typer(help="Create, show, import and export wallet keys.", no_args_is_help=True)
tx_app = typer.Typer(help="Sign and submit transactions; follow their status.",
                     no_args_is_help=True)
escrow_app = typer.Typer(help="Create, finish and cancel escrows.", no_args_is_help=True)
tx_app.add_typer(escrow_app, name="escrow")
account_app = typer.Typer(help="Inspect accounts.", no_args_is_help=True)
block_app = typer.Typer(help="Inspect blocks.", no_args_is_help=True)

HomeOpt = Annotated[Path, typer.Option(
    "--home", envvar=HOME_ENV, help="Home directory holding wallets/NAME.json (and rpc_token, "
    "a client token "
    "for the node's RPC; CORRIDOR_RPC_TOKEN overrides it).")]
RpcOpt = Annotated[str, typer.Option("--rpc", help="The node's RPC URL.")]
FromOpt = Annotated[str, typer.Option("--from", help="Wallet name (or key file path) that pays.")]
SignWithOpt = Annotated[
    list[str] | None,
    typer.Option("--sign-with", help="Sign with these wallets instead of --from's key "
                  "(multi-signature accounts). Repeat for each signer."),
]
WaitOpt = Annotated[bool, typer.Option("--wait/--no-wait",
                                       help="Follow the transaction until it is committed.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds to wait for a block.")]
MemoOpt = Annotated[str, typer.Option("--memo", help="A note stored with the transaction.")]

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


# --- Wallets ---------------------------------------------------------------------------------


def _wallet_path(home: Path, ref: str) -> Path:
    """A wallet name resolves in HOME/wallets; anything that looks like a path is a path."""
    if "/" in ref or os.sep in ref or ref.endswith(".json"):
        return Path(ref)
    return Home(home).wallet_path(ref)


def _check_name(name: str) -> None:
    if not _NAME_RE.fullmatch(name):
        die(f"bad wallet name {name!r}: use 1-64 letters, digits, '_', '.' or '-'")


def load_wallet(home: Path, ref: str) -> KeyPair:
    path = _wallet_path(home, ref)
    if not path.exists():
        die(f"no wallet {ref!r} (looked for {path})")
    return read_key(path)


def _save_wallet(home: Path, name: str, kp: KeyPair) -> Path:
    _check_name(name)
    path = Home(home).wallet_path(name)
    if path.exists():
        die(f"wallet {name!r} already exists at {path}")
    try:
        write_key(path, kp)
    except OSError as exc:
        die(f"cannot write {path}: {exc.strerror}")
    return path


def resolve_address(home: Path, ref: str, what: str = "recipient") -> bytes:
    """An address text, or the address of a wallet NAME in HOME."""
    path = _wallet_path(home, ref)
    if path.exists():
        return read_key(path).address
    try:
        return keys.decode_address(ref)
    except DecodeError as exc:
        die(f"unknown {what} {ref!r}: no wallet at {path}, and not an address ({exc.message})")


def resolve_public_key(home: Path, ref: str) -> bytes:
    """A public key text, or the public key of a wallet NAME in HOME."""
    try:
        return keys.decode_public_key(ref)
    except DecodeError as exc:
        path = _wallet_path(home, ref)
        if path.exists():
            return read_key(path).public_key
        die(f"bad public key {ref!r}: no wallet at {path}, and not a public key ({exc.message})")


def _signing_keys(home: Path, source: KeyPair, sign_with: list[str] | None) -> list[KeyPair]:
    if not sign_with:
        return [source]
    found: dict[bytes, KeyPair] = {}
    for ref in sign_with:
        kp = load_wallet(home, ref)
        found[kp.public_key] = kp
    return list(found.values())


# --- keys ------------------------------------------------------------------------------------


def _show_key(kp: KeyPair) -> None:
    typer.echo(f"address:    {keys.encode_address(kp.address)}")
    typer.echo(f"public key: {keys.encode_public_key(kp.public_key)}")


@keys_app.command("new")
@run_cli
def keys_new(name: Annotated[str, typer.Argument(help="Wallet name.")],
             home: HomeOpt = DEFAULT_HOME) -> None:
    """Create a new key in HOME/wallets/NAME.json (owner-only). The seed is never printed."""
    path = _save_wallet(home, name, new_key())
    _show_key(read_key(path))
    typer.echo(f"key file:   {path}")


@keys_app.command("show")
@run_cli
def keys_show(ref: Annotated[str, typer.Argument(metavar="NAME|PATH")],
              home: HomeOpt = DEFAULT_HOME) -> None:
    """Show a wallet's address and public key."""
    _show_key(load_wallet(home, ref))


@keys_app.command("import")
@run_cli
def keys_import(
    name: Annotated[str, typer.Argument(help="Wallet name to create.")],
    seed_file: Annotated[str, typer.Option(
        "--seed-file", help="File holding the seed text (s...), or - for standard input.")],
    home: HomeOpt = DEFAULT_HOME,
) -> None:
    """Import a key from its seed text (the export format, starting with `s`).

    The seed is read from a file or standard input, never from an argument: command-line
    arguments are visible to every user of the machine (`ps`, /proc) and are saved in the
    shell's history, and anyone who sees the seed controls the account.
    """
    if seed_file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(seed_file).read_text()
        except OSError as exc:
            die(f"cannot read {seed_file}: {exc.strerror}")
    try:
        kp = KeyPair.from_seed(keys.decode_seed(text.strip()))
    except DecodeError as exc:
        die(f"bad seed in {'standard input' if seed_file == '-' else seed_file}: {exc.message}")
    path = _save_wallet(home, name, kp)
    _show_key(kp)
    typer.echo(f"key file:   {path}")


@keys_app.command("export")
@run_cli
def keys_export(
    ref: Annotated[str, typer.Argument(metavar="NAME|PATH")],
    yes_show_secret: Annotated[bool, typer.Option(
        "--yes-show-secret", help="Confirm printing the secret seed.")] = False,
    home: HomeOpt = DEFAULT_HOME,
) -> None:
    """Print a wallet's seed text: anyone who sees it controls the account."""
    kp = load_wallet(home, ref)
    if not yes_show_secret:
        die("this prints the secret seed; anyone who sees it controls the account. "
             "Repeat with --yes-show-secret to print it")
    typer.echo(keys.encode_seed(kp.seed))


# --- tx --------------------------------------------------------------------------------------


def _send(home: Path, rpc: str, source_ref: str, make_ops: Any, memo: str,
          sign_with: list[str] | None, wait: bool, timeout: float) -> dict[str, Any] | None:
    source = load_wallet(home, source_ref)
    signers = _signing_keys(home, source, sign_with)
    with node_client.connect(rpc, home).client as client:
        node = Node(rpc, client)
        ops: tuple[Operation, ...] = make_ops(node, source)
        _, encoded = build_tx(node, source, ops, memo, signers)
        return submit(node, encoded, wait, timeout)


@tx_app.command("pay")
@run_cli
def tx_pay(
    from_: FromOpt,
    to: Annotated[str, typer.Option("--to", metavar="ADDRESS|NAME", help="Recipient.")],
    amount: Annotated[str, typer.Option("--amount", help="Decimal amount, e.g. 12.50.")],
    currency: Annotated[str, typer.Option("--currency", help="Asset code, e.g. USD.")],
    issuer: Annotated[str | None, typer.Option(
        "--issuer", help="Issuer address (default: the only issuer of the code).")] = None,
    memo: MemoOpt = "",
    home: HomeOpt = DEFAULT_HOME,
    rpc: RpcOpt = DEFAULT_RPC,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 30.0,
    sign_with: SignWithOpt = None,
) -> None:
    """Pay AMOUNT of CURRENCY to an address or a wallet name."""
    destination = resolve_address(home, to)

    def ops(node: Node, source: KeyPair) -> tuple[Operation, ...]:
        info = find_asset(node.assets(), currency, issuer)
        units = parse_amount(amount, int(info["decimals"]), currency)
        node.account(destination, "recipient")
        asset = Asset(currency, keys.decode_address(info["issuer"]))
        return (Payment(destination=destination, asset=asset, amount=units),)

    _send(home, rpc, from_, ops, memo, sign_with, wait, timeout)


@tx_app.command("open")
@run_cli
def tx_open(
    from_: FromOpt,
    public_key: Annotated[str, typer.Option(
        "--public-key", help="Public key (p...) or wallet name of the new account.")],
    memo: MemoOpt = "",
    home: HomeOpt = DEFAULT_HOME,
    rpc: RpcOpt = DEFAULT_RPC,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 30.0,
    sign_with: SignWithOpt = None,
) -> None:
    """Open an account for a public key (its address derives from the key)."""
    pk = resolve_public_key(home, public_key)
    typer.echo(f"new account: {keys.encode_address(keys.address_of(pk))}")
    _send(home, rpc, from_, lambda n, s: (OpenAccount(public_key=pk),), memo, sign_with,
          wait, timeout)


@tx_app.command("signers")
@run_cli
def tx_signers(
    from_: FromOpt,
    signer: Annotated[list[str], typer.Option(
        "--signer", metavar="PUBKEY:WEIGHT", help="A signer and its weight; repeat.")],
    threshold: Annotated[int, typer.Option("--threshold", help="Weight needed to sign.")],
    memo: MemoOpt = "",
    home: HomeOpt = DEFAULT_HOME,
    rpc: RpcOpt = DEFAULT_RPC,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 30.0,
    sign_with: SignWithOpt = None,
) -> None:
    """Replace the account's signers and threshold (multi-signature)."""
    signers: dict[bytes, Signer] = {}
    for text in signer:
        ref, sep, weight = text.rpartition(":")
        if not sep or not weight.isdigit() or not 1 <= int(weight) <= SIGNER_WEIGHT_MAX:
            die(f"--signer {text!r}: expected PUBKEY:WEIGHT, weight 1..{SIGNER_WEIGHT_MAX}")
        pk = resolve_public_key(home, ref)
        if pk in signers:
            die(f"--signer {text!r}: the key is listed twice")
        signers[pk] = Signer(public_key=pk, weight=int(weight))
    total = sum(s.weight for s in signers.values())
    if not 1 <= threshold <= total:
        die(f"--threshold {threshold} must be 1..{total} (the signers' total weight)")
    op = SetSigners(signers=tuple(sorted(signers.values(), key=lambda s: s.public_key)),
                    threshold=threshold)
    _send(home, rpc, from_, lambda n, s: (op,), memo, sign_with, wait, timeout)


def _read_secret(path: str) -> bytes:
    try:
        secret = Path(path).read_bytes()
    except OSError as exc:
        die(f"cannot read {path}: {exc.strerror}")
    if not 1 <= len(secret) <= PREIMAGE_BYTES_MAX:
        die(f"{path}: a secret is 1-{PREIMAGE_BYTES_MAX} bytes, this is {len(secret)}")
    return secret


def _escrow_id(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        die(f"--escrow-id {text!r} is not hexadecimal")
    if len(raw) != HASH_LEN:
        die(f"--escrow-id must be {HASH_LEN} bytes ({2 * HASH_LEN} hex digits)")
    return raw


@escrow_app.command("create")
@run_cli
def escrow_create(
    from_: FromOpt,
    to: Annotated[str, typer.Option("--to", metavar="ADDRESS|NAME", help="Who may claim it.")],
    amount: Annotated[str, typer.Option("--amount", help="Decimal amount, e.g. 12.50.")],
    currency: Annotated[str, typer.Option("--currency", help="Asset code, e.g. USD.")],
    issuer: Annotated[str | None, typer.Option("--issuer", help="Issuer address.")] = None,
    secret_file: Annotated[str | None, typer.Option(
        "--secret-file", help="Lock with SHA-256 of this file's bytes (keep the file).")] = None,
    hashlock: Annotated[str | None, typer.Option(
        "--hashlock", help="Lock with this SHA-256 hash (64 hex digits).")] = None,
    finish_after: Annotated[str | None, typer.Option(
        "--finish-after", help="Claimable from this time: ISO-8601 or +10m.")] = None,
    cancel_after: Annotated[str | None, typer.Option(
        "--cancel-after", help="Cancellable (no longer claimable) from: ISO-8601 or +1h.")
    ] = None,
    memo: MemoOpt = "",
    home: HomeOpt = DEFAULT_HOME,
    rpc: RpcOpt = DEFAULT_RPC,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 30.0,
    sign_with: SignWithOpt = None,
) -> None:
    """Lock an amount for a recipient behind a hash lock and/or times."""
    if secret_file is not None and hashlock is not None:
        die("give --secret-file or --hashlock, not both")
    lock: bytes | None = None
    if secret_file is not None:
        lock = hashlib.sha256(_read_secret(secret_file)).digest()
    elif hashlock is not None:
        try:
            lock = bytes.fromhex(hashlock)
        except ValueError:
            die("--hashlock is not hexadecimal")
        if len(lock) != HASH_LEN:
            die(f"--hashlock must be {HASH_LEN} bytes ({2 * HASH_LEN} hex digits)")
    finish_ms = None if finish_after is None else parse_time_ms(finish_after, "--finish-after")
    cancel_ms = None if cancel_after is None else parse_time_ms(cancel_after, "--cancel-after")
    if lock is None and finish_ms is None and cancel_ms is None:
        die("an escrow needs a condition: --secret-file, --hashlock, --finish-after "
             "or --cancel-after")
    if finish_ms is not None and cancel_ms is not None and cancel_ms <= finish_ms:
        die("--cancel-after must be later than --finish-after")
    destination = resolve_address(home, to)

    def ops(node: Node, source: KeyPair) -> tuple[Operation, ...]:
        info = find_asset(node.assets(), currency, issuer)
        units = parse_amount(amount, int(info["decimals"]), currency)
        node.account(destination, "recipient")
        asset = Asset(currency, keys.decode_address(info["issuer"]))
        return (EscrowCreate(destination=destination, asset=asset, amount=units, hashlock=lock,
                             finish_after_ms=finish_ms, cancel_after_ms=cancel_ms),)

    status = _send(home, rpc, from_, ops, memo, sign_with, wait, timeout)
    if status is not None:
        created = status.get("result", {}).get("operations", [{}])[0].get("created_id")
        if created:
            typer.echo(f"escrow id: {created}")


@escrow_app.command("finish")
@run_cli
def escrow_finish(
    from_: FromOpt,
    escrow_id: Annotated[str, typer.Option("--escrow-id", help="The escrow id (hex).")],
    secret_file: Annotated[str | None, typer.Option(
        "--secret-file", help="File whose bytes hash to the lock.")] = None,
    memo: MemoOpt = "",
    home: HomeOpt = DEFAULT_HOME,
    rpc: RpcOpt = DEFAULT_RPC,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 30.0,
    sign_with: SignWithOpt = None,
) -> None:
    """Release an escrow to its recipient (giving the secret if it has a hash lock)."""
    eid = _escrow_id(escrow_id)
    preimage = None if secret_file is None else _read_secret(secret_file)
    op = EscrowFinish(escrow_id=eid, preimage=preimage)
    _send(home, rpc, from_, lambda n, s: (op,), memo, sign_with, wait, timeout)


@escrow_app.command("cancel")
@run_cli
def escrow_cancel(
    from_: FromOpt,
    escrow_id: Annotated[str, typer.Option("--escrow-id", help="The escrow id (hex).")],
    memo: MemoOpt = "",
    home: HomeOpt = DEFAULT_HOME,
    rpc: RpcOpt = DEFAULT_RPC,
    wait: WaitOpt = True,
    timeout: TimeoutOpt = 30.0,
    sign_with: SignWithOpt = None,
) -> None:
    """Return an escrow to its creator once its cancel time has passed."""
    op = EscrowCancel(escrow_id=_escrow_id(escrow_id))
    _send(home, rpc, from_, lambda n, s: (op,), memo, sign_with, wait, timeout)


@tx_app.command("status")
@run_cli
def tx_status(tx_id: Annotated[str, typer.Argument(help="Transaction id (hex).")],
              rpc: RpcOpt = DEFAULT_RPC, home: HomeOpt = DEFAULT_HOME) -> None:
    """Is a transaction pending, committed or rejected?"""
    with node_client.connect(rpc, home).client as client:
        try:
            status = Node(rpc, client).get(f"/v1/txs/{tx_id}")
        except NodeError as exc:
            die(f"{exc.code}: {exc.message}")
    state = status["status"]
    if state == "committed":
        typer.echo(f"committed in block {status['height']} at index {status['index']} "
                   f"(tx {status['tx_id']})")
        result = status.get("result")
        if result is not None:
            typer.echo(f"result: {result['code']}")
        check_result(status, status["tx_id"])
    elif state == "rejected":
        err = status.get("error", {})
        die(f"transaction {status['tx_id']} rejected: {err.get('code')}: {err.get('message')}")
    else:
        typer.echo(f"{state} (tx {status['tx_id']})")


# --- account, block --------------------------------------------------------------------------


@account_app.command("show")
@run_cli
def account_show(ref: Annotated[str, typer.Argument(metavar="ADDRESS|NAME")],
                 home: HomeOpt = DEFAULT_HOME, rpc: RpcOpt = DEFAULT_RPC) -> None:
    """An account's balances, sequence and signers."""
    address = resolve_address(home, ref, "account")
    with node_client.connect(rpc, home).client as client:
        node = Node(rpc, client)
        acct = node.account(address, "account")
        decimals = {(a["code"], a["issuer"]): int(a["decimals"]) for a in node.assets()}
    typer.echo(f"address:   {acct['address']}")
    typer.echo(f"height:    {acct.get('height')}")
    typer.echo(f"sequence:  {acct['sequence']}")
    typer.echo(f"threshold: {acct['threshold']}")
    typer.echo("signers:")
    for s in acct["signers"]:
        typer.echo(f"  {s['public_key']}  weight {s['weight']}")
    typer.echo("balances:" if acct["balances"] else "balances:  none")
    for b in acct["balances"]:
        dec = decimals.get((b["code"], b["issuer"]))
        notes = [n for n, on in (("frozen", b["frozen"]), ("not authorised", not b["authorised"]))
                 if on]
        extra = f"  [{', '.join(notes)}]" if notes else ""
        typer.echo(f"  {format_money(int(b['balance']), b['code'], dec):>26}"
                   f"  issuer {b['issuer']}{extra}")


def _op_summary(op: dict[str, Any], decimals: dict[tuple[str, str], int]) -> str:
    kind = str(op["type"])
    if kind in ("payment", "escrow_create"):
        shown = format_money(int(op["amount"]), op["code"],
                             decimals.get((op["code"], op["issuer"])))
        return f"{kind} {shown} -> {op['destination']}"
    if kind == "open_account":
        return f"{kind} {op['address']}"
    if kind == "set_signers":
        return f"{kind} {len(op['signers'])} signer(s), threshold {op['threshold']}"
    if kind in ("escrow_finish", "escrow_cancel"):
        return f"{kind} {op['escrow_id']}"
    return kind


@block_app.command("show")
@run_cli
def block_show(ref: Annotated[str, typer.Argument(metavar="HEIGHT|HASH")],
               rpc: RpcOpt = DEFAULT_RPC, home: HomeOpt = DEFAULT_HOME) -> None:
    """A block's header fields and its transactions."""
    with node_client.connect(rpc, home).client as client:
        try:
            node = Node(rpc, client)
            block = node.get(f"/v1/blocks/{ref}")
            decimals = {(a["code"], a["issuer"]): int(a["decimals"]) for a in node.assets()}
        except NodeError as exc:
            die(f"{exc.code}: {exc.message}")
    header = block["header"]
    for name in ("height", "hash", "chain_id", "time_ms", "previous_hash", "last_commit_hash",
                 "tx_count", "tx_root", "result_root", "state_root", "evidence_root",
                 "validator_set_hash", "proposer"):
        value = header[name]
        if name == "time_ms":
            value = f"{value} ({ms_text(int(value))})"
        typer.echo(f"{name + ':':<20}{value}")
    typer.echo(f"transactions ({len(block['transactions'])}):")
    for i, t in enumerate(block["transactions"]):
        result = t.get("result", {}).get("code", "?")
        typer.echo(f"  [{i}] {t['tx_id']}  from {t['source']}  seq {t['sequence']}  {result}")
        for op in t["operations"]:
            typer.echo(f"      {_op_summary(op, decimals)}")
