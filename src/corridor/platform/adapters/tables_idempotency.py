"""Requests remembered under their Idempotency-Key (domain/idempotency.py)."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.idempotency import IdempotentRequest
from corridor.platform.domain.rails import IDEMPOTENCY_KEY_LEN_MAX

idempotent_requests = sa.Table(
    "idempotent_requests", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("actor_id", ID, nullable=False),
    sa.Column("key", sa.String(IDEMPOTENCY_KEY_LEN_MAX), nullable=False),
    sa.Column("operation", sa.String(64), nullable=False),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("result_id", ID, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    # one request per key and actor: a concurrent retry loses the race with a 409
    sa.UniqueConstraint("actor_id", "key"),
)
register(IdempotentRequest, idempotent_requests)
