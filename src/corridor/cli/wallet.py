"""Wallet and explorer commands: `corridor keys`, `tx`, `account`, `block` (`genesis`: cli.genesis).

Wallets are key files in HOME/wallets/NAME.json (see `corridor.node.home`). Commands that
talk to a node use its HTTP RPC (`--rpc`). Amounts are typed as decimal strings ("12.50") and
converted exactly to integer minor units by the platform's one amount parser
(`corridor.platform.domain.money`), using the asset's decimals as the node reports them; a
float never touches an amount.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.errors import DecodeError, RejectCode
from corridor.ledger.keys import KeyPair
from corridor.ledger.limits import AMOUNT_MAX, MEMO_BYTES_MAX, SIGNER_WEIGHT_MAX
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
    Transaction,
)
from corridor.node.home import Home, HomeError, new_key, read_key, write_key
from corridor.node.rpc_access import CLIENT_TOKEN_FILE, AccessConfigError, read_client_token
from corridor.platform.domain import money
from corridor.platform.domain.errors import PlatformError

DEFAULT_RPC = "http://127.0.0.1:26657"
DEFAULT_HOME = Path(".corridor/local")  # the `corridor up` default home
TOKEN_ENV = "CORRIDOR_RPC_TOKEN"  # a client token for the node's RPC (else HOME/rpc_token)
TX_VALIDITY_MS = 10 * 60 * 1000  # a signed transaction expires this long after it is made
WAIT_POLL_S = 0.2

keys_app = typer.Typer(help="Create, show, import and export wallet keys.", no_args_is_help=True)
tx_app = typer.Typer(help="Sign and submit transactions; follow their status.",
                     no_args_is_help=True)
escrow_app = typer.Typer(help="Create, finish and cancel escrows.", no_args_is_help=True)
tx_app.add_typer(escrow_app, name="escrow")
account_app = typer.Typer(help="Inspect accounts.", no_args_is_help=True)
block_app = typer.Typer(help="Inspect blocks.", no_args_is_help=True)

HomeOpt = Annotated[Path, typer.Option(
    "--home", help="Home directory holding wallets/NAME.json (and rpc_token, a client token "
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


class CliError(Exception):
    """One line for the user; exit code 1."""


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _die(message: str) -> NoReturn:
    raise CliError(message)


def _run(fn: Any) -> Any:
    """Decorator: turns CliError/HomeError into the one red line and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (CliError, HomeError) as exc:
            raise _fail(str(exc)) from None

    return wrapper


# --- Wallets ---------------------------------------------------------------------------------


def _wallet_path(home: Path, ref: str) -> Path:
    """A wallet name resolves in HOME/wallets; anything that looks like a path is a path."""
    if "/" in ref or os.sep in ref or ref.endswith(".json"):
        return Path(ref)
    return Home(home).wallet_path(ref)


def _check_name(name: str) -> None:
    if not _NAME_RE.fullmatch(name):
        _die(f"bad wallet name {name!r}: use 1-64 letters, digits, '_', '.' or '-'")


def load_wallet(home: Path, ref: str) -> KeyPair:
    path = _wallet_path(home, ref)
    if not path.exists():
        _die(f"no wallet {ref!r} (looked for {path})")
    return read_key(path)


def _save_wallet(home: Path, name: str, kp: KeyPair) -> Path:
    _check_name(name)
    path = Home(home).wallet_path(name)
    if path.exists():
        _die(f"wallet {name!r} already exists at {path}")
    try:
        write_key(path, kp)
    except OSError as exc:
        _die(f"cannot write {path}: {exc.strerror}")
    return path


def resolve_address(home: Path, ref: str, what: str = "recipient") -> bytes:
    """An address text, or the address of a wallet NAME in HOME."""
    path = _wallet_path(home, ref)
    if path.exists():
        return read_key(path).address
    try:
        return keys.decode_address(ref)
    except DecodeError as exc:
        _die(f"unknown {what} {ref!r}: no wallet at {path}, and not an address ({exc.message})")


def resolve_public_key(home: Path, ref: str) -> bytes:
    """A public key text, or the public key of a wallet NAME in HOME."""
    try:
        return keys.decode_public_key(ref)
    except DecodeError as exc:
        path = _wallet_path(home, ref)
        if path.exists():
            return read_key(path).public_key
        _die(f"bad public key {ref!r}: no wallet at {path}, and not a public key ({exc.message})")


