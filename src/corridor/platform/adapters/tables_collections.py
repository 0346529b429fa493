"""Tables of payment requests (collections), merchant accounts and merchant refunds
(issue 17)."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.collections import CollectionRequest
from corridor.platform.domain.merchants import Merchant, MerchantRefund

merchants = sa.Table(
    "merchants", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("org_id", ID, sa.ForeignKey("organisations.id"), nullable=False, unique=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("created_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
)
register(Merchant, merchants)

payment_requests = sa.Table(
    "payment_requests", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("requester_type", sa.String(8), nullable=False),
    sa.Column("requester_id", ID, nullable=False),
    sa.Column("created_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("payer_user_id", ID, sa.ForeignKey("users.id"), index=True),
    sa.Column("payer_contact", sa.String(254), nullable=False),
    sa.Column("link_token", sa.String(64), nullable=False, unique=True),
    sa.Column("merchant_id", ID, sa.ForeignKey("merchants.id"), index=True),
    sa.Column("reference", sa.String(35), nullable=False),
    sa.Column("description", sa.String(140), nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("due_ms", MS, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("paying_owner_type", sa.String(8)),
    sa.Column("paying_owner_id", ID),
    sa.Column("paying_user_id", ID),
    sa.Column("claimed_ms", MS),
    # A payment pays one request at most (NULLs never collide in a unique index).
    sa.Column("payment_id", ID, sa.ForeignKey("payments.id"), unique=True),
    sa.Column("paid_ms", MS),
    sa.Column("settled_ms", MS),
    sa.Column("matched", sa.Boolean, nullable=False),
    sa.Column("mismatch_payment_id", ID),
    sa.Column("mismatch_note", sa.String(160)),
    sa.Column("reminded_before_ms", MS),
    sa.Column("reminded_after_ms", MS),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    # Matching by reference needs it unique per requester (an order's, per merchant).
    sa.UniqueConstraint("requester_type", "requester_id", "reference",
                        name="uq_payment_requests_reference"),
    sa.Index("ix_payment_requests_requester", "requester_type", "requester_id", "created_ms"),
)
register(CollectionRequest, payment_requests)

merchant_refunds = sa.Table(
    "merchant_refunds", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("merchant_id", ID, sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("request_id", ID, sa.ForeignKey("payment_requests.id"), nullable=False,
              index=True),
    sa.Column("idempotency_key", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(8), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.String(140), nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("payment_id", ID, sa.ForeignKey("payments.id")),
    sa.Column("fee_minor", sa.BigInteger, nullable=False),
    sa.Column("created_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_ms", MS, nullable=False, index=True),
    sa.Column("updated_ms", MS, nullable=False),
    sa.UniqueConstraint("merchant_id", "idempotency_key", name="uq_merchant_refunds_key"),
)
register(MerchantRefund, merchant_refunds)
