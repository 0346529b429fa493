"""Tables of refunds and their evidence uploads."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.refunds import Refund, RefundFile

refunds = sa.Table(
    "refunds", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("payment_id", ID, sa.ForeignKey("payments.id"), nullable=False, index=True),
    # One open refund per payment, enforced under concurrency: NULL once closed (NULLs
    # never collide in a unique index, on SQLite and PostgreSQL alike).
    sa.Column("open_payment_id", ID, unique=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", ID, nullable=False, index=True),
    sa.Column("requested_by", ID, sa.ForeignKey("users.id")),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("evidence", Json, nullable=False),
    sa.Column("code", sa.String(12), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("recover_code", sa.String(12), nullable=False),
    sa.Column("recover_minor", sa.BigInteger, nullable=False),
    sa.Column("platform_error", sa.Boolean, nullable=False),
    sa.Column("transfer_id", ID),
    sa.Column("tx_id", sa.String(64), index=True),
    sa.Column("height", sa.BigInteger),
    sa.Column("decided_by", ID, sa.ForeignKey("users.id")),
    sa.Column("decided_ms", MS),
    sa.Column("decision_reason", sa.Text),
    sa.Column("failure_code", sa.String(64)),
    sa.Column("created_ms", MS, nullable=False, index=True),
    sa.Column("updated_ms", MS, nullable=False),
)
register(Refund, refunds)

refund_files = sa.Table(
    "refund_files", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", ID, nullable=False),
    sa.Column("refund_id", ID, sa.ForeignKey("refunds.id"), index=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("content_type", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("ref", sa.String(64), nullable=False, unique=True),
    sa.Column("uploaded_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Index("ix_refund_files_owner", "owner_type", "owner_id"),
)
register(RefundFile, refund_files)
