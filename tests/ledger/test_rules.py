"""The state transition, rule by rule; every reject code is reached (see the last test)."""

from __future__ import annotations

import hashlib

import pytest

from corridor.ledger import keys
from corridor.ledger.errors import RejectCode, Rejection
from corridor.ledger.invariants import check_state, check_transition
from corridor.ledger.limits import AMOUNT_MAX, HOLDINGS_MAX
from corridor.ledger.records import Account
from corridor.ledger.results import TxResult
from corridor.ledger.rules.v1 import apply_into, apply_tx, escrow_id_of
from corridor.ledger.state import MemoryState, Overlay, StateView
from corridor.ledger.tx import (
    Clawback,
    EscrowCancel,
    EscrowCreate,
    EscrowFinish,
    HolderAction,
    IssueAsset,
    OpenAccount,
    Payment,
    SetHolder,
    SetSigners,
    Signature,
    SignedTransaction,
    Signer,
)
from tests.reject_codes import note

from .builders import T0, asset, ctx, key, make_genesis, tx

R = RejectCode
USD = asset("USD")
CNY = asset("CNY")


def addr(name: str) -> bytes:
    return key(name).address


def run(state: StateView, stx: SignedTransaction, time_ms: int = T0 + 1000):
    """Applies and checks the invariants both ways: a rejection changes nothing."""
    after, outcome = apply_tx(state, stx, ctx(time_ms=time_ms))
    if isinstance(outcome, Rejection):
        note(outcome.code)
        assert after is state
    else:
        assert isinstance(after, Overlay)
        assert check_transition(state, after) == []
    return after, outcome


def committed(state: StateView) -> MemoryState:
    """Flattens a chain of overlays into a fresh MemoryState (tests only)."""
    layers = []
    while isinstance(state, Overlay):
        layers.append(state)
        state = state.parent
    assert isinstance(state, MemoryState)
    base = MemoryState()
    base.accounts.update(state.accounts)
    base.assets.update(state.assets)
    base.escrows.update(state.escrows)
    for layer in reversed(layers):
        base.commit(layer)
    assert check_state(base) == []
    return base


def expect(state: StateView, stx: SignedTransaction, code: RejectCode, **kw) -> Rejection:
    _, outcome = run(state, stx, **kw)
    assert isinstance(outcome, Rejection), outcome
    assert outcome.code is code, outcome
    return outcome


def ok(state: StateView, stx: SignedTransaction, **kw) -> tuple[StateView, TxResult]:
    after, outcome = run(state, stx, **kw)
    assert isinstance(outcome, TxResult), outcome
    return after, outcome


@pytest.fixture
def g():
    return make_genesis()


def pay(src: str, seq: int, dst: str, amount: int, a=USD, **kw) -> SignedTransaction:
    return tx(src, seq, Payment(destination=addr(dst), asset=a, amount=amount), **kw)


# --- payments, minting, burning --------------------------------------------------------------


def test_payment_moves_exact_amount_and_bumps_sequence(g):
    s, res = ok(g.state, pay("alice", 1, "bob", 1234))
    assert res.op_results[0].delivered == 1234
    assert s.account(addr("alice")).balance(USD) == 100_000 - 1234
    assert s.account(addr("bob")).balance(USD) == 1234
    assert s.account(addr("alice")).sequence == 1
    assert s.asset(USD).supply == 100_000  # a transfer neither mints nor burns
    committed(s)


def test_issuer_mints_by_paying_and_burns_by_being_paid(g):
    s, _ = ok(g.state, pay("bank", 1, "bob", 500))
    assert s.asset(USD).supply == 100_500
    s, _ = ok(s, pay("bob", 1, "bank", 200))
    assert s.asset(USD).supply == 100_300
    assert s.account(addr("bob")).balance(USD) == 300
    committed(s)


def test_overdraft_and_empty_holding_are_rejected(g):
    expect(g.state, pay("alice", 1, "bob", 100_001), R.INSUFFICIENT_BALANCE)
    expect(g.state, pay("bob", 1, "alice", 1), R.INSUFFICIENT_BALANCE)


