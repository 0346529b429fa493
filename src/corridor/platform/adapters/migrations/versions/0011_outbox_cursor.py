"""the outbox worker's cursor in the chain's event stream

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 03:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | Sequence[str] | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # No row yet: the worker's first start settles what is in flight by asking the node,
    # then stores the cursor at the chain's head (adapters/outbox_worker.py).
    op.create_table('outbox_cursors',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('height', sa.BigInteger(), nullable=False),
    sa.Column('updated_ms', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_cursors'))
    )


def downgrade() -> None:
    op.drop_table('outbox_cursors')
