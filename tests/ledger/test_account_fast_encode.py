"""Differential: Account.encode (packed with struct, the fast path) vs the same record
written field by field with the generic codec Writer: same bytes, same failures."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.ledger.assets import Asset
from corridor.ledger.codec import Writer
from corridor.ledger.keys import ADDRESS_LEN
from corridor.ledger.records import Account, Holding
from corridor.ledger.tx import Signer
from tests.ledger.test_decoding_fuzz import accounts


def old_encode(a: Account) -> bytes:
    """The canonical layout, spelt out with the Writer (the slow, obvious encoder)."""
    w = Writer().fixed(a.address, ADDRESS_LEN).u64(a.sequence).u16(a.threshold)
    w.count(len(a.signers))
    for s in a.signers:
        s.encode_into(w)
    w.count(len(a.holdings))
    for h in a.holdings:
        h.asset.encode_into(w)
        w.u64(h.balance).boolean(h.authorised).boolean(h.frozen)
    return w.getvalue()


# A third of the examples in the default run; all of them with CORRIDOR_LONG_TESTS=1
# (`bash scripts/test-long.sh`).
LONG = os.environ.get("CORRIDOR_LONG_TESTS") == "1"


def examples(full: int) -> int:
    return full if LONG else full // 3


@settings(max_examples=examples(2000), deadline=None)
@given(a=accounts)
def test_same_bytes(a):
    assert a.encode() == old_encode(a)


def outcome(f, a):
    try:
        return ("ok", f(a))
    except (AssertionError, Exception) as e:
        return ("err", type(e).__name__)


@settings(max_examples=examples(2000), deadline=None)
@given(
    address=st.binary(max_size=22), seq=st.integers(-1, 2**64), thr=st.integers(-1, 2**16),
    pk=st.binary(min_size=31, max_size=33), w=st.integers(-1, 256),
    code=st.text(max_size=4), issuer=st.binary(min_size=19, max_size=21),
    bal=st.integers(-1, 2**64), flags=st.sampled_from([True, False, 0, 1]),
)
def test_same_failures(address, seq, thr, pk, w, code, issuer, bal, flags):
    a = Account(address, seq, thr, (Signer(public_key=pk, weight=w),),
                (Holding(Asset(code, issuer), bal, flags, flags),))
    assert outcome(Account.encode, a) == outcome(old_encode, a)
