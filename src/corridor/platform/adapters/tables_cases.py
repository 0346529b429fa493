"""Compliance cases (issue 16): each breach of a case's SLA, escalated once."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.cases import CaseEscalation

case_escalations = sa.Table(
    "case_escalations", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("case_id", ID, sa.ForeignKey("compliance_cases.id"), nullable=False),
    sa.Column("breach", sa.String(16), nullable=False),
    sa.Column("due_ms", MS, nullable=False),
    sa.Column("escalated_ms", MS, nullable=False),
    # once per breach: a second round (or a second process) cannot escalate it again
    sa.Index("uq_case_escalations_breach", "case_id", "breach", "due_ms", unique=True),
)
register(CaseEscalation, case_escalations)
