"""A real local network: `corridor localnet up` starts 4 validator processes (and a full node
later); payments commit on every node; a validator killed with SIGKILL and restarted catches
up while the others keep committing; a late-started node syncs; `down` stops them all."""

from __future__ import annotations

import os
import signal
import time

from corridor.cli.localnet import running_pid
from corridor.node.consensus_driver import ConsensusWal

from .conftest import Net, localnet_cli

VALIDATORS = 4
LOAD = 40  # payments in flight when a validator is killed
ALICE_START = 1_000_000


def test_localnet_commits_survives_a_kill_and_syncs_a_late_node(net: Net) -> None:
    validators = [f"node{i}" for i in range(VALIDATORS)]
    out = localnet_cli(
        "up",
        "--dir",
        str(net.dir),
        "--validators",
        str(VALIDATORS),
        "--full-nodes",
        "1",
        *(arg for v in validators for arg in ("--node", v)),
    )
    assert "node3" in out and "node4" not in out and "p2p 127.0.0.1:" in out

    # 1. A payment submitted to one validator commits everywhere.
    c0 = net.client("node0")
    tx = c0.pay("alice", "bob", 1_000)
    committed = c0.wait_committed(tx, timeout=20)
    net.wait_same_height(validators, committed["height"])
    for v in validators:
        assert net.client(v).balance("bob") == 1_000

    # 2. SIGKILL one validator under load: the other three keep committing.
    victim = "node2"
    c1 = net.client("node1")
    batch = [c1.payment("treasury", "alice", 1, seq) for seq in range(1, LOAD + 1)]
    assert c1.submit_batch(batch).status_code == 200
    os.kill(net.pid(victim), signal.SIGKILL)
    survivors = [v for v in validators if v != victim]
    for i in range(3):
        c1.wait_committed(c1.pay("alice", "bob", 10 + i), timeout=20)
    for stx in batch:
        c1.wait_committed(stx.tx_id.hex(), timeout=20)
    height = c1.status()["height"]
    net.wait_same_height(survivors, height)
    assert net.client("node3").balance("bob") == 1_033

    # 3. Restarted (`up` starts what is not running), it catches up; the chain goes on.
    localnet_cli("up", "--dir", str(net.dir), *(arg for v in validators for arg in ("--node", v)))
    net.wait_same_height(validators, height)
    tx = net.client(victim).pay("alice", "bob", 5)
    done = net.client(victim).wait_committed(tx, timeout=20)
    net.wait_same_height(validators, done["height"])

    # 4. A full node started late syncs the whole chain and follows it.
    localnet_cli("up", "--dir", str(net.dir), "--node", "node4")
    late = net.client("node4")
    net.wait_same_height([*validators, "node4"], done["height"])
    assert late.balance("bob") == 1_038
    for name in [*validators, "node4"]:  # nothing lost, nothing applied twice
        c = net.client(name)
        assert c.balance("alice") == ALICE_START - 1_038 + LOAD
        assert c.sequence("treasury") == LOAD
    assert late.status()["height"] >= done["height"]

    for name in [*validators, "node4"]:
        assert "double signing" not in net.log(name)
        assert "Traceback" not in net.log(name), net.log(name)[-3000:]

    # 5. `down` stops every process; data stays for the next `up`.
    homes = [net.dir / n for n in [*validators, "node4"]]
    assert all(running_pid(h) is not None for h in homes)
    out = localnet_cli("down", "--dir", str(net.dir))
    assert out.count("stopped") == 5
    assert all(running_pid(h) is None for h in homes)  # (a zombie counts as stopped)
    assert (net.dir / "node0" / "data" / "chain.db").exists()


def test_every_validator_killed_at_once_replays_its_log_and_goes_on(net: Net) -> None:
    """SIGKILL all four mid-height (blocks come every ~0.5 s even when idle, so each dies
    with votes of an open height in its log): on restart each replays its log, re-sends the
    same signatures, and the network decides the next heights without double signing."""
    validators = [f"node{i}" for i in range(VALIDATORS)]
    localnet_cli("up", "--dir", str(net.dir), "--validators", str(VALIDATORS))
    c0 = net.client("node0")
    replays = 0  # logged events the restarted validators replay
    for _ in range(2):
        c0.wait_committed(c0.pay("alice", "bob", 100), timeout=20)
        time.sleep(0.3)
        for v in validators:
            os.kill(net.pid(v), signal.SIGKILL)
        for v in validators:
            wal = ConsensusWal(net.dir / v / "data" / "consensus.wal")
            wal.open()
            replays += len(wal.events)
        localnet_cli("up", "--dir", str(net.dir))
        height = c0.status()["height"]
        net.wait_same_height(validators, height + 2)
    assert c0.balance("bob") == 200
    assert replays > 0
    for name in validators:
        assert "double signing" not in net.log(name)
        assert "Traceback" not in net.log(name), net.log(name)[-3000:]
