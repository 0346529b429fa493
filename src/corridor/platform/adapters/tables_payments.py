"""Tables of transfers (the settlement outbox) and its cursor, quotes and payments."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.outbox import OutboxCursor
from corridor.platform.domain.payments import Payment, Quote
from corridor.platform.domain.transfers import Transfer

transfers = sa.Table(
    "transfers", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("ref_id", ID, nullable=False, index=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("legs", Json, nullable=False),
    sa.Column("memo", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("sequence", sa.BigInteger),
    sa.Column("tx_id", sa.String(64), unique=True),
    sa.Column("tx_hex", sa.Text),
    sa.Column("height", sa.BigInteger),
    sa.Column("result_code", sa.String(64)),
    sa.Column("result_message", sa.String(500)),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_ms", MS, nullable=False, index=True),
    sa.Column("updated_ms", MS, nullable=False),
    # A source's transfers by status and sequence: the balance check under the wallet lock
    # reads its queued, submitted and newly committed ones. With only single-column
    # indexes SQLite searched by status and scanned every committed transfer there is.
    sa.Index("ix_transfers_source_status", "source", "status", "sequence"),
)
register(Transfer, transfers)

quotes = sa.Table(
    "quotes", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", ID, nullable=False, index=True),
    sa.Column("sell_code", sa.String(12), nullable=False),
    sa.Column("buy_code", sa.String(12), nullable=False),
    sa.Column("sell_amount_minor", sa.BigInteger, nullable=False),
    sa.Column("buy_amount_minor", sa.BigInteger, nullable=False),
    sa.Column("fee_minor", sa.BigInteger, nullable=False),
    sa.Column("fee_breakdown", Json, nullable=False),
    sa.Column("price", sa.String(40), nullable=False),
    sa.Column("rate_source", sa.String(32), nullable=False),
    sa.Column("expires_ms", MS, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),
    sa.Column("payment_id", ID),
    sa.Column("created_ms", MS, nullable=False),
)
register(Quote, quotes)

payments = sa.Table(
    "payments", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("uetr", ID, nullable=False, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", ID, nullable=False, index=True),
    sa.Column("created_by", ID, nullable=False),
    sa.Column("idempotency_key", sa.String(64), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("sender_wallet_id", ID, sa.ForeignKey("wallets.id"), nullable=False, index=True),
    sa.Column("recipient_type", sa.String(8), nullable=False),
    sa.Column("recipient_user_id", ID, index=True),
    sa.Column("recipient_wallet_id", ID, index=True),
    sa.Column("recipient_address", sa.String(64)),
    sa.Column("recipient_bank", Json),
    sa.Column("recipient_name", sa.String(200), nullable=False),
    sa.Column("quote_id", ID),
    sa.Column("sell_code", sa.String(12), nullable=False),
    sa.Column("sell_amount_minor", sa.BigInteger, nullable=False),
    sa.Column("fee_minor", sa.BigInteger, nullable=False),
    sa.Column("buy_code", sa.String(12), nullable=False),
    sa.Column("buy_amount_minor", sa.BigInteger, nullable=False),
    sa.Column("price", sa.String(40), nullable=False),
    sa.Column("memo", sa.String(140), nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("history", Json, nullable=False),
    sa.Column("transfer_id", ID),
    sa.Column("tx_id", sa.String(64), index=True),
    sa.Column("height", sa.BigInteger),
    sa.Column("reason_code", sa.String(64)),
    sa.Column("reason_message", sa.String(500)),
    sa.Column("expected_arrival_ms", MS, nullable=False),
    sa.Column("created_ms", MS, nullable=False, index=True),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Column("recipient_account_sealed", sa.Text),  # the full account, sealed by the vault
    sa.Column("sender_name", sa.String(200)),
    sa.Column("purpose", sa.String(4)),  # ISO 20022 purpose code (domain/authenticity.py)
    sa.Column("travel_rule_sealed", sa.Text),  # travel-rule data, sealed by the vault
    # one payment per (owner, key): the database enforces idempotency under concurrency
    sa.UniqueConstraint("owner_type", "owner_id", "idempotency_key"),
)
register(Payment, payments)

outbox_cursors = sa.Table(
    "outbox_cursors", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("height", sa.BigInteger, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
)
register(OutboxCursor, outbox_cursors)
