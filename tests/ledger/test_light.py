"""The light client's core: headers trusted by commits, txs and accounts by proofs, and
every forgery refused with a stable code."""

from __future__ import annotations

import dataclasses

import pytest

from corridor.ledger.block import (
    PRECOMMIT,
    Block,
    BlockHeader,
    Commit,
    CommitSig,
    Validator,
    ValidatorSet,
    tx_root,
    vote_sign_bytes,
)
from corridor.ledger.chain import make_block, select_txs
from corridor.ledger.errors import RejectCode, Rejection
from corridor.ledger.light import TrustedState, verify_account, verify_header, verify_tx
from corridor.ledger.proofs import AccountProof, TxProof, prove_account, prove_tx
from corridor.ledger.tx import Payment

from .builders import CHAIN, T0, asset, ctx, key, make_genesis, tx

USD = asset("USD")
VALIDATORS = ("v1", "v2", "v3", "v4")


def _commit(header: BlockHeader, signers: tuple[str, ...], chain_id: str = CHAIN) -> Commit:
    block_hash = header.hash()
    msg = vote_sign_bytes(chain_id, PRECOMMIT, header.height, 0, block_hash)
    sigs = sorted(
        (CommitSig(key(v).public_key, key(v).sign(msg)) for v in signers),
        key=lambda s: s.public_key,
    )
    return Commit(header.height, 0, block_hash, tuple(sigs))


@pytest.fixture
def chain():
    """Genesis, three blocks of payments (each committed by v1..v3), the state after block 3,
    and the trust rooted in genesis."""
    g = make_genesis(validators=VALIDATORS)
    genesis = TrustedState.from_genesis(g)  # before the blocks change g.state
    tree = g.tree()
    previous = g.header(tree)
    blocks: list[Block] = []
    last_commit = None
    for height in (1, 2, 3):
        pay = tx("alice", height, Payment(destination=key("bob").address, asset=USD, amount=height))
        sel = select_txs(g.state, tree, [pay], ctx(height, T0 + 1000 * height))
        block = make_block(previous, sel.execution, time_ms=T0 + 1000 * height,
                           validators=g.validators, proposer_key=key("v1").public_key,
                           last_commit=last_commit)
        g.state.commit(sel.execution.state)
        tree.update(sel.execution.tree_updates)
        assert tree.root == block.header.state_root
        blocks.append(block)
        last_commit = _commit(block.header, ("v1", "v2", "v3"))
        previous = block.header
    return g, tree, blocks, genesis


def _rejected(outcome: object, code: RejectCode) -> Rejection:
    assert isinstance(outcome, Rejection), f"accepted: {outcome!r}"
    assert outcome.code is code, outcome
    return outcome


def test_headers_verify_adjacent_and_skipping(chain):
    _, _, blocks, trusted = chain
    assert trusted.height == 0
    one = verify_header(trusted, blocks[0].header, _commit(blocks[0].header, ("v1", "v2", "v3")))
    assert isinstance(one, TrustedState) and one.header == blocks[0].header
    two = verify_header(one, blocks[1].header, _commit(blocks[1].header, ("v2", "v3", "v4")))
    assert isinstance(two, TrustedState) and two.height == 2
    # Skipping from genesis straight to height 3: the same set signs it.
    skip = verify_header(trusted, blocks[2].header, _commit(blocks[2].header, VALIDATORS))
    assert isinstance(skip, TrustedState) and skip.height == 3
    # The trusted header itself needs no commit.
    assert verify_header(two, blocks[1].header, None) is two


def test_forged_commits_are_refused(chain):
    _, _, blocks, trusted = chain
    h = blocks[0].header
    # Too little power: 2 of 4 is not more than 2/3.
    _rejected(verify_header(trusted, h, _commit(h, ("v1", "v2"))), RejectCode.INSUFFICIENT_WEIGHT)
    # An unknown signer (alice is no validator), even with enough real ones beside it.
    _rejected(verify_header(trusted, h, _commit(h, ("v1", "v2", "alice"))), RejectCode.BAD_BLOCK)
    # Signatures made for another chain id do not verify for this one.
    _rejected(verify_header(trusted, h, _commit(h, ("v1", "v2", "v3"), chain_id="other")),
              RejectCode.BAD_SIGNATURE)
    # A forged signature in an otherwise good commit.
    good = _commit(h, ("v1", "v2", "v3"))
    s0 = good.signatures[0]
    forged = dataclasses.replace(good, signatures=(CommitSig(s0.public_key, bytes(64)),
                                                   *good.signatures[1:]))
    _rejected(verify_header(trusted, h, forged), RejectCode.BAD_SIGNATURE)
    # A good commit of another block, and no commit at all.
    other_block = _commit(blocks[1].header, VALIDATORS)
    _rejected(verify_header(trusted, h, other_block), RejectCode.BAD_BLOCK)
    _rejected(verify_header(trusted, h, None), RejectCode.BAD_BLOCK)


