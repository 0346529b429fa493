"""A throw-away PostgreSQL server for tests (the server itself: corridor/bench/pg_server.py,
shared with `corridor bench payments`): initdb in a fresh temporary directory (in /dev/shm
when there is room: nothing needs to survive, and RAM makes each per-test database copy
~11 ms instead of ~100-300 ms on this machine's disk), listening on 127.0.0.1 on a free port
(unix sockets inside that directory), trust authentication for local connections only,
fsync off (durability is worthless here). One server per pytest
session; each test gets its own database, copied from a template migrated once.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user.
Binaries are found via CORRIDOR_PG_BIN (a directory), `initdb` on PATH, or the newest
/usr/lib/postgresql/*/bin. CORRIDOR_TEST_PG=0 skips the PostgreSQL variants (for developers
without PostgreSQL); otherwise missing binaries fail those tests with an explanation.
"""

from __future__ import annotations

import atexit
import os
import time
from collections.abc import Iterator

import pytest
from psycopg import sql

from corridor.bench.pg_server import BIN_ENV, PgServer, PgUnavailable, find_bin_dir, reap_orphans

SKIP_ENV = "CORRIDOR_TEST_PG"
TEMPLATE = "corridor_template"
HOW_TO_GET_IT = (
    "install PostgreSQL (`apt-get install postgresql`; `bash scripts/test.sh` does this "
    f"when run as root), point {BIN_ENV} at its bin directory, or set {SKIP_ENV}=0 to skip "
    "the PostgreSQL variants of the tests"
)


def skipped() -> bool:
    return os.environ.get(SKIP_ENV, "").strip() == "0"


def _migrate_template(server: PgServer) -> None:
    """The template every test database copies: migrated once, with nobody connected."""
    from corridor.platform.adapters import schema
    from corridor.platform.adapters.db import make_engine

    server.admin().execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    engine = make_engine(server.url(TEMPLATE))
    try:
        schema.upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    if skipped():
        pytest.skip(f"PostgreSQL tests skipped ({SKIP_ENV}=0)")
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.fail(f"PostgreSQL binaries (initdb, pg_ctl, postgres) not found: {HOW_TO_GET_IT}",
                    pytrace=False)
    reap_orphans(bin_dir)
    try:
        server = PgServer(bin_dir)
    except PgUnavailable as exc:
        pytest.fail(f"cannot run a test PostgreSQL server: {exc}", pytrace=False)
    atexit.register(server.stop)  # belt and braces if the session dies before teardown
    try:
        t0 = time.perf_counter()
        try:
            server.start()
            _migrate_template(server)
        except PgUnavailable as exc:
            pytest.fail(f"cannot start a test PostgreSQL server: {exc}", pytrace=False)
        server.start_seconds = time.perf_counter() - t0
        yield server
    finally:
        server.stop()
        atexit.unregister(server.stop)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database with the current schema (a copy of the migrated template)."""
    name = pg_server.create_database(template=TEMPLATE)
    yield pg_server.url(name)
    pg_server.drop_database(name)


@pytest.fixture
def pg_empty_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty database (for migration tests)."""
    name = pg_server.create_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)
