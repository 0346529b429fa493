"""customer risk ratings and opened re-reviews

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 15:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0018'
down_revision: str | Sequence[str] | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('risk_ratings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('subject_type', sa.String(length=8), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('factors', sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
    sa.Column('policy', sa.String(length=32), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('computed_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_ratings'))
    )
    with op.batch_alter_table('risk_ratings', schema=None) as batch_op:
        batch_op.create_index('ix_risk_ratings_subject',
                              ['subject_type', 'subject_id', 'computed_ms'], unique=False)
    with op.batch_alter_table('kyc_customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_opened_ms', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('kyc_customers', schema=None) as batch_op:
        batch_op.drop_column('review_opened_ms')
    with op.batch_alter_table('risk_ratings', schema=None) as batch_op:
        batch_op.drop_index('ix_risk_ratings_subject')
    op.drop_table('risk_ratings')
