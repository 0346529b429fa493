"""Protocol limits: every bound of the ledger in one place (STYLE 12).

Changing any of these changes which transactions and blocks are valid: a new rules version.
"""

from __future__ import annotations

AMOUNT_MAX = 2**63 - 1  # minor units; sums of balances per asset never exceed it
OPERATIONS_MAX = 100  # operations per transaction
SIGNATURES_MAX = 20  # signatures per transaction
SIGNERS_MAX = 20  # signers per account
SIGNER_WEIGHT_MAX = 255
MEMO_BYTES_MAX = 256
ASSET_CODE_LEN_MAX = 12
ASSET_DECIMALS_MAX = 18
HOLDINGS_MAX = 64  # assets one account may hold
TX_BYTES_MAX = 64 * 1024
BLOCK_TXS_MAX = 10_000
BLOCK_BYTES_MAX = 16 * 1024 * 1024
CHAIN_ID_LEN_MAX = 32
VALIDATORS_MAX = 128
BLOCK_EVIDENCE_MAX = 16  # double-signing evidence records per block
EVIDENCE_AGE_MAX = 1_000  # heights: evidence of height e is valid in blocks e+1 .. e+1000

assert SIGNATURES_MAX >= SIGNERS_MAX
assert OPERATIONS_MAX * 300 < TX_BYTES_MAX  # a full transaction of typical operations fits
assert BLOCK_TXS_MAX * 200 <= BLOCK_BYTES_MAX
assert BLOCK_EVIDENCE_MAX * 1024 < BLOCK_BYTES_MAX // 100  # evidence is a sliver of a block
