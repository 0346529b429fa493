"""The state tree against a naive model: a dict, and its root rebuilt from scratch every time."""

from __future__ import annotations

import random
from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from corridor.ledger.errors import DecodeError, RejectCode
from corridor.ledger.statetree import (
    BUCKET_BITS,
    PROOF_BUCKET_ENTRIES_MAX,
    StateProof,
    StateTree,
    verify_state_proof,
)

SMALL_BITS = 4  # 16 buckets: a few dozen keys give crowded buckets and fast naive roots


def _hash(tag: str, i: int) -> bytes:
    return sha256(tag.encode() + i.to_bytes(4, "big")).digest()


KEYS = [_hash("key", i) for i in range(48)]
VALUES = [_hash("value", i) for i in range(8)]


def naive_root(entries: dict[bytes, bytes], bits: int) -> bytes:
    """The root by its definition: every bucket hashed, then every level hashed pairwise."""
    buckets: list[list[tuple[bytes, bytes]]] = [[] for _ in range(2**bits)]
    for key, value_hash in entries.items():
        buckets[int.from_bytes(key, "big") >> (256 - bits)].append((key, value_hash))
    level = [sha256(b"\x02" + b"".join(k + v for k, v in sorted(b))).digest() for b in buckets]
    while len(level) > 1:
        level = [
            sha256(b"\x03" + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)
        ]
    return level[0]


def _bucket_of(key: bytes, bits: int) -> int:
    return int.from_bytes(key, "big") >> (256 - bits)


_writes = st.lists(
    st.tuples(st.sampled_from(KEYS), st.one_of(st.none(), st.sampled_from(VALUES))), max_size=60
)


# --- the root ---------------------------------------------------------------------------------


def test_empty_tree_root() -> None:
    assert StateTree().root == naive_root({}, BUCKET_BITS)
    assert StateTree(bucket_bits=SMALL_BITS).root == naive_root({}, SMALL_BITS)
    assert StateTree(bucket_bits=0).root == sha256(b"\x02").digest()


def test_full_depth_root_matches_naive() -> None:
    rng = random.Random(7)
    model = {rng.randbytes(32): rng.randbytes(32) for _ in range(300)}
    tree = StateTree.from_items(model.items())
    assert tree.root == naive_root(model, BUCKET_BITS)
    changes = list(model)[:100]
    for key in changes[:50]:
        tree.delete(key)
        del model[key]
    for key in changes[50:]:
        tree.set(key, VALUES[0])
        model[key] = VALUES[0]
    assert tree.root == naive_root(model, BUCKET_BITS)


@settings(max_examples=150)
@given(batches=st.lists(_writes, max_size=6), bits=st.sampled_from([0, 1, SMALL_BITS, 6]))
def test_root_matches_naive_after_any_writes(
    batches: list[list[tuple[bytes, bytes | None]]], bits: int
) -> None:
    tree = StateTree(bucket_bits=bits)
    model: dict[bytes, bytes] = {}
    for batch in batches:
        before = tree.root
        speculative = tree.root_with(batch)
        assert tree.root == before  # root_with changes nothing
        tree.update(batch)
        assert tree.root == speculative
        for key, value_hash in batch:
            if value_hash is None:
                model.pop(key, None)
            else:
                model[key] = value_hash
        assert tree.root == naive_root(model, bits)
        assert len(tree) == len(model)
        assert dict(tree.items()) == model
        assert list(tree.items()) == sorted(model.items())


@settings(max_examples=100)
@given(writes=_writes, seed=st.integers(0, 2**32))
def test_from_items_equals_incremental_and_order_does_not_matter(
    writes: list[tuple[bytes, bytes | None]], seed: int
) -> None:
    model: dict[bytes, bytes] = {}
    for key, value_hash in writes:
        if value_hash is None:
            model.pop(key, None)
        else:
            model[key] = value_hash
    incremental = StateTree(bucket_bits=SMALL_BITS)
    incremental.update(writes)
    shuffled = list(model.items())
    random.Random(seed).shuffle(shuffled)
    bulk = StateTree.from_items(shuffled, bucket_bits=SMALL_BITS)
    one_by_one = StateTree(bucket_bits=SMALL_BITS)
    for key, value_hash in shuffled:
        one_by_one.set(key, value_hash)
    assert incremental.root == bulk.root == one_by_one.root == naive_root(model, SMALL_BITS)
    assert len(bulk) == len(model)


