"""Organisations' API keys and the webhook delivery log (issue 17, Integration)."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain import apikeys as keys
from corridor.platform.domain import webhooks as hooks
from corridor.platform.domain.apikeys import ApiKey
from corridor.platform.domain.webhooks import WebhookAttempt

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("org_id", ID, sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column("name", sa.String(keys.NAME_LEN_MAX), nullable=False),
    # public, looked up on every request that carries a key
    sa.Column("prefix", sa.String(keys.PREFIX_LEN), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(100), nullable=False),
    sa.Column("scopes", Json, nullable=False),
    sa.Column("allowlist", Json, nullable=False),
    sa.Column("created_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("expires_ms", MS, nullable=False),
    sa.Column("revoked_ms", MS),
    sa.Column("revoked_by", ID, sa.ForeignKey("users.id")),
    sa.Column("rotated_to", ID),
    sa.Column("last_used_ms", MS),
    sa.Column("last_used_ip", sa.String(64)),
)
register(ApiKey, api_keys)

webhook_attempts = sa.Table(
    "webhook_attempts", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("delivery_id", ID, sa.ForeignKey("webhook_deliveries.id"), nullable=False),
    sa.Column("endpoint_id", ID, nullable=False),
    sa.Column("org_id", ID, nullable=False),
    sa.Column("at_ms", MS, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("latency_ms", sa.Integer, nullable=False),
    sa.Column("excerpt", sa.String(hooks.EXCERPT_LEN_MAX), nullable=False),
    sa.Column("error", sa.String(hooks.ERROR_LEN_MAX)),
    sa.Index("ix_webhook_attempts_delivery", "delivery_id", "at_ms"),
)
register(WebhookAttempt, webhook_attempts)
