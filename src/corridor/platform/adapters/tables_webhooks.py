"""Tables of organisations' webhook endpoints and the delivery outbox."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.webhooks import URL_LEN_MAX, WebhookDelivery, WebhookEndpoint

webhook_endpoints = sa.Table(
    "webhook_endpoints", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("org_id", ID, nullable=False, index=True),
    sa.Column("url", sa.String(URL_LEN_MAX), nullable=False),
    sa.Column("secret_sealed", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_by", ID, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    # the subscription filter (issue 17, migration 0026): a JSON list; empty: every event
    sa.Column("events", Json, nullable=False, server_default=sa.text("'[]'")),
    # the secret before the last rotation and until when it still signs (0026)
    sa.Column("previous_secret_sealed", sa.Text),
    sa.Column("previous_until_ms", MS),
)
register(WebhookEndpoint, webhook_endpoints)

webhook_deliveries = sa.Table(
    "webhook_deliveries", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("endpoint_id", ID, sa.ForeignKey("webhook_endpoints.id"), nullable=False,
              index=True),
    sa.Column("org_id", ID, nullable=False, index=True),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_ms", MS, nullable=False, index=True),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.String(300)),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
)
register(WebhookDelivery, webhook_deliveries)