def test_from_items_later_duplicate_wins() -> None:
    tree = StateTree.from_items([(KEYS[0], VALUES[0]), (KEYS[0], VALUES[1])])
    assert tree.get(KEYS[0]) == VALUES[1]
    assert len(tree) == 1


def test_map_operations() -> None:
    tree = StateTree(bucket_bits=SMALL_BITS)
    empty_root = tree.root
    tree.delete(KEYS[0])  # absent: nothing happens
    assert tree.root == empty_root and len(tree) == 0
    tree.set(KEYS[0], VALUES[0])
    tree.set(KEYS[1], VALUES[1])
    assert tree.get(KEYS[0]) == VALUES[0] and tree.get(KEYS[2]) is None and len(tree) == 2
    root = tree.root
    tree.set(KEYS[0], VALUES[0])  # same value: same root
    assert len(tree) == 2 and tree.root == root
    tree.set(KEYS[0], _flip(VALUES[0], 255))  # differs in the last bit only
    assert tree.get(KEYS[0]) == _flip(VALUES[0], 255) and tree.root != root
    tree.update([(KEYS[0], None), (KEYS[1], VALUES[2]), (KEYS[0], VALUES[3])])
    assert tree.get(KEYS[0]) == VALUES[3] and tree.get(KEYS[1]) == VALUES[2]
    tree.update([(KEYS[0], None), (KEYS[1], None)])
    assert tree.root == empty_root and len(tree) == 0


def test_root_with_leaves_a_dirty_tree_unchanged() -> None:
    tree = StateTree(bucket_bits=SMALL_BITS)
    tree.set(KEYS[0], VALUES[0])  # dirty: root not read yet
    writes = [(KEYS[0], None), (KEYS[1], VALUES[1]), (KEYS[2], VALUES[2]), (KEYS[2], None)]
    assert tree.root_with(writes) == naive_root({KEYS[1]: VALUES[1]}, SMALL_BITS)
    assert tree.root_with([]) == tree.root == naive_root({KEYS[0]: VALUES[0]}, SMALL_BITS)
    assert len(tree) == 1 and tree.get(KEYS[1]) is None


def test_copy_is_independent() -> None:
    tree = StateTree.from_items([(k, VALUES[0]) for k in KEYS[:10]], bucket_bits=SMALL_BITS)
    tree.set(KEYS[20], VALUES[1])  # dirty when copied
    twin = tree.copy()
    assert twin.root == tree.root
    twin.set(KEYS[0], VALUES[5])
    twin.delete(KEYS[1])
    assert tree.get(KEYS[0]) == VALUES[0] and tree.get(KEYS[1]) == VALUES[0]
    assert tree.root == naive_root(
        dict([*((k, VALUES[0]) for k in KEYS[:10]), (KEYS[20], VALUES[1])]), SMALL_BITS
    )
    assert twin.root != tree.root and len(twin) == len(tree) - 1


def test_keys_and_values_must_be_32_bytes() -> None:
    tree = StateTree()
    for bad in (b"", KEYS[0][:31], KEYS[0] + b"\x00", bytearray(KEYS[0])):
        with pytest.raises(AssertionError):
            tree.set(bad, VALUES[0])  # type: ignore[arg-type]
        with pytest.raises(AssertionError):
            tree.set(KEYS[0], bad)  # type: ignore[arg-type]
        with pytest.raises(AssertionError):
            tree.get(bad)  # type: ignore[arg-type]
        with pytest.raises(AssertionError):
            StateTree.from_items([(bad, VALUES[0])])  # type: ignore[list-item]


