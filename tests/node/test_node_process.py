"""End-to-end tests against a real node process: payments, proofs, batches, the event
stream, bad input, and crash safety under load (kill -9, restart, check, repeat).

The crash test kills the node a few times by default; CORRIDOR_SOAK_KILLS raises the count
(scripts/soak-node.sh runs it with 20). CORRIDOR_SOAK_SEED picks the random kill moments.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from corridor.ledger.assets import Asset
from corridor.ledger.block import BlockHeader, Commit, verify_commit
from corridor.ledger.chain import execute_block
from corridor.ledger.context import ApplyContext
from corridor.ledger.errors import Rejection
from corridor.ledger.genesis import parse_genesis
from corridor.ledger.keys import KeyPair
from corridor.ledger.proofs import AccountProof, TxProof, verify_account_proof, verify_tx_proof
from corridor.ledger.statetree import StateProof
from corridor.ledger.tx import Payment, SignedTransaction, Transaction, decode_transaction

from .conftest import NodeClient, NodeProcess, genesis_text

ALICE_START = 1_000_000
TREASURY_START = 1_000_000_000


def _header(view: dict[str, Any]) -> BlockHeader:
    return BlockHeader.decode(bytes.fromhex(view["encoded"]))


def _check_commit(node: NodeClient, height: int) -> BlockHeader:
    """The header at `height`, after checking its commit against the genesis validators."""
    r = node.http.get(f"/v1/headers/{height}")
    assert r.status_code == 200, r.text
    body = r.json()
    header = _header(body["header"])
    assert header.height == height
    assert header.hash().hex() == body["header"]["hash"]
    commit = Commit.decode(bytes.fromhex(body["commit"]["encoded"]))
    validators = parse_genesis(genesis_text(node.home)).validators
    assert header.validator_set_hash == validators.hash()
    assert verify_commit(header.chain_id, validators, commit, header.hash(), height) is None
    return header


def _check_account_proof(node: NodeClient, name: str) -> dict[str, Any]:
    r = node.http.get(f"/v1/accounts/{node.address(name)}/proof")
    assert r.status_code == 200, r.text
    body = r.json()
    header = _header(body["header"])
    assert header.height == body["height"]
    # The header the proof is against is the committed one, with a valid commit.
    assert _check_commit(node, header.height).hash() == header.hash()
    proof = AccountProof(node.wallet(name).address, bytes.fromhex(body["account"]),
                         StateProof.decode(bytes.fromhex(body["proof"])))
    ok, acct = verify_account_proof(header, proof)
    assert ok and acct is not None
    assert acct.address == node.wallet(name).address
    return {"header": header, "account": acct}


# --- 1. one payment, end to end ---------------------------------------------------------


def test_payment_commits_with_verifiable_proofs(node: NodeClient) -> None:
    alice0, bob0 = node.balance("alice"), node.balance("bob")
    assert (alice0, bob0) == (ALICE_START, 0)
    tx_id = node.pay("alice", "bob", 12_345)
    status = node.wait_committed(tx_id)
    assert status["tx_id"] == tx_id
    assert status["result"]["code"] == "success"
    assert status["result"]["operations"][0]["delivered"] == "12345"
    assert status["transaction"]["tx_id"] == tx_id
    assert status["transaction"]["source"] == node.address("alice")
    assert node.balance("alice") == alice0 - 12_345
    assert node.balance("bob") == bob0 + 12_345
    assert node.sequence("alice") == 1

    # Light client: the tx is in the block whose header a commit certifies.
    r = node.http.get(f"/v1/txs/{tx_id}/proof")
    assert r.status_code == 200, r.text
    p = r.json()
    assert (p["height"], p["index"]) == (status["height"], status["index"])
    header = _check_commit(node, p["height"])
    assert header.hash().hex() == p["header"]["hash"]
    proof = TxProof(p["height"], p["index"], bytes.fromhex(p["tx"]),
                    tuple(bytes.fromhex(x) for x in p["path"]))
    stx = verify_tx_proof(header, proof)
    assert stx is not None and stx.tx_id.hex() == tx_id
    # A tampered proof does not verify.
    assert verify_tx_proof(header, TxProof(p["height"], p["index"] + 1, proof.tx_bytes,
                                           proof.path)) is None

    # The account proof against the latest header shows the new balances.
    for name, expected in (("alice", alice0 - 12_345), ("bob", bob0 + 12_345)):
        acct = _check_account_proof(node, name)["account"]
        usd = Asset("USD", node.wallet("issuer").address)
        held = {h.asset: h.balance for h in acct.holdings}
        assert held[usd] == expected


# --- 2. a batch of 200 ------------------------------------------------------------------


def test_batch_of_200_payments_all_commit(node: NodeClient) -> None:
    stxs = [node.payment("alice", "bob", i, i) for i in range(1, 201)]
    r = node.submit_batch(stxs)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 200, [e for e in body["results"] if not e["accepted"]][:3]
    assert [e["tx_id"] for e in body["results"]] == [s.tx_id.hex() for s in stxs]
    node.wait_committed(stxs[-1].tx_id.hex(), timeout=30)
    positions = set()
    for stx in stxs:
        status = node.wait_committed(stx.tx_id.hex(), timeout=5)
        positions.add((status["height"], status["index"]))
    assert len(positions) == 200
    total = 200 * 201 // 2
    assert node.balance("bob") == total
    assert node.balance("alice") == ALICE_START - total
    assert node.sequence("alice") == 200


# --- 3. the event stream ----------------------------------------------------------------


def _sse_events(lines: Any) -> Any:
    """Parses an SSE line iterator into (event, id, data) tuples; skips comments."""
    event, ident, data = None, None, []
    for line in lines:
        if line == "":
            if data or event:
                yield event, ident, "\n".join(data)
            event, ident, data = None, None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("id:"):
            ident = int(line[3:].strip())
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


def test_event_stream_yields_blocks_in_order(node: NodeClient) -> None:
    early = []
    for i in range(3):  # one after another: several blocks
        early.append(node.pay("alice", "bob", 10 + i))
        node.wait_committed(early[-1])
    top = node.status()["height"]
    assert top >= 1
    want = set(early)
    seen_ids: list[int] = []
    seen_txs: set[str] = set()
    late: str | None = None
    timeout = httpx.Timeout(10.0, read=10.0)
    with node.http.stream("GET", "/v1/events", params={"from_height": 1},
                          timeout=timeout) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for event, ident, data in _sse_events(r.iter_lines()):
            assert event == "block"
            body = json.loads(data)
            assert ident == body["header"]["height"]
            assert not seen_ids or ident == seen_ids[-1] + 1, (seen_ids[-3:], ident)
            if not seen_ids:
                assert ident == 1
            seen_ids.append(ident)
            assert body["header"]["tx_count"] == len(body["transactions"])
            for t in body["transactions"]:
                seen_txs.add(t["tx_id"])
                assert t["result"]["code"] == "success"
            if ident == top and late is None:
                # History replayed: now a live block must arrive on the same stream.
                assert want <= seen_txs
                late = node.pay("alice", "bob", 99)
                want.add(late)
            if late is not None and late in seen_txs:
                break
    assert want <= seen_txs
    assert seen_ids == list(range(1, seen_ids[-1] + 1))


# --- 4. bad input -----------------------------------------------------------------------


def _snapshot(node: NodeClient) -> dict[str, Any]:
    status = node.status()
    return {
        "height": status["height"],
        "state_root": status["state_root"],
        "latest_hash": status["latest_hash"],
        "mempool": status["mempool"],
        "accounts": {n: node.account(n) for n in ("issuer", "treasury", "alice", "bob")},
    }


def _expect_error(r: httpx.Response, status: int, code: str | set[str]) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:500])
    body = r.json()
    assert body["error"]["code"] in ({code} if isinstance(code, str) else code), body
    assert isinstance(body["error"]["message"], str)
    return body["error"]


def _raw_post(node: NodeClient, content: bytes) -> httpx.Response:
    return node.http.post("/v1/txs", content=content,
                          headers={"content-type": "application/json"})


def test_bad_input_is_refused_and_changes_nothing(node: NodeClient) -> None:
    committed = node.payment("alice", "bob", 500, 1)
    assert node.submit(committed).status_code == 200
    node.wait_committed(committed.tx_id.hex())
    before = _snapshot(node)
    assert before["mempool"]["txs"] == 0
    seq = node.sequence("alice") + 1
    now = int(time.time() * 1000)

    # Request shape.
    _expect_error(_raw_post(node, b'{"tx": "00'), 422, "invalid_request")
    _expect_error(_raw_post(node, b"not json at all"), 422, "invalid_request")
    _expect_error(node.http.post("/v1/txs", json={"tx": 123}), 422, "invalid_request")
    _expect_error(node.http.post("/v1/txs", json={"txs": "abcd"}), 422, "invalid_request")
    _expect_error(node.http.post("/v1/txs", json={"txs": [1, 2]}), 422, "invalid_request")
    _expect_error(node.http.post("/v1/txs", json=["tx"]), 422, "invalid_request")
    _expect_error(node.http.post("/v1/txs", json={}), 400, "invalid_request")
    good = node.payment("alice", "bob", 1, seq)
    _expect_error(node.http.post("/v1/txs", json={"tx": good.encode().hex(),
                                                  "txs": [good.encode().hex()]}),
                  400, "invalid_request")
    # Bounded: body size and batch size.
    big = b'{"tx": "' + b"00" * (4 * 1024 * 1024 + 16) + b'"}'
    assert len(big) > 8 * 1024 * 1024
    try:
        r = _raw_post(node, big)
    except httpx.TransportError as exc:  # a server may close before reading it all
        pytest.fail(f"oversized body: no 413 answer, the connection broke: {exc!r}")
    _expect_error(r, 413, "body_too_large")
    over = [node.payment("alice", "bob", 1, seq + i) for i in range(1001)]
    _expect_error(node.submit_batch(over), 422, "invalid_request")

    # Transaction bytes.
    _expect_error(node.http.post("/v1/txs", json={"tx": "zz"}), 400, "bad_hex")
    _expect_error(node.http.post("/v1/txs", json={"tx": "abc"}), 400, "bad_hex")
    garbage = {"malformed", "limit_exceeded", "non_canonical"}
    _expect_error(node.http.post("/v1/txs", json={"tx": "deadbeef" * 8}), 400, garbage)
    _expect_error(node.http.post("/v1/txs", json={"tx": "00" * 40}), 400, garbage)
    _expect_error(node.http.post("/v1/txs", json={"tx": ""}), 400, "malformed")
    trailing = good.encode() + b"\x00"
    err = _expect_error(node.http.post("/v1/txs", json={"tx": trailing.hex()}), 400,
                        "non_canonical")
    assert err["permanent"] is True

    # Signatures, accounts, chain, time, replay.
    raw = bytearray(good.encode())
    raw[-1] ^= 0x01  # the last byte belongs to the signature
    _expect_error(node.http.post("/v1/txs", json={"tx": raw.hex()}), 400, "bad_signature")
    stranger = KeyPair.from_seed(bytes(range(32)))
    body = Transaction(chain_id=node.chain_id, source=stranger.address, sequence=1,
                       not_before_ms=0, not_after_ms=now + 60_000,
                       operations=(Payment(destination=node.wallet("bob").address,
                                           asset=Asset("USD", node.wallet("issuer").address),
                                           amount=1),))
    _expect_error(node.submit(body.sign(stranger)), 400, "unknown_account")
    wrong_chain = node.payment("alice", "bob", 1, seq, chain_id="corridor-other")
    _expect_error(node.submit(wrong_chain), 400, "wrong_chain")
    expired = node.payment("alice", "bob", 1, seq, not_after_ms=now - 1_000)
    _expect_error(node.submit(expired), 400, "expired")
    err = _expect_error(node.submit(committed), 400, "duplicate")
    assert err["tx_id"] == committed.tx_id.hex()
    reused = node.payment("alice", "bob", 2, 1)  # a fresh tx reusing a committed sequence
    _expect_error(node.submit(reused), 400, "bad_sequence")
    # A batch answers per item and admits nothing bad.
    r = node.http.post("/v1/txs", json={"txs": ["zz", raw.hex(), committed.encode().hex()]})
    assert r.status_code == 200, r.text
    batch = r.json()
    assert batch["accepted"] == 0
    assert [e["error"]["code"] for e in batch["results"]] == ["bad_hex", "bad_signature",
                                                               "duplicate"]

    # URLs.
    _expect_error(node.http.get("/v1/accounts/not-an-address"), 400, "bad_address")
    bad_checksum = node.address("alice")[:-1] + ("1" if node.address("alice")[-1] != "1" else "2")
    _expect_error(node.http.get(f"/v1/accounts/{bad_checksum}"), 400, "bad_address")
    _expect_error(node.http.get("/v1/accounts/xyz/proof"), 400, "bad_address")
    _expect_error(node.http.get("/v1/accounts/xyz/txs"), 400, "bad_address")
    _expect_error(node.http.get("/v1/txs/xyz"), 400, "bad_hex")
    _expect_error(node.http.get("/v1/txs/abcd"), 400, "bad_hex")
    _expect_error(node.http.get("/v1/txs/xyz/proof"), 400, "bad_hex")
    _expect_error(node.http.get("/v1/txs/" + "ab" * 32), 404, "unknown_tx")
    _expect_error(node.http.get("/v1/txs/" + "ab" * 32 + "/proof"), 404, "unknown_tx")
    _expect_error(node.http.get("/v1/blocks/999999"), 404, "unknown_block")
    _expect_error(node.http.get("/v1/blocks/0"), 404, "unknown_block")
    _expect_error(node.http.get("/v1/blocks/" + "00" * 32), 404, "unknown_block")
    _expect_error(node.http.get("/v1/blocks/nothex"), 400, "bad_hex")
    _expect_error(node.http.get("/v1/headers/999999"), 404, "unknown_block")
    # Heights beyond SQLite's 64-bit integers: a clean 4xx, never a server error.
    huge = "9" * 25
    _expect_error(node.http.get(f"/v1/blocks/{huge}"), 404, "unknown_block")
    _expect_error(node.http.get(f"/v1/headers/{huge}"), 422, "invalid_request")
    bob_txs = node.http.get(f"/v1/accounts/{node.address('bob')}/txs?before={huge}:{huge}")
    assert bob_txs.status_code == 200, bob_txs.text
    _expect_error(node.http.get("/v1/events", params={"from_height": 0}), 422,
                  "invalid_request")
    _expect_error(node.http.get("/v1/blocks", params={"limit": 0}), 422, "invalid_request")
    _expect_error(node.http.get("/v1/blocks", params={"limit": 10_000}), 422, "invalid_request")

    # Nothing changed: no block, no state change, nothing pending.
    time.sleep(0.3)  # longer than a block interval
    assert _snapshot(node) == before
    # And the node still works.
    node.wait_committed(node.pay("alice", "bob", 1))


# --- 5. crash safety under load ---------------------------------------------------------

SENDERS = ("alice", "treasury")


class Loader(threading.Thread):
    """Submits small batches of payments to bob from several senders, continuously, and
    records every tx it sees reported committed (with its height and index)."""

    BATCH = 5
    OUTSTANDING_MAX = 150
    POLL = 40

    def __init__(self, home: Path, url: str, seed: int) -> None:
        super().__init__(daemon=True, name="loader")
        self.client = NodeClient(home, url)
        self.client.http.timeout = httpx.Timeout(5.0)
        self.rng = random.Random(seed)
        self.go = threading.Event()
        self.lock = threading.Lock()  # held for one iteration: pause() waits for it
        self.quit = False
        self.resync = True
        self.next_seq: dict[str, int] = {}
        self.submitted: dict[str, tuple[str, int, int]] = {}  # tx id -> sender, seq, amount
        self.outstanding: list[str] = []
        self.seen: dict[str, tuple[int, int]] = {}
        self.anomalies: list[str] = []
        self.transport_errors = 0
        self.accepted = 0

    def pause(self) -> None:
        self.go.clear()
        with self.lock:
            pass

    def resume(self) -> None:
        with self.lock:
            self.resync = True
            self.outstanding.clear()  # the restarted node's mempool is empty
        self.go.set()

    def stop(self) -> None:
        self.quit = True
        self.go.set()
        self.join(10)
        self.client.close()

    def run(self) -> None:
        while not self.quit:
            if not self.go.wait(0.1):
                continue
            with self.lock:
                if not self.go.is_set() or self.quit:
                    continue
                try:
                    self._iteration()
                except httpx.TransportError:
                    self.transport_errors += 1
                    time.sleep(0.02)
                except Exception as exc:
                    self.anomalies.append(f"loader: {exc!r}")
                    time.sleep(0.05)

    def _iteration(self) -> None:
        c = self.client
        if self.resync:
            for s in SENDERS:
                self.next_seq[s] = c.sequence(s) + 1
            self.resync = False
        if len(self.outstanding) < self.OUTSTANDING_MAX:
            stxs = []
            for s in SENDERS:
                for _ in range(self.BATCH):
                    amount = self.rng.randint(1, 100)
                    stx = c.payment(s, "bob", amount, self.next_seq[s])
                    self.submitted[stx.tx_id.hex()] = (s, self.next_seq[s], amount)
                    self.next_seq[s] += 1
                    stxs.append(stx)
            r = c.submit_batch(stxs)
            if r.status_code != 200:
                self.anomalies.append(f"submit: {r.status_code} {r.text[:300]}")
                self.resync = True
                return
            for entry in r.json()["results"]:
                if entry["accepted"]:
                    self.accepted += 1
                    self.outstanding.append(entry["tx_id"])
                else:
                    self.anomalies.append(f"not accepted: {entry}")
                    self.resync = True
        keep = []
        for i, tx_id in enumerate(self.outstanding):
            if i >= self.POLL:
                keep.append(tx_id)
                continue
            r = c.tx(tx_id)
            status = r.json().get("status") if r.status_code == 200 else r.status_code
            if status == "committed":
                body = r.json()
                self.seen[tx_id] = (body["height"], body["index"])
            elif status == "pending":
                keep.append(tx_id)
            else:
                self.anomalies.append(f"{tx_id}: {status} {r.text[:300]}")
        self.outstanding = keep
        time.sleep(0.01)


class Replay:
    """The chain replayed from genesis by the test, block by block, over the node's RPC."""

    def __init__(self, home: Path) -> None:
        self.genesis = parse_genesis(genesis_text(home))
        self.state = self.genesis.state
        self.tree = self.genesis.tree()
        self.height = 0
        self.hashes = {0: self.genesis.header(self.tree).hash()}
        self.where: dict[str, tuple[int, int]] = {}
        self.txs: dict[str, SignedTransaction] = {}
        self.count_by_source: Counter[bytes] = Counter()

    @property
    def root(self) -> bytes:
        return self.tree.root

    def advance(self, node: NodeClient, height: int) -> None:
        if self.height:
            # Blocks already replayed are unchanged (the hash chain covers the older ones).
            r = node.http.get(f"/v1/headers/{self.height}")
            assert r.status_code == 200, r.text
            assert r.json()["header"]["hash"] == self.hashes[self.height].hex(), (
                f"block {self.height} changed across a restart")
        assert height >= self.height, f"the chain went back from {self.height} to {height}"
        for h in range(self.height + 1, height + 1):
            r = node.http.get(f"/v1/blocks/{h}")
            assert r.status_code == 200, r.text
            body = r.json()
            header = _header(body["header"])
            assert header.height == h
            assert header.previous_hash == self.hashes[h - 1]
            txs = tuple(decode_transaction(bytes.fromhex(t["encoded"]))
                        for t in body["transactions"])
            ctx = ApplyContext(chain_id=header.chain_id, height=h, time_ms=header.time_ms)
            execution = execute_block(self.state, self.tree, txs, ctx)
            assert not isinstance(execution, Rejection), f"block {h}: {execution}"
            self.state.commit(execution.state)
            self.tree.update(execution.tree_updates)
            assert self.tree.root == header.state_root == execution.state_root, f"block {h}"
            for i, stx in enumerate(txs):
                tx_id = stx.tx_id.hex()
                assert tx_id not in self.where, f"{tx_id} committed twice"
                self.where[tx_id] = (h, i)
                self.txs[tx_id] = stx
                self.count_by_source[stx.tx.source] += 1
                assert stx.tx.sequence == self.count_by_source[stx.tx.source], (
                    f"{tx_id}: sequence {stx.tx.sequence} out of order")
            self.hashes[h] = header.hash()
            self.height = h


