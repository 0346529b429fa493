"""Holds: inbound money waiting for a staff decision instead of being credited."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.holds import Hold

holds = sa.Table(
    "holds", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("subject_type", sa.String(16), nullable=False),
    sa.Column("subject_id", ID, nullable=False),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", ID, nullable=False, index=True),
    sa.Column("currency", sa.String(12), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("reason_code", sa.String(64), nullable=False),
    sa.Column("reason_message", sa.String(500), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("decided_by", ID, sa.ForeignKey("users.id")),
    sa.Column("decided_ms", MS),
    sa.Column("decision_note", sa.Text),
    sa.Column("return_ref", sa.String(64)),
    sa.Column("created_ms", MS, nullable=False, index=True),
    sa.Column("updated_ms", MS, nullable=False),
    # one hold per subject: a redelivered event cannot hold the same money twice
    sa.UniqueConstraint("subject_type", "subject_id"),
)
register(Hold, holds)