# --- Amounts and times -----------------------------------------------------------------------


def parse_amount(text: str, decimals: int, code: str = "the asset") -> int:
    """The exact minor units of a decimal string; refuses anything that is not exact."""
    if text.strip().startswith("-"):
        _die(f"amount {text!r} is negative: give a positive amount")
    if money.amount_parts(text) is None:  # the platform's one amount syntax
        _die(f"amount {text!r} is not a number: write it like 12.50")
    try:
        units = money.parse_minor(text, decimals)
    except PlatformError:
        _die(f"amount {text} has more decimal places than {code} allows ({decimals})")
    if units <= 0:
        _die(f"amount {text} is zero: give a positive amount")
    if units > AMOUNT_MAX:
        _die(f"amount {text} is too large (at most {format_amount(AMOUNT_MAX, decimals)})")
    return units


def format_amount(minor: int, decimals: int) -> str:
    if decimals == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}"


_RELATIVE_RE = re.compile(r"\+([0-9]+)([smhd])")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_time_ms(text: str, what: str, now_ms: int | None = None) -> int:
    """An ISO-8601 time (naive means UTC) or a relative `+10m` (s, m, h, d) as unix ms."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    rel = _RELATIVE_RE.fullmatch(text)
    if rel is not None:
        return now + int(rel.group(1)) * _UNIT_MS[rel.group(2)]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        _die(f"{what} {text!r} is not a time: use ISO-8601 (2026-01-31T12:00:00Z) or +10m")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ms = int(moment.timestamp() * 1000)
    if ms < 0:
        _die(f"{what} {text!r} is before 1970")
    return ms


def _ms_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


# --- The node's RPC --------------------------------------------------------------------------


class NodeError(CliError):
    def __init__(self, status: int, code: str, message: str, body: dict[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message, self.body = status, code, message, body


@dataclass
class Node:
    url: str
    client: httpx.Client

    def _request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        try:
            response = self.client.request(method, self.url.rstrip("/") + path, json=body)
        except httpx.HTTPError as exc:
            _die(f"cannot reach the node at {self.url}: {exc}")
        try:
            data = response.json()
        except ValueError:
            _die(f"the node at {self.url} answered {response.status_code} with no JSON")
        if response.status_code == 401:
            _die(f"the node at {self.url} wants a client token: set {TOKEN_ENV} or put one "
                 f"in --home's {CLIENT_TOKEN_FILE} (docs/node-rpc-access.md)")
        if response.is_error:
            err = data.get("error", {}) if isinstance(data, dict) else {}
            raise NodeError(response.status_code, str(err.get("code", response.status_code)),
                            str(err.get("message", response.reason_phrase)), err)
        if not isinstance(data, dict):
            _die(f"the node at {self.url} sent an unexpected answer")
        return data

    def get(self, path: str) -> dict[str, Any]:
        return self._request("GET", path)

    def post(self, path: str, body: Any) -> dict[str, Any]:
        return self._request("POST", path, body)

    def account(self, address: bytes, what: str) -> dict[str, Any]:
        text = keys.encode_address(address)
        try:
            return self.get(f"/v1/accounts/{text}")
        except NodeError as exc:
            if exc.code == "unknown_account":
                _die(f"{what} {text} has no account on the chain")
            raise

    def assets(self) -> list[dict[str, Any]]:
        return list(self.get("/v1/assets")["assets"])


def client_token(home: Path) -> str | None:
    """The node client token: CORRIDOR_RPC_TOKEN, else HOME/rpc_token, else none."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    try:
        return read_client_token(home)
    except AccessConfigError as exc:
        _die(str(exc))


def rpc_headers(home: Path) -> dict[str, str]:
    token = client_token(home)
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def _node(rpc: str, home: Path) -> Node:
    if not rpc.startswith(("http://", "https://")):
        _die(f"bad --rpc {rpc!r}: give a URL like {DEFAULT_RPC}")
    return Node(rpc, httpx.Client(timeout=10.0, headers=rpc_headers(home)))


