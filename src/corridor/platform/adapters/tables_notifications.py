"""The notifications inbox (domain/notifications.py)."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.notifications import EVENT_KEY_LEN_MAX, Notification

notifications = sa.Table(
    "notifications", metadata,
    sa.Column("id", ID, primary_key=True),
    # No foreign key: a notification is derived from its event, written beside records
    # whose owner columns carry none either (payments, deposits, audit entries).
    sa.Column("user_id", ID, nullable=False),
    sa.Column("event_key", sa.String(EVENT_KEY_LEN_MAX), nullable=False),
    sa.Column("topic", sa.String(48), nullable=False),
    sa.Column("subject_type", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("params", Json, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("read_ms", MS),
    # one notification per event and person: a replayed event cannot notify twice
    sa.UniqueConstraint("user_id", "event_key"),
    # a person's page, newest first, and their unread count
    sa.Index("ix_notifications_user_created", "user_id", "created_ms"),
    sa.Index("ix_notifications_user_read", "user_id", "read_ms"),
)
register(Notification, notifications)
