import sys

sys.path.insert(0, "/tmp/sb")
from enc_old import old_encode
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.ledger.assets import Asset
from corridor.ledger.records import Account, Holding
from corridor.ledger.tx import Signer
from tests.ledger.test_decoding_fuzz import accounts


@settings(max_examples=2000, deadline=None)
@given(a=accounts)
def test_same_bytes(a):
    assert a.encode() == old_encode(a)


def outcome(f, a):
    try:
        return ("ok", f(a))
    except (AssertionError, Exception) as e:
        return ("err", type(e).__name__)


@settings(max_examples=2000, deadline=None)
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
