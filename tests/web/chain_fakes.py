"""The explorer tests' chain: the demo chain of real ledger values that `corridor bench web`
and the accessibility walk also show (corridor/bench/demo_chain.py)."""

from corridor.bench.demo_chain import (  # noqa: F401  (re-exported for the tests)
    ALICE,
    BOB,
    CHAIN_ID,
    FAILED_CODE,
    ISSUER,
    VALIDATORS,
    FakeChain,
    addr,
    payment,
)
