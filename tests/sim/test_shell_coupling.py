"""The simulator runs the node's own consensus shell (`node.shell.ConsensusShell`), not a
copy: a bug planted in the shell's shared code is caught by seeded simulations, while the
unbroken shell passes the same seeds."""

from __future__ import annotations

import pytest

from corridor.node.shell import ConsensusShell
from corridor.sim.soak import run_seed

# Soak seeds with crashes (chaos without, crash with, a Byzantine validator) where a shell
# that sends before its log is durable lets a restarted validator sign a second value.
CRASH_SEEDS = (5, 28)


def _violations(seed: int) -> tuple[str, ...]:
    return run_seed(seed).violations


@pytest.mark.parametrize("seed", CRASH_SEEDS)
def test_skipping_the_log_sync_before_broadcast_is_caught(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _violations(seed) == ()
    monkeypatch.setattr(ConsensusShell, "sync_log", lambda self: None)
    found = _violations(seed)
    assert any("signed 2 values" in v for v in found), found


# Soak seeds (lossy, with and without a Byzantine validator) that stall when the shell loses
# the next height's messages instead of replaying them after StartHeight: the p2p layer's
# de-duplication drops the re-gossiped copies, so nothing brings them back.
BUFFER_SEEDS = (11, 17)


@pytest.mark.parametrize("seed", BUFFER_SEEDS)
def test_dropping_buffered_messages_is_caught(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _violations(seed) == ()
    monkeypatch.setattr(ConsensusShell, "_replay_buffered", lambda self: self.buffered.clear())
    found = _violations(seed)
    assert any(v.startswith("liveness") for v in found), found
