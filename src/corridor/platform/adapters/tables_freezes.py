"""Freezes of owners' holdings on chain (issue 16), one row from request to release."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.freezes import Freeze

freezes = sa.Table(
    "freezes", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", ID, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("phase", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("reference", sa.String(100)),
    sa.Column("asset_codes", sa.String(400), nullable=False),
    sa.Column("frozen_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("jobs_total", sa.Integer, nullable=False),
    sa.Column("jobs_done", sa.Integer, nullable=False),
    sa.Column("jobs_failed", sa.Integer, nullable=False),
    sa.Column("tx_id", sa.String(64)),
    sa.Column("height", sa.BigInteger),
    sa.Column("error_code", sa.String(64)),
    sa.Column("release_reason", sa.String(500)),
    sa.Column("released_by", ID, sa.ForeignKey("users.id")),
    sa.Column("release_tx_id", sa.String(64)),
    sa.Column("release_height", sa.BigInteger),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("frozen_ms", MS),
    sa.Column("release_requested_ms", MS),
    sa.Column("released_ms", MS),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Column("case_id", ID, sa.ForeignKey("compliance_cases.id")),
    sa.Index("ix_freezes_owner", "owner_type", "owner_id", "created_ms"),
)
register(Freeze, freezes)
