"""Tables of organisations, departments and memberships."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.orgs import Department, Membership, Organisation

organisations = sa.Table(
    "organisations", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
)
register(Organisation, organisations)

departments = sa.Table(
    "departments", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("org_id", ID, sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.UniqueConstraint("org_id", "name"),
)
register(Department, departments)

memberships = sa.Table(
    "memberships", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("org_id", ID, sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("department_id", ID, sa.ForeignKey("departments.id")),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.UniqueConstraint("org_id", "user_id"),
)
register(Membership, memberships)
