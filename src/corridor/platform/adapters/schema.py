"""Creates or upgrades the platform's database schema: Alembic migrations to head, so a
database made by an older release is upgraded in place, never recreated."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from corridor.platform.adapters import migrate


def upgrade(engine: Engine) -> None:
    """Brings the schema to the current version (idempotent)."""
    migrate.upgrade(engine)
