"""The platform's node clients send the node's client token (docs/node-rpc-access.md), taken
from CORRIDOR_NODE_RPC_TOKEN; without one they send no Authorization header at all."""

from __future__ import annotations

import httpx

from corridor.platform.adapters.chain_events import EventStream
from corridor.platform.adapters.ledger_client import LedgerClient
from corridor.platform.config import load_settings

STATUS = {"chain_id": "c", "height": 1, "latest_time_ms": 0}


def _recorder(seen: list[str | None]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        if request.url.path.startswith("/v1/accounts/"):
            return httpx.Response(404, json={"error": {"code": "unknown_account",
                                                       "message": "no such account"}})
        return httpx.Response(200, json=STATUS)

    return httpx.MockTransport(handle)


def test_settings_read_the_token_and_the_clients_send_it() -> None:
    settings = load_settings({"CORRIDOR_NODE_RPC_TOKEN": "crt_secret"})
    assert settings.node_rpc_token == "crt_secret"
    assert load_settings({}).node_rpc_token == ""

    seen: list[str | None] = []
    client = LedgerClient("http://node", transport=_recorder(seen), token=settings.node_rpc_token)
    try:
        client.account("c7ArgrrD1WtUzQXrrMXUZLKCnbhD6p8fyr")
    finally:
        client.close()
    anonymous = LedgerClient("http://node", transport=_recorder(seen))
    try:
        anonymous.account("c7ArgrrD1WtUzQXrrMXUZLKCnbhD6p8fyr")
    finally:
        anonymous.close()
    assert seen == ["Bearer crt_secret", None]

    assert EventStream("http://node", token="crt_secret").headers == {
        "Authorization": "Bearer crt_secret"}
    assert EventStream("http://node").headers == {}
