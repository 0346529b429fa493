"""the movements every process's AML window learns from

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-07 15:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0022'
down_revision: str | Sequence[str] | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('aml_movements',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at_ms', sa.BigInteger(), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('sender_country', sa.String(length=2), nullable=True),
    sa.Column('receiver', sa.String(length=64), nullable=False),
    sa.Column('receiver_country', sa.String(length=2), nullable=True),
    sa.Column('receiver_name', sa.String(length=200), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('usd_minor', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', 'kind', name=op.f('pk_aml_movements'))
    )
    with op.batch_alter_table('aml_movements', schema=None) as batch_op:
        batch_op.create_index('ix_aml_movements_at', ['at_ms', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('aml_movements', schema=None) as batch_op:
        batch_op.drop_index('ix_aml_movements_at')

    op.drop_table('aml_movements')
