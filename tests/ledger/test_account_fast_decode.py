"""Differential: Account.decode (fast path, with and without a shared asset cache) vs the
generic reader, on valid, mutated and random encodings."""
from __future__ import annotations

import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.ledger.codec import decode_all
from corridor.ledger.errors import DecodeError
from corridor.ledger.records import Account, _read_account
from tests.ledger.test_decoding_fuzz import accounts, mutate, mutations

SHARED: dict[bytes, Any] = {}


def outcome(f, data):
    try:
        return ("ok", f(data))
    except DecodeError as exc:
        return ("err", exc.code, exc.message)


def check(data: bytes) -> None:
    generic = outcome(lambda d: decode_all(d, _read_account), data)
    assert outcome(Account.decode, data) == generic
    assert outcome(lambda d: Account.decode(d, SHARED), data) == generic
    for name in ("bytearray", "memoryview"):
        conv = bytearray if name == "bytearray" else memoryview
        assert outcome(lambda d, conv=conv: Account.decode(conv(d)), data) == generic


# A third of the examples in the default run; all of them with CORRIDOR_LONG_TESTS=1
# (`bash scripts/test-long.sh`).
LONG = os.environ.get("CORRIDOR_LONG_TESTS") == "1"


def examples(full: int) -> int:
    return full if LONG else full // 3


@settings(max_examples=examples(3000), deadline=None)
@given(data=st.data(), edits=st.lists(mutations, min_size=0, max_size=4))
def test_mutated(data, edits):
    encoded = data.draw(accounts).encode()
    check(encoded)
    for edit in edits:
        encoded = mutate(encoded, edit)
        check(encoded)


@settings(max_examples=examples(3000), deadline=None)
@given(data=st.binary(max_size=300))
def test_random(data):
    check(data)


@settings(max_examples=examples(2000), deadline=None)
@given(data=st.data(), at=st.integers(0, 400), value=st.integers(0, 255))
def test_byte_set(data, at, value):
    encoded = bytearray(data.draw(accounts).encode())
    if encoded:
        encoded[at % len(encoded)] = value
    check(bytes(encoded))
