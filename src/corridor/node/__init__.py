"""The node shell: storage, mempool, transport, RPC around the pure ledger core.

Everything with I/O lives here (STYLE 1); the ledger and consensus cores stay pure.
"""
