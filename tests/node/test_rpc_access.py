"""The node RPC's access modes (docs/node-rpc-access.md): every route of the app, in every
mode, anonymously, with the node's token and with a wrong one; the home's setting; the
light client, wallet CLI and platform against nodes that ask for a token."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.testclient import TestClient
from typer.testing import CliRunner

from corridor.cli.main import app as cli_app
from corridor.ledger import keys
from corridor.node.app import NodeOptions, load_rpc_access
from corridor.node.core import NodeCore
from corridor.node.home import Home
from corridor.node.light_client import LightClient, LightClientError, load_trust
from corridor.node.rpc import PUBLIC_READS, create_app
from corridor.node.rpc_access import (
    ACCESS_FILE,
    CLIENT_TOKEN_FILE,
    DEFAULT_MODE,
    AccessConfigError,
    RpcAccess,
    add_token,
    load_access,
    parse_access,
    read_client_token,
    token_hash,
)
from corridor.node.runner import NodeRunner
from corridor.node.storage.memory import MemoryBlockStore, MemoryStateStore

from .conftest import NodeClient, NodeProcess, init_home

runner = CliRunner()
ADDRESS = keys.encode_address(b"\x01" * 20)
SAMPLES = {"tx_id": "ab" * 32, "address": ADDRESS, "ref": "1", "height": "0", "code": "USD",
           "issuer": ADDRESS}
# The routes anyone may read in `public` mode; a change here is a change of the documented
# exposure (docs/node-rpc-access.md), not a detail.
EXPECTED_PUBLIC = {
    "/v1/status", "/v1/headers/{height}", "/v1/blocks", "/v1/assets",
    "/v1/assets/{code}/{issuer}", "/v1/evidence", "/v1/txs/{tx_id}", "/v1/txs/{tx_id}/proof",
}
PRIVATE_DATA = ("/v1/accounts/{address}", "/v1/accounts/{address}/txs",
                "/v1/accounts/{address}/proof", "/v1/blocks/{ref}")


def _routes(app: object) -> list[tuple[str, str]]:
    """(method, path template) of every operation of the app, enumerated, not listed."""
    found = []
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute):
            found += [(m, route.path) for m in sorted(route.methods)]
    return found


def _concrete(path: str) -> str:
    for name, value in SAMPLES.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, path
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return init_home(tmp_path / "home")


@pytest.fixture
def apps(home: Path) -> Iterator[dict[str, tuple[TestClient, str]]]:
    """A test client over the RPC app of one node core in each mode, and the home's token."""
    genesis = Home(home).genesis()
    header = genesis.header()
    # In memory: the test client runs the app on another thread than SQLite's connection.
    core = NodeCore(genesis, MemoryBlockStore(header), MemoryStateStore(),
                    key=Home(home).validator_key(), genesis_header=header)
    token = read_client_token(home)
    assert token is not None
    base = load_access(home)
    assert base is not None
    clients = {mode: TestClient(create_app(NodeRunner(core), base.with_mode(mode)))
               for mode in ("open", "public", "private")}
    try:
        yield {mode: (c, token) for mode, c in clients.items()}
    finally:
        for c in clients.values():
            c.close()


