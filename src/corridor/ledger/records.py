"""What the ledger stores: accounts (with their holdings), assets, escrows.

Every record has a canonical encoding; the state tree commits to sha256 of it under a key
that is sha256 of a kind tag and the record's id, so keys spread evenly over the tree.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import NamedTuple

from corridor.ledger.assets import Asset, check_asset_code, is_valid_asset_code
from corridor.ledger.codec import Reader, Writer, decode_all, require_strictly_sorted
from corridor.ledger.keys import ADDRESS_LEN, PUBLIC_KEY_LEN
from corridor.ledger.limits import ASSET_CODE_LEN_MAX, HOLDINGS_MAX, SIGNER_WEIGHT_MAX, SIGNERS_MAX
from corridor.ledger.tx import HASH_LEN, Signer

AssetCache = dict[bytes, Asset]
"""Interned assets by their encoding (u16 length, code, issuer), filled only by the decoders
here: one `Asset` instance for the holdings of a million accounts, checked once."""


class Holding(NamedTuple):
    """One account's position in one asset. `authorised` matters for auth_required assets.

    Holding and Account are NamedTuples rather than frozen dataclasses (STYLE 2, deviation):
    every payment builds new ones, and tuple construction runs in C, about 3x faster
    (measured; see docs/decisions/0002-ledger-hot-path.md).
    """

    asset: Asset
    balance: int
    authorised: bool
    frozen: bool


class Account(NamedTuple):
    """An account: its signers and threshold, its last used sequence, its holdings
    (sorted by asset, at most HOLDINGS_MAX)."""

    address: bytes
    sequence: int
    threshold: int
    signers: tuple[Signer, ...]
    holdings: tuple[Holding, ...]

    def holding(self, asset: Asset) -> Holding | None:
        for h in self.holdings:
            if h.asset == asset:
                return h
        return None

    def balance(self, asset: Asset) -> int:
        h = self.holding(asset)
        return 0 if h is None else h.balance

    def encode(self) -> bytes:
        """The canonical encoding (codec rules), packed with struct rather than a Writer:
        every block encodes each account it touches twice (state tree, state store), and a
        node's start encodes all of them. Same bytes, same failures on bad values."""
        assert len(self.address) == ADDRESS_LEN
        parts = [_ACCOUNT_HEAD.pack(self.address, self.sequence, self.threshold, len(self.signers))]
        for s in self.signers:
            assert len(s.public_key) == PUBLIC_KEY_LEN and 0 <= s.weight <= 0xFF, s
            parts.append(_SIGNER.pack(s.public_key, s.weight))
        parts.append(_U16.pack(len(self.holdings)))
        for asset, balance, authorised, frozen in self.holdings:
            code = asset.code.encode()
            assert len(asset.issuer) == ADDRESS_LEN
            parts += (_U16.pack(len(code)), code, asset.issuer)
            parts.append(_HOLDING_TAIL.pack(balance, 1 if authorised else 0, 1 if frozen else 0))
        return b"".join(parts)

    @staticmethod
    def decode(data: bytes, assets: AssetCache | None = None) -> Account:
        """The account `data` encodes, or DecodeError. `assets` interns the holdings' assets
        across calls (`AssetCache`); a fresh one is used when it is None."""
        if type(data) is bytes:
            account = _fast_account(data, {} if assets is None else assets)
            if account is not None:
                return account
        # Anything unusual: the generic reader, which gives the exact error.
        return decode_all(data, _read_account)


# The fast path of Account.decode (a node loads millions at start): struct over the
# fixed-width fields. It accepts exactly what _read_account accepts and returns the same
# value, or returns None and leaves the verdict (and the error message) to _read_account, so
# errors come from one place. tests/ledger/test_decoding_fuzz.py checks that whatever decodes
# re-encodes to the same bytes.
_ACCOUNT_HEAD = struct.Struct(f">{ADDRESS_LEN}sQHH")  # address, sequence, threshold, signers
_SIGNER = struct.Struct(f">{PUBLIC_KEY_LEN}sB")
_U16 = struct.Struct(">H")
_HOLDING_TAIL = struct.Struct(">QBB")  # balance, authorised, frozen (after the asset)
assert SIGNER_WEIGHT_MAX == 0xFF  # so any weight byte but 0 is in range


