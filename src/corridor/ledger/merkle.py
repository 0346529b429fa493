"""RFC 6962 Merkle trees over a block's 32-byte items (transaction ids, result hashes).

A header commits to a block's transactions and results by their Merkle roots; a light client
checks that one item is in a block with `verify_inclusion` and an audit path, without the other
items.

    leaf hash = SHA-256(0x00 || item)
    node hash = SHA-256(0x01 || left || right)
    MTH([])   = SHA-256("")

A tree of n > 1 leaves splits at k, the largest power of two below n (RFC 6962 section 2.1).
That tree is the same as pairing each level from the left and carrying an odd last node up
unchanged, which is how it is computed here: iteratively, one list per level.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256

HASH_LEN = 32
ITEM_LEN = 32
AUDIT_PATH_LEN_MAX = 64  # a tree of up to 2**64 leaves: far above any block size limit

_LEAF = b"\x00"
_NODE = b"\x01"
EMPTY_ROOT = sha256(b"").digest()


def _leaf_hashes(items: Sequence[bytes]) -> list[bytes]:
    for item in items:
        assert isinstance(item, bytes) and len(item) == ITEM_LEN, "items are 32-byte hashes"
    return [sha256(_LEAF + item).digest() for item in items]


def _parent_level(level: list[bytes]) -> list[bytes]:
    """The next level up: pairs hashed from the left, an odd last node carried up as is."""
    parents = [
        sha256(_NODE + left + right).digest()
        for left, right in zip(level[0::2], level[1::2], strict=False)
    ]
    if len(level) % 2:
        parents.append(level[-1])
    return parents


def merkle_root(items: Sequence[bytes]) -> bytes:
    """The RFC 6962 Merkle tree hash of `items` (32 bytes each); SHA-256("") when empty."""
    if not items:
        return EMPTY_ROOT
    level = _leaf_hashes(items)
    while len(level) > 1:
        level = _parent_level(level)
    return level[0]


def inclusion_proof(items: Sequence[bytes], index: int) -> tuple[bytes, ...]:
    """The audit path of `items[index]`: sibling hashes from the leaf up to the root.

    Equals RFC 6962 PATH(index, items); `verify_inclusion` checks it against the root.
    """
    assert 0 <= index < len(items), "index out of range"
    path: list[bytes] = []
    level = _leaf_hashes(items)
    position = index
    while len(level) > 1:
        sibling = position ^ 1
        if sibling < len(level):  # else the node is an odd last one, carried up: no sibling
            path.append(level[sibling])
        level = _parent_level(level)
        position >>= 1
    return tuple(path)


def verify_inclusion(
    root: bytes, item: bytes, index: int, size: int, path: Sequence[bytes]
) -> bool:
    """True iff `path` proves `item` is leaf `index` of a tree of `size` leaves with `root`.

    The RFC 9162 section 2.1.3.2 algorithm. Takes untrusted input: returns False on anything
    malformed (wrong types or lengths, index out of range, a path too long or too short) and
    never raises. `path` must be a tuple or list.
    """
    if not (isinstance(root, bytes) and len(root) == HASH_LEN):
        return False
    if not (isinstance(item, bytes) and len(item) == ITEM_LEN):
        return False
    if type(index) is not int or type(size) is not int or not 0 <= index < size:
        return False
    if not isinstance(path, (tuple, list)) or len(path) > AUDIT_PATH_LEN_MAX:
        return False
    fn, sn = index, size - 1
    node = sha256(_LEAF + item).digest()
    for sibling in path:
        if not (isinstance(sibling, bytes) and len(sibling) == HASH_LEN) or sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = sha256(_NODE + sibling + node).digest()
            if not fn & 1:  # a right-most node carried up: skip the levels it was carried over
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            node = sha256(_NODE + node + sibling).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == root
