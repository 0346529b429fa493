"""The shell's WAL store port has two implementations, the file (`ConsensusWal`, the node)
and memory (`MemoryWal`, the simulator): both keep what was synced, in order, with the
accepted blocks, and a reset starts an empty height. The memory one loses its unsynced tail
on `crash`, the worst a crash before an fsync may do."""

from __future__ import annotations

from pathlib import Path

from corridor.consensus.machine import BlockProposed, StartHeight, TimeoutFired
from corridor.node.consensus_driver import ConsensusWal
from corridor.node.shell_ports import MemoryWal

from .test_storage import Chain


def test_both_logs_keep_synced_events_and_blocks(tmp_path: Path) -> None:
    block = Chain().next(payments=1).block
    events = [StartHeight(3), BlockProposed(3, 0, block.hash()), TimeoutFired("propose", 3, 0)]
    file_wal = ConsensusWal(tmp_path / "c.wal")
    file_wal.open()
    memory_wal = MemoryWal()
    for wal in (file_wal, memory_wal):
        wal.reset(3)
        for i, event in enumerate(events):
            wal.append(event, block if i == 1 else None)
        wal.sync()
        assert (wal.height, wal.events, wal.blocks) == (3, events, {block.hash(): block})
        wal.reset(4)
        assert (wal.height, wal.events, wal.blocks) == (4, [], {})


def test_a_crash_loses_only_what_was_not_synced() -> None:
    block = Chain().next(payments=1).block
    wal = MemoryWal()
    wal.reset(1)
    wal.append(StartHeight(1), None)
    wal.sync()
    wal.append(BlockProposed(1, 0, block.hash()), block)
    wal.crash()
    assert (wal.height, wal.events, wal.blocks) == (1, [StartHeight(1)], {})
    wal.append(BlockProposed(1, 0, block.hash()), block)
    wal.sync()
    wal.crash()
    assert wal.events == [StartHeight(1), BlockProposed(1, 0, block.hash())]
    assert wal.blocks == {block.hash(): block}
    wal.reset(2)
    wal.append(StartHeight(2), None)
    wal.crash()  # a reset not synced yet is lost: back to height 1's synced log
    assert wal.events == [StartHeight(1), BlockProposed(1, 0, block.hash())]
    assert (wal.height, wal.blocks) == (1, {block.hash(): block})
    wal.reset(2)
    wal.sync()
    wal.crash()
    assert (wal.height, wal.events, wal.blocks) == (2, [], {})
