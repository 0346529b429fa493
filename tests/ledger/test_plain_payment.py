"""The one-frame path for plain payments (`rules.v1._plain_payment`) decides exactly as the
general path: same result or rejection, same writes. Each case is applied twice, once as the
usual transaction and once with the operation's source spelled out (`Payment.source` set to
the transaction's source), which the fast path never takes."""

from __future__ import annotations

import dataclasses

import pytest

from corridor.ledger.errors import Rejection
from corridor.ledger.results import TxResult
from corridor.ledger.rules import v1
from corridor.ledger.state import MemoryState, Overlay
from corridor.ledger.tx import HolderAction, Payment, SetHolder, SetSigners, Signer

from .builders import asset, ctx, key, make_genesis, tx

USD, CNY, PTS = asset("USD"), asset("CNY"), asset("PTS")
OPEN = ("PTS", "bank", {})  # no auth_required: a payment may create the holding
AUTH = {"auth_required": True, "freezable": True, "clawback": True}
ASSETS = (("USD", "bank", AUTH), ("CNY", "bank", AUTH), OPEN)


def _state(*setup: tuple[str, object]) -> MemoryState:
    """The genesis (alice: 100,000 USD, 5,000 CNY, 50 PTS; bob: USD and CNY holdings) with the
    transactions of `setup` ((source, operation), sequences counted per source) committed."""
    g = make_genesis(
        holders=("alice", "bob", "carol"),
        assets=ASSETS,
        balances=(("alice", "USD", 100_000), ("alice", "CNY", 5_000), ("alice", "PTS", 50)),
        authorise_all=False,
    )
    state = g.state
    for holder in ("alice", "bob"):
        for code in ("USD", "CNY"):
            op = SetHolder(holder=key(holder).address, code=code, action=HolderAction.AUTHORISE)
            setup = (("bank", op), *setup)
    sequences: dict[str, int] = {}
    for source, op in setup:
        sequences[source] = sequences.get(source, 0) + 1
        after, outcome = v1.apply_tx(state, tx(source, sequences[source], op), ctx())
        assert isinstance(outcome, TxResult), outcome
        assert isinstance(after, Overlay)
        committed = MemoryState()
        for name in ("accounts", "assets", "escrows", "offences"):
            getattr(committed, name).update(getattr(state, name))
        committed.commit(after)
        state = committed
    return state


def _apply(state: MemoryState, source: str, sequence: int, op: Payment):
    out = Overlay(state)
    outcome = v1.apply_into(out, tx(source, sequence, op), ctx(), signatures_verified=False)
    if isinstance(outcome, Rejection):
        assert not out.accounts and not out.assets, "a rejection wrote"
        return (outcome.code, outcome.message, outcome.op_index), {}
    return (outcome.op_results, outcome.code), (out.accounts, out.assets)


def _pay(dst: str, amount: int, a=USD) -> Payment:
    return Payment(destination=key(dst).address, asset=a, amount=amount)


FREEZE_BOB = ("bank", SetHolder(holder=key("bob").address, code="USD", action=HolderAction.FREEZE))
TWO_OF_TWO = (
    "alice",
    SetSigners(
        signers=tuple(
            sorted(
                (Signer(public_key=key(n).public_key, weight=1) for n in ("alice", "carol")),
                key=lambda s: s.public_key,
            )
        ),
        threshold=2,
    ),
)

# (name, setup, source, sequence, payment, whether the fast path takes it)
CASES = [
    ("plain", (), "alice", 1, _pay("bob", 1_234), True),
    ("second holding", (), "alice", 1, _pay("bob", 77, CNY), True),
    ("whole balance", (), "alice", 1, _pay("bob", 100_000), True),
    ("overdraft", (), "alice", 1, _pay("bob", 100_001), False),
    ("no holding to debit", (), "bob", 1, _pay("alice", 1), False),
    ("new holding, open asset", (), "alice", 1, _pay("bob", 5, PTS), False),
    ("unauthorised destination", (), "alice", 1, _pay("carol", 5), False),
    ("frozen destination", (FREEZE_BOB,), "alice", 1, _pay("bob", 5), False),
    ("mint", (), "bank", 5, _pay("bob", 5), False),
    ("burn", (), "alice", 1, _pay("bank", 5), False),
    ("self", (), "alice", 1, _pay("alice", 5), False),
    ("unknown destination", (), "alice", 1, _pay("nobody", 5), False),
    ("unknown asset", (), "alice", 1, _pay("bob", 5, asset("XYZ")), False),
    ("threshold above the signer", (TWO_OF_TWO,), "alice", 2, _pay("bob", 5), False),
]


@pytest.mark.parametrize(
    ("setup", "source", "sequence", "op", "fast"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_fast_path_decides_as_the_general_path(setup, source, sequence, op, fast):
    state = _state(*setup)
    spelled_out = dataclasses.replace(op, source=key(source).address)
    assert _apply(state, source, sequence, op) == _apply(state, source, sequence, spelled_out)
    account = state.accounts[key(source).address]
    taken = v1._plain_payment(Overlay(state), tx(source, sequence, op), account, op)
    assert (taken is not None) is fast