# --- proofs -----------------------------------------------------------------------------------


def _crowded_tree(bits: int = SMALL_BITS) -> tuple[StateTree, dict[bytes, bytes]]:
    model = {key: VALUES[i % len(VALUES)] for i, key in enumerate(KEYS[:32])}
    return StateTree.from_items(model.items(), bucket_bits=bits), model


@pytest.mark.parametrize("bits", [0, 1, SMALL_BITS, BUCKET_BITS])
def test_membership_and_non_membership_proofs_verify(bits: int) -> None:
    tree, model = _crowded_tree(bits)
    root = tree.root
    for key in KEYS:
        proof = tree.prove(key)
        assert len(proof.siblings) == bits
        assert all(_bucket_of(k, bits) == _bucket_of(key, bits) for k, _ in proof.bucket)
        assert verify_state_proof(root, key, model.get(key), proof, bits)
        assert StateProof.decode(proof.encode(), bits) == proof
        if key in model:
            assert not verify_state_proof(root, key, None, proof, bits)
        else:
            assert not verify_state_proof(root, key, VALUES[0], proof, bits)


def test_default_depth_proofs() -> None:
    tree, model = _crowded_tree(BUCKET_BITS)
    proof = tree.prove(KEYS[0])
    assert verify_state_proof(tree.root, KEYS[0], model[KEYS[0]], proof)
    absent = tree.prove(KEYS[40])
    assert verify_state_proof(tree.root, KEYS[40], None, absent)
    assert StateProof.decode(absent.encode()) == absent
    assert len(absent.encode()) == 2 + 64 * len(absent.bucket) + 32 * BUCKET_BITS


def _flip(data: bytes, bit: int = 0) -> bytes:
    return data[: bit // 8] + bytes([data[bit // 8] ^ (1 << (bit % 8))]) + data[bit // 8 + 1 :]


def test_tampered_proofs_fail() -> None:
    tree, model = _crowded_tree()
    root = tree.root
    bits = SMALL_BITS
    for key in KEYS:
        proof = tree.prove(key)
        value = model.get(key)
        assert verify_state_proof(root, key, value, proof, bits)
        # Another root, another claimed value, another key.
        assert not verify_state_proof(_flip(root), key, value, proof, bits)
        assert not verify_state_proof(root, key, _flip(value or VALUES[0]), proof, bits)
        for other in KEYS:
            if other != key and _bucket_of(other, bits) != _bucket_of(key, bits):
                assert not verify_state_proof(root, other, model.get(other), proof, bits)
        # Each sibling bent.
        for at in range(bits):
            siblings = (*proof.siblings[:at], _flip(proof.siblings[at]), *proof.siblings[at + 1 :])
            forged = StateProof(bucket=proof.bucket, siblings=siblings)
            assert not verify_state_proof(root, key, value, forged, bits)
        # Siblings in the wrong order, or a different depth.
        assert not verify_state_proof(root, key, value, proof, bits - 1)
        assert not verify_state_proof(
            root, key, value, StateProof(bucket=proof.bucket, siblings=proof.siblings[::-1]), bits
        )
        # Each entry bent, or dropped (dropping the key's own entry would "prove" it absent).
        for at, (k, v) in enumerate(proof.bucket):
            for bent in ((k, _flip(v)), (_flip(k, 255), v)):
                entries = (*proof.bucket[:at], bent, *proof.bucket[at + 1 :])
                forged = StateProof(bucket=entries, siblings=proof.siblings)
                assert not verify_state_proof(root, key, value, forged, bits)
            dropped = StateProof(
                bucket=proof.bucket[:at] + proof.bucket[at + 1 :], siblings=proof.siblings
            )
            assert not verify_state_proof(root, key, value, dropped, bits)
            assert not verify_state_proof(root, k, None, dropped, bits)


def test_a_stale_proof_fails_against_the_new_root() -> None:
    tree, model = _crowded_tree()
    proof = tree.prove(KEYS[0])
    tree.set(KEYS[0], _hash("new", 0))
    assert not verify_state_proof(tree.root, KEYS[0], model[KEYS[0]], proof, SMALL_BITS)
    assert verify_state_proof(tree.root, KEYS[0], _hash("new", 0), tree.prove(KEYS[0]), SMALL_BITS)


_anything = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=3),
    st.binary(max_size=40),
    st.sampled_from(KEYS + VALUES),
)


