"""Approval policies (versioned), approvals of payments and other subjects, their votes,
and organisations' beneficiary books (domain/approvals.py)."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.approvals import Approval, Policy, SavedBeneficiary, Vote

approval_policies = sa.Table(
    "approval_policies", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("org_id", ID, sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("rules", Json, nullable=False),
    sa.Column("groups", Json, nullable=False),
    sa.Column("approval_ttl_ms", MS, nullable=False),
    sa.Column("tolerance_bp", sa.Integer, nullable=False),
    sa.Column("cooling_off_ms", MS, nullable=False),
    sa.Column("created_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    # versions of one organisation are numbered once: two saves racing, one loses
    sa.UniqueConstraint("org_id", "version"),
)
register(Policy, approval_policies)

approvals = sa.Table(
    "approvals", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("subject_kind", sa.String(32), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("org_id", ID, sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("initiator_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("rule_index", sa.Integer, nullable=False),
    sa.Column("stages", Json, nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(12), nullable=False),
    sa.Column("summary", sa.String(200), nullable=False),
    sa.Column("expires_ms", MS, nullable=False),
    sa.Column("decided_ms", MS),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    # one approval per subject: a retried creation cannot open a second one
    sa.UniqueConstraint("subject_kind", "subject_id"),
    sa.Index("ix_approvals_org_state", "org_id", "state", "created_ms"),
    sa.Index("ix_approvals_state_expires", "state", "expires_ms"),
)
register(Approval, approvals)

approval_votes = sa.Table(
    "approval_votes", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("approval_id", ID, sa.ForeignKey("approvals.id"), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("user_id", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    # nobody decides twice on one approval, whatever the level: the database says so too
    sa.UniqueConstraint("approval_id", "user_id"),
)
register(Vote, approval_votes)

beneficiaries = sa.Table(
    "beneficiaries", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("org_id", ID, sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("recipient_type", sa.String(16), nullable=False),
    sa.Column("party", sa.String(128), nullable=False),
    sa.Column("details", Json, nullable=False),
    sa.Column("account_sealed", sa.Text),
    sa.Column("status", sa.String(24), nullable=False),
    sa.Column("pending_details", Json),
    sa.Column("pending_sealed", sa.Text),
    sa.Column("pending_by", ID, sa.ForeignKey("users.id")),
    sa.Column("pending_change_id", ID),
    sa.Column("cooling_until_ms", MS, nullable=False),
    sa.Column("created_by", ID, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.UniqueConstraint("org_id", "party"),
)
register(SavedBeneficiary, beneficiaries)
