"""Customer risk ratings: one row per change of a customer's rating, with its factors."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.risk import TRIGGER_LEN_MAX, RiskRating

risk_ratings = sa.Table(
    "risk_ratings", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("subject_type", sa.String(8), nullable=False),
    sa.Column("subject_id", ID, nullable=False),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("points", sa.Integer, nullable=False),
    sa.Column("factors", Json, nullable=False),
    sa.Column("policy", sa.String(32), nullable=False),
    sa.Column("trigger", sa.String(TRIGGER_LEN_MAX), nullable=False),
    sa.Column("computed_ms", MS, nullable=False),
    # a customer's latest rating is read by this index
    sa.Index("ix_risk_ratings_subject", "subject_type", "subject_id", "computed_ms"),
)
register(RiskRating, risk_ratings)
