"""Alembic's environment for the platform database. Run through
`corridor.platform.adapters.migrate` (which builds the Config in code; there is no
alembic.ini): the caller passes an open connection in `config.attributes["connection"]`."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext

from corridor.platform.adapters import tables  # noqa: F401  (registers every table)
from corridor.platform.adapters.db import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through corridor.platform.adapters.migrate (it supplies the "
        "connection); offline SQL generation is not supported")



def render_item(type_: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    """Renders `db.Json` (JSON, JSONB on PostgreSQL) as code that runs: Alembic's default
    leaves JSONB's `astext_type=Text()` unqualified."""
    if type_ == "type" and isinstance(obj, sa.JSON):
        variant = getattr(obj, "_variant_mapping", {}).get("postgresql")
        if variant is not None and type(variant).__name__ == "JSONB":
            autogen.imports.add("from sqlalchemy.dialects import postgresql")
            return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things: batch mode copies the table instead. The rendered
    # batch operations also run unchanged (as plain ALTERs) on PostgreSQL.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    compare_server_default=True,
    render_item=render_item,
    process_revision_directives=config.attributes.get("process_revision_directives"),
)
with context.begin_transaction():
    context.run_migrations()
