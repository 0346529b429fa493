"""Fuzzing every decoder of untrusted bytes, and the genesis parser (STYLE 4 and 9).

For each decoder: random bytes, and valid encodings mutated (bit flips, byte overwrites,
truncations, extensions, insertions, deletions), either decode or raise `DecodeError`, never
anything else; and whatever decodes re-encodes to exactly the same bytes (one encoding per
value). Valid values of every kind, transactions with all nine operations among them,
round-trip: decode(encode(v)) == v and encode(decode(b)) == b.

`parse_genesis` gets random text, random JSON and mutated genesis documents: it either gives a
genesis whose state holds the invariants and whose header encodes, or raises `DecodeError`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.ledger import keys
from corridor.ledger.assets import Asset
from corridor.ledger.block import POWER_MAX, Block, BlockHeader, Commit, CommitSig, ValidatorSet
from corridor.ledger.block import Validator as BlockValidator
from corridor.ledger.errors import DecodeError
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.ledger.genesis import Genesis, parse_genesis
from corridor.ledger.invariants import check_state
from corridor.ledger.limits import (
    AMOUNT_MAX,
    ASSET_DECIMALS_MAX,
    CHAIN_ID_LEN_MAX,
    MEMO_BYTES_MAX,
    OPERATIONS_MAX,
    SIGNATURES_MAX,
    SIGNER_WEIGHT_MAX,
    SIGNERS_MAX,
    VALIDATORS_MAX,
)
from corridor.ledger.records import Account, AssetInfo, Escrow, Holding, Offence, asset_sort_key
from corridor.ledger.results import OpResult, TxResult
from corridor.ledger.statetree import StateProof, StateTree
from corridor.ledger.tx import (
    PREIMAGE_BYTES_MAX,
    Clawback,
    EscrowCancel,
    EscrowCreate,
    EscrowFinish,
    HolderAction,
    IssueAsset,
    OpenAccount,
    Operation,
    OpType,
    Payment,
    SetHolder,
    SetSigners,
    Signature,
    SignedTransaction,
    Signer,
    Transaction,
    compute_tx_id,
    decode_transaction,
)
from corridor.ledger.votes import VOTE_TYPES, Vote
from tests.ledger.builders import genesis_doc, key

U8, U16, U32, U64 = 2**8 - 1, 2**16 - 1, 2**32 - 1, 2**64 - 1

# --- Valid values of every kind -------------------------------------------------------------

addresses = st.binary(min_size=20, max_size=20)
hashes = st.binary(min_size=32, max_size=32)
public_keys = hashes
u64s = st.integers(0, U64) | st.sampled_from((0, 1, U64))
amounts = st.integers(1, AMOUNT_MAX) | st.sampled_from((1, AMOUNT_MAX))
codes = st.from_regex(r"[A-Z0-9]{1,12}", fullmatch=True)
asset_values = st.builds(Asset, codes, addresses)
sources = st.none() | addresses
texts = st.text(max_size=CHAIN_ID_LEN_MAX).filter(lambda t: len(t.encode()) <= CHAIN_ID_LEN_MAX)


def sorted_unique(items: st.SearchStrategy[Any], by: Callable[[Any], bytes], max_size: int) -> Any:
    """Lists in their only canonical order: sorted by `by`, no duplicates."""
    return st.lists(items, max_size=max_size, unique_by=by).map(lambda xs: sorted(xs, key=by))


signer_values = st.builds(Signer, public_key=public_keys, weight=st.integers(1, SIGNER_WEIGHT_MAX))
signer_tuples = sorted_unique(signer_values, lambda s: s.public_key, SIGNERS_MAX).map(tuple)

OPERATIONS: dict[type[Operation], st.SearchStrategy[Operation]] = {
    OpenAccount: st.builds(OpenAccount, public_key=public_keys, source=sources),
    Payment: st.builds(
        Payment, destination=addresses, asset=asset_values, amount=amounts, source=sources
    ),
    SetSigners: st.builds(
        SetSigners, signers=signer_tuples, threshold=st.integers(0, U16), source=sources
    ),
    IssueAsset: st.builds(
        IssueAsset,
        code=codes,
        decimals=st.integers(0, ASSET_DECIMALS_MAX),
        auth_required=st.booleans(),
        freezable=st.booleans(),
        clawback=st.booleans(),
        source=sources,
    ),
    SetHolder: st.builds(
        SetHolder,
        holder=addresses,
        code=codes,
        action=st.sampled_from(HolderAction),
        source=sources,
    ),
    Clawback: st.builds(Clawback, holder=addresses, code=codes, amount=amounts, source=sources),
    EscrowCreate: st.builds(
        EscrowCreate,
        destination=addresses,
        asset=asset_values,
        amount=amounts,
        hashlock=st.none() | hashes,
        finish_after_ms=st.none() | u64s,
        cancel_after_ms=st.none() | u64s,
        source=sources,
    ),
    EscrowFinish: st.builds(
        EscrowFinish,
        escrow_id=hashes,
        preimage=st.none() | st.binary(max_size=PREIMAGE_BYTES_MAX),
        source=sources,
    ),
    EscrowCancel: st.builds(EscrowCancel, escrow_id=hashes, source=sources),
}
any_operation = st.one_of(*OPERATIONS.values())


@st.composite
def transactions(
    draw: st.DrawFn, first_op: st.SearchStrategy[Operation] = any_operation
) -> Transaction:
    not_before, not_after = sorted(draw(st.lists(u64s, min_size=2, max_size=2)))
    more_ops = draw(st.lists(any_operation, max_size=OPERATIONS_MAX - 1))
    return Transaction(
        chain_id=draw(texts),
        source=draw(addresses),
        sequence=draw(st.integers(1, U64)),
        not_before_ms=not_before,
        not_after_ms=not_after,
        operations=(draw(first_op), *more_ops),
        memo=draw(st.binary(max_size=MEMO_BYTES_MAX)),
    )


SIGNING_KEYS = tuple(key(f"fuzz-{i}") for i in range(4))
signature_values = st.builds(
    Signature, public_key=public_keys, signature=st.binary(min_size=64, max_size=64)
)


@st.composite
def signed_transactions(
    draw: st.DrawFn, first_op: st.SearchStrategy[Operation] = any_operation
) -> SignedTransaction:
    """Really signed (by 1-4 keys) or with arbitrary signature bytes: decoding checks neither."""
    tx = draw(transactions(first_op))
    if draw(st.booleans()):
        signers = draw(st.lists(st.sampled_from(SIGNING_KEYS), min_size=1, unique=True))
        return tx.sign(*signers)
    signatures = draw(sorted_unique(signature_values, lambda s: s.public_key, SIGNATURES_MAX))
    if not signatures:
        signatures = [draw(signature_values)]
    body = tx.encode()
    return SignedTransaction(
        tx=tx, signatures=tuple(signatures), tx_id=compute_tx_id(body), body=body
    )


headers = st.builds(
    BlockHeader,
    chain_id=texts,
    height=u64s,
    time_ms=u64s,
    previous_hash=hashes,
    last_commit_hash=hashes,
    tx_count=st.integers(0, U32),
    tx_root=hashes,
    result_root=hashes,
    evidence_root=hashes,
    state_root=hashes,
    validator_set_hash=hashes,
    proposer=addresses,
)
commit_sigs = st.builds(CommitSig, public_keys, st.binary(min_size=64, max_size=64))
commits = st.builds(
    Commit,
    st.integers(0, U64),
    st.integers(0, U32),
    hashes,
    sorted_unique(commit_sigs, lambda s: s.public_key, 8).map(tuple),
)
signatures64 = st.binary(min_size=64, max_size=64)


@st.composite
def duplicate_votes(draw: st.DrawFn) -> DuplicateVoteEvidence:
    """Two votes of one slot for different blocks (signatures unchecked by decoding), or,
    sometimes, of different slots: well-formed bytes that `verify` refuses."""
    slot = {
        "vote_type": draw(st.sampled_from(VOTE_TYPES)),
        "height": draw(u64s),
        "round": draw(st.integers(0, U32)),
        "validator": draw(public_keys),
    }
    other = dict(slot)
    if draw(st.booleans()):
        other["round"] = draw(st.integers(0, U32))
    first, second = draw(st.lists(hashes, min_size=2, max_size=2, unique=True))
    a = Vote(block_hash=first, signature=draw(signatures64), **slot)
    b = Vote(block_hash=second, signature=draw(signatures64), **other)
    return DuplicateVoteEvidence.of(a, b)


offences = st.builds(
    Offence, public_keys, st.integers(0, U8), u64s, st.integers(0, U32), hashes, u64s
)
blocks = st.builds(
    Block,
    header=headers,
    txs=st.lists(signed_transactions(), max_size=3).map(tuple),
    last_commit=st.none() | commits,
    evidence=st.lists(duplicate_votes(), max_size=2).map(tuple),
)
validator_sets = (
    sorted_unique(
        st.builds(BlockValidator, public_keys, st.integers(1, POWER_MAX)), lambda v: v.public_key, 8
    )
    .filter(bool)
    .map(lambda vs: ValidatorSet(tuple(vs)))
)
holdings = st.builds(Holding, asset_values, u64s, st.booleans(), st.booleans())
accounts = st.builds(
    Account,
    addresses,
    u64s,
    st.integers(0, U16),
    signer_tuples,
    sorted_unique(holdings, lambda h: asset_sort_key(h.asset), 8).map(tuple),
)
asset_infos = st.builds(
    AssetInfo, asset_values, st.integers(0, U8), st.booleans(), st.booleans(), st.booleans(), u64s
)
escrows = st.builds(
    Escrow,
    hashes,
    addresses,
    addresses,
    asset_values,
    u64s,
    st.none() | hashes,
    st.none() | u64s,
    st.none() | u64s,
)
tx_results = st.builds(
    TxResult,
    hashes,
    st.lists(st.builds(OpResult, u64s, st.binary(max_size=32)), max_size=8).map(tuple),
    st.integers(0, U8),
)


@st.composite
def state_proofs(draw: st.DrawFn, bucket_bits: int) -> StateProof:
    """A well-formed proof: keys of one bucket, ascending, and one sibling hash per level."""
    bucket = draw(st.integers(0, 2**bucket_bits - 1))

    def in_bucket(low: int, rest: bytes) -> bytes:
        prefix: int = (bucket << (32 - bucket_bits)) | (low % 2 ** (32 - bucket_bits))
        return prefix.to_bytes(4, "big") + rest

    bucket_keys = draw(
        st.lists(
            st.builds(in_bucket, st.integers(0, U32), st.binary(min_size=28, max_size=28)),
            max_size=6,
            unique=True,
        )
    )
    values = draw(st.lists(hashes, min_size=len(bucket_keys), max_size=len(bucket_keys)))
    siblings = draw(st.lists(hashes, min_size=bucket_bits, max_size=bucket_bits))
    return StateProof(
        bucket=tuple(zip(sorted(bucket_keys), values, strict=True)), siblings=tuple(siblings)
    )


def test_generated_state_proofs_are_like_real_ones() -> None:
    tree = StateTree.from_items([(bytes([i]) * 32, bytes([i + 1]) * 32) for i in range(9)], 3)
    proof = tree.prove(bytes([4]) * 32)
    assert StateProof.decode(proof.encode(), 3) == proof


# name -> (decode, encode, valid values)
CODECS: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes], st.SearchStrategy[Any]]] = {
    "transaction": (decode_transaction, SignedTransaction.encode, signed_transactions()),
    "block": (Block.decode, Block.encode, blocks),
    "block header": (BlockHeader.decode, BlockHeader.encode, headers),
    "commit": (Commit.decode, Commit.encode, commits),
    "validator set": (ValidatorSet.decode, ValidatorSet.encode, validator_sets),
    "account": (Account.decode, Account.encode, accounts),
    "asset info": (AssetInfo.decode, AssetInfo.encode, asset_infos),
    "escrow": (Escrow.decode, Escrow.encode, escrows),
    "duplicate-vote evidence": (
        DuplicateVoteEvidence.decode,
        DuplicateVoteEvidence.encode,
        duplicate_votes(),
    ),
    "offence": (Offence.decode, Offence.encode, offences),
    "tx result": (TxResult.decode, TxResult.encode, tx_results),
    "state proof": (StateProof.decode, StateProof.encode, state_proofs(16)),
    "state proof, 3 bits": (
        lambda data: StateProof.decode(data, 3),
        StateProof.encode,
        state_proofs(3),
    ),
}

# --- Mutations ------------------------------------------------------------------------------

positions = st.integers(0, 2**16)
mutations = st.one_of(
    st.tuples(st.just("flip"), positions, st.integers(0, 7)),
    st.tuples(st.just("set"), positions, st.sampled_from((0, 1, 2, 0x7F, 0x80, 0xFF))),
    st.tuples(st.just("truncate"), positions),
    st.tuples(st.just("extend"), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("insert"), positions, st.binary(min_size=1, max_size=4)),
    st.tuples(st.just("delete"), positions, st.integers(1, 4)),
)


def mutate(data: bytes, mutation: tuple[Any, ...]) -> bytes:
    kind, *args = mutation
    if kind == "extend":
        return data + bytes(args[0])
    if not data:
        return data
    at = args[0] % len(data)
    if kind == "flip":
        return data[:at] + bytes([data[at] ^ (1 << args[1])]) + data[at + 1 :]
    if kind == "set":
        return data[:at] + bytes([args[1]]) + data[at + 1 :]
    if kind == "truncate":
        return data[:at]
    if kind == "insert":
        return data[:at] + bytes(args[1]) + data[at:]
    assert kind == "delete"
    return data[:at] + data[at + args[1] :]


def decodes_canonically_or_raise(name: str, data: bytes) -> None:
    decode, encode, _ = CODECS[name]
    try:
        value = decode(data)
    except DecodeError:
        return
    assert encode(value) == data, f"{name}: decoded bytes that are not the value's encoding"


# --- Decoders of bytes ----------------------------------------------------------------------


@pytest.mark.parametrize("name", CODECS)
@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=700))
def test_random_bytes_decode_canonically_or_raise_decode_error(name: str, data: bytes) -> None:
    decodes_canonically_or_raise(name, data)


@pytest.mark.parametrize("name", CODECS)
@settings(max_examples=150, deadline=None)
@given(data=st.data(), edits=st.lists(mutations, min_size=1, max_size=4))
def test_mutated_encodings_decode_canonically_or_raise_decode_error(
    name: str, data: st.DataObject, edits: list[tuple[Any, ...]]
) -> None:
    _, encode, values = CODECS[name]
    encoded = encode(data.draw(values, "value"))
    for edit in edits:
        encoded = mutate(encoded, edit)
    decodes_canonically_or_raise(name, encoded)


@pytest.mark.parametrize("name", CODECS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_valid_values_round_trip(name: str, data: st.DataObject) -> None:
    decode, encode, values = CODECS[name]
    value = data.draw(values, "value")
    encoded = encode(value)
    decoded = decode(encoded)
    assert decoded == value
    assert encode(decoded) == encoded


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda cls: cls.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_transactions_with_each_operation_round_trip(
    op: type[Operation], data: st.DataObject
) -> None:
    stx = data.draw(signed_transactions(OPERATIONS[op]), "transaction")
    assert isinstance(stx.tx.operations[0], op)
    encoded = stx.encode()
    decoded = decode_transaction(encoded)
    assert decoded == stx
    assert decoded.encode() == encoded
    assert decoded.body == decoded.tx.encode()
    assert decoded.tx_id == compute_tx_id(decoded.body) == stx.tx.tx_id()


def test_every_operation_type_is_generated() -> None:
    assert {cls.TYPE for cls in OPERATIONS} == set(OpType)


# --- Genesis --------------------------------------------------------------------------------


def _valid_genesis_document() -> dict[str, Any]:
    doc = genesis_doc(validators=("v1", "v2"))
    doc["accounts"][1]["signers"] = [
        {"public_key": keys.encode_public_key(key(n).public_key), "weight": w}
        for n, w in (("alice", 1), ("ops", 2))
    ]
    doc["accounts"][1]["threshold"] = 2
    return doc


VALID_GENESIS = _valid_genesis_document()
GENESIS_FIELDS = (
    "chain_id",
    "genesis_time_ms",
    "validators",
    "accounts",
    "assets",
    "balances",
    "public_key",
    "power",
    "signers",
    "weight",
    "threshold",
    "code",
    "issuer",
    "decimals",
    "auth_required",
    "freezable",
    "clawback",
    "holder",
    "amount",
)
# Strings that mean something in a genesis: keys and addresses of every kind, codes.
GENESIS_STRINGS = (
    keys.encode_public_key(key("alice").public_key),
    keys.encode_address(key("alice").address),
    keys.encode_address(key("bank").address),
    keys.encode_seed(key("alice").seed),
    "USD",
    "CNY",
    "usd",
    "",
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from((0, -1, 1, 2**48, 2**48 + 1, 2**63, 2**64 - 1, 2**64))
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(GENESIS_STRINGS)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(GENESIS_FIELDS) | st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def check_genesis_text(text: str) -> None:
    """`parse_genesis` gives a usable genesis or raises DecodeError; nothing else."""
    try:
        genesis = parse_genesis(text)
    except DecodeError:
        return
    check_usable(genesis)


def check_usable(genesis: Genesis) -> None:
    assert check_state(genesis.state) == []
    header = genesis.header(StateTree.from_items(genesis.state.tree_items(), 2))
    assert BlockHeader.decode(header.encode()) == header
    assert ValidatorSet.decode(genesis.validators.encode()) == genesis.validators
    for acct in genesis.state.accounts.values():
        assert Account.decode(acct.encode()) == acct
    for info in genesis.state.assets.values():
        assert AssetInfo.decode(info.encode()) == info


def test_the_valid_genesis_parses() -> None:
    check_usable(parse_genesis(json.dumps(VALID_GENESIS)))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_genesis_random_text(text: str) -> None:
    check_genesis_text(text)


@settings(max_examples=200, deadline=None)
@given(doc=json_values)
def test_genesis_random_json(doc: Any) -> None:
    check_genesis_text(json.dumps(doc))


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value (a path of keys and indexes), the root first."""
    found = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            found += _paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _paths(v, (*here, i))
    return found