def test_self_payment_unknown_asset_and_unknown_destination(g):
    expect(g.state, pay("alice", 1, "alice", 1), R.SELF_PAYMENT)
    expect(g.state, pay("alice", 1, "bob", 1, a=asset("EUR")), R.UNKNOWN_ASSET)
    expect(g.state, pay("alice", 1, "nobody", 1), R.UNKNOWN_ACCOUNT)


def test_supply_cannot_exceed_amount_max(g):
    expect(g.state, pay("bank", 1, "bob", AMOUNT_MAX), R.LIMIT_EXCEEDED)


def test_unauthorised_destination_rejected_for_auth_required_asset():
    g = make_genesis(authorise_all=False)
    expect(g.state, pay("alice", 1, "bob", 1), R.NOT_AUTHORISED)
    s, _ = ok(
        g.state,
        tx("bank", 1, SetHolder(holder=addr("bob"), code="USD", action=HolderAction.AUTHORISE)),
    )
    ok(s, pay("alice", 1, "bob", 1))


def test_open_asset_needs_no_authorisation_and_creates_holdings():
    g = make_genesis(
        assets=(("PTS", "bank", {}),), balances=(("alice", "PTS", 10),), authorise_all=False
    )
    s, _ = ok(g.state, pay("alice", 1, "bob", 4, a=asset("PTS")))
    assert s.account(addr("bob")).balance(asset("PTS")) == 4


# --- transaction envelope ----------------------------------------------------------------------


def test_sequence_replay_gap_and_window(g):
    s, _ = ok(g.state, pay("alice", 1, "bob", 1))
    expect(s, pay("alice", 1, "bob", 1), R.BAD_SEQUENCE)
    expect(s, pay("alice", 3, "bob", 1), R.FUTURE_SEQUENCE)
    expect(g.state, pay("alice", 1, "bob", 1, not_before_ms=T0 + 5000), R.NOT_YET_VALID)
    expect(g.state, pay("alice", 1, "bob", 1, not_after_ms=T0 + 10), R.EXPIRED)
    expect(g.state, pay("alice", 1, "bob", 1, chain_id="other-net"), R.WRONG_CHAIN)
    expect(g.state, pay("ghost", 1, "bob", 1), R.UNKNOWN_ACCOUNT)


def test_bad_signature_wrong_key_and_extra_signature(g):
    good = pay("alice", 1, "bob", 1)
    sig = good.signatures[0]
    forged = SignedTransaction(
        tx=good.tx,
        signatures=(
            Signature(
                public_key=sig.public_key,
                signature=sig.signature[:-1] + bytes([sig.signature[-1] ^ 1]),
            ),
        ),
        tx_id=good.tx_id,
        body=good.body,
    )
    expect(g.state, forged, R.BAD_SIGNATURE)
    expect(g.state, pay("alice", 1, "bob", 1, signers=("bob",)), R.INSUFFICIENT_WEIGHT)
    expect(g.state, pay("alice", 1, "bob", 1, signers=("alice", "bob")), R.EXTRA_SIGNATURE)


def test_atomic_two_leg_payment_versus_payment(g):
    """Customer pays USD to the bank's treasury, treasury pays CNY: one transaction."""
    s, _ = ok(g.state, pay("bank", 1, "bob", 0 + 7000, a=CNY))  # fund bob's CNY
    legs = tx(
        "alice",
        1,
        Payment(destination=addr("bob"), asset=USD, amount=1000),
        Payment(destination=addr("alice"), asset=CNY, amount=7000, source=addr("bob")),
        signers=("alice", "bob"),
    )
    s2, res = ok(s, legs)
    assert [r.delivered for r in res.op_results] == [1000, 7000]
    assert s2.account(addr("alice")).balance(CNY) == 7000
    # The same swap where the second leg cannot pay: nothing at all happens.
    fail = tx(
        "alice",
        1,
        Payment(destination=addr("bob"), asset=USD, amount=1000),
        Payment(destination=addr("alice"), asset=CNY, amount=7001, source=addr("bob")),
        signers=("alice", "bob"),
    )
    rejection = expect(s, fail, R.INSUFFICIENT_BALANCE)
    assert rejection.op_index == 1
    # An operation source must sign too.
    expect(
        s,
        tx("alice", 1, Payment(destination=addr("alice"), asset=CNY, amount=1, source=addr("bob"))),
        R.INSUFFICIENT_WEIGHT,
    )