def _paid_to(replay: Replay, node: NodeClient, source: str | None = None) -> int:
    bob = node.wallet("bob").address
    usd = Asset("USD", node.wallet("issuer").address)
    total = 0
    for stx in replay.txs.values():
        if source is not None and stx.tx.source != node.wallet(source).address:
            continue
        for op in stx.tx.operations:
            assert isinstance(op, Payment) and op.destination == bob and op.asset == usd
            total += op.amount
    return total


def _check_after_restart(node: NodeClient, replay: Replay, loader: Loader) -> None:
    status = node.status()
    replay.advance(node, status["height"])
    assert replay.root.hex() == status["state_root"], "state root differs from a replay"
    for tx_id, (h, i) in loader.seen.items():
        assert replay.where.get(tx_id) == (h, i), f"{tx_id} seen at {(h, i)}, now lost/moved"
        r = node.tx(tx_id)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["height"], body["index"]) == ("committed", h, i)
        sender, seq, amount = loader.submitted[tx_id]
        stx = replay.txs[tx_id]
        assert stx.tx.source == node.wallet(sender).address and stx.tx.sequence == seq
        op = stx.tx.operations[0]
        assert isinstance(op, Payment) and op.amount == amount
    # Anything committed came from the loader.
    assert set(replay.where) <= set(loader.submitted)
    for s in SENDERS:
        committed = replay.count_by_source[node.wallet(s).address]
        assert node.sequence(s) == committed, s
        assert committed >= sum(1 for t in loader.seen if loader.submitted[t][0] == s)
    assert node.balance("bob") == _paid_to(replay, node)
    assert node.balance("alice") == ALICE_START - _paid_to(replay, node, "alice")
    assert node.balance("treasury") == TREASURY_START - _paid_to(replay, node, "treasury")


