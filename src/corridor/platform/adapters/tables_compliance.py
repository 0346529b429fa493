"""Compliance: alerts, cases, their notes and decisions, and cleared screening hits."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.compliance import (
    Alert,
    Case,
    CaseDecision,
    CaseNote,
    Clearance,
)
from corridor.platform.domain.screening.store import LIST_NAME_LEN_MAX, SOURCE_ID_LEN_MAX

compliance_cases = sa.Table(
    "compliance_cases", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("subject_type", sa.String(8), nullable=False),
    sa.Column("subject_id", ID, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("assigned_to", ID, sa.ForeignKey("users.id")),
    sa.Column("released_by", ID, sa.ForeignKey("users.id")),
    sa.Column("opened_ms", MS, nullable=False),
    sa.Column("closed_ms", MS),
    sa.Column("closed_by", ID, sa.ForeignKey("users.id")),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Column("escalated_ms", MS),
    sa.Column("info_due_ms", MS),
    sa.Column("pending_release_by", ID, sa.ForeignKey("users.id")),
    # a customer's open case is found by this index; the queue reads open cases by age
    sa.Index("ix_compliance_cases_subject", "subject_type", "subject_id", "state"),
    sa.Index("ix_compliance_cases_queue", "state", "opened_ms"),
    # one open case per customer: a second one opened concurrently is refused
    sa.Index("uq_compliance_cases_open", "subject_type", "subject_id", unique=True,
             sqlite_where=sa.text("state = 'open'"), postgresql_where=sa.text("state = 'open'")),
)
register(Case, compliance_cases)

alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("case_id", ID, sa.ForeignKey("compliance_cases.id"), nullable=False, index=True),
    sa.Column("monitor", sa.String(32), nullable=False),
    sa.Column("typology", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("score_milli", sa.Integer, nullable=False),
    sa.Column("explanation", Json, nullable=False),
    sa.Column("movement_ids", Json, nullable=False),
    sa.Column("parties", Json, nullable=False),
    sa.Column("subject_type", sa.String(8), nullable=False),
    sa.Column("subject_id", ID, nullable=False, index=True),
    sa.Column("source_type", sa.String(16), nullable=False),
    sa.Column("source_id", ID, nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("created_ms", MS, nullable=False, index=True),
    sa.Column("updated_ms", MS, nullable=False),
)
register(Alert, alerts)

case_notes = sa.Table(
    "case_notes", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("case_id", ID, sa.ForeignKey("compliance_cases.id"), nullable=False, index=True),
    sa.Column("author_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
)
register(CaseNote, case_notes)

case_decisions = sa.Table(
    "case_decisions", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("case_id", ID, sa.ForeignKey("compliance_cases.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("officer_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("alert_id", ID),
    sa.Column("payment_ids", Json, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
)
register(CaseDecision, case_decisions)

screening_clearances = sa.Table(
    "screening_clearances", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("list_name", sa.String(LIST_NAME_LEN_MAX), nullable=False),
    sa.Column("source_id", sa.String(SOURCE_ID_LEN_MAX), nullable=False),
    sa.Column("entry_fingerprint", sa.String(64), nullable=False),
    sa.Column("party", sa.String(128), nullable=False),
    sa.Column("party_name", sa.String(512), nullable=False),
    sa.Column("alert_id", ID, sa.ForeignKey("alerts.id"), nullable=False),
    sa.Column("cleared_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    # a hit on a party is looked up by the party
    sa.Index("ix_screening_clearances_party", "party"),
)
register(Clearance, screening_clearances)
