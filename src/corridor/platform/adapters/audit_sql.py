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


# PostgreSQL links the entries itself, in one statement: it locks the head, chains each
# entry onto the one before (sha256 over the same bytes as domain/audit.entry_hash, built
# from the body's middle the client sends), inserts them and moves the head. The head's
# lock, which every audited transaction takes, is then held for no client round trip: the
# statement and the COMMIT behind it (one pipeline) run without waiting on the client.
PG_APPEND = """
WITH RECURSIVE
head AS (SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE),
e AS (
  SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[],
                       %s::text[], %s::jsonb[], %s::jsonb[], %s::text[], %s::text[])
    WITH ORDINALITY AS e(at_ms, actor_id, actor_kind, action, object_type, object_id,
                         before, after, ip, middle, n)),
chain AS (
  SELECT 0::bigint AS n, seq, hash::text AS hash, NULL::text AS prev FROM head
  UNION ALL
  SELECT c.n + 1, c.seq + 1,
         encode(sha256(convert_to(
           '[' || (c.seq + 1)::text || ',' || e.middle || ',"' || c.hash || '"]', 'UTF8')),
           'hex'),
         c.hash
  FROM chain c JOIN e ON e.n = c.n + 1),
appended AS (
  INSERT INTO audit_log (seq, at_ms, actor_id, actor_kind, action, object_type, object_id,
                         before, after, ip, prev_hash, hash)
  SELECT c.seq, e.at_ms, e.actor_id, e.actor_kind, e.action, e.object_type, e.object_id,
         e.before, e.after, e.ip, c.prev, c.hash
  FROM chain c JOIN e ON e.n = c.n)
UPDATE audit_head SET seq = tip.seq, hash = tip.hash
FROM (SELECT seq, hash FROM chain ORDER BY n DESC LIMIT 1) AS tip
WHERE audit_head.id = 1
"""


def pg_append_args(entries: list[dict[str, Any]]) -> tuple[list[Any], ...]:
    """PG_APPEND's arguments: one array per column, in the entries' order."""
    from psycopg.types.json import Jsonb

    from corridor.platform.domain.audit import body_middle

    def json_or_null(value: Any) -> Any:
        return Jsonb(value)  # None too: JSON null, as SQLAlchemy's JSON type stores it

    return (
        [e["at_ms"] for e in entries], [e["actor_id"] for e in entries],
        [e["actor_kind"] for e in entries], [e["action"] for e in entries],
        [e["object_type"] for e in entries], [e["object_id"] for e in entries],
        [json_or_null(e["before"]) for e in entries], [json_or_null(e["after"]) for e in entries],
        [e["ip"] for e in entries], [body_middle(**e) for e in entries],
    )
