"""What the ledger stores: accounts (with their holdings), assets, escrows.

Every record has a canonical encoding; the state tree commits to sha256 of it under a key
that is sha256 of a kind tag and the record's id, so keys spread evenly over the tree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from corridor.ledger.assets import Asset, check_asset_code
from corridor.ledger.codec import Reader, Writer, decode_all, require_strictly_sorted
from corridor.ledger.keys import ADDRESS_LEN
from corridor.ledger.limits import ASSET_CODE_LEN_MAX, HOLDINGS_MAX, SIGNERS_MAX
from corridor.ledger.tx import HASH_LEN, Signer


@dataclass(frozen=True, slots=True)
class Holding:
    """One account's position in one asset. `authorised` matters for auth_required assets."""

    asset: Asset
    balance: int
    authorised: bool
    frozen: bool


@dataclass(frozen=True, slots=True)
class Account:
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
        w = Writer().fixed(self.address, ADDRESS_LEN).u64(self.sequence).u16(self.threshold)
        w.count(len(self.signers))
        for s in self.signers:
            s.encode_into(w)
        w.count(len(self.holdings))
        for h in self.holdings:
            h.asset.encode_into(w)
            w.u64(h.balance).boolean(h.authorised).boolean(h.frozen)
        return w.getvalue()

    @staticmethod
    def decode(data: bytes) -> Account:
        return decode_all(data, _read_account)


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


# State-tree keys: sha256(kind tag || id). Tags are part of the protocol.
_ACCOUNT_TAG = b"corridor:state:account:"
_ASSET_TAG = b"corridor:state:asset:"
_ESCROW_TAG = b"corridor:state:escrow:"


def account_key(address: bytes) -> bytes:
    return hashlib.sha256(_ACCOUNT_TAG + address).digest()


def asset_key(asset: Asset) -> bytes:
    return hashlib.sha256(_ASSET_TAG + asset_sort_key(asset)).digest()


def escrow_key(escrow_id: bytes) -> bytes:
    return hashlib.sha256(_ESCROW_TAG + escrow_id).digest()


def value_hash(encoded: bytes) -> bytes:
    return hashlib.sha256(encoded).digest()


assert ASSET_CODE_LEN_MAX < 256
