"""Views of the ledger state.

`apply_tx` and `apply_block` read a `StateView` and return a new view; they never mutate the
one they were given. The new view is an `Overlay`: the writes of the transaction or block on
top of its parent. A transaction applies straight into its block's overlay and journals each
write, so a rejected one is undone in place (cheaper than a scratch overlay per transaction,
which cost a layer of lookups and a merge on the hot path; docs/decisions/0002).
The node shell owns the committed `MemoryState` (or its on-disk twin) and merges a block's
overlay into it when the block commits; only then are older overlays stale.
This is what lets a validator execute a proposed block speculatively and throw it away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from corridor.ledger.assets import Asset
from corridor.ledger.records import (
    Account,
    AssetInfo,
    Escrow,
    Offence,
    account_key,
    asset_key,
    escrow_key,
    offence_key,
    value_hash,
)


class StateView(Protocol):
    """Read access to accounts, assets and escrows: the port the state transition needs."""

    def account(self, address: bytes) -> Account | None: ...

    def asset(self, asset: Asset) -> AssetInfo | None: ...

    def escrow(self, escrow_id: bytes) -> Escrow | None: ...

    def offence(self, offence_id: bytes) -> Offence | None: ...


ABSENT = object()  # in a journal entry: the key was not in the dict before the write


class Overlay:
    """Writes layered over a parent view. Escrows map to None once finished or cancelled."""

    __slots__ = (
        "accounts",
        "assets",
        "bump_address",
        "bump_sequence",
        "escrows",
        "offences",
        "parent",
        "parent_account",
        "parent_asset",
        "undo",
    )

    def __init__(self, parent: StateView) -> None:
        self.parent = parent
        # Bound once: lookups walk the layers often, and the rules' hot path calls these two
        # directly (`accounts.get(a) or parent_account(a)`). Over the committed state, the
        # usual parent, they are its dicts' C `get`: a Python frame less per read.
        self.parent_account: Callable[[bytes], Account | None]
        self.parent_asset: Callable[[Asset], AssetInfo | None]
        if type(parent) is MemoryState:
            self.parent_account = parent.accounts.get
            self.parent_asset = parent.assets.get
        else:
            self.parent_account = parent.account
            self.parent_asset = parent.asset
        self.accounts: dict[bytes, Account] = {}
        self.assets: dict[Asset, AssetInfo] = {}
        self.escrows: dict[bytes, Escrow | None] = {}
        # Written by a block's evidence (chain.record_evidence), never by a transaction.
        self.offences: dict[bytes, Offence] = {}
        # While a transaction applies: its source and new sequence, so the source account is
        # rebuilt once (with its balances and its sequence) rather than twice.
        self.bump_address = b""
        self.bump_sequence = 0
        # The current transaction's writes as (dict, key, value before or ABSENT).
        self.undo: list[tuple[dict[Any, Any], object, object]] = []

    def account(self, address: bytes) -> Account | None:
        found = self.accounts.get(address)
        return found if found is not None else self.parent_account(address)

    def asset(self, asset: Asset) -> AssetInfo | None:
        found = self.assets.get(asset)
        return found if found is not None else self.parent_asset(asset)

    def escrow(self, escrow_id: bytes) -> Escrow | None:
        found = self.escrows.get(escrow_id, ABSENT)
        if found is ABSENT:
            return self.parent.escrow(escrow_id)
        assert found is None or isinstance(found, Escrow)
        return found

    def offence(self, offence_id: bytes) -> Offence | None:
        found = self.offences.get(offence_id)
        return found if found is not None else self.parent.offence(offence_id)

    def put_account(self, acct: Account) -> None:
        accounts = self.accounts
        self.undo.append((accounts, acct.address, accounts.get(acct.address, ABSENT)))
        accounts[acct.address] = acct

    def put_asset(self, info: AssetInfo) -> None:
        assets = self.assets
        self.undo.append((assets, info.asset, assets.get(info.asset, ABSENT)))
        assets[info.asset] = info

    def put_escrow(self, escrow_id: bytes, escrow: Escrow | None) -> None:
        """Writes an escrow, or None once it is finished or cancelled."""
        escrows = self.escrows
        self.undo.append((escrows, escrow_id, escrows.get(escrow_id, ABSENT)))
        escrows[escrow_id] = escrow

    def rollback(self) -> None:
        """Undoes the journalled writes, newest first, and empties the journal."""
        undo = self.undo
        while undo:
            written, key, before = undo.pop()
            if before is ABSENT:
                del written[key]
            else:
                written[key] = before

    def is_empty(self) -> bool:
        return not (self.accounts or self.assets or self.escrows or self.offences)

    def tree_updates(self) -> Iterator[tuple[bytes, bytes | None]]:
        """(state key, value hash or None for a deletion) for every write: the tree's input."""
        for address, acct in self.accounts.items():
            yield account_key(address), value_hash(acct.encode())
        for asset, info in self.assets.items():
            yield asset_key(asset), value_hash(info.encode())
        for escrow_id, escrow in self.escrows.items():
            yield escrow_key(escrow_id), None if escrow is None else value_hash(escrow.encode())
        for oid, offence in self.offences.items():
            yield offence_key(oid), value_hash(offence.encode())


class MemoryState:
    """The committed state in memory: plain dicts, mutated only by the shell via `commit`."""

    __slots__ = ("accounts", "assets", "escrows", "offences")

    def __init__(self) -> None:
        self.accounts: dict[bytes, Account] = {}
        self.assets: dict[Asset, AssetInfo] = {}
        self.escrows: dict[bytes, Escrow] = {}
        self.offences: dict[bytes, Offence] = {}  # by offence id; never removed

    def account(self, address: bytes) -> Account | None:
        return self.accounts.get(address)

    def asset(self, asset: Asset) -> AssetInfo | None:
        return self.assets.get(asset)

    def escrow(self, escrow_id: bytes) -> Escrow | None:
        return self.escrows.get(escrow_id)

    def offence(self, offence_id: bytes) -> Offence | None:
        return self.offences.get(offence_id)

    def copy(self) -> MemoryState:
        """An independent copy (the records are immutable, so the dicts are all it copies)."""
        twin = MemoryState()
        twin.accounts = dict(self.accounts)
        twin.assets = dict(self.assets)
        twin.escrows = dict(self.escrows)
        twin.offences = dict(self.offences)
        return twin

    def commit(self, overlay: Overlay) -> None:
        """Merges a block's writes. Every overlay built on the old contents is now stale."""
        self.accounts.update(overlay.accounts)
        self.assets.update(overlay.assets)
        for escrow_id, escrow in overlay.escrows.items():
            if escrow is None:
                self.escrows.pop(escrow_id, None)
            else:
                self.escrows[escrow_id] = escrow
        self.offences.update(overlay.offences)

    def tree_items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (state key, value hash): the input of a full state-tree build."""
        for address, acct in self.accounts.items():
            yield account_key(address), value_hash(acct.encode())
        for asset, info in self.assets.items():
            yield asset_key(asset), value_hash(info.encode())
        for escrow_id, escrow in self.escrows.items():
            yield escrow_key(escrow_id), value_hash(escrow.encode())
        for oid, offence in self.offences.items():
            yield offence_key(oid), value_hash(offence.encode())
