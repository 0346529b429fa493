"""Tables of wallets, asset authorisations and the ledger job outbox."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.wallets import Authorisation, KeyChallenge, LedgerJob, Wallet

wallets = sa.Table(
    "wallets", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("owner_type", sa.String(8), nullable=False),
    sa.Column("owner_id", ID, nullable=False),
    sa.Column("address", sa.String(40), nullable=False, unique=True),
    sa.Column("public_key", sa.String(64), nullable=False),
    sa.Column("custodial", sa.Boolean, nullable=False),
    sa.Column("key_sealed", sa.Text),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Column("proven", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_wallets_owner", "owner_type", "owner_id"),
)
register(Wallet, wallets)

key_challenges = sa.Table(
    "key_challenges", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("org_id", ID, sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("public_key", sa.String(64), nullable=False),
    sa.Column("message", sa.String(400), nullable=False),
    sa.Column("created_by", ID, nullable=False),
    sa.Column("expires_ms", MS, nullable=False),
    sa.Column("used_ms", MS),
    sa.Column("created_ms", MS, nullable=False),
    sa.Index("ix_key_challenges_org", "org_id", "expires_ms"),
)
register(KeyChallenge, key_challenges)

wallet_authorisations = sa.Table(
    "wallet_authorisations", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("wallet_id", ID, sa.ForeignKey("wallets.id"), nullable=False),
    sa.Column("asset_code", sa.String(12), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("job_id", ID, sa.ForeignKey("ledger_jobs.id"), nullable=False),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.UniqueConstraint("wallet_id", "asset_code"),
)
register(Authorisation, wallet_authorisations)

ledger_jobs = sa.Table(
    "ledger_jobs", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("wallet_id", ID, sa.ForeignKey("wallets.id"), nullable=False, index=True),
    sa.Column("payload", Json, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("signer", sa.String(16), nullable=False),
    sa.Column("tx_id", sa.String(64), index=True),
    sa.Column("tx_hex", sa.Text),
    sa.Column("op_index", sa.Integer),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_message", sa.String(500)),
    sa.Column("created_ms", MS, nullable=False),
    sa.Column("updated_ms", MS, nullable=False),
    sa.Column("alone", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_ledger_jobs_status_created", "status", "created_ms"),
)
register(LedgerJob, ledger_jobs)
