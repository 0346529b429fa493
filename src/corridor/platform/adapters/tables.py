"""Imports every table module so `db.metadata` is complete (migrations, schema set-up)."""

from corridor.platform.adapters import tables_core  # noqa: F401
