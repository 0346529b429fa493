"""Node limits: every bound of the node shell in one place (STYLE 12).

Unlike `corridor.ledger.limits`, these are local policy: changing one changes what this node
holds or accepts, never which blocks are valid.
"""

from __future__ import annotations

from corridor.ledger.limits import BLOCK_BYTES_MAX, BLOCK_EVIDENCE_MAX, BLOCK_TXS_MAX, TX_BYTES_MAX

# --- mempool ---------------------------------------------------------------------------------
MEMPOOL_TXS_MAX = 50_000  # pending transactions, ready and held
MEMPOOL_BYTES_MAX = 64 * 1024 * 1024  # sum of their encoded sizes
MEMPOOL_FUTURE_SEQUENCES_MAX = 16  # how far past its ready run an account's sequence may run
MEMPOOL_ACCOUNT_TXS_MAX = 1_000  # pending per source account: one sender cannot fill the pool

assert MEMPOOL_TXS_MAX >= BLOCK_TXS_MAX  # the pool can always fill a block
assert MEMPOOL_BYTES_MAX >= BLOCK_BYTES_MAX
assert MEMPOOL_BYTES_MAX >= MEMPOOL_TXS_MAX * 1024  # typical (< 1 KiB) txs hit the count first
assert TX_BYTES_MAX <= BLOCK_BYTES_MAX <= MEMPOOL_BYTES_MAX
assert 1 <= MEMPOOL_FUTURE_SEQUENCES_MAX <= MEMPOOL_ACCOUNT_TXS_MAX <= MEMPOOL_TXS_MAX

# --- block production --------------------------------------------------------------------
BLOCK_INTERVAL_MS_DEFAULT = 250  # at most one block per interval; none while idle
BLOCK_TXS_DEFAULT = 5_000  # per block, below the protocol's BLOCK_TXS_MAX
EVIDENCE_POOL_MAX = 256  # detected or submitted double signings waiting to be proposed
REJECTED_REMEMBERED_MAX = 100_000  # rejected tx ids kept for status queries (oldest forgotten)

assert BLOCK_TXS_DEFAULT <= BLOCK_TXS_MAX
assert EVIDENCE_POOL_MAX >= BLOCK_EVIDENCE_MAX  # the pool can always fill a block

# --- RPC ---------------------------------------------------------------------------------
RPC_BODY_BYTES_MAX = 8 * 1024 * 1024  # a full batch of hex-encoded transactions fits
RPC_BATCH_MAX = 1_000  # transactions per submit request
RPC_VERIFY_OFF_LOOP_MIN = 8  # a batch this big has its signatures verified on a worker thread
RPC_PAGE_MAX = 100  # items per page of account transactions
RPC_BLOCKS_PAGE_MAX = 100  # headers per "latest blocks" page
RPC_EVIDENCE_PAGE_MAX = 100  # recorded offences per page
EVENTS_HEARTBEAT_S = 15.0  # an SSE comment this often keeps idle connections alive
EVENTS_RECENT_DROPS_MAX = 1_000  # blocks whose mempool drops the event stream remembers
EVENTS_CACHED_BLOCKS_MAX = 64  # recent blocks' event text shared by all subscribers
EVENTS_RECENT_BLOCKS_MAX = 8  # committed blocks kept decoded for the event stream
VIEW_TEXT_FORMS_CACHED_MAX = 65_536  # address and key texts remembered by the JSON views

assert RPC_BATCH_MAX * 2 * 1024 <= RPC_BODY_BYTES_MAX  # 1 KiB txs, hex-encoded, fit a batch
assert RPC_BATCH_MAX <= MEMPOOL_TXS_MAX

# --- p2p ---------------------------------------------------------------------------------
# A frame is u32 length + type byte + payload; the largest is a proposal (its block) or a
# block-sync answer, whose blocks are packed only up to this bound (one always fits).
P2P_FRAME_BYTES_MAX = BLOCK_BYTES_MAX + 1024 * 1024
P2P_SEND_QUEUE_MAX = 4_096  # frames waiting for one slow peer; beyond, gossip is dropped
P2P_WRITE_BYTES_MAX = 256 * 1024  # queued frames joined into one write up to about this size
P2P_SEEN_MAX = 100_000  # gossip hashes remembered for de-duplication (LRU)
P2P_PEERS_MAX = 64  # entries of peers.json
P2P_HANDSHAKE_TIMEOUT_S = 5.0
P2P_RECONNECT_MS_MIN = 200  # first redial delay; doubles per failure ...
P2P_RECONNECT_MS_MAX = 5_000  # ... up to this
P2P_BAN_MS_MIN = 2_000  # a peer that sent garbage is refused this long; doubles per offence
P2P_BAN_MS_MAX = 60_000
P2P_SYNC_BLOCKS_MAX = 32  # blocks per block-sync answer
P2P_GOSSIP_TXS_MAX = 5_000  # mempool transactions relayed per gossip pass
CONSENSUS_WAL_BYTES_MAX = 256 * 1024 * 1024  # the per-height consensus log (refuses beyond)
CONSENSUS_WAL_FILE_BYTES_MAX = 64 * 1024 * 1024  # the log file, heights appended, then rewritten
CONSENSUS_BUFFER_HEIGHTS_MAX = 2  # messages of heights h+1 .. h+2 are kept while at h
CONSENSUS_BUFFER_PER_HEIGHT_MAX = 1_024
CONSENSUS_BUFFER_BLOCKS_PER_HEIGHT_MAX = 8  # buffered proposals (each carries a block)
CONSENSUS_CANDIDATES_MAX = 64  # distinct proposed blocks validated per height

assert P2P_FRAME_BYTES_MAX >= BLOCK_BYTES_MAX + 64 * 1024  # a proposal with a full block fits
assert P2P_RECONNECT_MS_MIN <= P2P_RECONNECT_MS_MAX and P2P_BAN_MS_MIN <= P2P_BAN_MS_MAX
assert P2P_GOSSIP_TXS_MAX <= MEMPOOL_TXS_MAX
CONSENSUS_IDLE_BLOCK_MS = 500  # with peers, a proposer waits this long for txs, then proposes
GOSSIP_INTERVAL_MS = 1_000  # status to peers; re-send of this height's messages when stuck
SYNC_PATIENCE_MS = 1_500  # one height behind a peer for this long: fetch blocks
SYNC_RETRY_MS = 500  # at most one block-sync request per this interval

assert CONSENSUS_IDLE_BLOCK_MS < 1_000  # below the machine's first propose timeout
