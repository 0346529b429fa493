"""Evidence of double signing. The record lives in the ledger, which checks and records it
on chain (docs/decisions/0003-evidence-on-chain.md); consensus reports it."""

from corridor.ledger.evidence import DuplicateVoteEvidence

__all__ = ["DuplicateVoteEvidence"]
