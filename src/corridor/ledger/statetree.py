"""The authenticated state: 32-byte keys to 32-byte value hashes, under one root hash.

A block header carries `StateTree.root`; a light client checks one account's value hash, or
that an account does not exist, with `verify_state_proof` and a `StateProof`, without the state.

Shape: a binary tree of fixed depth `bucket_bits` over 2**bucket_bits buckets. A key's bucket is
its first `bucket_bits` bits (keys are hashes, so buckets fill evenly).

    bucket hash = SHA-256(0x02 || key_1 || value_1 || ... || key_m || value_m)  keys ascending
    node hash   = SHA-256(0x03 || left || right)

The tags differ from the transaction tree's (0x00, 0x01 in `merkle`), so no hash of one kind can
pass for another. A bucket's hash commits to all its entries, so the bucket's entries plus the
sibling hashes up to the root prove a key's value, and prove a key absent just as well.

Why this shape: updating k keys rehashes at most k buckets and their paths to the root, so the
cost of a block grows with the keys it touches, not with the keys stored; the only term that
grows with the state is the bucket length (about n / 65536 entries, ~15 at 1M keys), hashed
as one short string. Past some tens of millions of keys, raise BUCKET_BITS (a new rules version).

Each bucket is kept as one immutable `bytes` of its sorted 64-byte entries: that is exactly the
bucket hash's input, it takes ~64 bytes per entry (dicts of `bytes` would take ~200), and
`copy` can share it.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from hashlib import sha256

from corridor.ledger.errors import DecodeError, RejectCode

BUCKET_BITS = 16  # depth of the tree: 65,536 buckets, ~15 entries each at 1M keys
BUCKET_BITS_MAX = 24  # bucket index is read from the key's first 4 bytes; lists stay small
PROOF_BUCKET_ENTRIES_MAX = 4096  # entries in a decoded proof's bucket: 256 KiB; ~15 expected
KEY_LEN = 32
VALUE_LEN = 32
HASH_LEN = 32
_ENTRY_LEN = KEY_LEN + VALUE_LEN
_COUNT_LEN = 2  # u16 big-endian entry count in an encoded proof

_BUCKET = b"\x02"
_NODE = b"\x03"

assert 0 < BUCKET_BITS <= BUCKET_BITS_MAX <= 32
assert PROOF_BUCKET_ENTRIES_MAX < 2 ** (8 * _COUNT_LEN)


def _bucket_index(key: bytes, bucket_bits: int) -> int:
    return int.from_bytes(key[:4], "big") >> (32 - bucket_bits)


@functools.cache
def _empty_hashes(bucket_bits: int) -> tuple[bytes, ...]:
    """Item d: the hash of an all-empty subtree topped at depth d (depth bucket_bits: a bucket)."""
    hashes = [sha256(_BUCKET).digest()]
    for _ in range(bucket_bits):
        below = hashes[-1]
        hashes.append(sha256(_NODE + below + below).digest())
    return tuple(reversed(hashes))


def _locate(blob: bytes, key: bytes) -> tuple[int, bool]:
    """Offset in `blob` where `key`'s entry is or would be inserted, and whether it is there."""
    lo, hi = 0, len(blob) // _ENTRY_LEN
    while lo < hi:
        mid = (lo + hi) >> 1
        offset = mid * _ENTRY_LEN
        if blob[offset : offset + KEY_LEN] < key:
            lo = mid + 1
        else:
            hi = mid
    offset = lo * _ENTRY_LEN
    return offset, blob[offset : offset + KEY_LEN] == key


def _write(blob: bytes, key: bytes, value_hash: bytes | None) -> tuple[bytes, int] | None:
    """A bucket's entries after one write, and the change in their count; None if unchanged."""
    offset, found = _locate(blob, key)
    if value_hash is None:
        return (blob[:offset] + blob[offset + _ENTRY_LEN :], -1) if found else None
    assert isinstance(value_hash, bytes) and len(value_hash) == VALUE_LEN
    if not found:
        return blob[:offset] + key + value_hash + blob[offset:], 1
    value_at = offset + KEY_LEN
    if blob[value_at : value_at + VALUE_LEN] == value_hash:
        return None
    return blob[:value_at] + value_hash + blob[value_at + VALUE_LEN :], 0


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_LEN


