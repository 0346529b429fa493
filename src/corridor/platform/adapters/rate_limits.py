"""Sliding-window rate limits kept in the platform's database, so every API worker process
counts against one limit (an in-memory counter per process would let N processes admit
N times the limit). A hit is a row (bucket, digest of the key, time); a window's count is
the rows newer than it. Each hit first deletes the bucket's rows older than its window,
so the table holds at most a window's worth of hits per bucket."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from corridor.platform.adapters.db import SqlUnitOfWork
from corridor.platform.adapters.tables_core import rate_hits
from corridor.platform.services.ports import Clock

BUCKET_LEN_MAX = 32

_PRUNE = sa.delete(rate_hits).where(rate_hits.c.bucket == sa.bindparam("b"),
                                    rate_hits.c.at_ms <= sa.bindparam("old"))
_COUNT = sa.select(sa.func.count()).select_from(rate_hits).where(
    rate_hits.c.bucket == sa.bindparam("b"), rate_hits.c.key_hash == sa.bindparam("k"),
    rate_hits.c.at_ms > sa.bindparam("old"))
_ADD = sa.insert(rate_hits)


class SqlRateLimits:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def hit(self, bucket: str, key: str, limit: int, window_ms: int) -> bool:
        """Counts one hit of `key` in `bucket` if fewer than `limit` were counted in the
        last `window_ms`; returns whether it was (False: refuse the request)."""
        assert 0 < len(bucket) <= BUCKET_LEN_MAX and limit > 0 and window_ms > 0
        digest = hashlib.sha256(key.encode()).hexdigest()  # no addresses or e-mails stored
        now = self.clock.now_ms()
        old = now - window_ms
        with SqlUnitOfWork(self.engine, self.clock) as uow:
            assert uow.conn is not None
            if uow.conn.dialect.name == "postgresql":
                # Two processes counting the same key at once must not both see limit - 1:
                # a transaction-scoped lock on the key (SQLite's writer lock already is one).
                lock_id = int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True)
                uow.conn.execute(sa.select(sa.func.pg_advisory_xact_lock(lock_id)))
            uow.conn.execute(_PRUNE, {"b": bucket, "old": old})
            seen = int(uow.conn.execute(_COUNT, {"b": bucket, "k": digest, "old": old})
                       .scalar_one())
            if seen >= limit:
                uow.commit()  # the pruning stands
                return False
            uow.conn.execute(_ADD, {"bucket": bucket, "key_hash": digest, "at_ms": now})
            uow.commit()
        return True
