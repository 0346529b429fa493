"""`corridor bench payments` on PostgreSQL: the throw-away server it starts (the tests' own,
corridor/bench/pg_server.py, with a bench's settings) and the server's count of the
statements it ran (pg_stat_statements: every statement a client sent, BEGIN and COMMIT
included, so one per round trip unless a client pipelines).

The server keeps its data on disk and syncs its WAL (fsync on), but does not wait for the
sync at each commit (synchronous_commit=off): the durability the platform's SQLite has
(WAL, synchronous=NORMAL), so both databases pay for the same promise. Everything else is
PostgreSQL 15's default, but max_connections (room for every process's pool)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from corridor.bench.payments_setup import BENCH_MARK
from corridor.bench.pg_server import PgServer, PgUnavailable, find_bin_dir, reap_orphans

BENCH_SETTINGS: dict[str, str] = {
    "synchronous_commit": "off",
    "shared_buffers": "128MB",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track_utility": "on",  # BEGIN, COMMIT, SAVEPOINT: round trips too
}
HOW_TO_GET_IT = (
    "the bench measures PostgreSQL beside SQLite: install PostgreSQL (`apt-get install "
    "postgresql`), point CORRIDOR_PG_BIN at its bin directory, or pass --database-url with "
    "an empty PostgreSQL database"
)


@contextlib.contextmanager
def throwaway_database() -> Iterator[tuple[str, PgServer]]:
    """A fresh server with one empty database: (SQLAlchemy URL, server); deleted on exit."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise PgUnavailable(f"PostgreSQL binaries not found: {HOW_TO_GET_IT}")
    reap_orphans(bin_dir)
    server = PgServer(bin_dir, settings=BENCH_SETTINGS, in_ram=False)
    try:
        server.start()
        name = server.create_database()
        yield server.url(name), server
    finally:
        server.stop()


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementFigures:
    """What the server ran over a phase, from pg_stat_statements."""

    statements: int  # round trips, unless pipelined
    exec_ms: float  # time the server spent executing them (lock waits included)
    top: list[dict[str, Any]]  # the most frequent statements

    def as_json(self) -> dict[str, Any]:
        return {"statements": self.statements, "exec_ms": self.exec_ms, "top": self.top}


class StatementCounter:
    """Counts the statements the platform sends between `start()` and `stop()`: this
    process's own queries (its own, the load generator's) carry MARK and are left out."""

    MARK = BENCH_MARK

    def __init__(self, url: str) -> None:
        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.available = True
        try:
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            self.conn.execute(f"{self.MARK} SELECT count(*) FROM pg_stat_statements")
        except psycopg.Error:
            self.available = False  # someone else's server, without the extension loaded

    def start(self) -> None:
        if self.available:
            self.conn.execute(f"{self.MARK} SELECT pg_stat_statements_reset()")

    def stop(self, top: int = 25) -> StatementFigures | None:
        if not self.available:
            return None
        rows = self.conn.execute(
            f"{self.MARK} SELECT calls, total_exec_time, query FROM pg_stat_statements "
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "ORDER BY calls DESC").fetchall()
        mine = [r for r in rows if self.MARK not in r[2]]
        return StatementFigures(
            statements=sum(int(r[0]) for r in mine),
            exec_ms=sum(float(r[1]) for r in mine),
            top=[{"calls": int(r[0]), "exec_ms": round(float(r[1]), 1),
                  "query": " ".join(r[2].split())[:160]} for r in mine[:top]],
        )

    def close(self) -> None:
        self.conn.close()
