"""expiring outbox messages of codes, login throttles per source

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 00:20:00.000000
"""

from __future__ import annotations

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


def downgrade() -> None:
    with op.batch_alter_table('notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notices_expires_ms'))
        batch_op.drop_column('expires_ms')
    op.drop_table('login_throttles')
