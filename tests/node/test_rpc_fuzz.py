"""The OpenAPI fuzzer (tests/fuzz.py) over the node RPC, in-process on a demo node's
store: no server error, no undocumented status, bodies as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from starlette.testclient import TestClient

from corridor.ledger import keys
from corridor.node.core import NodeCore
from corridor.node.events import EventHub
from corridor.node.home import Home, read_key
from corridor.node.rpc import HEIGHT_MAX, create_app, resume_height
from corridor.node.rpc_access import RpcAccess, new_token
from corridor.node.storage.memory import MemoryBlockStore, MemoryStateStore
from tests import fuzz
from tests.node.conftest import NodeProcess, init_home

# An endless stream (heartbeats until the client leaves): not something to fuzz in-process.
SKIP = ("GET /v1/events",)


class Handle:
    """A node that is not running consensus: the RPC over its store, nothing more."""

    def __init__(self, core: NodeCore) -> None:
        self.core = core
        self.events = EventHub(core.head.height)

    def transactions_arrived(self) -> None:
        pass

    def evidence_arrived(self) -> None:
        pass


def known_ids(home: Home) -> dict[str, str]:
    """Real path parameters (an account, an asset, the genesis block), so those operations
    are fuzzed past 400/404 too."""
    return {"address": keys.encode_address(read_key(home.wallet_path("alice")).address),
            "issuer": keys.encode_address(read_key(home.wallet_path("issuer")).address),
            "code": "USD", "ref": "0", "height": "0"}


def demo_node(tmp_path: Path) -> Handle:
    # Memory stores: the app runs on the test client's event-loop thread, and a SQLite
    # store belongs to the thread that opened it.
    home = Home(init_home(tmp_path / "home"))
    genesis = home.genesis()
    header = genesis.header()
    return Handle(NodeCore(genesis, MemoryBlockStore(header), MemoryStateStore(),
                           key=home.validator_key(), genesis_header=header))


def test_an_unreadable_body_gets_the_rpc_error_shape(tmp_path: Path) -> None:
    """Found by the fuzzer: FastAPI's own 400 came as {"detail": ...}."""
    with TestClient(create_app(demo_node(tmp_path), OPEN)) as client:
        for path in ("/v1/txs", "/v1/evidence"):
            r = client.post(path, content=b"s\xff", headers={"content-type": "application/json"})
            assert r.status_code == 400, r.text
            assert r.json()["error"]["code"] == "bad_request", r.text


def test_a_cursor_before_the_first_block_is_refused_not_a_server_error(
    tmp_path: Path,
) -> None:
    """Found by the fuzzer: `before=0:0` reached the store, whose page check is an
    assertion (500)."""
    node = demo_node(tmp_path)
    alice = known_ids(Home(tmp_path / "home"))["address"]
    with TestClient(create_app(node, OPEN)) as client:
        r = client.get(f"/v1/accounts/{alice}/txs", params={"before": "0:0"})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_request"
        assert client.get(f"/v1/accounts/{alice}/txs", params={"before": "1:0"}).json() == {
            "items": [], "next": None}


def test_a_block_ref_in_other_digits_is_refused_not_a_server_error(tmp_path: Path) -> None:
    """Found by the fuzzer: "¹" is a digit to str.isdigit() but not to int() (500)."""
    with TestClient(create_app(demo_node(tmp_path), OPEN)) as client:
        r = client.get("/v1/blocks/¹")
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "bad_hex"
        assert client.get("/v1/blocks/0").status_code == 404  # genesis has no block


def test_an_event_stream_resumes_after_ascii_digits_only() -> None:
    assert resume_height("7", None, 3) == 8
    assert resume_height("¹", None, 3) == 4  # was int("¹"): a 500
    assert resume_height("x", 2, 3) == 2
    assert resume_height(None, None, 3) == 4
    assert resume_height("9" * 40, None, 3) == HEIGHT_MAX


def test_the_node_rpc_survives_the_fuzzer(tmp_path: Path) -> None:
    """In the default access mode (public), anonymously and with a client token."""
    token = new_token()
    access = RpcAccess(mode="public").with_token("fuzz", token)
    schema = schemathesis.openapi.from_asgi("/openapi.json",
                                            create_app(demo_node(tmp_path), access))
    roles = {"anonymous": lambda _last: {},
             "client": lambda _last: {"Authorization": f"Bearer {token}"}}
    report = fuzz.run(schema, roles, skip=SKIP, examples=fuzz.EXAMPLES * 2,
                      known=known_ids(Home(tmp_path / "home")))
    check(report)


@pytest.mark.skipif(not fuzz.LIVE, reason="the long run only: bash scripts/fuzz.sh")
def test_a_live_node_survives_the_fuzzer(tmp_path: Path) -> None:
    node_home = Home(init_home(tmp_path / "home"))
    node = NodeProcess(node_home.path)
    node.start()
    try:
        schema = schemathesis.openapi.from_url(f"{node.url}/openapi.json")
        roles = {"anonymous": lambda _last: {}, "client": lambda _last: node.headers}
        check(fuzz.run(schema, roles, skip=SKIP, known=known_ids(node_home)))
    finally:
        assert node.stop() == 0, node.log_tail()


OPEN = RpcAccess(mode="open")  # the findings' tests reach every route without a token


def check(report: fuzz.Report) -> None:
    print(report.headline())
    assert report.operations >= 14, report.summary()
    assert not report.failures, report.summary()