@settings(max_examples=300)
@given(
    root=_anything,
    key=_anything,
    value=_anything,
    bucket=st.one_of(
        _anything,
        st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(VALUES)), max_size=4).map(tuple),
        st.lists(st.one_of(_anything, st.tuples(_anything, _anything)), max_size=3).map(tuple),
    ),
    siblings=st.one_of(_anything, st.lists(_anything, max_size=5).map(tuple)),
)
def test_verify_never_raises(
    root: object, key: object, value: object, bucket: object, siblings: object
) -> None:
    proof = StateProof(bucket=bucket, siblings=siblings)  # type: ignore[arg-type]
    assert verify_state_proof(root, key, value, proof, SMALL_BITS) in (True, False)  # type: ignore[arg-type]
    assert verify_state_proof(root, key, value, bucket, SMALL_BITS) in (True, False)  # type: ignore[arg-type]


# --- encoding ---------------------------------------------------------------------------------


def _encoded(count: int, keys: list[bytes], bits: int = SMALL_BITS) -> bytes:
    entries = b"".join(k + VALUES[0] for k in keys)
    return count.to_bytes(2, "big") + entries + b"\x00" * (32 * bits)


def _same_bucket_keys(n: int, bits: int = SMALL_BITS) -> list[bytes]:
    bucket = _bucket_of(KEYS[0], bits)
    return sorted(k for k in KEYS if _bucket_of(k, bits) == bucket)[:n]


def _decode_error(data: bytes, bits: int = SMALL_BITS) -> RejectCode:
    with pytest.raises(DecodeError) as caught:
        StateProof.decode(data, bits)
    return caught.value.code


def test_decode_rejects_non_canonical_bytes() -> None:
    keys = _same_bucket_keys(2)
    assert len(keys) == 2
    good = _encoded(2, keys)
    assert StateProof.decode(good, SMALL_BITS).encode() == good
    assert _decode_error(b"") is RejectCode.MALFORMED
    assert _decode_error(b"\x00") is RejectCode.MALFORMED
    assert _decode_error(good[:-1]) is RejectCode.MALFORMED
    assert _decode_error(good + b"\x00") is RejectCode.MALFORMED
    assert _decode_error(_encoded(3, keys)) is RejectCode.MALFORMED  # count says more than given
    assert _decode_error(_encoded(2, keys[::-1])) is RejectCode.NON_CANONICAL
    assert _decode_error(_encoded(2, [keys[0], keys[0]])) is RejectCode.NON_CANONICAL
    other = next(k for k in KEYS if _bucket_of(k, SMALL_BITS) > _bucket_of(keys[0], SMALL_BITS))
    assert _decode_error(_encoded(2, [keys[0], other])) is RejectCode.MALFORMED
    too_many = PROOF_BUCKET_ENTRIES_MAX + 1
    assert _decode_error(too_many.to_bytes(2, "big")) is RejectCode.LIMIT_EXCEEDED
    assert _decode_error(bytearray(good)) is RejectCode.MALFORMED  # type: ignore[arg-type]
    assert _decode_error(good, SMALL_BITS + 1) is RejectCode.MALFORMED


def test_encode_refuses_an_oversized_bucket() -> None:
    proof = StateProof(bucket=((KEYS[0], VALUES[0]),) * (PROOF_BUCKET_ENTRIES_MAX + 1), siblings=())
    with pytest.raises(ValueError, match="PROOF_BUCKET_ENTRIES_MAX"):
        proof.encode()


