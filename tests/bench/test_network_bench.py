"""`corridor bench network --quick` runs end to end and writes every figure.

Timings depend on the machine and its load: no test here asserts a timing or a ratio.
"""

from __future__ import annotations

import http.client
import itertools
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.bench import network_bench
from corridor.bench.node_load import client_orders, post
from corridor.cli.main import app

FIGURES = (
    "committed_tps",
    "committed_tps_one_down",
    "network_ratio",
    "committed_tps_single_node",
    "verify_per_s",
    "load_avg_1m",
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.slow
def test_quick_bench_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "out" / "bench-network.json"
    result = CliRunner().invoke(app, ["bench", "network", "--quick", "--json", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    for key in FIGURES:
        assert _is_number(document[key]), key
        assert document[key] > 0, key
        assert key in result.stdout  # the table names every figure
    for key in ("finality_ms", "finality_ms_one_down"):
        finality = document[key]
        assert set(finality) == {"p50", "p99"}, key
        assert all(_is_number(v) and v > 0 for v in finality.values()), key
        assert finality["p50"] <= finality["p99"], key
        assert f"{key}.p99" in result.stdout
    assert document["quick"] is True
    assert document["validators"] == 4
    assert document["rejected"] == 0  # the load generator's payments are all valid
    assert document["machine"]["cpus"] >= 1
    assert set(document["cpu_cores"]) == {
        "single",
        "throughput",
        "latency",
        "throughput_one_down",
        "latency_one_down",
    }
    assert set(document["targets"]) == {"committed_tps", "finality_ms.p50", "finality_ms.p99"}
    for target in document["targets"].values():
        assert isinstance(target["met"], bool)
    assert list(tmp_path.joinpath("out").iterdir()) == [out]


def test_client_orders_keep_each_sender_on_one_port() -> None:
    bodies_per_round = network_bench.NET_SENDERS // network_bench.NET_BATCH_TXS
    for ports in ([1, 2, 3, 4], [1, 2, 3]):
        take = client_orders(len(ports), ports)
        port_of_body: dict[int, int] = {}
        for _ in ports:
            port, order = take()
            for i in itertools.islice(order, 5 * bodies_per_round):
                assert i not in port_of_body  # every body is sent once
                port_of_body[i] = port
        # Body i and body i + a round hold the same senders: they go to the same port.
        for i in range(4 * bodies_per_round):
            assert port_of_body[i] == port_of_body[i + bodies_per_round]
        assert set(port_of_body.values()) == set(ports)


def test_client_orders_share_one_port() -> None:
    take = client_orders(3, [7])
    first, second = take(), take()
    assert first[0] == second[0] == 7
    assert [next(first[1]), next(second[1]), next(first[1])] == [0, 1, 2]


def test_post_reconnects_once_when_the_server_closed_the_connection() -> None:
    requests: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # the client keeps the connection, not told it closes

        def do_POST(self) -> None:
            requests.append(self.rfile.read(int(self.headers["Content-Length"])))
            body = b'{"accepted": 1}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True  # as an idle keep-alive timeout does

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        assert post(conn, b"first") == (200, b'{"accepted": 1}')
        assert post(conn, b"second") == (200, b'{"accepted": 1}')  # on a fresh connection
    finally:
        conn.close()
        server.shutdown()
        server.server_close()
    assert requests == [b"first", b"second"]  # nothing sent twice