def _kills() -> int:
    return max(int(os.environ.get("CORRIDOR_SOAK_KILLS", "0")), 3)


@pytest.mark.parametrize("kills", [_kills()])
def test_crash_safety_under_load(node_home: Path, kills: int) -> None:
    seed = int(os.environ.get("CORRIDOR_SOAK_SEED", "20260101"))
    rng = random.Random(seed)
    proc = NodeProcess(node_home, block_interval_ms=20)
    proc.start()
    node = NodeClient(node_home, proc.url)
    loader = Loader(node_home, proc.url, seed + 1)
    replay = Replay(node_home)
    loader.start()
    try:
        for round_ in range(kills):
            seen_before = len(loader.seen)
            loader.resume()
            deadline = time.monotonic() + 20
            while len(loader.seen) <= seen_before:  # under load, and making progress
                proc.assert_running()
                assert time.monotonic() < deadline, f"no commit after restart {round_}"
                assert not loader.anomalies, loader.anomalies[:5]
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.0))
            proc.kill()  # fails if the node had died on its own
            loader.pause()
            proc.start()
            try:
                _check_after_restart(node, replay, loader)
            except AssertionError as exc:
                raise AssertionError(f"after kill {round_ + 1} (seed {seed}): {exc}\n"
                                     f"{proc.log_tail()}") from exc
            assert not loader.anomalies, loader.anomalies[:5]
        # Load keeps working after the last restart; then a clean stop and a final check.
        loader.resume()
        time.sleep(0.5)
        loader.pause()
        assert not loader.anomalies, loader.anomalies[:5]
        assert proc.stop() == 0, proc.log_tail()
        proc.start()
        _check_after_restart(node, replay, loader)
        full = Replay(node_home)
        full.advance(node, node.status()["height"])
        assert full.root == replay.root
        assert proc.stop() == 0, proc.log_tail()
        assert len(loader.seen) > 0 and replay.height > kills
        print(f"\ncrash test: {kills} kills, {replay.height} blocks, {len(replay.where)} txs "
              f"committed, {len(loader.seen)} seen committed, {loader.accepted} accepted")
    finally:
        loader.stop()
        node.close()
        proc.kill(check=False)