def find_asset(assets: list[dict[str, Any]], code: str, issuer: str | None) -> dict[str, Any]:
    matches = [a for a in assets if a["code"] == code]
    if not matches:
        known = ", ".join(sorted({a["code"] for a in assets})) or "none"
        _die(f"no asset {code!r} on this chain (known: {known})")
    if issuer is not None:
        matches = [a for a in matches if a["issuer"] == issuer]
        if not matches:
            _die(f"no asset {code} issued by {issuer}")
    if len(matches) > 1:
        issuers = ", ".join(a["issuer"] for a in matches)
        _die(f"{code} is issued by several accounts ({issuers}): choose one with --issuer")
    return matches[0]


def _signing_keys(home: Path, source: KeyPair, sign_with: list[str] | None) -> list[KeyPair]:
    if not sign_with:
        return [source]
    found: dict[bytes, KeyPair] = {}
    for ref in sign_with:
        kp = load_wallet(home, ref)
        found[kp.public_key] = kp
    return list(found.values())


def _build(node: Node, source: KeyPair, ops: tuple[Operation, ...], memo: str,
           signers: list[KeyPair]) -> tuple[Transaction, bytes]:
    memo_bytes = memo.encode()
    if len(memo_bytes) > MEMO_BYTES_MAX:
        _die(f"memo is {len(memo_bytes)} bytes, at most {MEMO_BYTES_MAX}")
    status = node.get("/v1/status")
    acct = node.account(source.address, "the sender")
    now_ms = max(int(time.time() * 1000), int(status.get("latest_time_ms", 0)))
    tx = Transaction(
        chain_id=str(status["chain_id"]),
        source=source.address,
        # After the node's pending txs from this account, so sending twice in a row works.
        sequence=int(acct.get("next_sequence", int(acct["sequence"]) + 1)),
        not_before_ms=0,
        not_after_ms=now_ms + TX_VALIDITY_MS,
        operations=ops,
        memo=memo_bytes,
    )
    stx = tx.sign(*signers)
    return tx, stx.encode()


