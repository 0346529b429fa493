"""Creates or upgrades the platform's database schema."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from corridor.platform.adapters import tables  # noqa: F401  (registers every table)
from corridor.platform.adapters.db import metadata
from corridor.platform.adapters.tables_core import AUDIT_HEAD_ROW, audit_head


def upgrade(engine: Engine) -> None:
    """Brings the schema to the current version."""
    metadata.create_all(engine)
    with engine.begin() as conn:
        if conn.execute(sa.select(audit_head.c.id)).first() is None:
            conn.execute(sa.insert(audit_head).values(**AUDIT_HEAD_ROW))