def test_rejected_tx_in_a_shared_block_overlay_is_undone_in_place(g):
    """A block applies every transaction into one overlay; a rejected one must leave it exactly
    as it was: rewritten accounts restored, new accounts and assets gone, supply unchanged."""
    block = Overlay(g.state)
    assert isinstance(
        apply_into(block, pay("alice", 1, "bob", 500), ctx(), signatures_verified=False), TxResult
    )
    before = (dict(block.accounts), dict(block.assets), dict(block.escrows))
    newcomer = key("newcomer")
    failing = tx(
        "bank",
        1,
        Payment(destination=addr("bob"), asset=USD, amount=10),  # mint: supply and bob written
        OpenAccount(public_key=newcomer.public_key),  # a key not in the overlay before
        IssueAsset(code="HKD", decimals=2),  # a new asset
        Payment(destination=addr("bob"), asset=USD, amount=1, source=addr("alice")),
        Payment(destination=addr("alice"), asset=CNY, amount=1, source=addr("bob")),  # fails
        signers=("bank", "alice", "bob"),
    )
    outcome = apply_into(block, failing, ctx(), signatures_verified=False)
    assert isinstance(outcome, Rejection) and outcome.op_index == 4, outcome
    assert (block.accounts, block.assets, block.escrows) == before
    assert block.account(newcomer.address) is None
    # The overlay is still usable: the next transaction applies on the restored state.
    assert isinstance(
        apply_into(block, pay("alice", 2, "bob", 1), ctx(), signatures_verified=False), TxResult
    )
    assert block.account(addr("bob")).balance(USD) == 501


# --- accounts and signers ---------------------------------------------------------------------


def test_open_account_then_exists(g):
    newcomer = key("newcomer")
    s, res = ok(g.state, tx("alice", 1, OpenAccount(public_key=newcomer.public_key)))
    assert res.op_results[0].created_id == newcomer.address
    assert s.account(newcomer.address).signers[0].public_key == newcomer.public_key
    expect(s, tx("bob", 1, OpenAccount(public_key=newcomer.public_key)), R.ACCOUNT_EXISTS)


def _signers(*names_weights: tuple[str, int]) -> tuple[Signer, ...]:
    return tuple(
        sorted(
            (Signer(public_key=key(n).public_key, weight=w) for n, w in names_weights),
            key=lambda s: s.public_key,
        )
    )


def test_multisig_two_of_three(g):
    signers = _signers(("alice", 1), ("m1", 1), ("m2", 1))
    s, _ = ok(g.state, tx("alice", 1, SetSigners(signers=signers, threshold=2)))
    expect(s, pay("alice", 2, "bob", 1), R.INSUFFICIENT_WEIGHT)
    s2, _ = ok(s, pay("alice", 2, "bob", 1, signers=("m1", "m2")))
    assert s2.account(addr("alice")).balance(USD) == 99_999
    expect(s, pay("alice", 2, "bob", 1, signers=("alice", "m1", "bob")), R.EXTRA_SIGNATURE)


def test_bad_signer_sets(g):
    unreachable = SetSigners(signers=_signers(("alice", 1)), threshold=2)
    expect(g.state, tx("alice", 1, unreachable), R.BAD_SIGNERS)
    unsorted = SetSigners(signers=tuple(reversed(_signers(("alice", 1), ("m1", 1)))), threshold=1)
    expect(g.state, tx("alice", 1, unsorted), R.BAD_SIGNERS)


# --- issuer controls ---------------------------------------------------------------------------


def test_issue_asset_and_duplicate(g):
    s, _ = ok(g.state, tx("bob", 1, IssueAsset(code="HKD", decimals=2)))
    assert s.asset(asset("HKD", "bob")).supply == 0
    expect(s, tx("bob", 2, IssueAsset(code="HKD", decimals=2)), R.ASSET_EXISTS)