def _submit(node: Node, encoded: bytes, wait: bool, timeout: float) -> dict[str, Any] | None:
    """Submits; with `wait`, follows the transaction until committed and returns its status."""
    try:
        reply = node.post("/v1/txs", {"tx": encoded.hex()})
    except NodeError as exc:
        _die(f"the node rejected the transaction: {exc.code}: {exc.message}")
    tx_id = str(reply["tx_id"])
    if not wait:
        typer.echo(f"submitted {tx_id}")
        return None
    typer.echo(f"submitted {tx_id}, waiting for a block...", err=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = node.get(f"/v1/txs/{tx_id}")
        except NodeError as exc:
            if exc.code != "unknown_tx":
                raise
            status = {"status": "unknown"}
        state = status["status"]
        if state == "committed":
            _check_result(status, tx_id)
            typer.echo(f"committed in block {status['height']} (tx {tx_id})")
            return status
        if state == "rejected":
            err = status.get("error", {})
            _die(f"transaction {tx_id} rejected: {err.get('code')}: {err.get('message')}")
        if state == "unknown":
            _die(f"the node forgot transaction {tx_id} (dropped from its mempool)")
        if time.monotonic() > deadline:
            _die(f"transaction {tx_id} still {state} after {timeout:g} s "
                 f"(check later with `corridor tx status {tx_id}`)")
        time.sleep(WAIT_POLL_S)


def _check_result(status: dict[str, Any], tx_id: str) -> None:
    result = status.get("result")
    if result is None or result.get("code") == "success":
        return
    code = result.get("code")
    name = RejectCode(code).name.lower() if code in RejectCode._value2member_map_ else code
    _die(f"transaction {tx_id} committed in block {status['height']} but failed: {name}")


# --- keys ------------------------------------------------------------------------------------


def _show_key(kp: KeyPair) -> None:
    typer.echo(f"address:    {keys.encode_address(kp.address)}")
    typer.echo(f"public key: {keys.encode_public_key(kp.public_key)}")


@keys_app.command("new")
@_run
def keys_new(name: Annotated[str, typer.Argument(help="Wallet name.")],
             home: HomeOpt = DEFAULT_HOME) -> None:
    """Create a new key in HOME/wallets/NAME.json (owner-only). The seed is never printed."""
    path = _save_wallet(home, name, new_key())
    _show_key(read_key(path))
    typer.echo(f"key file:   {path}")


@keys_app.command("show")
@_run
def keys_show(ref: Annotated[str, typer.Argument(metavar="NAME|PATH")],
              home: HomeOpt = DEFAULT_HOME) -> None:
    """Show a wallet's address and public key."""
    _show_key(load_wallet(home, ref))


@keys_app.command("import")
@_run
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
            _die(f"cannot read {seed_file}: {exc.strerror}")
    try:
        kp = KeyPair.from_seed(keys.decode_seed(text.strip()))
    except DecodeError as exc:
        _die(f"bad seed in {'standard input' if seed_file == '-' else seed_file}: {exc.message}")
    path = _save_wallet(home, name, kp)
    _show_key(kp)
    typer.echo(f"key file:   {path}")


@keys_app.command("export")
@_run
def keys_export(
    ref: Annotated[str, typer.Argument(metavar="NAME|PATH")],
    yes_show_secret: Annotated[bool, typer.Option(
        "--yes-show-secret", help="Confirm printing the secret seed.")] = False,
    home: HomeOpt = DEFAULT_HOME,
) -> None:
    """Print a wallet's seed text: anyone who sees it controls the account."""
    kp = load_wallet(home, ref)
    if not yes_show_secret:
        _die("this prints the secret seed; anyone who sees it controls the account. "
             "Repeat with --yes-show-secret to print it")
    typer.echo(keys.encode_seed(kp.seed))


# --- tx --------------------------------------------------------------------------------------


def _send(home: Path, rpc: str, source_ref: str, make_ops: Any, memo: str,
          sign_with: list[str] | None, wait: bool, timeout: float) -> dict[str, Any] | None:
    source = load_wallet(home, source_ref)
    signers = _signing_keys(home, source, sign_with)
    with _node(rpc, home).client as client:
        node = Node(rpc, client)
        ops: tuple[Operation, ...] = make_ops(node, source)
        _, encoded = _build(node, source, ops, memo, signers)
        return _submit(node, encoded, wait, timeout)


@tx_app.command("pay")
@_run
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
@_run
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
@_run
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
            _die(f"--signer {text!r}: expected PUBKEY:WEIGHT, weight 1..{SIGNER_WEIGHT_MAX}")
        pk = resolve_public_key(home, ref)
        if pk in signers:
            _die(f"--signer {text!r}: the key is listed twice")
        signers[pk] = Signer(public_key=pk, weight=int(weight))
    total = sum(s.weight for s in signers.values())
    if not 1 <= threshold <= total:
        _die(f"--threshold {threshold} must be 1..{total} (the signers' total weight)")
    op = SetSigners(signers=tuple(sorted(signers.values(), key=lambda s: s.public_key)),
                    threshold=threshold)
    _send(home, rpc, from_, lambda n, s: (op,), memo, sign_with, wait, timeout)


def _read_secret(path: str) -> bytes:
    try:
        secret = Path(path).read_bytes()
    except OSError as exc:
        _die(f"cannot read {path}: {exc.strerror}")
    if not 1 <= len(secret) <= PREIMAGE_BYTES_MAX:
        _die(f"{path}: a secret is 1-{PREIMAGE_BYTES_MAX} bytes, this is {len(secret)}")
    return secret


def _escrow_id(text: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        _die(f"--escrow-id {text!r} is not hexadecimal")
    if len(raw) != HASH_LEN:
        _die(f"--escrow-id must be {HASH_LEN} bytes ({2 * HASH_LEN} hex digits)")
    return raw


@escrow_app.command("create")
@_run
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
        _die("give --secret-file or --hashlock, not both")
    lock: bytes | None = None
    if secret_file is not None:
        lock = hashlib.sha256(_read_secret(secret_file)).digest()
    elif hashlock is not None:
        try:
            lock = bytes.fromhex(hashlock)
        except ValueError:
            _die("--hashlock is not hexadecimal")
        if len(lock) != HASH_LEN:
            _die(f"--hashlock must be {HASH_LEN} bytes ({2 * HASH_LEN} hex digits)")
    finish_ms = None if finish_after is None else parse_time_ms(finish_after, "--finish-after")
    cancel_ms = None if cancel_after is None else parse_time_ms(cancel_after, "--cancel-after")
    if lock is None and finish_ms is None and cancel_ms is None:
        _die("an escrow needs a condition: --secret-file, --hashlock, --finish-after "
             "or --cancel-after")
    if finish_ms is not None and cancel_ms is not None and cancel_ms <= finish_ms:
        _die("--cancel-after must be later than --finish-after")
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
@_run
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
@_run
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
@_run
def tx_status(tx_id: Annotated[str, typer.Argument(help="Transaction id (hex).")],
              rpc: RpcOpt = DEFAULT_RPC, home: HomeOpt = DEFAULT_HOME) -> None:
    """Is a transaction pending, committed or rejected?"""
    with _node(rpc, home).client as client:
        try:
            status = Node(rpc, client).get(f"/v1/txs/{tx_id}")
        except NodeError as exc:
            _die(f"{exc.code}: {exc.message}")
    state = status["status"]
    if state == "committed":
        typer.echo(f"committed in block {status['height']} at index {status['index']} "
                   f"(tx {status['tx_id']})")
        result = status.get("result")
        if result is not None:
            typer.echo(f"result: {result['code']}")
        _check_result(status, status["tx_id"])
    elif state == "rejected":
        err = status.get("error", {})
        _die(f"transaction {status['tx_id']} rejected: {err.get('code')}: {err.get('message')}")
    else:
        typer.echo(f"{state} (tx {status['tx_id']})")


# --- account, block --------------------------------------------------------------------------


@account_app.command("show")
@_run
def account_show(ref: Annotated[str, typer.Argument(metavar="ADDRESS|NAME")],
                 home: HomeOpt = DEFAULT_HOME, rpc: RpcOpt = DEFAULT_RPC) -> None:
    """An account's balances, sequence and signers."""
    address = resolve_address(home, ref, "account")
    with _node(rpc, home).client as client:
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
        dec = decimals.get((b["code"], b["issuer"]), 0)
        notes = [n for n, on in (("frozen", b["frozen"]), ("not authorised", not b["authorised"]))
                 if on]
        extra = f"  [{', '.join(notes)}]" if notes else ""
        typer.echo(f"  {b['code']:<6} {format_amount(int(b['balance']), dec):>20}"
                   f"  issuer {b['issuer']}{extra}")


def _op_summary(op: dict[str, Any]) -> str:
    kind = str(op["type"])
    if kind in ("payment", "escrow_create"):
        return f"{kind} {op['amount']} {op['code']} -> {op['destination']}"
    if kind == "open_account":
        return f"{kind} {op['address']}"
    if kind == "set_signers":
        return f"{kind} {len(op['signers'])} signer(s), threshold {op['threshold']}"
    if kind in ("escrow_finish", "escrow_cancel"):
        return f"{kind} {op['escrow_id']}"
    return kind


@block_app.command("show")
@_run
def block_show(ref: Annotated[str, typer.Argument(metavar="HEIGHT|HASH")],
               rpc: RpcOpt = DEFAULT_RPC, home: HomeOpt = DEFAULT_HOME) -> None:
    """A block's header fields and its transactions."""
    with _node(rpc, home).client as client:
        try:
            block = Node(rpc, client).get(f"/v1/blocks/{ref}")
        except NodeError as exc:
            _die(f"{exc.code}: {exc.message}")
    header = block["header"]
    for name in ("height", "hash", "chain_id", "time_ms", "previous_hash", "last_commit_hash",
                 "tx_count", "tx_root", "result_root", "state_root", "evidence_root",
                 "validator_set_hash", "proposer"):
        value = header[name]
        if name == "time_ms":
            value = f"{value} ({_ms_text(int(value))})"
        typer.echo(f"{name + ':':<20}{value}")
    typer.echo(f"transactions ({len(block['transactions'])}):")
    for i, t in enumerate(block["transactions"]):
        result = t.get("result", {}).get("code", "?")
        typer.echo(f"  [{i}] {t['tx_id']}  from {t['source']}  seq {t['sequence']}  {result}")
        for op in t["operations"]:
            typer.echo(f"      {_op_summary(op)}")
