"""RFC 6962 Merkle tree: the iterative code against the RFC's recursive definitions."""

from __future__ import annotations

from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.ledger.merkle import inclusion_proof, merkle_root, verify_inclusion


def _item(i: int) -> bytes:
    return sha256(b"item" + i.to_bytes(4, "big")).digest()


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def naive_root(items: list[bytes]) -> bytes:
    """MTH(D[n]), word for word from RFC 6962 section 2.1."""
    if not items:
        return sha256(b"").digest()
    if len(items) == 1:
        return sha256(b"\x00" + items[0]).digest()
    k = _largest_power_of_two_below(len(items))
    return sha256(b"\x01" + naive_root(items[:k]) + naive_root(items[k:])).digest()


def naive_path(m: int, items: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]), word for word from RFC 6962 section 2.1.1."""
    if len(items) == 1:
        return []
    k = _largest_power_of_two_below(len(items))
    if m < k:
        return [*naive_path(m, items[:k]), naive_root(items[k:])]
    return [*naive_path(m - k, items[k:]), naive_root(items[:k])]


ITEMS = [_item(i) for i in range(40)]
SIZES = range(1, 34)


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert merkle_root([]).hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_small_trees_by_hand() -> None:
    a, b, c = ITEMS[:3]
    leaf_a, leaf_b, leaf_c = (sha256(b"\x00" + x).digest() for x in (a, b, c))
    ab = sha256(b"\x01" + leaf_a + leaf_b).digest()
    assert merkle_root([a]) == leaf_a
    assert merkle_root([a, b]) == ab
    assert merkle_root([a, b, c]) == sha256(b"\x01" + ab + leaf_c).digest()


@pytest.mark.parametrize("size", [*SIZES, 100, 257, 1000])
def test_root_matches_the_recursive_definition(size: int) -> None:
    items = [_item(i) for i in range(size)]
    assert merkle_root(items) == naive_root(items)


@pytest.mark.parametrize("size", SIZES)
def test_every_index_proves_and_verifies(size: int) -> None:
    items = ITEMS[:size]
    root = merkle_root(items)
    for index in range(size):
        path = inclusion_proof(items, index)
        assert list(path) == naive_path(index, items)
        assert verify_inclusion(root, items[index], index, size, path)
        assert verify_inclusion(root, items[index], index, size, list(path))


@pytest.mark.parametrize("size", SIZES)
def test_tampered_proofs_fail(size: int) -> None:
    items = ITEMS[:size]
    root = merkle_root(items)
    for index in range(size):
        path = inclusion_proof(items, index)
        item = items[index]
        assert not verify_inclusion(root, ITEMS[39], index, size, path)
        assert not verify_inclusion(_item(999), item, index, size, path)
        for at in range(len(path)):
            bent = bytes([path[at][0] ^ 1]) + path[at][1:]
            assert not verify_inclusion(
                root, item, index, size, (*path[:at], bent, *path[at + 1 :])
            )
        assert not verify_inclusion(root, item, index, size, (*path, root))
        if path:
            assert not verify_inclusion(root, item, index, size, path[:-1])
            assert not verify_inclusion(root, item, index, size, path[::-1]) or len(set(path)) == 1
        for other in range(size):
            if other != index:
                assert not verify_inclusion(root, item, other, size, path)


@pytest.mark.parametrize("size", SIZES)
def test_wrong_size_fails_unless_the_tree_shape_is_the_same(size: int) -> None:
    """RFC 6962 proofs bind the size only through the path's shape: the size must be trusted.

    E.g. leaf 0's path in a tree of 4 is also a valid path in a tree of 3 (both are two left
    turns). Whoever verifies takes `size` from the header, never from the prover.
    """
    items = ITEMS[:size]
    root = merkle_root(items)
    for index in range(size):
        path = inclusion_proof(items, index)
        for wrong in (0, -1, index, size - 1, size + 1, size * 2, 2**64):
            if wrong == size:
                continue
            accepted = verify_inclusion(root, items[index], index, wrong, path)
            if accepted:
                assert wrong > index
                assert len(naive_path(index, ITEMS[:1] * wrong)) == len(path)


def test_a_size_4_path_also_fits_size_3() -> None:
    items = ITEMS[:4]
    path = inclusion_proof(items, 0)
    assert verify_inclusion(merkle_root(items), items[0], 0, 3, path)


def test_bad_shapes_are_false_not_errors() -> None:
    items = ITEMS[:5]
    root = merkle_root(items)
    path = inclusion_proof(items, 2)
    assert verify_inclusion(root, items[2], 2, 5, path)
    assert not verify_inclusion(root[:31], items[2], 2, 5, path)
    assert not verify_inclusion(root, items[2][:31], 2, 5, path)
    assert not verify_inclusion(root, items[2], True, 5, path)
    assert not verify_inclusion(root, items[2], 2, 5, iter(path))  # type: ignore[arg-type]
    assert not verify_inclusion(root, items[2], 2, 5, [p.hex() for p in path])  # type: ignore[misc]
    assert not verify_inclusion(root, items[2], 5, 5, path)
    assert not verify_inclusion(root, items[2], 2, 5, (root,) * 65)


def test_one_item_tree_has_an_empty_path() -> None:
    assert inclusion_proof(ITEMS[:1], 0) == ()
    assert verify_inclusion(merkle_root(ITEMS[:1]), ITEMS[0], 0, 1, ())
    assert not verify_inclusion(merkle_root(ITEMS[:1]), ITEMS[0], 0, 2, ())


def test_proof_index_out_of_range_is_a_bug() -> None:
    with pytest.raises(AssertionError):
        inclusion_proof(ITEMS[:3], 3)
    with pytest.raises(AssertionError):
        merkle_root([b"short"])


_anything = st.one_of(
    st.binary(max_size=40),
    st.binary(min_size=32, max_size=32),
    st.integers(),
    st.none(),
    st.text(max_size=4),
)


@settings(max_examples=300)
@given(
    root=_anything,
    item=_anything,
    index=st.one_of(st.integers(-3, 40), st.integers(), _anything),
    size=st.one_of(st.integers(-3, 40), st.integers(), _anything),
    path=st.one_of(
        st.lists(st.binary(min_size=32, max_size=32), max_size=8),
        st.tuples(_anything, _anything),
        _anything,
    ),
)
def test_verify_never_raises(
    root: object, item: object, index: object, size: object, path: object
) -> None:
    assert verify_inclusion(root, item, index, size, path) in (True, False)  # type: ignore[arg-type]


@given(size=st.integers(1, 70), data=st.data())
def test_valid_path_with_one_flipped_bit_fails(size: int, data: st.DataObject) -> None:
    items = [_item(i) for i in range(size)]
    index = data.draw(st.integers(0, size - 1))
    path = inclusion_proof(items, index)
    root = merkle_root(items)
    assert verify_inclusion(root, items[index], index, size, path)
    if path:
        at = data.draw(st.integers(0, len(path) - 1))
        bit = data.draw(st.integers(0, 255))
        bent = bytearray(path[at])
        bent[bit // 8] ^= 1 << (bit % 8)
        forged = (*path[:at], bytes(bent), *path[at + 1 :])
        assert not verify_inclusion(root, items[index], index, size, forged)