@settings(max_examples=300)
@given(data=st.binary(max_size=300), bits=st.sampled_from([0, 1, SMALL_BITS]))
def test_decode_of_garbage_raises_only_decode_error(data: bytes, bits: int) -> None:
    try:
        proof = StateProof.decode(data, bits)
    except DecodeError:
        return
    assert proof.encode() == data


@settings(max_examples=200)
@given(
    key_index=st.integers(0, len(KEYS) - 1),
    edits=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), min_size=1, max_size=3),
)
def test_mutated_proofs_decode_or_reject_and_never_verify_falsely(
    key_index: int, edits: list[tuple[int, int]]
) -> None:
    tree, model = _crowded_tree()
    key = KEYS[key_index]
    encoded = bytearray(tree.prove(key).encode())
    for at, byte in edits:
        encoded[at % len(encoded)] = byte
    try:
        proof = StateProof.decode(bytes(encoded), SMALL_BITS)
    except DecodeError:
        return
    if proof != tree.prove(key):
        assert not verify_state_proof(tree.root, key, model.get(key), proof, SMALL_BITS)


# --- the reference model, step by step --------------------------------------------------------


class StateTreeMachine(RuleBasedStateMachine):
    """Random writes, copies and proofs; the root always equals the naive one."""

    def __init__(self) -> None:
        super().__init__()
        self.tree = StateTree(bucket_bits=SMALL_BITS)
        self.model: dict[bytes, bytes] = {}

    @rule(key=st.sampled_from(KEYS), value=st.sampled_from(VALUES))
    def set(self, key: bytes, value: bytes) -> None:
        self.tree.set(key, value)
        self.model[key] = value

    @rule(key=st.sampled_from(KEYS))
    def delete(self, key: bytes) -> None:
        self.tree.delete(key)
        self.model.pop(key, None)

    @rule(writes=_writes)
    def update(self, writes: list[tuple[bytes, bytes | None]]) -> None:
        speculative = self.tree.root_with(writes)
        self.tree.update(writes)
        assert self.tree.root == speculative
        for key, value in writes:
            if value is None:
                self.model.pop(key, None)
            else:
                self.model[key] = value

    @rule(writes=_writes)
    def update_prepared(self, writes: list[tuple[bytes, bytes | None]]) -> None:
        """The block path: `update` gets the very tuple `root_with` hashed, and installs it."""
        items = tuple(writes)
        speculative = self.tree.root_with(items)
        self.tree.update(items)
        assert self.tree.root == speculative
        self._record(writes)

    @rule(writes=_writes, key=st.sampled_from(KEYS), value=st.sampled_from(VALUES))
    def update_after_a_stale_prepare(
        self, writes: list[tuple[bytes, bytes | None]], key: bytes, value: bytes
    ) -> None:
        """A write between `root_with` and `update` makes what was prepared unusable."""
        items = tuple(writes)
        self.tree.root_with(items)
        self.tree.set(key, value)
        self.model[key] = value
        self.tree.update(items)
        self._record(writes)

    def _record(self, writes: list[tuple[bytes, bytes | None]]) -> None:
        for key, value in writes:
            if value is None:
                self.model.pop(key, None)
            else:
                self.model[key] = value

    @rule()
    def copy(self) -> None:
        twin = self.tree.copy()
        twin.set(KEYS[0], _hash("only in the copy", 0))
        self.tree = self.tree.copy()

    @rule(key=st.sampled_from(KEYS))
    def prove(self, key: bytes) -> None:
        proof = self.tree.prove(key)
        root = self.tree.root
        assert verify_state_proof(root, key, self.model.get(key), proof, SMALL_BITS)
        assert StateProof.decode(proof.encode(), SMALL_BITS) == proof

    @invariant()
    def root_and_contents_match_the_model(self) -> None:
        assert self.tree.root == naive_root(self.model, SMALL_BITS)
        assert len(self.tree) == len(self.model)
        for key in KEYS[:8]:
            assert self.tree.get(key) == self.model.get(key)


StateTreeMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30)
TestStateTreeMachine = StateTreeMachine.TestCase
