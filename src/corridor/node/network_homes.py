"""The homes of a local network: keys, TLS identities, one genesis and peers.json in each,
the same RPC access setting in each, and its client token in DIR/rpc_token.

Shared by `corridor localnet` (cli) and `corridor bench network` (bench), which may not import
the cli layer.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from corridor.ledger import keys
from corridor.node.home import DEMO_CUSTOMERS, Home, demo_genesis_doc, new_key, write_key
from corridor.node.rpc_access import DEFAULT_MODE, check_mode, init_access

LOCALNET_FILE = "localnet.json"
CHAIN_ID = "corridor-localnet"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


GenesisDoc = Callable[[list[keys.KeyPair]], dict[str, Any]]


def create(
    directory: Path,
    validators: int,
    full_nodes: int,
    genesis_doc: GenesisDoc | None = None,
    *,
    rpc_access: str = DEFAULT_MODE,
) -> list[dict[str, Any]]:
    """Keys, TLS identities, genesis and peers.json for a new network; returns its nodes.

    `genesis_doc(validator keys)` replaces the demo genesis (the benchmarks fund their own
    senders). Every node's RPC gets access mode `rpc_access` and accepts one client token,
    kept in DIR/rpc_token (DIR is also the wallets' home of the CLI)."""
    from corridor.node import p2p

    check_mode(rpc_access)
    directory.mkdir(parents=True, exist_ok=True)
    wallets = {name: new_key() for name in ("issuer", "treasury", *DEMO_CUSTOMERS)}
    for name, kp in wallets.items():
        write_key(directory / "wallets" / f"{name}.json", kp)
    nodes: list[dict[str, Any]] = []
    vkeys = []
    for i in range(validators + full_nodes):
        name = f"node{i}"
        home = Home(directory / name)
        home.path.mkdir(parents=True, exist_ok=True)
        is_validator = i < validators
        if is_validator:
            kp = new_key()
            write_key(home.key_path, kp)
            vkeys.append(kp)
        identity = p2p.ensure_identity(home.path)
        nodes.append(
            {
                "name": name,
                "home": name,
                "rpc_port": _free_port(),
                "p2p_port": _free_port(),
                "validator": is_validator,
                "fingerprint": identity.fingerprint,
                "certificate": identity.cert_pem,
                "validator_public_key": (
                    keys.encode_public_key(vkeys[-1].public_key) if is_validator else None
                ),
            }
        )
    doc = _genesis_doc(wallets, vkeys) if genesis_doc is None else genesis_doc(vkeys)
    genesis = json.dumps(doc, indent=2) + "\n"
    peers = [
        {
            "address": f"127.0.0.1:{n['p2p_port']}",
            "fingerprint": n["fingerprint"],
            "validator_public_key": n["validator_public_key"],
            "certificate": n["certificate"],
        }
        for n in nodes
    ]
    for n in nodes:
        home = directory / n["home"]
        (home / "genesis.json").write_text(genesis)
        (home / p2p.PEERS_FILE).write_text(json.dumps(peers, indent=2) + "\n")
        Home(home).genesis()  # what we wrote must parse
        p2p.load_peers(home)
    init_access([directory / n["home"] for n in nodes], mode=rpc_access, client_dir=directory)
    listing = [{k: v for k, v in n.items() if k != "certificate"} for n in nodes]
    (directory / LOCALNET_FILE).write_text(json.dumps(listing, indent=2) + "\n")
    return listing


def _genesis_doc(wallets: dict[str, keys.KeyPair], vkeys: list[keys.KeyPair]) -> dict[str, Any]:
    return demo_genesis_doc(
        wallets, vkeys, chain_id=CHAIN_ID, genesis_time_ms=int(time.time() * 1000)
    )