def test_bad_headers_are_refused(chain):
    g, _, blocks, trusted = chain
    h = blocks[0].header

    def signed(header: BlockHeader) -> TrustedState | Rejection:
        # Signed by real validators: only the header's own checks can refuse it.
        return verify_header(trusted, header, _commit(header, VALIDATORS))

    # Wrong chain id.
    _rejected(signed(dataclasses.replace(h, chain_id="other")), RejectCode.WRONG_CHAIN)
    # Bad linkage at the next height.
    _rejected(signed(dataclasses.replace(h, previous_hash=b"\x05" * 32)), RejectCode.BAD_BLOCK)
    # Another validator set named.
    outsider = ValidatorSet((Validator(key("alice").public_key, 1),))
    _rejected(signed(dataclasses.replace(h, validator_set_hash=outsider.hash())),
              RejectCode.BAD_BLOCK)
    # Time not past the trusted header.
    _rejected(signed(dataclasses.replace(h, time_ms=g.genesis_time_ms)), RejectCode.BAD_BLOCK)
    # Tampered header under a commit of the real one.
    tampered = dataclasses.replace(h, state_root=b"\x01" * 32)
    _rejected(verify_header(trusted, tampered, _commit(h, VALIDATORS)), RejectCode.BAD_BLOCK)
    # Going back, or a different header at the trusted height.
    at_two = verify_header(trusted, blocks[1].header, _commit(blocks[1].header, VALIDATORS))
    assert isinstance(at_two, TrustedState)
    _rejected(verify_header(at_two, h, _commit(h, VALIDATORS)), RejectCode.BAD_BLOCK)
    other_two = dataclasses.replace(blocks[1].header, time_ms=blocks[1].header.time_ms + 1)
    _rejected(verify_header(at_two, other_two, _commit(other_two, VALIDATORS)),
              RejectCode.BAD_BLOCK)


def test_tx_proofs_verify_and_tampered_ones_do_not(chain):
    _, _, blocks, _ = chain
    block = blocks[1]
    proof = prove_tx(block, 0)
    stx = verify_tx(block.header, proof)
    assert stx == block.txs[0]
    _rejected(verify_tx(blocks[0].header, proof), RejectCode.BAD_BLOCK)  # other height
    other_tx = blocks[0].txs[0].encode()
    _rejected(verify_tx(block.header, TxProof(proof.height, 0, other_tx, proof.path)),
              RejectCode.BAD_BLOCK)
    _rejected(verify_tx(block.header, TxProof(proof.height, 1, proof.tx_bytes, proof.path)),
              RejectCode.BAD_BLOCK)
    _rejected(verify_tx(block.header, TxProof(proof.height, 0, b"\x00garbage", proof.path)),
              RejectCode.BAD_BLOCK)
    # A header from a forged chain (other tx root) does not carry the real tx.
    forged = dataclasses.replace(block.header, tx_root=b"\x09" * 32)
    _rejected(verify_tx(forged, proof), RejectCode.BAD_BLOCK)
    # A block whose tx root commits to another chain's transaction (only a forged chain has
    # one): the proof holds, the transaction is still refused.
    foreign = tx("alice", 1, Payment(destination=key("bob").address, asset=USD, amount=1),
                 chain_id="other-chain")
    odd = dataclasses.replace(block, txs=(foreign,), header=dataclasses.replace(
        block.header, tx_count=1, tx_root=tx_root([foreign])))
    _rejected(verify_tx(odd.header, prove_tx(odd, 0)), RejectCode.WRONG_CHAIN)


def test_account_proofs_verify_and_tampered_ones_do_not(chain):
    g, tree, blocks, _ = chain
    head = blocks[-1].header
    bob = key("bob").address
    got = verify_account(head, prove_account(g.state, tree, bob))
    assert not isinstance(got, Rejection)
    address, acct = got
    assert address == bob and acct is not None and acct.balance(USD) == 1 + 2 + 3
    absent = key("nobody").address
    assert verify_account(head, prove_account(g.state, tree, absent)) == (absent, None)
    real = prove_account(g.state, tree, bob)
    alice = g.state.account(key("alice").address)
    assert alice is not None
    _rejected(verify_account(head, AccountProof(bob, alice.encode(), real.proof)),
              RejectCode.BAD_BLOCK)
    _rejected(verify_account(head, AccountProof(bob, None, real.proof)), RejectCode.BAD_BLOCK)
    _rejected(verify_account(head, AccountProof(bob, b"\x01\x02", real.proof)),
              RejectCode.BAD_BLOCK)
    # The same proof against an older header (another state root) fails.
    _rejected(verify_account(blocks[0].header, real), RejectCode.BAD_BLOCK)
