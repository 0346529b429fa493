"""A throw-away PostgreSQL server for tests: initdb in a fresh temporary directory (in
/dev/shm when there is room: nothing needs to survive, and RAM makes each per-test database
copy ~11 ms instead of ~100-300 ms on this machine's disk), listening
on 127.0.0.1 on a free port (unix sockets inside that directory), trust authentication for
local connections only, fsync off (durability is worthless here). One server per pytest
session; each test gets its own database, copied from a template migrated once.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user.
Binaries are found via CORRIDOR_PG_BIN (a directory), `initdb` on PATH, or the newest
/usr/lib/postgresql/*/bin. CORRIDOR_TEST_PG=0 skips the PostgreSQL variants (for developers
without PostgreSQL); otherwise missing binaries fail those tests with an explanation.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

SKIP_ENV = "CORRIDOR_TEST_PG"
BIN_ENV = "CORRIDOR_PG_BIN"
TEMPLATE = "corridor_template"
HOW_TO_GET_IT = (
    "install PostgreSQL (`apt-get install postgresql`; `bash scripts/test.sh` does this "
    f"when run as root), point {BIN_ENV} at its bin directory, or set {SKIP_ENV}=0 to skip "
    "the PostgreSQL variants of the tests"
)


class PgUnavailable(Exception):
    """No usable PostgreSQL installation (or it would not start)."""


def skipped() -> bool:
    return os.environ.get(SKIP_ENV, "").strip() == "0"


def find_bin_dir() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, or None."""
    candidates: list[str] = []
    if os.environ.get(BIN_ENV):
        candidates.append(os.environ[BIN_ENV])
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))

    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.parent.name  # /usr/lib/postgresql/<version>/bin/initdb
        return tuple(int(x) for x in part.split(".") if x.isdigit())

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version, reverse=True)
    candidates += [str(Path(p).parent) for p in found]
    for c in candidates:
        d = Path(c)
        if all((d / exe).is_file() for exe in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


def scratch_dir() -> str | None:
    """Where the data directory goes: RAM (/dev/shm) when there is room, as nothing here
    needs to survive; copying a database there is several times faster than on disk."""
    shm = "/dev/shm"
    try:
        st = os.statvfs(shm)
    except OSError:
        return None
    free = st.f_bavail * st.f_frsize
    return shm if free > 2 * 1024**3 and os.access(shm, os.W_OK) else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_orphans(bin_dir: Path) -> None:
    """Stops and deletes servers left by test sessions that were killed before teardown
    (each server's directory records the pytest process that owns it)."""
    for base in {scratch_dir() or tempfile.gettempdir(), tempfile.gettempdir()}:
        for root in Path(base).glob("corridor-pg-*"):
            try:
                owner = int((root / "owner.pid").read_text())
            except (OSError, ValueError):
                continue
            if _alive(owner):
                continue
            subprocess.run(
                [str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"],
                capture_output=True, check=False, cwd="/",
                user=root.stat().st_uid if os.geteuid() == 0 else None)
            shutil.rmtree(root, ignore_errors=True)


class PgServer:
    """One running throw-away server; `stop()` kills it and deletes every byte it wrote."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="corridor-pg-", dir=scratch_dir()))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.version = ""
        self._run_as: dict[str, Any] = {}
        self._admin: psycopg.Connection[Any] | None = None
        self._names = itertools.count(1)
        self._running = False
        self.start_seconds = 0.0  # initdb + start + template, for the curious
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise PgUnavailable(
                    "running as root, and PostgreSQL refuses root, but there is no `postgres` "
                    "system user to run it as") from None
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        os.chmod(self.root, 0o700)
        (self.root / "owner.pid").write_text(str(os.getpid()))

    def _run(self, *args: str) -> str:
        exe = str(self.bin_dir / args[0])
        done = subprocess.run(
            [exe, *args[1:]], cwd=self.root, capture_output=True, text=True, check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
            **self._run_as,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PgUnavailable(
                f"`{' '.join(args)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}"
                + (f"\nserver log:\n{log}" if log else ""))
        return str(done.stdout)

    def start(self) -> None:
        self.version = self._run("postgres", "--version").strip()
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8",
                  "--no-locale", "--auth=trust", "--no-sync")
        (self.data / "pg_hba.conf").write_text(
            "# throw-away test server: trust, but only over the unix socket and loopback\n"
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n")
        for attempt in range(5):
            self.port = free_port()
            opts = (
                f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                f"-c unix_socket_directories='{self.root}' "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200 -c shared_buffers=32MB "
                "-c min_wal_size=32MB -c max_wal_size=256MB"
            )
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                          "-o", opts, "start")
            except PgUnavailable:
                if attempt == 4 or "could not bind" not in self.log.read_text(errors="replace"):
                    raise
                continue  # someone took the port between our probe and the bind; try another
            self._running = True
            return

    def admin(self) -> psycopg.Connection[Any]:
        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(
                host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                autocommit=True)
        return self._admin

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, *, template: str | None = None) -> str:
        """A new database (empty, or a copy of `template`); returns its name."""
        name = f"test_{next(self._names)}"
        q = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            # FILE_COPY (checkpoint, then copy the files): ~11 ms on tmpfs, steadier than
            # PostgreSQL 15's default WAL_LOG, which writes the whole copy through the WAL.
            q = sql.SQL("{} TEMPLATE {} STRATEGY FILE_COPY").format(q, sql.Identifier(template))
        self.admin().execute(q)
        return name

    def drop_database(self, name: str) -> None:
        self.admin().execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):
                self._admin.close()
            self._admin = None
        if self._running:
            self._running = False
            with contextlib.suppress(PgUnavailable):
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


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
