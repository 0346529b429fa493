"""sanctions list snapshots and entries

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 12:51:24.804736


"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0014'
down_revision: str | Sequence[str] | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('list_entries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('list_name', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('since_version', sa.Integer(), nullable=False),
    sa.Column('until_version', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_list_entries'))
    )
    with op.batch_alter_table('list_entries', schema=None) as batch_op:
        batch_op.create_index('ix_list_entries_current', ['list_name', 'until_version'], unique=False)

    op.create_table('list_snapshots',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('list_name', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('list_format', sa.String(length=8), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('added', sa.Integer(), nullable=False),
    sa.Column('removed', sa.Integer(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.Column('imported_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_list_snapshots')),
    sa.UniqueConstraint('list_name', 'version', name=op.f('uq_list_snapshots_list_name'))
    )


def downgrade() -> None:
    op.drop_table('list_snapshots')
    with op.batch_alter_table('list_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_list_entries_current')

    op.drop_table('list_entries')
