"""Suspicious-transaction reports and their filing sequence (issue 16)."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.reports import Report, ReportCounter

str_reports = sa.Table(
    "str_reports", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("case_id", ID, sa.ForeignKey("compliance_cases.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("subject_type", sa.String(8), nullable=False),
    sa.Column("subject_id", ID, nullable=False, index=True),
    sa.Column("subject_name", sa.String(300), nullable=False),
    sa.Column("content", Json, nullable=False),
    sa.Column("narrative", sa.Text, nullable=False),
    sa.Column("authors", Json, nullable=False),
    sa.Column("drafted_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("submitted_by", ID, sa.ForeignKey("users.id")),
    sa.Column("filed_by", ID, sa.ForeignKey("users.id")),
    sa.Column("returned_reason", sa.Text),
    sa.Column("number", sa.String(16), unique=True),
    sa.Column("year", sa.Integer),
    sa.Column("seq", sa.Integer),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("submitted_ms", MS),
    sa.Column("filed_ms", MS),
    sa.Column("updated_ms", MS, nullable=False),
    # the list reads reports by state, newest first
    sa.Index("ix_str_reports_state", "state", "created_ms"),
    # a number is given once a year: the database refuses a second (year, seq)
    sa.UniqueConstraint("year", "seq", name="uq_str_reports_year_seq"),
)
register(Report, str_reports)

report_counters = sa.Table(
    "report_counters", metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("last", sa.Integer, nullable=False),
)
register(ReportCounter, report_counters)
