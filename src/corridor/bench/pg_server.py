"""A throw-away PostgreSQL server, for the tests (tests/platform/pg.py) and for `corridor
bench payments`: initdb in a fresh temporary directory, listening on 127.0.0.1 on a free
port (unix sockets inside that directory), trust authentication for local connections only.
`stop()` deletes every byte it wrote.

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` system user.
Binaries are found via CORRIDOR_PG_BIN (a directory), `initdb` on PATH, or the newest
/usr/lib/postgresql/*/bin (as scripts/test.sh finds them).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

BIN_ENV = "CORRIDOR_PG_BIN"

# Settings every server gets: loopback only, room for several API processes' pools.
BASE_SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "min_wal_size": "32MB",
    "max_wal_size": "256MB",
}
# Tests: durability is worthless, speed is everything.
TEST_SETTINGS: dict[str, str] = {
    "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class PgUnavailable(Exception):
    """No usable PostgreSQL installation (or it would not start)."""


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

    def __init__(self, bin_dir: Path, *, settings: dict[str, str] | None = None,
                 in_ram: bool = True) -> None:
        """`settings`: server settings over BASE_SETTINGS (default TEST_SETTINGS);
        `in_ram`: the data directory in /dev/shm when there is room."""
        self.bin_dir = bin_dir
        self.settings = {**BASE_SETTINGS, **(TEST_SETTINGS if settings is None else settings)}
        self.root = Path(tempfile.mkdtemp(prefix="corridor-pg-",
                                          dir=scratch_dir() if in_ram else None))
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
            opts = " ".join(
                f"-c {name}={value}" for name, value in
                {**self.settings, "port": str(self.port),
                 "unix_socket_directories": f"'{self.root}'"}.items())
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

    def postmaster_pid(self) -> int:
        """The server's main process (its backends are its children)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

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
