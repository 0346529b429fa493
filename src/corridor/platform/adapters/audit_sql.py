"""The audit trail's statements (adapters/db.py's unit of work appends to the chain)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from corridor.platform.adapters import direct_sql

_AUDIT_STATEMENTS: list[Any] = []


def statements() -> tuple[Any, Any, Any]:
    """The audit trail's statements (read and lock the head, append, move the head), built
    once: built per transaction, they were a tenth of a payment creation's time under the
    write lock (cProfile)."""
    if not _AUDIT_STATEMENTS:
        from corridor.platform.adapters.tables_core import audit_head, audit_log

        one = audit_head.c.id == 1
        _AUDIT_STATEMENTS.extend((
            sa.select(audit_head).where(one).with_for_update(),
            sa.insert(audit_log),
            sa.update(audit_head).where(one).values(seq=sa.bindparam("new_seq"),
                                                    hash=sa.bindparam("new_hash")),
        ))
    a, b, c = _AUDIT_STATEMENTS
    return a, b, c


_AUDIT_PREPARED: dict[str, tuple[direct_sql.Prepared, ...]] = {}


def prepared(dialect: sa.engine.Dialect) -> tuple[direct_sql.Prepared, ...]:
    """The same statements prepared for the driver (adapters/direct_sql.py)."""
    hit = _AUDIT_PREPARED.get(dialect.name)
    if hit is None:
        hit = _AUDIT_PREPARED[dialect.name] = tuple(
            direct_sql.prepare(x, dialect) for x in statements())
    return hit