def _edit(doc: Any, path: tuple[Any, ...], action: str, new: Any, name: str) -> Any:
    """`doc` with the value at `path` replaced, deleted, duplicated, or given a new field."""
    if not path:
        return new if action == "replace" else doc
    *parent_path, last = path
    parent = doc
    for step in parent_path:
        parent = parent[step]
    if action == "replace":
        parent[last] = new
    elif action == "delete":
        del parent[last]
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(last, copy.deepcopy(parent[last]))
    elif isinstance(parent[last], dict):
        parent[last][name] = new
    return doc


@settings(max_examples=400, deadline=None)
@given(data=st.data(), n_edits=st.integers(1, 3))
def test_genesis_mutated_document(data: st.DataObject, n_edits: int) -> None:
    doc = copy.deepcopy(VALID_GENESIS)
    for _ in range(n_edits):
        path = data.draw(st.sampled_from(_paths(doc)[1:]), "path")  # not the root
        action = data.draw(st.sampled_from(("replace", "delete", "duplicate", "add field")))
        new = data.draw(json_scalars | json_values, "new value")
        name = data.draw(st.sampled_from(GENESIS_FIELDS), "field")
        doc = _edit(doc, path, action, new, name)
    check_genesis_text(json.dumps(doc))


@settings(max_examples=200, deadline=None)
@given(edits=st.lists(mutations, min_size=1, max_size=4))
def test_genesis_mutated_text(edits: list[tuple[Any, ...]]) -> None:
    text = json.dumps(VALID_GENESIS).encode()
    for edit in edits:
        text = mutate(text, edit)
    try:
        decoded = text.decode()
    except UnicodeDecodeError:
        decoded = text.decode("latin-1")
    check_genesis_text(decoded)