def test_freeze_blocks_both_directions_and_unfreeze_restores(g):
    s, _ = ok(
        g.state,
        tx("bank", 1, SetHolder(holder=addr("alice"), code="USD", action=HolderAction.FREEZE)),
    )
    expect(s, pay("alice", 1, "bob", 1), R.FROZEN)
    s_bob_frozen, _ = ok(
        g.state,
        tx("bank", 1, SetHolder(holder=addr("bob"), code="USD", action=HolderAction.FREEZE)),
    )
    expect(s_bob_frozen, pay("alice", 1, "bob", 1), R.FROZEN)
    s, _ = ok(
        s, tx("bank", 2, SetHolder(holder=addr("alice"), code="USD", action=HolderAction.UNFREEZE))
    )
    ok(s, pay("alice", 1, "bob", 1))


def test_revoke_blocks_sending(g):
    s, _ = ok(
        g.state,
        tx("bank", 1, SetHolder(holder=addr("alice"), code="USD", action=HolderAction.REVOKE)),
    )
    expect(s, pay("alice", 1, "bob", 1), R.NOT_AUTHORISED)


def test_issuer_controls_need_flags_and_existing_targets():
    g = make_genesis(assets=(("PTS", "bank", {}),), balances=(("alice", "PTS", 10),))
    freeze = SetHolder(holder=addr("alice"), code="PTS", action=HolderAction.FREEZE)
    expect(g.state, tx("bank", 1, freeze), R.FLAG_NOT_SET)
    expect(
        g.state, tx("bank", 1, Clawback(holder=addr("alice"), code="PTS", amount=1)), R.FLAG_NOT_SET
    )
    expect(
        g.state,
        tx("bank", 1, SetHolder(holder=addr("alice"), code="PTS", action=HolderAction.AUTHORISE)),
        R.FLAG_NOT_SET,
    )
    g2 = make_genesis()
    expect(
        g2.state,
        tx("bank", 1, SetHolder(holder=addr("bank"), code="USD", action=HolderAction.AUTHORISE)),
        R.ISSUER_HOLDING,
    )
    expect(
        g2.state,
        tx("alice", 1, SetHolder(holder=addr("bob"), code="USD", action=HolderAction.FREEZE)),
        R.UNKNOWN_ASSET,
    )
    expect(
        g2.state,
        tx("bank", 1, SetHolder(holder=addr("ghost"), code="USD", action=HolderAction.FREEZE)),
        R.UNKNOWN_ACCOUNT,
    )


def test_clawback_burns_even_from_frozen_holder(g):
    s, _ = ok(
        g.state,
        tx("bank", 1, SetHolder(holder=addr("alice"), code="USD", action=HolderAction.FREEZE)),
    )
    s, res = ok(s, tx("bank", 2, Clawback(holder=addr("alice"), code="USD", amount=40_000)))
    assert res.op_results[0].delivered == 40_000
    assert s.asset(USD).supply == 60_000
    expect(
        s,
        tx("bank", 3, Clawback(holder=addr("alice"), code="USD", amount=60_001)),
        R.INSUFFICIENT_BALANCE,
    )
    committed(s)


def test_holdings_are_bounded():
    codes = [f"A{i}" for i in range(HOLDINGS_MAX + 1)]
    g = make_genesis(assets=tuple((c, "bank", {}) for c in codes), balances=(), authorise_all=False)
    s: StateView = g.state
    for i, c in enumerate(codes[:HOLDINGS_MAX]):
        s, _ = ok(s, pay("bank", i + 1, "bob", 1, a=asset(c)))
    expect(s, pay("bank", HOLDINGS_MAX + 1, "bob", 1, a=asset(codes[-1])), R.TOO_MANY_HOLDINGS)


# --- escrow -----------------------------------------------------------------------------------

SECRET = b"the preimage"
LOCK = hashlib.sha256(SECRET).digest()


