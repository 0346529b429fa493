"""A node's home directory: what a node needs on disk, in one documented layout.

HOME/genesis.json          the network's genesis document (shared by every node)
HOME/validator_key.json    this node's validator key (corridor-key-v1, mode 0600)
HOME/data/chain.db         blocks, results and state (SQLite)
HOME/wallets/NAME.json     demo wallets created by `init_demo_home` (mode 0600)
HOME/rpc_access.json       the RPC access mode and client-token hashes (`node.rpc_access`)
HOME/rpc_token             a client token for the tools on this machine (mode 0600)
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.ledger import keys
from corridor.ledger.errors import DecodeError
from corridor.ledger.genesis import Genesis, parse_genesis
from corridor.ledger.keys import KeyPair
from corridor.node.rpc_access import DEFAULT_MODE, check_mode, init_access

DEMO_CHAIN_ID = "corridor-local"
DEMO_CURRENCIES = (("USD", 2), ("EUR", 2), ("CNY", 2), ("HKD", 2), ("SGD", 2))
DEMO_CUSTOMERS = ("alice", "bob")


class HomeError(Exception):
    """A missing or unreadable home: one clear line for the user."""


@dataclass(frozen=True)
class Home:
    path: Path

    @property
    def genesis_path(self) -> Path:
        return self.path / "genesis.json"

    @property
    def key_path(self) -> Path:
        return self.path / "validator_key.json"

    @property
    def db_path(self) -> Path:
        return self.path / "data" / "chain.db"

    def wallet_path(self, name: str) -> Path:
        return self.path / "wallets" / f"{name}.json"

    def genesis(self) -> Genesis:
        try:
            return parse_genesis(self.genesis_path.read_text())
        except FileNotFoundError:
            raise HomeError(
                f"no genesis at {self.genesis_path} (run `corridor node init`)"
            ) from None
        except DecodeError as exc:
            raise HomeError(f"{self.genesis_path}: {exc.message}") from None

    def validator_key(self) -> KeyPair | None:
        if not self.key_path.exists():
            return None
        return read_key(self.key_path)


def read_key(path: Path) -> KeyPair:
    try:
        return keys.keypair_from_keyfile_json(path.read_text())
    except DecodeError as exc:
        raise HomeError(f"{path}: {exc.message}") from None
    except OSError as exc:
        raise HomeError(f"cannot read {path}: {exc.strerror}") from None


def write_key(path: Path, kp: KeyPair) -> None:
    """Writes a key file readable by its owner only (created with 0600, never widened)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(keys.keyfile_json(kp))


def new_key() -> KeyPair:
    while True:
        try:
            return KeyPair.from_seed(secrets.token_bytes(keys.SEED_LEN))
        except DecodeError:  # a seed outside the curve order: astronomically rare
            continue


def init_demo_home(path: Path, *, genesis_time_ms: int, rpc_access: str = DEFAULT_MODE) -> Home:
    """A single-validator network with the demo currencies, issuers and two customers; its
    RPC in access mode `rpc_access`, with a client token in HOME/rpc_token."""
    home = Home(path)
    if home.genesis_path.exists():
        raise HomeError(f"{path} already holds a node (genesis.json exists)")
    check_mode(rpc_access)
    path.mkdir(parents=True, exist_ok=True)
    init_access([path], mode=rpc_access)
    validator = new_key()
    write_key(home.key_path, validator)
    wallets = {name: new_key() for name in ("issuer", "treasury", *DEMO_CUSTOMERS)}
    for name, kp in wallets.items():
        write_key(home.wallet_path(name), kp)
    doc = demo_genesis_doc(
        wallets, [validator], chain_id=DEMO_CHAIN_ID, genesis_time_ms=genesis_time_ms
    )
    home.genesis_path.write_text(json.dumps(doc, indent=2) + "\n")
    home.genesis()  # what we wrote must parse
    return home


def demo_genesis_doc(
    wallets: dict[str, KeyPair],
    validators: list[KeyPair],
    *,
    chain_id: str,
    genesis_time_ms: int,
) -> dict[str, Any]:
    """The demo network's genesis: the demo currencies issued by `issuer`, the treasury and
    alice funded, bob authorised; one unit of voting power per validator."""
    issuer = keys.encode_address(wallets["issuer"].address)
    return {
        "chain_id": chain_id,
        "genesis_time_ms": genesis_time_ms,
        "validators": [
            {"public_key": keys.encode_public_key(kp.public_key), "power": 1} for kp in validators
        ],
        "accounts": [
            {"public_key": keys.encode_public_key(kp.public_key)} for kp in wallets.values()
        ],
        "assets": [
            {
                "code": code,
                "issuer": issuer,
                "decimals": decimals,
                "auth_required": True,
                "freezable": True,
                "clawback": True,
            }
            for code, decimals in DEMO_CURRENCIES
        ],
        "balances": [
            {
                "holder": keys.encode_address(wallets[holder].address),
                "code": code,
                "issuer": issuer,
                "amount": amount,
            }
            for holder, amount in (("treasury", 1_000_000_000), ("alice", 1_000_000), ("bob", 0))
            for code, _ in DEMO_CURRENCIES
        ],
    }
