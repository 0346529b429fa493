"""PostgreSQL connection budget: each process's pool is bounded, and `serve` shares one
budget between its processes so that together they stay under max_connections."""

from __future__ import annotations

from pathlib import Path

import pytest

from corridor.cli.platform import PG_CONNECTIONS_BUDGET, pool_share
from corridor.platform.adapters.db import make_engine
from corridor.platform.config import DB_POOL_MAX_MIN, ConfigError, Settings, load_settings

PG_URL = "postgresql+psycopg://corridor@127.0.0.1:1/corridor"  # never connected to


def test_the_pool_size_comes_from_the_environment_and_is_checked(tmp_path: Path) -> None:
    env = {"CORRIDOR_DATA_DIR": str(tmp_path)}
    assert load_settings(env).db_pool_max == 30
    assert load_settings({**env, "CORRIDOR_DB_POOL_MAX": "12"}).db_pool_max == 12
    for bad in ("twelve", "1", "-5"):
        with pytest.raises(ConfigError, match=r"db_pool_max|DB_POOL_MAX"):
            load_settings({**env, "CORRIDOR_DB_POOL_MAX": bad})


@pytest.mark.parametrize(("pool_max", "size", "overflow"), [(30, 10, 20), (12, 10, 2), (5, 5, 0)])
def test_a_postgresql_engine_holds_at_most_pool_max_connections(
    pool_max: int, size: int, overflow: int
) -> None:
    engine = make_engine(PG_URL, pool_max=pool_max)
    try:
        assert engine.pool.size() == size  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == overflow  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_serve_shares_the_budget_between_its_processes(tmp_path: Path) -> None:
    pg = Settings(data_dir=tmp_path, database_url=PG_URL)
    assert pool_share(pg, 1).db_pool_max == 30  # never more than asked for
    assert pool_share(pg, 5).db_pool_max == PG_CONNECTIONS_BUDGET // 5 == 18
    assert 5 * pool_share(pg, 5).db_pool_max <= PG_CONNECTIONS_BUDGET
    assert pool_share(pg, 1_000).db_pool_max == DB_POOL_MAX_MIN
    small = Settings(data_dir=tmp_path, database_url=PG_URL, db_pool_max=4)
    assert pool_share(small, 5).db_pool_max == 4
    sqlite = Settings(data_dir=tmp_path)
    assert pool_share(sqlite, 5) == sqlite
