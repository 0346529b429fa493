"""The movements the AML window learns from (issue 16): each payment, deposit, withdrawal or
refund that went on or was held, as the monitors saw it (services/aml_window.py), read back
in time order by every process at start and as it catches up."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import metadata, register
from corridor.platform.adapters.tables_core import MS
from corridor.platform.domain.monitoring import LearnedMovement

PARTY = sa.String(64)  # a customer's or organisation's id, or `ext:` + a keyed hash

aml_movements = sa.Table(
    "aml_movements", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("at_ms", MS, nullable=False),
    sa.Column("sender", PARTY, nullable=False),
    sa.Column("sender_country", sa.String(2)),
    sa.Column("receiver", PARTY, nullable=False),
    sa.Column("receiver_country", sa.String(2)),
    sa.Column("receiver_name", sa.String(200)),  # not kept: the window needs no names
    sa.Column("amount_minor", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("usd_minor", sa.BigInteger),
    sa.Index("ix_aml_movements_at", "at_ms", "id"),
)
register(LearnedMovement, aml_movements)