def _call(client: TestClient, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    body = {"tx": "00"} if path == "/v1/txs" else {"evidence": "00"}
    if method == "POST":
        return client.post(_concrete(path), json=body, headers=headers)
    return client.get(_concrete(path), headers=headers)


def _refused(r: httpx.Response, code: str) -> None:
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.json()["error"]["code"] == code
    assert r.headers["www-authenticate"] == "Bearer"


def _documented_public_routes() -> set[str]:
    """The routes docs/node-rpc-access.md lists under "What `public` serves anonymously"."""
    doc = (Path(__file__).parents[2] / "docs" / "node-rpc-access.md").read_text()
    section = doc.split("### What `public` serves anonymously")[1].split("\n\n")[1]
    return set(re.findall(r"`GET (/v1/[^`]+)`", section))


def test_public_reads_are_exactly_the_documented_routes(
        apps: dict[str, tuple[TestClient, str]]) -> None:
    client, _ = apps["public"]
    routes = {path for _, path in _routes(client.app)}
    assert set(PUBLIC_READS) == EXPECTED_PUBLIC == _documented_public_routes()
    assert set(PUBLIC_READS) <= routes  # no stale entry names a route that is gone
    for path in PRIVATE_DATA:  # account data and blocks' contents are never public
        assert path in routes and path not in PUBLIC_READS


def test_every_route_in_every_mode(apps: dict[str, tuple[TestClient, str]]) -> None:
    for mode, (client, token) in apps.items():
        for method, path in _routes(client.app):
            public = mode == "open" or (mode == "public" and method == "GET"
                                        and path in EXPECTED_PUBLIC)
            # An accepted event stream never ends: the live test reads its first bytes.
            stream = path == "/v1/events"
            if not public:
                _refused(_call(client, method, path, None), "token_required")
            elif not stream:
                anonymous = _call(client, method, path, None)
                assert anonymous.status_code != 401, (mode, method, path, anonymous.text)
            if mode != "open":  # a wrong token is refused everywhere, public routes too
                _refused(_call(client, method, path, token + "x"), "bad_token")
                _refused(_call(client, method, path, "x" * 10_000), "bad_token")
            if stream:
                continue
            allowed = _call(client, method, path, token)
            assert allowed.status_code != 401, (mode, method, path, allowed.text)


def test_private_data_needs_the_token(apps: dict[str, tuple[TestClient, str]], home: Path
                                      ) -> None:
    treasury = keys.encode_address(keys.keypair_from_keyfile_json(
        (home / "wallets" / "treasury.json").read_text()).address)
    for mode in ("public", "private"):
        client, token = apps[mode]
        _refused(client.get(f"/v1/accounts/{treasury}"), "token_required")
        _refused(client.get(f"/v1/accounts/{treasury}/txs"), "token_required")
        r = client.get(f"/v1/accounts/{treasury}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["balances"], r.text
    client, _ = apps["open"]
    assert client.get(f"/v1/accounts/{treasury}").status_code == 200  # today's behaviour
    public, _ = apps["public"]
    assert public.get("/v1/status").status_code == 200
    assert public.get("/v1/headers/0").status_code == 200
    _refused(apps["private"][0].get("/v1/status"), "token_required")
    _refused(apps["private"][0].get("/v1/headers/0"), "token_required")
    # The API description stays readable: it describes, it holds no data.
    assert apps["private"][0].get("/openapi.json").status_code == 200


def test_openapi_declares_the_bearer_scheme(apps: dict[str, tuple[TestClient, str]]) -> None:
    doc = apps["public"][0].get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["ClientToken"]["scheme"] == "bearer"
    for item in doc["paths"].values():
        for operation in item.values():
            assert "401" in operation["responses"]
    assert "securitySchemes" not in apps["open"][0].get("/openapi.json").json().get(
        "components", {})


def test_new_homes_are_public_with_a_hashed_token(home: Path) -> None:
    assert DEFAULT_MODE == "public"
    access = load_access(home)
    token = read_client_token(home)
    assert access is not None and token is not None
    assert access.mode == "public" and access.accepts(token)
    stored = (home / ACCESS_FILE).read_text()
    assert token not in stored and token_hash(token).hex() in stored
    for name in (ACCESS_FILE, CLIENT_TOKEN_FILE):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600


def test_a_home_from_before_access_modes_gets_the_default(home: Path) -> None:
    (home / ACCESS_FILE).unlink()
    (home / CLIENT_TOKEN_FILE).unlink()
    access = load_rpc_access(Home(home), NodeOptions())
    assert access.mode == DEFAULT_MODE
    token = read_client_token(home)
    assert token is not None and access.accepts(token)
    assert load_rpc_access(Home(home), NodeOptions(rpc_access="open")).mode == "open"


def test_tokens_and_bad_settings(home: Path) -> None:
    second = add_token(home, "monitoring")
    access = load_access(home)
    assert access is not None and access.accepts(second)
    assert not access.accepts(None) and not access.accepts("") and not access.accepts("crt_")
    with pytest.raises(AccessConfigError, match="exists already"):
        add_token(home, "monitoring")
    assert not access.without_token("monitoring").accepts(second)
    for bad in ('{"mode": "everyone", "tokens": []}', '{"mode": "open"}', "[]", "{",
                '{"mode": "public", "tokens": [{"name": "x", "sha256": "zz"}]}'):
        with pytest.raises(AccessConfigError):
            parse_access(bad, "rpc_access.json")
    with pytest.raises(AccessConfigError):
        RpcAccess().with_mode("everyone")


def test_token_commands(home: Path) -> None:
    result = runner.invoke(cli_app, ["node", "token", "new", "--name", "ops", "--home", str(home)])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    access = load_access(home)
    assert access is not None and access.accepts(token)
    listed = runner.invoke(cli_app, ["node", "token", "list", "--home", str(home)]).output
    assert listed.splitlines() == ["mode public", "token local", "token ops"]
    assert token not in listed
    assert runner.invoke(cli_app, ["node", "token", "revoke", "ops", "--home", str(home)]
                         ).exit_code == 0
    access = load_access(home)
    assert access is not None and not access.accepts(token)
    nowhere = runner.invoke(cli_app, ["node", "token", "list", "--home", str(home.parent / "x")])
    assert nowhere.exit_code == 1 and not (home.parent / "x").exists()
    bad = runner.invoke(cli_app, ["node", "init", "--home", str(home.parent / "h2"),
                                  "--rpc-access", "everyone"])
    assert bad.exit_code == 1 and "open, public, private" in bad.output


# --- against real node processes ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["public", "private"])
def test_clients_against_a_node_that_asks_for_a_token(tmp_path: Path, mode: str) -> None:
    """The light client (library and CLI) and the wallet CLI, anonymously and with the
    home's token; the event stream opens only with the token."""
    home = init_home(tmp_path / "home", rpc_access=mode)
    proc = NodeProcess(home)
    proc.start()
    try:
        node = NodeClient(home, proc.url)
        tx_id = node.pay("alice", "bob", 250)
        node.wait_committed(tx_id)
        trust = load_trust(home / "genesis.json")
        bob = node.wallet("bob").address

        with LightClient(proc.url, trust) as anonymous:
            if mode == "public":  # a payee verifies a payment it was told of, with no token
                assert anonymous.verify_tx(bytes.fromhex(tx_id)).stx.tx_id.hex() == tx_id
            else:
                with pytest.raises(LightClientError) as info:
                    anonymous.verify_tx(bytes.fromhex(tx_id))
                assert info.value.code == "unauthorized"
            with pytest.raises(LightClientError) as info:
                anonymous.verify_account(bob)  # balances: never anonymous
            assert info.value.code == "unauthorized"
        with LightClient(proc.url, trust, token=proc.token) as client:
            assert client.verify_tx(bytes.fromhex(tx_id)).stx.tx_id.hex() == tx_id
            got = client.verify_account(bob).account
            assert got is not None and got.holdings
        with LightClient(proc.url, trust, token="crt_wrong") as wrong, \
                pytest.raises(LightClientError) as info:
            wrong.verify_tx(bytes.fromhex(tx_id))
        assert info.value.code == "unauthorized"

        # The CLI finds the token in --home (as `corridor up`'s commands do) ...
        verify = ["light", "verify-account", "bob", "--home", str(home), "--rpc", proc.url,
                  "--genesis", str(home / "genesis.json")]
        result = runner.invoke(cli_app, verify)
        assert result.exit_code == 0 and "verified account" in result.output, result.output
        shown = runner.invoke(cli_app, ["account", "show", "bob", "--home", str(home),
                                        "--rpc", proc.url])
        assert shown.exit_code == 0 and "USD" in shown.output, shown.output
        # ... or in CORRIDOR_RPC_TOKEN; without either it says what is missing.
        elsewhere = tmp_path / "no-token"
        elsewhere.mkdir()
        address = node.address("bob")
        args = ["account", "show", address, "--home", str(elsewhere), "--rpc", proc.url]
        result = runner.invoke(cli_app, args, env={"CORRIDOR_RPC_TOKEN": proc.token})
        assert result.exit_code == 0, result.output
        result = runner.invoke(cli_app, args, env={"CORRIDOR_RPC_TOKEN": ""})
        assert result.exit_code == 1 and "client token" in result.output, result.output

        # The event stream (every block's transactions) opens only with the token.
        with httpx.Client(base_url=proc.url, timeout=10) as http:
            assert http.get("/v1/events?from_height=1").status_code == 401
            with http.stream("GET", "/v1/events?from_height=1", headers=proc.headers) as r:
                assert r.status_code == 200
                assert next(r.iter_lines()).startswith(("event:", "id:", ":"))
        node.close()
    finally:
        assert proc.stop() == 0, proc.log_tail()


def test_node_start_flag_overrides_the_home(tmp_path: Path) -> None:
    home = init_home(tmp_path / "home")  # public
    proc = NodeProcess(home, rpc_access="private")
    proc.start()
    try:
        assert httpx.get(proc.url + "/v1/status", timeout=10).status_code == 401
        assert httpx.get(proc.url + "/v1/status", headers=proc.headers,
                         timeout=10).status_code == 200
    finally:
        assert proc.stop() == 0, proc.log_tail()
    assert json.loads((home / ACCESS_FILE).read_text())["mode"] == "public"  # not saved