def _fast_account(data: bytes, assets: AssetCache) -> Account | None:
    try:
        address, sequence, threshold, n_signers = _ACCOUNT_HEAD.unpack_from(data)
        pos = _ACCOUNT_HEAD.size
        if n_signers > SIGNERS_MAX:
            return None
        signers = []
        previous_key = b""
        for _ in range(n_signers):
            key, weight = _SIGNER.unpack_from(data, pos)
            pos += _SIGNER.size
            if weight == 0 or not previous_key < key:  # b"" < any 32-byte key
                return None
            previous_key = key
            signers.append(Signer(public_key=key, weight=weight))
        (n_holdings,) = _U16.unpack_from(data, pos)
        pos += 2
        if n_holdings > HOLDINGS_MAX:
            return None
        holdings = []
        previous_sort_key = b""
        for _ in range(n_holdings):
            (code_len,) = _U16.unpack_from(data, pos)
            end = pos + 2 + code_len + ADDRESS_LEN
            encoded = data[pos:end]
            asset = assets.get(encoded)
            if asset is None:
                asset = _new_asset(encoded, code_len)
                if asset is None:
                    return None
                assets[encoded] = asset
            balance, authorised, frozen = _HOLDING_TAIL.unpack_from(data, end)
            pos = end + _HOLDING_TAIL.size
            if authorised > 1 or frozen > 1:
                return None
            if n_holdings > 1:
                sort_key = asset.issuer + encoded[2 : 2 + code_len]  # asset_sort_key
                if not previous_sort_key < sort_key:
                    return None
                previous_sort_key = sort_key
            holdings.append(Holding(asset, balance, authorised == 1, frozen == 1))
    except struct.error:  # truncated
        return None
    if pos != len(data):
        return None
    return Account(address, sequence, threshold, tuple(signers), tuple(holdings))


def _new_asset(encoded: bytes, code_len: int) -> Asset | None:
    """The asset of a complete, valid encoding (what Asset.read accepts), else None."""
    if code_len > ASSET_CODE_LEN_MAX or len(encoded) != 2 + code_len + ADDRESS_LEN:
        return None
    try:
        code = encoded[2 : 2 + code_len].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not is_valid_asset_code(code):
        return None
    return Asset(code, encoded[2 + code_len :])


def _read_holding(r: Reader) -> Holding:
    return Holding(Asset.read(r), r.u64(), r.boolean(), r.boolean())


def _read_account(r: Reader) -> Account:
    address = r.fixed(ADDRESS_LEN)
    sequence = r.u64()
    threshold = r.u16()
    signers = r.items(SIGNERS_MAX, "signers", Signer.read)
    require_strictly_sorted([s.public_key for s in signers], "signers")
    holdings = r.items(HOLDINGS_MAX, "holdings", _read_holding)
    require_strictly_sorted([asset_sort_key(h.asset) for h in holdings], "holdings")
    return Account(address, sequence, threshold, signers, holdings)


def asset_sort_key(asset: Asset) -> bytes:
    return asset.issuer + asset.code.encode()


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """An asset's declaration and its outstanding supply (sum of all holdings and escrows)."""

    asset: Asset
    decimals: int
    auth_required: bool
    freezable: bool
    clawback: bool
    supply: int

    def encode(self) -> bytes:
        w = Writer()
        self.asset.encode_into(w)
        w.u8(self.decimals).boolean(self.auth_required).boolean(self.freezable)
        return w.boolean(self.clawback).u64(self.supply).getvalue()

    @staticmethod
    def decode(data: bytes) -> AssetInfo:
        def read(r: Reader) -> AssetInfo:
            asset = Asset.read(r)
            check_asset_code(asset.code)
            return AssetInfo(asset, r.u8(), r.boolean(), r.boolean(), r.boolean(), r.u64())

        return decode_all(data, read)


