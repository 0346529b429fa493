"""Blocks end to end: select, assemble, validate, commit, prove; commits by validators."""

from __future__ import annotations

import dataclasses

import pytest

from corridor.ledger.block import (
    PRECOMMIT,
    Block,
    BlockHeader,
    Commit,
    CommitSig,
    ValidatorSet,
    vote_sign_bytes,
)
from corridor.ledger.chain import execute_block, make_block, select_txs, validate_block
from corridor.ledger.errors import RejectCode, Rejection
from corridor.ledger.invariants import check_state
from corridor.ledger.proofs import (
    AccountProof,
    TxProof,
    prove_account,
    prove_tx,
    verify_account_proof,
    verify_tx_proof,
)
from corridor.ledger.tx import Payment
from tests.reject_codes import note

from .builders import T0, asset, ctx, key, make_genesis, tx

USD = asset("USD")


def _payments(n: int):
    return [
        tx("alice", i + 1, Payment(destination=key("bob").address, asset=USD, amount=10 + i))
        for i in range(n)
    ]


def _build(g, candidates, height=1, time_ms=T0 + 1000):
    tree = g.tree()
    previous = g.header(tree)
    sel = select_txs(g.state, tree, candidates, ctx(height, time_ms))
    block = make_block(
        previous,
        sel.execution,
        time_ms=time_ms,
        validators=g.validators,
        proposer_key=key("v1").public_key,
        last_commit=None,
    )
    return tree, previous, sel, block


def test_block_round_trip_validate_commit_and_roots():
    g = make_genesis()
    bad = tx("alice", 99, Payment(destination=key("bob").address, asset=USD, amount=1))
    tree, previous, sel, block = _build(g, [*_payments(5), bad])
    assert len(block.txs) == 5
    assert [r.code for _, r in sel.rejected] == [RejectCode.FUTURE_SEQUENCE]
    decoded = Block.decode(block.encode())
    assert decoded == block
    execution = validate_block(g.state, tree, decoded, previous, g.validators)
    assert not isinstance(execution, Rejection)
    assert execution.state_root == block.header.state_root
    # The tree is untouched until the shell commits.
    assert tree.root == previous.state_root
    g.state.commit(execution.state)
    tree.update(execution.tree_updates)
    assert tree.root == block.header.state_root
    assert check_state(g.state) == []
    assert g.state.account(key("bob").address).balance(USD) == sum(10 + i for i in range(5))


def test_tampered_blocks_are_rejected():
    g = make_genesis()
    tree, previous, _, block = _build(g, _payments(3))

    def reject(b: Block) -> None:
        outcome = validate_block(g.state, tree, b, previous, g.validators)
        assert isinstance(outcome, Rejection), "tampered block accepted"
        assert outcome.code is RejectCode.BAD_BLOCK
        note(outcome.code)

    h = block.header
    for change in (
        {"state_root": b"\x01" * 32},
        {"result_root": b"\x01" * 32},
        {"height": 5},
        {"time_ms": previous.time_ms},
        {"previous_hash": b"\x02" * 32},
        {"proposer": key("alice").address},
        {"tx_count": 2},
    ):
        reject(dataclasses.replace(block, header=dataclasses.replace(h, **change)))
    reject(dataclasses.replace(block, txs=block.txs[:2]))
    # A block carrying a transaction that fails (here: replayed) is invalid as a whole.
    replay = dataclasses.replace(block, txs=(*block.txs, block.txs[0]))
    outcome = execute_block(g.state, tree, replay.txs, ctx())
    assert isinstance(outcome, Rejection) and "bad_sequence" in outcome.message


def _commit(block_hash: bytes, signers: list[str], height: int = 1) -> Commit:
    msg = vote_sign_bytes("corridor-test", PRECOMMIT, height, 0, block_hash)
    sigs = sorted(
        (CommitSig(key(v).public_key, key(v).sign(msg)) for v in signers),
        key=lambda s: s.public_key,
    )
    return Commit(height, 0, block_hash, tuple(sigs))


def test_commit_certificate_needs_two_thirds_of_power():
    from corridor.ledger.block import verify_commit

    g = make_genesis(validators=("v1", "v2", "v3", "v4"))
    vals = g.validators
    assert isinstance(vals, ValidatorSet) and vals.total_power == 4
    block_hash = b"\x07" * 32
    assert (
        verify_commit("corridor-test", vals, _commit(block_hash, ["v1", "v2", "v3"]), block_hash, 1)
        is None
    )
    weak = verify_commit("corridor-test", vals, _commit(block_hash, ["v1", "v2"]), block_hash, 1)
    assert weak is not None and weak.code is RejectCode.INSUFFICIENT_WEIGHT
    outsider = verify_commit(
        "corridor-test", vals, _commit(block_hash, ["v1", "v2", "alice"]), block_hash, 1
    )
    assert outsider is not None
    forged = _commit(block_hash, ["v1", "v2", "v3"])
    s0 = forged.signatures[0]
    forged = dataclasses.replace(
        forged, signatures=(CommitSig(s0.public_key, bytes(64)), *forged.signatures[1:])
    )
    bad_sig = verify_commit("corridor-test", vals, forged, block_hash, 1)
    assert bad_sig is not None and bad_sig.code is RejectCode.BAD_SIGNATURE
    other = verify_commit(
        "corridor-test", vals, _commit(block_hash, ["v1", "v2", "v3"]), b"\x08" * 32, 1
    )
    assert other is not None
    assert Commit.decode(_commit(block_hash, ["v1"]).encode()) == _commit(block_hash, ["v1"])


def test_light_client_proofs():
    g = make_genesis()
    tree, previous, _sel, block = _build(g, _payments(7))
    execution = validate_block(g.state, tree, block, previous, g.validators)
    assert not isinstance(execution, Rejection)
    g.state.commit(execution.state)
    tree.update(execution.tree_updates)
    header = BlockHeader.decode(block.header.encode())
    for i in range(len(block.txs)):
        proof = prove_tx(block, i)
        assert verify_tx_proof(header, proof) == block.txs[i]
    p = prove_tx(block, 3)
    assert verify_tx_proof(header, TxProof(p.height, 4, p.tx_bytes, p.path)) is None
    assert verify_tx_proof(header, TxProof(p.height, 3, p.tx_bytes[:-1], p.path)) is None
    bob = key("bob").address
    ok, acct = verify_account_proof(header, prove_account(g.state, tree, bob))
    assert ok and acct is not None and acct.balance(USD) == sum(10 + i for i in range(7))
    absent = key("nobody").address
    ok, acct = verify_account_proof(header, prove_account(g.state, tree, absent))
    assert ok and acct is None
    real = prove_account(g.state, tree, bob)
    lie = AccountProof(bob, g.state.account(key("alice").address).encode(), real.proof)
    assert verify_account_proof(header, lie) == (False, None)
    hidden = AccountProof(bob, None, real.proof)
    assert verify_account_proof(header, hidden) == (False, None)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_empty_and_small_blocks_validate(n):
    g = make_genesis()
    tree, previous, _, block = _build(g, _payments(n))
    assert not isinstance(validate_block(g.state, tree, block, previous, g.validators), Rejection)
