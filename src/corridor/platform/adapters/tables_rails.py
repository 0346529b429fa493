"""Tables of the fiat rails: deposits, withdrawals and the rails' webhook events."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.rails import Deposit, RailEvent, Withdrawal

deposits = sa.Table(
    "deposits", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("uetr", ID, nullable=False, unique=True),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", ID, nullable=False, index=True),
    sa.Column("created_by", ID, nullable=False),
    sa.Column("idempotency_key", sa.String(64), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("wallet_id", ID, sa.ForeignKey("wallets.id"), nullable=False, index=True),
    sa.Column("rail", sa.String(32), nullable=False),
    sa.Column("currency", sa.String(12), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("received_minor", sa.BigInteger),
    sa.Column("reference", sa.String(25), nullable=False, unique=True),
    sa.Column("instructions", Json, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("history", Json, nullable=False),
    sa.Column("rail_ref", sa.String(64)),
    sa.Column("transfer_id", ID),
    sa.Column("tx_id", sa.String(64)),
    sa.Column("height", sa.BigInteger),
    sa.Column("reason_code", sa.String(64)),
    sa.Column("reason_message", sa.String(500)),
    sa.Column("note", sa.String(500)),
    sa.Column("flagged", sa.Boolean, nullable=False),
    sa.Column("expires_ms", MS, nullable=False),
    sa.Column("created_ms", MS, nullable=False, index=True),
    sa.Column("updated_ms", MS, nullable=False),
    # one deposit per (owner, key): the database backs the idempotency check
    sa.UniqueConstraint("owner_type", "owner_id", "idempotency_key"),
)
register(Deposit, deposits)

withdrawals = sa.Table(
    "withdrawals", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("uetr", ID, nullable=False, unique=True),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", ID, nullable=False, index=True),
    sa.Column("created_by", ID, nullable=False),
    sa.Column("idempotency_key", sa.String(64), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("wallet_id", ID, sa.ForeignKey("wallets.id"), nullable=False, index=True),
    sa.Column("rail", sa.String(32), nullable=False),
    sa.Column("currency", sa.String(12), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("bank", Json, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("history", Json, nullable=False),
    sa.Column("transfer_id", ID, nullable=False),
    sa.Column("tx_id", sa.String(64)),
    sa.Column("height", sa.BigInteger),
    sa.Column("rail_ref", sa.String(64), index=True),
    sa.Column("reversal_transfer_id", ID),
    sa.Column("reversal_tx_id", sa.String(64)),
    sa.Column("reason_code", sa.String(64)),
    sa.Column("reason_message", sa.String(500)),
    sa.Column("flagged", sa.Boolean, nullable=False),
    sa.Column("created_ms", MS, nullable=False, index=True),
    sa.Column("updated_ms", MS, nullable=False),
    # a payment's payout to an external bank recipient: one per payment
    sa.Column("payment_id", ID, sa.ForeignKey("payments.id"), unique=True),
    sa.Column("account_sealed", sa.Text),  # the full account, sealed by the vault
    sa.UniqueConstraint("owner_type", "owner_id", "idempotency_key"),
)
register(Withdrawal, withdrawals)

rail_events = sa.Table(
    "rail_events", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("rail", sa.String(32), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("outcome", sa.String(200), nullable=False),
    sa.Column("received_ms", MS, nullable=False, index=True),
    # a redelivered event is recognised by the database, even under concurrency
    sa.UniqueConstraint("rail", "event_id"),
)
register(RailEvent, rail_events)
