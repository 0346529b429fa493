"""Alembic migrations, on SQLite and on a real PostgreSQL server: an empty database upgraded
to head has exactly the schema the models describe (so changing a model without adding a
revision fails here: run `bash scripts/platform-revision.sh "what changed"`), upgrading is
idempotent, and downgrading to nothing and back works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from corridor.platform.adapters import (
    migrate,
    tables,  # noqa: F401  (registers every table)
)
from corridor.platform.adapters.db import make_engine, metadata
from corridor.platform.adapters.tables_core import AUDIT_HEAD_ROW, audit_head


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        url = str(request.getfixturevalue("pg_empty_url"))
    else:
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = make_engine(url)
    yield engine
    engine.dispose()


def differences(engine: Engine, target: sa.MetaData = metadata) -> list[Any]:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(ctx, target))


def user_tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_upgrade_of_an_empty_database_matches_the_models(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    assert migrate.current(empty_engine) == migrate.head()
    diff = differences(empty_engine)
    assert not diff, (
        "the migrations do not produce the models' schema; add a revision with "
        f'`bash scripts/platform-revision.sh "what changed"`: {diff}')
    with empty_engine.connect() as conn:
        assert [dict(r._mapping) for r in conn.execute(sa.select(audit_head))] == [AUDIT_HEAD_ROW]


def test_the_comparison_notices_a_model_change(empty_engine: Engine) -> None:
    # Guards the test above: a column added to a model (not to a migration) is a difference.
    migrate.upgrade(empty_engine)
    changed = sa.MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["users"].append_column(sa.Column("nickname", sa.String(50)))
    diff = differences(empty_engine, changed)
    assert [d[0] for d in diff] == ["add_column"] and diff[0][3].name == "nickname"


def test_upgrade_is_idempotent(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.upgrade(empty_engine)
    assert migrate.current(empty_engine) == migrate.head()
    assert not differences(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_head)).scalar() == 1


def test_downgrade_to_base_then_upgrade(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.downgrade(empty_engine, "base")
    assert migrate.current(empty_engine) is None
    assert user_tables(empty_engine) == set()
    migrate.upgrade(empty_engine)
    assert migrate.current(empty_engine) == migrate.head()
    assert user_tables(empty_engine) == set(metadata.tables)
    assert not differences(empty_engine)


def test_the_unmigrated_database_is_at_no_revision(empty_engine: Engine) -> None:
    assert migrate.current(empty_engine) is None
    assert migrate.head() is not None
