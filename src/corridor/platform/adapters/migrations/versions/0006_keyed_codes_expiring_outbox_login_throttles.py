"""expiring outbox messages of codes, login throttles per source

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 00:20:00.000000
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('login_throttles',
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('key_hash', name=op.f('pk_login_throttles'))
    )
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_ms', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_notices_expires_ms'), ['expires_ms'], unique=False)
    # Issue 14: messages that carried codes were kept in clear forever. They cannot be told
    # apart from other notices by a column, so by their text; the codes they carried are
    # dead (their hashes were unkeyed and no longer verify).
    op.execute(sa.text("DELETE FROM notices WHERE body LIKE 'Your Corridor code is %'"))
    # One-time codes hashed without a key no longer verify: retire the unused ones.
    op.execute(sa.text("UPDATE one_time_codes SET used_ms = created_ms WHERE used_ms IS NULL"))
    _retire_unkeyed_recovery_codes()


def _retire_unkeyed_recovery_codes() -> None:
    """Recovery codes hashed without a key (a salted SHA-256 of a 50-bit code, searchable
    in a copied database) are deleted; their owners are told to make new ones, which are
    keyed. The authenticator itself keeps working."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT DISTINCT u.id, u.email FROM recovery_codes r JOIN users u ON u.id = r.user_id "
        "WHERE r.code_hash NOT LIKE 'h1.%' AND u.email IS NOT NULL AND u.email_verified"
    )).all()
    now_ms = int(time.time() * 1000)
    for user_id, email in rows:
        conn.execute(sa.text(
            "INSERT INTO notices (id, user_id, channel, destination, subject, body, created_ms) "
            "VALUES (:id, :user_id, 'email', :email, :subject, :body, :now)"),
            {"id": str(uuid.uuid4()), "user_id": user_id, "email": email, "now": now_ms,
             "subject": "Make new recovery codes",
             "body": "Your recovery codes were retired by a security upgrade. Sign in and "
                     "make new ones (Security > Recovery codes); your authenticator app "
                     "works as before."})
    op.execute(sa.text("DELETE FROM recovery_codes WHERE code_hash NOT LIKE 'h1.%'"))


def downgrade() -> None:
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_expires_ms'))
        batch_op.drop_column('expires_ms')
    op.drop_table('login_throttles')