class StateTree:
    """A mutable map key -> value hash whose `root` is recomputed only along changed paths.

    Writes mark buckets dirty; reading `root` (or `prove`) rehashes the dirty buckets and their
    ancestors, each once. Keys and value hashes must be 32-byte `bytes` (asserted: the ledger
    hashes them, so anything else is a bug).
    """

    __slots__ = ("_bits", "_buckets", "_dirty", "_levels", "_prepared", "_size", "_writes")

    def __init__(self, bucket_bits: int = BUCKET_BITS) -> None:
        assert 0 <= bucket_bits <= BUCKET_BITS_MAX, "bucket_bits out of range"
        empty = _empty_hashes(bucket_bits)
        self._bits = bucket_bits
        self._buckets: list[bytes] = [b""] * (1 << bucket_bits)
        # _levels[d] holds the 2**d node hashes at depth d; _levels[bucket_bits] the buckets'.
        self._levels: list[list[bytes]] = [[empty[d]] * (1 << d) for d in range(bucket_bits + 1)]
        self._dirty: set[int] = set()
        self._size = 0
        self._writes = 0  # updates so far: tells whether a `_Prepared` still fits the tree
        self._prepared: _Prepared | None = None

    @classmethod
    def from_items(
        cls, items: Iterable[tuple[bytes, bytes]], bucket_bits: int = BUCKET_BITS
    ) -> StateTree:
        """A tree holding `items`, built level by level in one pass (a later duplicate wins).

        A small state (under 1/8 of the buckets) is inserted incrementally instead: hashing
        every empty bucket costs ~0.25 s at the default depth, whatever the state's size.
        """
        items = list(items)
        if len(items) < (1 << bucket_bits) // 8:
            small = cls(bucket_bits)
            small.update(items)
            return small
        tree = cls(bucket_bits)
        groups: list[dict[bytes, bytes]] = [{} for _ in range(1 << bucket_bits)]
        shift = 32 - bucket_bits
        for key, value_hash in items:
            assert isinstance(key, bytes) and len(key) == KEY_LEN, "key must be 32 bytes"
            assert isinstance(value_hash, bytes) and len(value_hash) == VALUE_LEN
            groups[int.from_bytes(key[:4], "big") >> shift][key] = value_hash
        tree._buckets = [b"".join([k + g[k] for k in sorted(g)]) for g in groups]
        tree._size = sum(map(len, groups))
        level = [sha256(_BUCKET + blob).digest() for blob in tree._buckets]
        tree._levels[bucket_bits] = level
        for depth in range(bucket_bits - 1, -1, -1):
            level = [
                sha256(_NODE + a + b).digest()
                for a, b in zip(level[0::2], level[1::2], strict=True)
            ]
            tree._levels[depth] = level
        return tree

    @property
    def bucket_bits(self) -> int:
        return self._bits

    def __len__(self) -> int:
        return self._size

    def get(self, key: bytes) -> bytes | None:
        """The value hash stored under `key`, or None."""
        assert isinstance(key, bytes) and len(key) == KEY_LEN, "key must be 32 bytes"
        blob = self._buckets[_bucket_index(key, self._bits)]
        offset, found = _locate(blob, key)
        return blob[offset + KEY_LEN : offset + _ENTRY_LEN] if found else None

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value hash), in key order."""
        for blob in self._buckets:
            for offset in range(0, len(blob), _ENTRY_LEN):
                yield blob[offset : offset + KEY_LEN], blob[offset + KEY_LEN : offset + _ENTRY_LEN]

    def set(self, key: bytes, value_hash: bytes) -> None:
        self.update(((key, value_hash),))

    def delete(self, key: bytes) -> None:
        """Remove `key`; nothing happens if it is absent."""
        self.update(((key, None),))

    def update(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        """Apply writes in order: a value hash sets the key, None deletes it.

        Given the very tuple the last `root_with` hashed, with no update since, the buckets
        and hashes it computed are installed instead of computed again: a block's writes are
        hashed once when it is built (or validated) and not again when it commits.
        """
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared.items is items and prepared.writes == self._writes:
            self._install(prepared)
            return
        self._writes += 1
        buckets, dirty, shift = self._buckets, self._dirty, 32 - self._bits
        for key, value_hash in items:
            assert isinstance(key, bytes) and len(key) == KEY_LEN, "key must be 32 bytes"
            index = int.from_bytes(key[:4], "big") >> shift
            written = _write(buckets[index], key, value_hash)
            if written is not None:
                buckets[index], grown = written
                self._size += grown
                dirty.add(index)

    def root_with(self, items: Iterable[tuple[bytes, bytes | None]]) -> bytes:
        """The root this tree would have after `update(items)`; the tree is left unchanged.

        For a block that consensus has not decided yet: costs what `update` + `root` cost.
        """
        self._rehash_dirty()
        shift, bits = 32 - self._bits, self._bits
        changed: dict[int, bytes] = {}  # bucket index -> its entries after the writes
        grown = 0
        for key, value_hash in items:
            assert isinstance(key, bytes) and len(key) == KEY_LEN, "key must be 32 bytes"
            index = int.from_bytes(key[:4], "big") >> shift
            blob = changed.get(index, self._buckets[index])
            written = _write(blob, key, value_hash)
            if written is not None:
                changed[index] = written[0]
                grown += written[1]
        hashes = {index: sha256(_BUCKET + blob).digest() for index, blob in changed.items()}
        levels = [hashes]  # the new hashes at depth bits, bits - 1, ..., 1
        for depth in range(bits, 0, -1):
            level, parents = self._levels[depth], {}
            for i in {index >> 1 for index in hashes}:
                left = hashes.get(2 * i, level[2 * i])
                right = hashes.get(2 * i + 1, level[2 * i + 1])
                parents[i] = sha256(_NODE + left + right).digest()
            hashes = parents
            levels.append(hashes)
        root = hashes.get(0, self._levels[0][0])
        if isinstance(items, tuple):  # kept only for a value `update` can recognise again
            self._prepared = _Prepared(items, self._writes, changed, grown, levels, root)
        return root

    def _install(self, prepared: _Prepared) -> None:
        """Installs what `root_with` computed for the tree as it still is (see `update`)."""
        assert not self._dirty, "root_with rehashed everything before preparing"
        self._writes += 1
        for index, blob in prepared.buckets.items():
            self._buckets[index] = blob
        self._size += prepared.grown
        for offset, hashes in enumerate(prepared.levels):
            level = self._levels[self._bits - offset]
            for i, digest in hashes.items():
                level[i] = digest

    @property
    def root(self) -> bytes:
        """The root hash; rehashes what changed since it was last read."""
        self._rehash_dirty()
        return self._levels[0][0]

    def _rehash_dirty(self) -> None:
        if not self._dirty:
            return
        levels, buckets = self._levels, self._buckets
        level = levels[self._bits]
        for index in self._dirty:
            level[index] = sha256(_BUCKET + buckets[index]).digest()
        positions = {index >> 1 for index in self._dirty}
        for depth in range(self._bits - 1, -1, -1):
            below, level = levels[depth + 1], levels[depth]
            for i in positions:
                level[i] = sha256(_NODE + below[2 * i] + below[2 * i + 1]).digest()
            positions = {i >> 1 for i in positions}
        self._dirty = set()

    def prove(self, key: bytes) -> StateProof:
        """A proof of `key`'s value hash under `root`, or of its absence."""
        assert isinstance(key, bytes) and len(key) == KEY_LEN, "key must be 32 bytes"
        self._rehash_dirty()
        position = _bucket_index(key, self._bits)
        blob = self._buckets[position]
        bucket = tuple(
            (blob[offset : offset + KEY_LEN], blob[offset + KEY_LEN : offset + _ENTRY_LEN])
            for offset in range(0, len(blob), _ENTRY_LEN)
        )
        siblings = []
        for depth in range(self._bits, 0, -1):
            siblings.append(self._levels[depth][position ^ 1])
            position >>= 1
        proof = StateProof(bucket=bucket, siblings=tuple(siblings))
        assert verify_state_proof(self.root, key, self.get(key), proof, self._bits)
        return proof

    def copy(self) -> StateTree:
        """An independent tree with the same contents (buckets are immutable, so shared)."""
        twin = StateTree.__new__(StateTree)
        twin._bits = self._bits
        twin._buckets = list(self._buckets)
        twin._levels = [list(level) for level in self._levels]
        twin._dirty = set(self._dirty)
        twin._size = self._size
        twin._writes = 0
        twin._prepared = None
        return twin


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What `root_with(items)` computed, for `update(items)` to install (see there)."""

    items: tuple[tuple[bytes, bytes | None], ...]
    writes: int  # the tree's `_writes` then
    buckets: dict[int, bytes]  # changed bucket index -> its new entries
    grown: int  # change in the number of keys
    levels: list[dict[int, bytes]]  # new hashes by index, depth bits first, down to depth 0
    root: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class StateProof:
    """The entries of one bucket and the sibling hashes from that bucket up to the root.

    `bucket` is every (key, value hash) of the bucket, ascending by key; `siblings` has one
    hash per level, the bucket's sibling first. Encoded as a u16 big-endian entry count, the
    entries (key || value hash each), then the siblings; the depth is not encoded, the
    verifier knows it.
    """

    bucket: tuple[tuple[bytes, bytes], ...]
    siblings: tuple[bytes, ...]

    def encode(self) -> bytes:
        """The canonical bytes. Raises ValueError if the bucket is over PROOF_BUCKET_ENTRIES_MAX.

        Such a bucket can only come from keys ground to share a prefix; the caller refuses to
        serve that proof rather than send bytes no peer would decode.
        """
        problem = _shape_problem(self, len(self.siblings))
        if problem is not None and problem[0] is RejectCode.LIMIT_EXCEEDED:
            raise ValueError(problem[1])
        assert problem is None, problem
        entries = b"".join([key + value_hash for key, value_hash in self.bucket])
        return len(self.bucket).to_bytes(_COUNT_LEN, "big") + entries + b"".join(self.siblings)

    @classmethod
    def decode(cls, data: bytes, bucket_bits: int = BUCKET_BITS) -> StateProof:
        """Parse untrusted bytes; raises DecodeError unless they are a canonical proof."""
        assert 0 <= bucket_bits <= BUCKET_BITS_MAX, "bucket_bits out of range"
        if not isinstance(data, bytes):
            raise DecodeError(RejectCode.MALFORMED, "state proof must be bytes")
        if len(data) < _COUNT_LEN:
            raise DecodeError(RejectCode.MALFORMED, "state proof truncated")
        count = int.from_bytes(data[:_COUNT_LEN], "big")
        if count > PROOF_BUCKET_ENTRIES_MAX:
            raise DecodeError(
                RejectCode.LIMIT_EXCEEDED,
                f"state proof has {count} bucket entries, over {PROOF_BUCKET_ENTRIES_MAX}",
            )
        siblings_at = _COUNT_LEN + count * _ENTRY_LEN
        length = siblings_at + bucket_bits * HASH_LEN
        if len(data) != length:
            what = "truncated" if len(data) < length else "has trailing bytes"
            raise DecodeError(RejectCode.MALFORMED, f"state proof {what}")
        proof = cls(
            bucket=tuple(
                (data[at : at + KEY_LEN], data[at + KEY_LEN : at + _ENTRY_LEN])
                for at in range(_COUNT_LEN, siblings_at, _ENTRY_LEN)
            ),
            siblings=tuple(data[at : at + HASH_LEN] for at in range(siblings_at, length, HASH_LEN)),
        )
        problem = _shape_problem(proof, bucket_bits)
        if problem is not None:
            raise DecodeError(*problem)
        assert proof.encode() == data
        return proof


def _shape_problem(proof: StateProof, bucket_bits: int) -> tuple[RejectCode, str] | None:
    """Why `proof` cannot be a proof of a tree of depth `bucket_bits`, or None if it can."""
    bucket, siblings = proof.bucket, proof.siblings
    if not isinstance(siblings, tuple) or len(siblings) != bucket_bits:
        return RejectCode.MALFORMED, f"state proof needs {bucket_bits} sibling hashes"
    if not all(_is_hash(sibling) for sibling in siblings):
        return RejectCode.MALFORMED, "state proof sibling is not a 32-byte hash"
    if not isinstance(bucket, tuple):
        return RejectCode.MALFORMED, "state proof bucket is not a tuple"
    if len(bucket) > PROOF_BUCKET_ENTRIES_MAX:
        return RejectCode.LIMIT_EXCEEDED, "state proof bucket over PROOF_BUCKET_ENTRIES_MAX"
    for entry in bucket:
        if not (isinstance(entry, tuple) and len(entry) == 2):
            return RejectCode.MALFORMED, "state proof entry is not a (key, value hash) pair"
        if not (_is_hash(entry[0]) and _is_hash(entry[1])):
            return RejectCode.MALFORMED, "state proof entry is not two 32-byte hashes"
    keys = [key for key, _ in bucket]
    if any(a >= b for a, b in itertools.pairwise(keys)):
        return RejectCode.NON_CANONICAL, "state proof entries not in strictly ascending key order"
    if len({_bucket_index(key, bucket_bits) for key in keys}) > 1:
        return RejectCode.MALFORMED, "state proof entries come from different buckets"
    return None


def verify_state_proof(
    root: bytes,
    key: bytes,
    value_hash: bytes | None,
    proof: StateProof,
    bucket_bits: int = BUCKET_BITS,
) -> bool:
    """True iff `proof` shows that, under `root`, `key` maps to `value_hash` (None: is absent).

    Takes untrusted input: anything malformed gives False, never an exception.
    """
    assert 0 <= bucket_bits <= BUCKET_BITS_MAX, "bucket_bits out of range"
    if not (_is_hash(root) and _is_hash(key) and isinstance(proof, StateProof)):
        return False
    if value_hash is not None and not _is_hash(value_hash):
        return False
    if _shape_problem(proof, bucket_bits) is not None:
        return False
    position = _bucket_index(key, bucket_bits)
    if proof.bucket and _bucket_index(proof.bucket[0][0], bucket_bits) != position:
        return False  # a proof for another bucket says nothing about this key
    stored = next((value for k, value in proof.bucket if k == key), None)
    if stored != value_hash:
        return False
    entries = b"".join([k + value for k, value in proof.bucket])
    node = sha256(_BUCKET + entries).digest()
    for sibling in proof.siblings:
        if position & 1:
            node = sha256(_NODE + sibling + node).digest()
        else:
            node = sha256(_NODE + node + sibling).digest()
        position >>= 1
    return node == root