def _escrow(g, **conditions):
    create = tx(
        "alice", 1, EscrowCreate(destination=addr("bob"), asset=USD, amount=5000, **conditions)
    )
    s, res = ok(g.state, create)
    escrow_id = res.op_results[0].created_id
    assert escrow_id == escrow_id_of(create.tx_id, 0)
    assert s.account(addr("alice")).balance(USD) == 95_000
    committed(s)  # escrowed value still counts in the supply
    return s, escrow_id


def test_escrow_hashlock_finish(g):
    s, eid = _escrow(g, hashlock=LOCK)
    expect(s, tx("bob", 1, EscrowFinish(escrow_id=eid, preimage=b"wrong")), R.WRONG_PREIMAGE)
    expect(s, tx("bob", 1, EscrowFinish(escrow_id=eid)), R.WRONG_PREIMAGE)
    s, res = ok(s, tx("bob", 1, EscrowFinish(escrow_id=eid, preimage=SECRET)))
    assert res.op_results[0].delivered == 5000
    assert s.account(addr("bob")).balance(USD) == 5000
    expect(s, tx("bob", 2, EscrowFinish(escrow_id=eid, preimage=SECRET)), R.UNKNOWN_ESCROW)
    committed(s)


def test_escrow_time_locks(g):
    s, eid = _escrow(g, finish_after_ms=T0 + 10_000, cancel_after_ms=T0 + 20_000)
    finish = tx("bob", 1, EscrowFinish(escrow_id=eid))
    expect(s, finish, R.ESCROW_NOT_FINISHABLE, time_ms=T0 + 9_999)
    ok(s, finish, time_ms=T0 + 10_000)
    cancel = tx("alice", 2, EscrowCancel(escrow_id=eid))
    expect(s, cancel, R.ESCROW_NOT_CANCELLABLE, time_ms=T0 + 19_999)
    expect(s, finish, R.ESCROW_EXPIRED, time_ms=T0 + 20_000)
    s2, _res = ok(s, cancel, time_ms=T0 + 20_000)
    assert s2.account(addr("alice")).balance(USD) == 100_000
    expect(s2, tx("alice", 3, EscrowCancel(escrow_id=eid)), R.UNKNOWN_ESCROW, time_ms=T0 + 20_000)


def test_escrow_needs_a_sane_condition(g):
    def create(**c):
        return tx("alice", 1, EscrowCreate(destination=addr("bob"), asset=USD, amount=1, **c))

    expect(g.state, create(), R.BAD_ESCROW)
    expect(g.state, create(cancel_after_ms=T0), R.BAD_ESCROW)
    expect(g.state, create(finish_after_ms=T0 + 9000, cancel_after_ms=T0 + 9000), R.BAD_ESCROW)
    ghost = tx(
        "alice", 1, EscrowCreate(destination=addr("ghost"), asset=USD, amount=1, hashlock=LOCK)
    )
    expect(g.state, ghost, R.UNKNOWN_ACCOUNT)


def test_issuer_escrow_mints_into_escrow(g):
    s, _res = ok(
        g.state,
        tx("bank", 1, EscrowCreate(destination=addr("bob"), asset=USD, amount=10, hashlock=LOCK)),
    )
    assert s.asset(USD).supply == 100_010
    committed(s)


# --- coverage of codes ------------------------------------------------------------------------


def test_decode_level_codes_are_reached():
    """Codes raised by decoders (not by apply): covered in test_codec and test_keys."""
    from corridor.ledger.errors import DecodeError
    from corridor.ledger.tx import decode_transaction

    good = pay("alice", 1, "bob", 1).encode()
    for data, code in (
        (good[:-1], R.MALFORMED),
        (good + b"\x00", R.NON_CANONICAL),
        (b"\xff" * 70_000, R.LIMIT_EXCEEDED),
    ):
        with pytest.raises(DecodeError) as info:
            decode_transaction(data)
        assert info.value.code is code
        note(code)
    with pytest.raises(DecodeError) as info:
        keys.decode_address("c" + "1" * 30)
    note(info.value.code)


def test_account_record_round_trip(g):
    acct = g.state.account(addr("alice"))
    assert isinstance(acct, Account)
    assert Account.decode(acct.encode()) == acct
