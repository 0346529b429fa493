"""Rate limits kept in the database (on SQLite and PostgreSQL): two API processes (two
engines on one database) admit the limit between them, the window slides, buckets and keys
are separate, concurrent hits never admit more than the limit, and only key digests are
stored."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from corridor.api.deps import SharedRateLimiter
from corridor.platform import bootstrap
from corridor.platform.adapters.db import make_engine
from corridor.platform.adapters.rate_limits import SqlRateLimits
from corridor.platform.adapters.tables_core import rate_hits
from corridor.platform.domain.errors import PlatformError
from tests.platform.payment_fakes import FakeClock

WINDOW_S = 60.0


def _refused(limiter: SharedRateLimiter, bucket: str, key: str, limit: int) -> bool:
    try:
        limiter.hit(bucket, key, limit, WINDOW_S)
    except PlatformError as exc:
        assert exc.code == "RATE_LIMITED"
        return True
    return False


def test_two_processes_share_one_limit_and_the_window_slides(
        platform: bootstrap.Platform) -> None:
    clock = FakeClock()
    other_engine = make_engine(str(platform.engine.url.render_as_string(hide_password=False)))
    try:
        a = SharedRateLimiter(SqlRateLimits(platform.engine, clock))
        b = SharedRateLimiter(SqlRateLimits(other_engine, clock))
        # 5 allowed between the two "processes", alternating
        assert [_refused(x, "auth-ip", "10.0.0.1", 5) for x in (a, b, a, b, a)] == [False] * 5
        assert _refused(b, "auth-ip", "10.0.0.1", 5) and _refused(a, "auth-ip", "10.0.0.1", 5)
        # another key, another bucket: their own counts
        assert not _refused(a, "auth-ip", "10.0.0.2", 5)
        assert not _refused(b, "auth-id", "10.0.0.1", 5)
        clock.advance(30_000)
        assert _refused(a, "auth-ip", "10.0.0.1", 5)  # still inside the window
        clock.advance(30_001)  # the first five are now older than the window
        assert not _refused(b, "auth-ip", "10.0.0.1", 5)
        with platform.engine.connect() as conn:
            keys = {r.key_hash for r in conn.execute(sa.select(rate_hits))}
            # the expired hits of the bucket were pruned; no address is stored in clear
            assert conn.execute(sa.select(sa.func.count()).select_from(rate_hits)
                                .where(rate_hits.c.at_ms <= clock.now_ms() - 60_000)
                                .where(rate_hits.c.bucket == "auth-ip")).scalar_one() == 0
        assert all(len(k) == 64 and "10.0.0" not in k for k in keys)
    finally:
        other_engine.dispose()


def test_concurrent_hits_admit_exactly_the_limit(platform: bootstrap.Platform) -> None:
    clock = FakeClock()
    engines = [platform.engine, make_engine(platform.engine.url.render_as_string(False))]
    limiters = [SharedRateLimiter(SqlRateLimits(e, clock)) for e in engines]
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            refused = list(pool.map(
                lambda i: _refused(limiters[i % 2], "auth-id", "ann@example.com", 10), range(40)))
        assert refused.count(False) == 10
    finally:
        engines[1].dispose()


def test_bad_arguments_are_programmer_errors(platform: bootstrap.Platform) -> None:
    store = SqlRateLimits(platform.engine, FakeClock())
    with pytest.raises(AssertionError):
        store.hit("", "k", 1, 1000)
    with pytest.raises(AssertionError):
        store.hit("b", "k", 0, 1000)
