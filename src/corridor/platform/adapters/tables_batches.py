"""Tables of batch payments (issue 17): the uploaded batches and their items."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.batches import Batch, BatchItem

batches = sa.Table(
    "batches", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("org_id", ID, sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("created_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("idempotency_key", sa.String(128), nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("format", sa.String(16), nullable=False),
    sa.Column("version", sa.String(24), nullable=False),
    sa.Column("message_id", sa.String(64)),
    sa.Column("file_name", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("item_count", sa.Integer, nullable=False),
    sa.Column("totals", Json, nullable=False),
    sa.Column("fees", Json, nullable=False),
    sa.Column("problem_count", sa.Integer, nullable=False),
    sa.Column("problems", Json, nullable=False),
    sa.Column("reservation_id", ID),
    sa.Column("decided_by", ID, sa.ForeignKey("users.id")),
    sa.Column("decided_ms", MS),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    # the same upload (key) of an organisation is the same batch, even under concurrency
    sa.UniqueConstraint("org_id", "idempotency_key", name="uq_batches_org_key"),
    sa.Index("ix_batches_org", "org_id", "created_ms"),
)
register(Batch, batches)

batch_items = sa.Table(
    "batch_items", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("batch_id", ID, sa.ForeignKey("batches.id"), nullable=False),
    sa.Column("row", sa.Integer, nullable=False),
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("group_id", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(12), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("fee_minor", sa.BigInteger, nullable=False),
    sa.Column("recipient", Json, nullable=False),
    sa.Column("recipient_sealed", sa.Text),
    sa.Column("recipient_name", sa.String(200), nullable=False),
    sa.Column("memo", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("problems", Json, nullable=False),
    # one item, one payment: the id is given at upload and the payment inserted on approval
    # (so no foreign key: the payment does not exist before), unique either way
    sa.Column("payment_id", ID, unique=True),
    sa.Column("transfer_id", ID),
    sa.Column("reason_code", sa.String(64)),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.UniqueConstraint("batch_id", "row", name="uq_batch_items_row"),
    sa.Index("ix_batch_items_transfer", "transfer_id"),
)
register(BatchItem, batch_items)
