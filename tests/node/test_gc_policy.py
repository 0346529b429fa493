"""The node's GC policy: committed objects frozen per block, garbage cycles still collected."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator

import pytest

from corridor.node.gc_policy import GROWTH_CHECK_EVERY_S, YOUNG_THRESHOLD, GcPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Node:
    """A stand-in for garbage: an object that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    gc.collect()


def _garbage_cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_settle_freezes_the_state_and_sets_the_young_threshold() -> None:
    state = [(i, str(i)) for i in range(1_000)]
    GcPolicy(clock=Clock()).settle()
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_count()[0] == 0
    assert gc.get_freeze_count() >= len(state)


def test_after_commit_freezes_what_the_block_made() -> None:
    policy = GcPolicy(clock=Clock())
    policy.settle()
    frozen = gc.get_freeze_count()
    block = [(i, str(i)) for i in range(5_000)]  # tracked tuples, alive after the "commit"
    assert gc.get_count()[0] > len(block) - 100  # net of a few frees elsewhere
    policy.after_commit()
    assert gc.get_count()[0] == 0
    assert gc.get_freeze_count() >= frozen + len(block)
    policy.after_commit()  # nothing new: still frozen, no collection due
    assert policy.full_collections == 0
    assert block[4_999] == (4_999, "4999")  # frozen objects are still ordinary objects


def test_a_frozen_object_is_still_freed_by_reference_counting() -> None:
    policy = GcPolicy(clock=Clock())
    policy.settle()
    record = Node()  # no cycle: reference counting alone frees it
    ref = weakref.ref(record)
    policy.after_commit()
    del record
    assert ref() is None


def test_a_frozen_garbage_cycle_is_collected_by_the_periodic_full_pass() -> None:
    clock = Clock()
    policy = GcPolicy(clock=clock, full_every_s=600.0)
    policy.settle()
    cycle = _garbage_cycle()
    policy.after_commit()  # frozen with the block: a young pass can no longer reach it
    gc.collect(0)
    gc.collect(1)
    assert cycle() is not None
    clock.now += 599.0
    policy.after_commit()
    assert cycle() is not None and policy.full_collections == 0
    clock.now += 1.0
    policy.after_commit()
    assert policy.full_collections == 1
    assert cycle() is None


def test_growth_brings_the_full_pass_forward() -> None:
    clock = Clock()
    policy = GcPolicy(clock=clock, full_growth=0.25)
    policy.settle()
    cycle = _garbage_cycle()
    blocks = sys.getallocatedblocks()
    kept = [(i + 1_000,) for i in range(blocks // 12)]  # a tuple and an int each: +1/6
    clock.now += GROWTH_CHECK_EVERY_S
    policy.after_commit()
    assert policy.full_collections == 0 and cycle() is not None
    kept += [(i + 1_000,) for i in range(blocks // 12)]  # +1/3 in all
    policy.after_commit()  # the allocated blocks are not counted again this soon
    assert policy.full_collections == 0
    clock.now += GROWTH_CHECK_EVERY_S
    policy.after_commit()
    assert policy.full_collections == 1
    assert cycle() is None
    assert len(kept) == 2 * (blocks // 12)