# --- Genesis bugs found by fuzzing, now fixed: each must stay a DecodeError -----------------


def _with(**changes: Any) -> str:
    doc = copy.deepcopy(VALID_GENESIS)
    doc.update(changes)
    return json.dumps(doc)


def test_genesis_deeply_nested_json_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        parse_genesis("[" * 100_000)


def test_genesis_huge_integer_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        text = _with(genesis_time_ms=12345).replace("12345", "9" * 5000)
        parse_genesis(text)


def test_genesis_chain_id_with_lone_surrogate_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        parse_genesis(_with(chain_id="corridor-\ud800"))


@pytest.mark.parametrize("case", ["power over POWER_MAX", "too many validators"])
def test_genesis_validator_limits_are_decode_errors(case: str) -> None:
    if case == "power over POWER_MAX":
        validators = [{**VALID_GENESIS["validators"][0], "power": POWER_MAX + 1}]
    else:
        validators = [
            {"public_key": keys.encode_public_key(key(f"v{i}").public_key), "power": 1}
            for i in range(VALIDATORS_MAX + 1)
        ]
    with pytest.raises(DecodeError):
        parse_genesis(_with(validators=validators))


@pytest.mark.parametrize("field", ["assets", "balances"])
@pytest.mark.parametrize("value", [None, 5, 1.5, True])
def test_genesis_assets_and_balances_must_be_lists(field: str, value: Any) -> None:
    with pytest.raises(DecodeError):
        parse_genesis(_with(**{field: value}))


def test_genesis_time_beyond_u64_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        parse_genesis(_with(genesis_time_ms=2**64)).header().encode()


@pytest.mark.parametrize("value", [{}, ""])
def test_genesis_empty_non_list_assets_and_balances_are_decode_errors(value: Any) -> None:
    with pytest.raises(DecodeError):
        parse_genesis(_with(assets=value, balances=value))
