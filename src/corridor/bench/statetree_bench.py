"""How the state root's cost per block scales with the size of the state.

Target (L13, large scale): with ~10,000 key updates per block, the time per block at
1,000,000 stored keys is under twice the time at 100,000.

    python -m corridor.bench.statetree_bench [n_keys ...]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import tracemalloc
from hashlib import sha256

from corridor.ledger.statetree import StateTree


def _random_hashes(rng: random.Random, count: int) -> list[bytes]:
    return [sha256(rng.randbytes(32)).digest() for _ in range(count)]


def state_root_per_block_ms(
    n_keys: int, updates_per_block: int = 10_000, blocks: int = 5, seed: int = 1
) -> float:
    """Median milliseconds per block to apply `updates_per_block` writes and read the root.

    The tree starts with `n_keys` random keys (built by `from_items`, not timed); each block
    modifies half its writes' worth of existing keys and inserts as many new ones.
    """
    rng = random.Random(seed)
    keys = _random_hashes(rng, n_keys)
    tree = StateTree.from_items(zip(keys, _random_hashes(rng, n_keys), strict=True))
    _ = tree.root
    timings_ms = []
    for _block in range(blocks):
        modified = rng.sample(keys, updates_per_block // 2)
        inserted = _random_hashes(rng, updates_per_block - len(modified))
        writes: list[tuple[bytes, bytes | None]] = list(
            zip(modified + inserted, _random_hashes(rng, updates_per_block), strict=True)
        )
        keys.extend(inserted)
        started_ns = time.perf_counter_ns()
        tree.update(writes)
        _ = tree.root
        timings_ms.append((time.perf_counter_ns() - started_ns) / 1e6)
    return statistics.median(timings_ms)


def state_tree_bytes(n_keys: int, seed: int = 1) -> int:
    """Bytes allocated by a tree of `n_keys` random keys (tracemalloc), inputs excluded."""
    rng = random.Random(seed)
    items = list(zip(_random_hashes(rng, n_keys), _random_hashes(rng, n_keys), strict=True))
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tree = StateTree.from_items(items)
        del items  # the tree keeps its own copy of every entry; the input tuples may go
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(tree) == n_keys
    return after - before


def main(argv: list[str]) -> None:
    sizes = [int(arg) for arg in argv] or [100_000, 1_000_000]
    per_block_ms = {n: state_root_per_block_ms(n) for n in sizes}
    for n, ms in per_block_ms.items():
        print(f"{n:>10,} keys: {ms:8.1f} ms per block of 10,000 writes")
    if len(sizes) > 1:
        ratio = per_block_ms[sizes[-1]] / per_block_ms[sizes[0]]
        print(f"ratio {sizes[-1]:,} / {sizes[0]:,}: {ratio:.2f}")
    mib = state_tree_bytes(sizes[-1]) / 2**20
    print(f"tree of {sizes[-1]:,} keys: {mib:.0f} MiB (tracemalloc)")


if __name__ == "__main__":
    main(sys.argv[1:])
