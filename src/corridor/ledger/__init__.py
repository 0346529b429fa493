"""The ledger core: a pure, deterministic state transition every node runs.

No clock, no I/O, no randomness, no logging in this package (shared/ARCHITECTURE.md).
"""
