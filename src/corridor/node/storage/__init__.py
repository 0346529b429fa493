"""The node's storage: block store (the write-ahead log) and state store, with recovery.

Ports in `ports`, in-memory twins in `memory`, the on-disk store in `sqlite`.
"""

from .errors import StorageCorrupt
from .memory import MemoryBlockStore, MemoryStateStore
from .ports import (
    ACCOUNT_TXS_LIMIT_MAX,
    UNINITIALISED_ROOT,
    BlockStore,
    StateStore,
    escrow_parties,
    recover,
    tx_addresses,
)
from .sqlite import SqliteStore

__all__ = [
    "ACCOUNT_TXS_LIMIT_MAX",
    "UNINITIALISED_ROOT",
    "BlockStore",
    "MemoryBlockStore",
    "MemoryStateStore",
    "SqliteStore",
    "StateStore",
    "StorageCorrupt",
    "escrow_parties",
    "recover",
    "tx_addresses",
]
