"""Who may use a node's RPC: its access mode and the client tokens it accepts.

HOME/rpc_access.json   {"mode": "public", "tokens": [{"name": ..., "sha256": ...}]} (0600):
                       the node's setting; tokens are stored as SHA-256 hashes only
HOME/rpc_token         one client token in clear (0600), written when the home is made, so
                       the tools run on this machine (wallet CLI, light client, `corridor up`'s
                       platform) can call a node that asks for one; delete it where unwanted

Modes (docs/node-rpc-access.md lists what each exposes):
  open     everything to anyone: the behaviour before access modes; for throw-away networks
  public   public chain data (status, headers and commits, validators, assets, evidence, a
           transaction by its id and its proof) to anyone; accounts, their history, blocks'
           contents, submissions and the event stream need a token
  private  every endpoint needs a token (the API description at /docs stays readable)

A token is 32 random bytes; a hash of such a secret cannot be reversed, so a plain SHA-256
is enough (a slow password hash is for low-entropy secrets). Presented tokens are compared
with every stored hash in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODES = ("open", "public", "private")
# New homes: a permissioned network's accounts are nobody else's business, while light
# clients and monitors can still follow and verify the chain without a credential.
DEFAULT_MODE = "public"
ACCESS_FILE = "rpc_access.json"
CLIENT_TOKEN_FILE = "rpc_token"
TOKEN_PREFIX = "crt_"
TOKEN_BYTES = 32
TOKEN_CHARS_MAX = 128  # longer Authorization values are refused before hashing
TOKENS_MAX = 1_000  # a home lists at most this many
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class AccessConfigError(Exception):
    """An unreadable or invalid rpc_access.json, or a bad mode or token name."""


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenEntry:
    """A client token the node accepts: a name for the operator, and the token's hash."""

    name: str
    sha256: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class RpcAccess:
    """A node's RPC access setting."""

    mode: str = DEFAULT_MODE
    tokens: tuple[TokenEntry, ...] = ()

    def __post_init__(self) -> None:
        assert self.mode in MODES, self.mode
        assert all(len(t.sha256) == 32 for t in self.tokens)

    def accepts(self, token: str | None) -> bool:
        """Whether `token` is one of the node's tokens. Every stored hash is compared, in
        constant time, whatever matched: the time taken says nothing about which one."""
        if token is None or not 0 < len(token) <= TOKEN_CHARS_MAX:
            return False
        presented = token_hash(token)
        found = False
        for entry in self.tokens:
            found |= hmac.compare_digest(presented, entry.sha256)
        return found

    def with_mode(self, mode: str) -> RpcAccess:
        check_mode(mode)
        return RpcAccess(mode=mode, tokens=self.tokens)

    def with_token(self, name: str, token: str) -> RpcAccess:
        if not NAME_PATTERN.match(name):
            raise AccessConfigError(f"token name {name!r}: use 1-64 letters, digits, _ . -")
        if any(t.name == name for t in self.tokens):
            raise AccessConfigError(f"a token named {name!r} exists already")
        if len(self.tokens) >= TOKENS_MAX:
            raise AccessConfigError(f"at most {TOKENS_MAX} tokens")
        entry = TokenEntry(name=name, sha256=token_hash(token))
        return RpcAccess(mode=self.mode, tokens=(*self.tokens, entry))

    def without_token(self, name: str) -> RpcAccess:
        if not any(t.name == name for t in self.tokens):
            raise AccessConfigError(f"no token named {name!r}")
        return RpcAccess(mode=self.mode, tokens=tuple(t for t in self.tokens if t.name != name))

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "tokens": [{"name": t.name, "sha256": t.sha256.hex()} for t in self.tokens],
        }


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise AccessConfigError(f"RPC access mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def parse_access(text: str, where: str) -> RpcAccess:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise AccessConfigError(f"{where}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or set(doc) != {"mode", "tokens"}:
        raise AccessConfigError(f"{where}: expected exactly the keys 'mode' and 'tokens'")
    mode, raw_tokens = doc["mode"], doc["tokens"]
    if not isinstance(mode, str) or mode not in MODES:
        raise AccessConfigError(f"{where}: mode must be one of {', '.join(MODES)}")
    if not isinstance(raw_tokens, list) or len(raw_tokens) > TOKENS_MAX:
        raise AccessConfigError(f"{where}: tokens must be a list of at most {TOKENS_MAX}")
    entries: list[TokenEntry] = []
    for i, raw in enumerate(raw_tokens):
        ok = (isinstance(raw, dict) and set(raw) == {"name", "sha256"}
              and isinstance(raw["name"], str) and NAME_PATTERN.match(raw["name"])
              and isinstance(raw["sha256"], str) and re.fullmatch(r"[0-9a-f]{64}", raw["sha256"]))
        if not ok:
            raise AccessConfigError(f"{where}: tokens[{i}] needs a name and a 64-hex sha256")
        entries.append(TokenEntry(name=raw["name"], sha256=bytes.fromhex(raw["sha256"])))
    return RpcAccess(mode=mode, tokens=tuple(entries))


def _write_private(path: Path, text: str) -> None:
    """Writes `text` readable by its owner only: a new file made 0600, then renamed over."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_access(home: Path) -> RpcAccess | None:
    """HOME's setting, or None if it has none yet."""
    path = home / ACCESS_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AccessConfigError(f"cannot read {path}: {exc.strerror}") from None
    return parse_access(text, str(path))


def save_access(home: Path, access: RpcAccess) -> None:
    _write_private(home / ACCESS_FILE, json.dumps(access.to_json(), indent=2) + "\n")


def write_client_token(directory: Path, token: str) -> Path:
    path = directory / CLIENT_TOKEN_FILE
    _write_private(path, token + "\n")
    return path


def read_client_token(directory: Path) -> str | None:
    """The client token kept in `directory` (a node home, or a localnet's directory)."""
    try:
        text = (directory / CLIENT_TOKEN_FILE).read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise AccessConfigError(f"cannot read {directory / CLIENT_TOKEN_FILE}: "
                                f"{exc.strerror}") from None
    return text or None


def init_access(homes: list[Path], *, mode: str = DEFAULT_MODE,
                client_dir: Path | None = None) -> str:
    """Gives each home in `homes` the setting `mode` with one token named `local`, whose
    clear text goes to `client_dir`/rpc_token (default: the first home). Returns the token."""
    check_mode(mode)
    token = new_token()
    access = RpcAccess(mode=mode).with_token("local", token)
    for home in homes:
        save_access(home, access)
    write_client_token(client_dir or homes[0], token)
    return token


def ensure_access(home: Path) -> RpcAccess:
    """HOME's setting; a home made before access modes gets the default one now (and a
    client token in HOME/rpc_token), so no node serves openly without being told to."""
    access = load_access(home)
    if access is None:
        init_access([home])
        access = load_access(home)
        assert access is not None
    return access


def set_mode(home: Path, mode: str) -> RpcAccess:
    access = ensure_access(home).with_mode(mode)
    save_access(home, access)
    return access


def add_token(home: Path, name: str) -> str:
    """A new token accepted by HOME's node (after its next start); returns its clear text,
    which is not stored anywhere."""
    token = new_token()
    save_access(home, ensure_access(home).with_token(name, token))
    return token


def revoke_token(home: Path, name: str) -> None:
    save_access(home, ensure_access(home).without_token(name))
