"""Authenticity review (issue 16): payments held for supporting documents, the documents
(encrypted in the file store; here their metadata and SHA-256) and the officers' checks."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.authenticity import Check, PaymentDocument, Review

authenticity_reviews = sa.Table(
    "authenticity_reviews", metadata,
    sa.Column("id", ID, sa.ForeignKey("payments.id"), primary_key=True),  # the payment's
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", ID, nullable=False),
    sa.Column("purpose", sa.String(4), nullable=False),
    sa.Column("usd_minor", sa.BigInteger, nullable=False),
    sa.Column("threshold_usd_minor", sa.BigInteger, nullable=False),
    sa.Column("sender_country", sa.String(2)),
    sa.Column("receiver_country", sa.String(2)),
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Index("ix_authenticity_reviews_state", "state", "created_ms"),
)
register(Review, authenticity_reviews)

payment_documents = sa.Table(
    "payment_documents", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("payment_id", ID, sa.ForeignKey("payments.id"), nullable=False),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", ID, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("file_kind", sa.String(8), nullable=False),
    sa.Column("content_type", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("ref", sa.String(200), nullable=False),
    sa.Column("uploaded_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    # a payment's documents are read by the payment; the same file twice is one document
    sa.Index("ix_payment_documents_payment", "payment_id", "created_ms"),
    sa.UniqueConstraint("payment_id", "sha256"),
)
register(PaymentDocument, payment_documents)

authenticity_checks = sa.Table(
    "authenticity_checks", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("payment_id", ID, sa.ForeignKey("payments.id"), nullable=False),
    sa.Column("officer_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("amount_agrees", sa.Boolean, nullable=False),
    sa.Column("parties_agree", sa.Boolean, nullable=False),
    sa.Column("purpose_agrees", sa.Boolean, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Index("ix_authenticity_checks_payment", "payment_id", "created_ms"),
)
register(Check, authenticity_checks)
