"""Sanctions lists: versioned snapshots and their entries (domain/screening/store.py)."""

from __future__ import annotations

import sqlalchemy as sa

from corridor.platform.adapters.db import Json, metadata, register
from corridor.platform.adapters.tables_core import ID, MS
from corridor.platform.domain.screening.store import (
    FILE_NAME_LEN_MAX,
    LIST_NAME_LEN_MAX,
    SOURCE_ID_LEN_MAX,
    ListSnapshot,
    StoredEntry,
)

list_snapshots = sa.Table(
    "list_snapshots", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("list_name", sa.String(LIST_NAME_LEN_MAX), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("list_format", sa.String(8), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("file_name", sa.String(FILE_NAME_LEN_MAX), nullable=False),
    sa.Column("entry_count", sa.Integer, nullable=False),
    sa.Column("added", sa.Integer, nullable=False),
    sa.Column("removed", sa.Integer, nullable=False),
    sa.Column("changed", sa.Integer, nullable=False),
    sa.Column("imported_ms", MS, nullable=False),
    # one row per version: two concurrent imports of a list cannot both make version n
    sa.UniqueConstraint("list_name", "version"),
)
register(ListSnapshot, list_snapshots)

list_entries = sa.Table(
    "list_entries", metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("list_name", sa.String(LIST_NAME_LEN_MAX), nullable=False),
    sa.Column("source_id", sa.String(SOURCE_ID_LEN_MAX), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("data", Json, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("since_version", sa.Integer, nullable=False),
    sa.Column("until_version", sa.Integer),
    # the current entries of a list (until_version IS NULL) are read by this index
    sa.Index("ix_list_entries_current", "list_name", "until_version"),
)
register(StoredEntry, list_entries)
