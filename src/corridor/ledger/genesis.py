"""The genesis document and the initial state it deterministically produces.

A genesis document is JSON (text addresses and keys, integer minor units):

    {"chain_id": "corridor-local", "genesis_time_ms": 1767225600000,
     "validators": [{"public_key": "p...", "power": 1}],
     "accounts": [{"public_key": "p...", "signers": [...], "threshold": 1}],
     "assets": [{"code": "USD", "issuer": "c...", "decimals": 2, "auth_required": true,
                 "freezable": true, "clawback": true}],
     "balances": [{"holder": "c...", "code": "USD", "issuer": "c...", "amount": 100000}]}

`signers`/`threshold` are optional (default: the account's own key, weight 1, threshold 1).
A balance entry also authorises the holder for an auth_required asset (amount may be 0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from corridor.ledger import keys
from corridor.ledger.assets import Asset, is_valid_asset_code
from corridor.ledger.block import POWER_MAX, ZERO_HASH, BlockHeader, Validator, ValidatorSet
from corridor.ledger.errors import DecodeError, RejectCode
from corridor.ledger.limits import (
    AMOUNT_MAX,
    ASSET_DECIMALS_MAX,
    CHAIN_ID_LEN_MAX,
    HOLDINGS_MAX,
    SIGNER_WEIGHT_MAX,
    SIGNERS_MAX,
    VALIDATORS_MAX,
)
from corridor.ledger.merkle import merkle_root
from corridor.ledger.records import Account, AssetInfo, Holding, asset_sort_key
from corridor.ledger.state import MemoryState
from corridor.ledger.statetree import StateTree
from corridor.ledger.tx import Signer


@dataclass(frozen=True, slots=True, kw_only=True)
class Genesis:
    """A parsed, validated genesis document and what it produces."""

    chain_id: str
    genesis_time_ms: int
    validators: ValidatorSet
    state: MemoryState
    document: dict[str, Any]

    def tree(self) -> StateTree:
        return StateTree.from_items(self.state.tree_items())

    def header(self, tree: StateTree | None = None) -> BlockHeader:
        """The header of height 0: its hash is the parent of block 1."""
        root = (tree or self.tree()).root
        return BlockHeader(
            chain_id=self.chain_id,
            height=0,
            time_ms=self.genesis_time_ms,
            previous_hash=ZERO_HASH,
            last_commit_hash=ZERO_HASH,
            tx_count=0,
            tx_root=merkle_root([]),
            result_root=merkle_root([]),
            evidence_root=merkle_root([]),
            state_root=root,
            validator_set_hash=self.validators.hash(),
            proposer=bytes(keys.ADDRESS_LEN),
        )


def _bad(message: str) -> DecodeError:
    return DecodeError(RejectCode.MALFORMED, f"genesis: {message}")


def _field(obj: Any, name: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict) or name not in obj:
        raise _bad(f"{where} needs the field {name!r}")
    value = obj[name]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise _bad(f"{where}.{name} must be an integer")
    if not isinstance(value, kind):
        raise _bad(f"{where}.{name} must be a {kind.__name__}")
    return value


def _signers(entry: dict[str, Any], where: str, own_key: bytes) -> tuple[tuple[Signer, ...], int]:
    if "signers" not in entry:
        return (Signer(public_key=own_key, weight=1),), 1
    raw = _field(entry, "signers", list, where)
    signers = []
    for i, s in enumerate(raw):
        weight = _field(s, "weight", int, f"{where}.signers[{i}]")
        if not 1 <= weight <= SIGNER_WEIGHT_MAX:
            raise _bad(f"{where}.signers[{i}].weight must be 1..{SIGNER_WEIGHT_MAX}")
        pk = keys.decode_public_key(_field(s, "public_key", str, f"{where}.signers[{i}]"))
        signers.append(Signer(public_key=pk, weight=weight))
    signers.sort(key=lambda s: s.public_key)
    pks = [s.public_key for s in signers]
    if not 1 <= len(pks) <= SIGNERS_MAX or len(set(pks)) != len(pks):
        raise _bad(f"{where}.signers: 1-{SIGNERS_MAX} distinct keys")
    threshold = _field(entry, "threshold", int, where)
    if not 1 <= threshold <= sum(s.weight for s in signers):
        raise _bad(f"{where}.threshold must be reachable by the signers' weight")
    return tuple(signers), threshold


def parse_genesis(text: str) -> Genesis:
    """Parses and validates a genesis document; raises `DecodeError` naming the bad field."""
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _bad(f"not valid JSON ({exc})") from None
    except RecursionError:
        raise _bad("JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal over Python's digit limit
        raise _bad(f"not acceptable JSON ({exc})") from None
    return genesis_from_document(doc)


def genesis_from_document(doc: Any) -> Genesis:
    if not isinstance(doc, dict):
        raise _bad("the document must be a JSON object")
    chain_id = _field(doc, "chain_id", str, "genesis")
    try:
        chain_id_bytes = chain_id.encode()
    except UnicodeEncodeError:
        raise _bad("chain_id is not valid Unicode text") from None
    if not 1 <= len(chain_id_bytes) <= CHAIN_ID_LEN_MAX:
        raise _bad(f"chain_id must be 1-{CHAIN_ID_LEN_MAX} bytes")
    time_ms = _field(doc, "genesis_time_ms", int, "genesis")
    if not 0 <= time_ms < 2**64:
        raise _bad("genesis_time_ms must be 0..2**64-1")
    validators = []
    raw_validators = _field(doc, "validators", list, "genesis")
    if len(raw_validators) > VALIDATORS_MAX:
        raise _bad(f"at most {VALIDATORS_MAX} validators")
    for i, v in enumerate(raw_validators):
        pk = keys.decode_public_key(_field(v, "public_key", str, f"validators[{i}]"))
        power = _field(v, "power", int, f"validators[{i}]")
        if not 1 <= power <= POWER_MAX:
            raise _bad(f"validators[{i}].power must be 1..{POWER_MAX}")
        validators.append(Validator(pk, power))
    validators.sort(key=lambda v: v.public_key)
    vkeys = [v.public_key for v in validators]
    if not validators or len(set(vkeys)) != len(vkeys) or any(v.power < 1 for v in validators):
        raise _bad("validators: at least one, distinct keys, power at least 1")
    state = MemoryState()
    for i, entry in enumerate(_field(doc, "accounts", list, "genesis")):
        where = f"accounts[{i}]"
        pk = keys.decode_public_key(_field(entry, "public_key", str, where))
        address = keys.address_of(pk)
        if address in state.accounts:
            raise _bad(f"{where} repeats an account")
        signers, threshold = _signers(entry, where, pk)
        state.accounts[address] = Account(address, 0, threshold, signers, ())
    for section, add in (("assets", _add_asset), ("balances", _add_balance)):
        entries = doc.get(section, [])
        if not isinstance(entries, list):
            raise _bad(f"{section} must be a list")
        for i, entry in enumerate(entries):
            add(state, entry, f"{section}[{i}]")
    return Genesis(
        chain_id=chain_id,
        genesis_time_ms=time_ms,
        validators=ValidatorSet(tuple(validators)),
        state=state,
        document=doc,
    )


def _add_asset(state: MemoryState, entry: Any, where: str) -> None:
    code = _field(entry, "code", str, where)
    if not is_valid_asset_code(code):
        raise _bad(f"{where}.code {code!r} is not a valid asset code")
    issuer = keys.decode_address(_field(entry, "issuer", str, where))
    if issuer not in state.accounts:
        raise _bad(f"{where}.issuer is not a genesis account")
    decimals = _field(entry, "decimals", int, where)
    if not 0 <= decimals <= ASSET_DECIMALS_MAX:
        raise _bad(f"{where}.decimals must be 0..{ASSET_DECIMALS_MAX}")
    flags = {}
    for flag in ("auth_required", "freezable", "clawback"):
        value = entry.get(flag, False)
        if not isinstance(value, bool):
            raise _bad(f"{where}.{flag} must be true or false")
        flags[flag] = value
    asset = Asset(code, issuer)
    if asset in state.assets:
        raise _bad(f"{where} repeats an asset")
    state.assets[asset] = AssetInfo(asset, decimals, supply=0, **flags)


def _add_balance(state: MemoryState, entry: Any, where: str) -> None:
    holder = keys.decode_address(_field(entry, "holder", str, where))
    asset = Asset(
        _field(entry, "code", str, where), keys.decode_address(_field(entry, "issuer", str, where))
    )
    amount = _field(entry, "amount", int, where)
    info = state.assets.get(asset)
    acct = state.accounts.get(holder)
    if info is None or acct is None:
        raise _bad(f"{where} names an unknown asset or holder")
    if holder == asset.issuer:
        raise _bad(f"{where}: an issuer cannot hold its own asset")
    if not 0 <= amount <= AMOUNT_MAX - info.supply:
        raise _bad(f"{where}.amount must be 0..{AMOUNT_MAX} in total")
    if acct.holding(asset) is not None or len(acct.holdings) >= HOLDINGS_MAX:
        raise _bad(f"{where} repeats a holding or exceeds {HOLDINGS_MAX} holdings")
    holdings = sorted(
        (*acct.holdings, Holding(asset, amount, True, False)), key=lambda h: asset_sort_key(h.asset)
    )
    state.accounts[holder] = Account(
        acct.address, acct.sequence, acct.threshold, acct.signers, tuple(holdings)
    )
    state.assets[asset] = AssetInfo(
        asset,
        info.decimals,
        info.auth_required,
        info.freezable,
        info.clawback,
        info.supply + amount,
    )