@dataclass(frozen=True, slots=True)
class Escrow:
    """Funds locked by `owner` for `destination` until a hash lock and/or time condition."""

    escrow_id: bytes
    owner: bytes
    destination: bytes
    asset: Asset
    amount: int
    hashlock: bytes | None
    finish_after_ms: int | None
    cancel_after_ms: int | None

    def encode(self) -> bytes:
        w = Writer().fixed(self.escrow_id, HASH_LEN).fixed(self.owner, ADDRESS_LEN)
        w.fixed(self.destination, ADDRESS_LEN)
        self.asset.encode_into(w)
        w.u64(self.amount).optional_fixed(self.hashlock, HASH_LEN)
        return w.optional_u64(self.finish_after_ms).optional_u64(self.cancel_after_ms).getvalue()

    @staticmethod
    def decode(data: bytes) -> Escrow:
        def read(r: Reader) -> Escrow:
            return Escrow(
                r.fixed(HASH_LEN),
                r.fixed(ADDRESS_LEN),
                r.fixed(ADDRESS_LEN),
                Asset.read(r),
                r.u64(),
                r.optional_fixed(HASH_LEN),
                r.optional_u64(),
                r.optional_u64(),
            )

        return decode_all(data, read)


@dataclass(frozen=True, slots=True)
class Offence:
    """A double signing recorded on chain: `validator` signed two values for one (vote type,
    height, round) slot, proven by the evidence of hash `evidence_hash`, recorded by block
    `recorded_height`. One per slot (`offence_id`): other pairs of votes for the same slot
    are the same offence and are refused (EVIDENCE_RECORDED)."""

    validator: bytes  # public key
    vote_type: int
    height: int
    round: int
    evidence_hash: bytes
    recorded_height: int

    @property
    def offence_id(self) -> bytes:
        return offence_id(self.validator, self.vote_type, self.height, self.round)

    def encode(self) -> bytes:
        w = Writer().fixed(self.validator, PUBLIC_KEY_LEN).u8(self.vote_type).u64(self.height)
        w.u32(self.round).fixed(self.evidence_hash, HASH_LEN)
        return w.u64(self.recorded_height).getvalue()

    @staticmethod
    def decode(data: bytes) -> Offence:
        def read(r: Reader) -> Offence:
            return Offence(
                r.fixed(PUBLIC_KEY_LEN), r.u8(), r.u64(), r.u32(), r.fixed(HASH_LEN), r.u64()
            )

        return decode_all(data, read)


def offence_id(validator: bytes, vote_type: int, height: int, round_: int) -> bytes:
    """The slot of an offence: public key, vote type, height, round (45 bytes)."""
    return (
        Writer().fixed(validator, PUBLIC_KEY_LEN).u8(vote_type).u64(height).u32(round_).getvalue()
    )


# State-tree keys: sha256(kind tag || id). Tags are part of the protocol.
_ACCOUNT_TAG = b"corridor:state:account:"
_ASSET_TAG = b"corridor:state:asset:"
_ESCROW_TAG = b"corridor:state:escrow:"
_OFFENCE_TAG = b"corridor:state:offence:"


def account_key(address: bytes) -> bytes:
    return hashlib.sha256(_ACCOUNT_TAG + address).digest()


def asset_key(asset: Asset) -> bytes:
    return hashlib.sha256(_ASSET_TAG + asset_sort_key(asset)).digest()


def escrow_key(escrow_id: bytes) -> bytes:
    return hashlib.sha256(_ESCROW_TAG + escrow_id).digest()


def offence_key(offence_id: bytes) -> bytes:
    return hashlib.sha256(_OFFENCE_TAG + offence_id).digest()


def value_hash(encoded: bytes) -> bytes:
    return hashlib.sha256(encoded).digest()


assert ASSET_CODE_LEN_MAX < 256
