"""Tables of identity, notices and the audit trail. Times are integer milliseconds since
the Unix epoch (UTC): exact, portable between SQLite and PostgreSQL, no time-zone traps."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.domain.audit import GENESIS_HASH, AuditEntry
from corridor.platform.domain.identity import (
    LoginChallenge,
    LoginThrottle,
    OneTimeCode,
    RecoveryCode,
    Session,
    User,
)
from corridor.platform.domain.notices import Notice
from corridor.platform.domain.support import SupportRequest

ID = sa.String(36)
MS = sa.BigInteger

users = sa.Table(
    "users", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("staff_role", sa.String(32)),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), unique=True),
    sa.Column("email_verified", sa.Boolean, nullable=False),
    sa.Column("phone", sa.String(20), unique=True),
    sa.Column("phone_verified", sa.Boolean, nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("totp_secret_enc", sa.Text),
    sa.Column("totp_enabled", sa.Boolean, nullable=False),
    sa.Column("totp_last_step", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False),
    sa.Column("locked_until_ms", MS, nullable=False),
    sa.Column("terms_version", sa.String(16), nullable=False),
    sa.Column("privacy_version", sa.String(16), nullable=False),
    sa.Column("terms_accepted_ms", MS, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Column("language", sa.String(16), nullable=False, server_default=sa.text("''")),
)
register(User, users)

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("last_seen_ms", MS, nullable=False),
    sa.Column("expires_ms", MS, nullable=False),
    sa.Column("revoked_ms", MS),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("user_agent", sa.String(300), nullable=False),
)
register(Session, sessions)

login_challenges = sa.Table(
    "login_challenges", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("expires_ms", MS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("used_ms", MS),
    sa.Column("ip", sa.String(64), nullable=False),
)
register(LoginChallenge, login_challenges)

one_time_codes = sa.Table(
    "one_time_codes", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("destination", sa.String(320), nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("expires_ms", MS, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("used_ms", MS),
)
register(OneTimeCode, one_time_codes)

recovery_codes = sa.Table(
    "recovery_codes", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("used_ms", MS),
)
register(RecoveryCode, recovery_codes)

notices = sa.Table(
    "notices", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, index=True),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("destination", sa.String(320), nullable=False, index=True),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("sent_ms", MS),
    sa.Column("expires_ms", MS, index=True),
)
register(Notice, notices)

login_throttles = sa.Table(
    "login_throttles", metadata,
    sa.Column("key_hash", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("blocked_until_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
)
register(LoginThrottle, login_throttles)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at_ms", MS, nullable=False),
    sa.Column("actor_id", ID, index=True),
    sa.Column("actor_kind", sa.String(16), nullable=False),
    sa.Column("action", sa.String(64), nullable=False, index=True),
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column("object_id", sa.String(64), nullable=False, index=True),
    sa.Column("before", Json),
    sa.Column("after", Json),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
register(AuditEntry, audit_log)

# One row: the chain's tip. Appending locks it, so concurrent appends serialise.
audit_head = sa.Table(
    "audit_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

AUDIT_HEAD_ROW = {"id": 1, "seq": 0, "hash": GENESIS_HASH}

# Rate-limit hits (adapters/rate_limits.py): shared by every API process.
rate_hits = sa.Table(
    "rate_hits", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("bucket", sa.String(32), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("at_ms", MS, nullable=False),
    sa.Index("ix_rate_hits_key", "bucket", "key_hash", "at_ms"),
    sa.Index("ix_rate_hits_age", "bucket", "at_ms"),
)

support_requests = sa.Table(
    "support_requests", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("user_id", ID, sa.ForeignKey("users.id"), index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("contact", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
)
register(SupportRequest, support_requests)
