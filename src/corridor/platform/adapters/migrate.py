"""Versioned schema migrations with Alembic (scripts in `migrations/versions/`).

The Alembic Config is built here in code, so there is no alembic.ini: `upgrade(engine)` and
`downgrade(engine, target)` for the platform and tests, `current(engine)` for the revision a
database is at, and `revision(message)` for developers (or `scripts/platform-revision.sh`),
which autogenerates a new revision from the difference between the models (`db.metadata`,
every table imported via `tables.py`) and a scratch SQLite database upgraded to head.

Revision ids are sequential (0001, 0002, ...), so files sort in the order they apply and two
branches that both add a revision collide visibly instead of silently forking.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from corridor.platform.adapters.db import make_engine

MIGRATIONS = Path(__file__).with_name("migrations")
VERSIONS = MIGRATIONS / "versions"


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    cfg.set_main_option("truncate_slug_length", "40")
    cfg.attributes["connection"] = connection
    return cfg


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction for a migration. On SQLite, foreign keys are off
    meanwhile (batch mode rebuilds tables by copy-and-drop, which enforcement would refuse)
    and checked before commit."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Outside any transaction (the pragma is a no-op inside one); the driver is in
            # autocommit mode (see make_engine), so this runs immediately.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    bad = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if bad:
                        raise RuntimeError(f"migration broke foreign keys: {bad[:5]}")
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def upgrade(engine: Engine, target: str = "head") -> None:
    """Brings the schema to `target` (default: the newest revision); a no-op when there."""
    with _migrating(engine) as conn:
        command.upgrade(config(conn), target)


def downgrade(engine: Engine, target: str) -> None:
    """Takes the schema back to `target` ("base": nothing). Destroys data; tests and
    development only."""
    with _migrating(engine) as conn:
        command.downgrade(config(conn), target)


def current(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str | None:
    """The newest revision among the scripts."""
    return ScriptDirectory.from_config(config()).get_current_head()


def _next_rev_id() -> str:
    script = ScriptDirectory.from_config(config())
    numbers = [int(r.revision) for r in script.walk_revisions() if r.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def revision(message: str) -> Path | None:
    """Autogenerates a revision taking the newest one to the models; returns its file, or
    None (writing nothing) when the models have not changed."""
    from corridor.platform.adapters import tables  # noqa: F401  (registers every table)

    empty = False

    def skip_if_empty(_context: Any, _revision: Any, directives: list[Any]) -> None:
        nonlocal empty
        if directives[0].upgrade_ops.is_empty():
            empty = True
            directives[:] = []

    with tempfile.TemporaryDirectory(prefix="corridor-revision-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        try:
            upgrade(engine)
            with engine.begin() as conn:
                cfg = config(conn)
                cfg.attributes["process_revision_directives"] = skip_if_empty
                script = command.revision(
                    cfg, message=message, autogenerate=True, rev_id=_next_rev_id())
        finally:
            engine.dispose()
    if empty or script is None:
        return None
    assert not isinstance(script, list)
    return Path(script.path)


def _main(argv: list[str]) -> int:
    usage = "usage: python -m corridor.platform.adapters.migrate revision MESSAGE"
    if len(argv) != 2 or argv[0] != "revision" or not argv[1].strip():
        print(usage, file=sys.stderr)
        return 2
    path = revision(argv[1])
    if path is None:
        print("no changes: the models match the newest revision; nothing written")
        return 0
    print(f"wrote {path}; review it (autogenerate misses renames and data moves)")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

