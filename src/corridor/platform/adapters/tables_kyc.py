"""Tables of KYC records and their uploaded documents."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.kyc import KycCustomer, KycFile

kyc_customers = sa.Table(
    "kyc_customers", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("subject_type", sa.String(8), nullable=False),
    sa.Column("subject_id", ID, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("requested_tier", sa.Integer, nullable=False),
    sa.Column("tier", sa.Integer, nullable=False),
    sa.Column("risk", sa.String(8)),
    sa.Column("data_enc", sa.Text, nullable=False),
    sa.Column("field_status", Json, nullable=False),
    sa.Column("submitted_ms", MS, index=True),
    sa.Column("decided_ms", MS),
    sa.Column("decided_by", ID, sa.ForeignKey("users.id")),
    sa.Column("decision_reason", sa.Text),
    sa.Column("review_due_ms", MS, index=True),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Column("review_opened_ms", MS),  # a due re-review opened (services/reviews.py)
    sa.UniqueConstraint("subject_type", "subject_id"),
)
register(KycCustomer, kyc_customers)

kyc_files = sa.Table(
    "kyc_files", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", ID, nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("content_type", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("ref", sa.String(64), nullable=False, unique=True),
    sa.Column("uploaded_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Index("ix_kyc_files_owner", "owner_type", "owner_id"),
)
register(KycFile, kyc_files)
