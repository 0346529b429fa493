"""The CLI's one client of a node's RPC (wallet, explorer and light-client commands): its
client token, errors as one line, and building, signing and following a transaction."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import typer

from corridor.cli.common import DEFAULT_RPC, CliError, die
from corridor.ledger import keys
from corridor.ledger.errors import RejectCode
from corridor.ledger.keys import KeyPair
from corridor.ledger.limits import MEMO_BYTES_MAX
from corridor.ledger.tx import (
    Operation,
    Transaction,
)
from corridor.node.rpc_access import CLIENT_TOKEN_FILE, AccessConfigError, read_client_token

TOKEN_ENV = "CORRIDOR_RPC_TOKEN"  # a client token for the node's RPC (else HOME/rpc_token)
TX_VALIDITY_MS = 10 * 60 * 1000  # a signed transaction expires this long after it is made
WAIT_POLL_S = 0.2


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
            die(f"cannot reach the node at {self.url}: {exc}")
        try:
            data = response.json()
        except ValueError:
            die(f"the node at {self.url} answered {response.status_code} with no JSON")
        if response.status_code == 401:
            die(f"the node at {self.url} wants a client token: set {TOKEN_ENV} or put one "
                 f"in --home's {CLIENT_TOKEN_FILE} (docs/node-rpc-access.md)")
        if response.is_error:
            err = data.get("error", {}) if isinstance(data, dict) else {}
            raise NodeError(response.status_code, str(err.get("code", response.status_code)),
                            str(err.get("message", response.reason_phrase)), err)
        if not isinstance(data, dict):
            die(f"the node at {self.url} sent an unexpected answer")
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
                die(f"{what} {text} has no account on the chain")
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
        die(str(exc))


def rpc_headers(home: Path) -> dict[str, str]:
    token = client_token(home)
    return {} if token is None else {"Authorization": f"Bearer {token}"}


def connect(rpc: str, home: Path) -> Node:
    if not rpc.startswith(("http://", "https://")):
        die(f"bad --rpc {rpc!r}: give a URL like {DEFAULT_RPC}")
    return Node(rpc, httpx.Client(timeout=10.0, headers=rpc_headers(home)))


def find_asset(assets: list[dict[str, Any]], code: str, issuer: str | None) -> dict[str, Any]:
    matches = [a for a in assets if a["code"] == code]
    if not matches:
        known = ", ".join(sorted({a["code"] for a in assets})) or "none"
        die(f"no asset {code!r} on this chain (known: {known})")
    if issuer is not None:
        matches = [a for a in matches if a["issuer"] == issuer]
        if not matches:
            die(f"no asset {code} issued by {issuer}")
    if len(matches) > 1:
        issuers = ", ".join(a["issuer"] for a in matches)
        die(f"{code} is issued by several accounts ({issuers}): choose one with --issuer")
    return matches[0]


def build_tx(node: Node, source: KeyPair, ops: tuple[Operation, ...], memo: str,
           signers: list[KeyPair]) -> tuple[Transaction, bytes]:
    memo_bytes = memo.encode()
    if len(memo_bytes) > MEMO_BYTES_MAX:
        die(f"memo is {len(memo_bytes)} bytes, at most {MEMO_BYTES_MAX}")
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


def submit(node: Node, encoded: bytes, wait: bool, timeout: float) -> dict[str, Any] | None:
    """Submits; with `wait`, follows the transaction until committed and returns its status."""
    try:
        reply = node.post("/v1/txs", {"tx": encoded.hex()})
    except NodeError as exc:
        die(f"the node rejected the transaction: {exc.code}: {exc.message}")
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
            check_result(status, tx_id)
            typer.echo(f"committed in block {status['height']} (tx {tx_id})")
            return status
        if state == "rejected":
            err = status.get("error", {})
            die(f"transaction {tx_id} rejected: {err.get('code')}: {err.get('message')}")
        if state == "unknown":
            die(f"the node forgot transaction {tx_id} (dropped from its mempool)")
        if time.monotonic() > deadline:
            die(f"transaction {tx_id} still {state} after {timeout:g} s "
                 f"(check later with `corridor tx status {tx_id}`)")
        time.sleep(WAIT_POLL_S)


def check_result(status: dict[str, Any], tx_id: str) -> None:
    result = status.get("result")
    if result is None or result.get("code") == "success":
        return
    code = result.get("code")
    name = RejectCode(code).name.lower() if code in RejectCode._value2member_map_ else code
    die(f"transaction {tx_id} committed in block {status['height']} but failed: {name}")
