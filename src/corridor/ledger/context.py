"""What a transaction may know about where it runs: the chain, the height, the block time."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyContext:
    chain_id: str
    height: int
    time_ms: int  # the block's time, set by its proposer; validity windows and escrows use it
