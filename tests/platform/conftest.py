"""Fixtures for platform tests: a platform on a fresh database, an API client, and
helpers that create signed-in customers and staff directly (bypassing the sign-up flow,
which has its own tests)."""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.adapters import schema
from corridor.platform.adapters.db import make_engine
from corridor.platform.config import Settings
from corridor.platform.domain import identity as idn
from corridor.platform.domain import kyc
from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.principal import Origin
from corridor.platform.services import sessions
from tests.platform.live import api, node, service  # noqa: F401  (live-process fixtures)
from tests.platform.pg import pg_empty_url, pg_server, pg_url  # noqa: F401  (fixtures)

_SQLITE_TEMPLATE: list[Path] = []  # the session's template, made on first use


def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once per session; each test's database is a copy
    (as each PostgreSQL test database is a copy of a template, tests/platform/pg.py):
    migrating from nothing costs ~0.3-0.7 s per test on this machine, copying ~1 ms. The
    migrations themselves are tested by test_migrations.py from an empty database. Not a
    fixture, so that every conftest importing `db_url` (tests/web) gets it too."""
    if not _SQLITE_TEMPLATE:
        path = tmp_path_factory.mktemp("sqlite-template") / "platform.db"
        engine = make_engine(f"sqlite:///{path}")
        try:
            schema.upgrade(engine)
        finally:
            engine.dispose()  # the last connection closed: the WAL is merged into the file
        assert not path.with_name(path.name + "-wal").exists(), "the template's WAL is left"
        _SQLITE_TEMPLATE.append(path)
    return _SQLITE_TEMPLATE[0]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every test on a platform runs twice: on SQLite and on a fresh database of a
    throw-away PostgreSQL server (tests/platform/pg.py; CORRIDOR_TEST_PG=0 skips those).
    Both start at the current schema, copied from a template migrated once."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    path = tmp_path / "platform.db"
    shutil.copyfile(sqlite_template(request.getfixturevalue("tmp_path_factory")), path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    # dev_sim_bank: the tests play the customer's bank as the customer (README's flow)
    return Settings(data_dir=tmp_path / "platform", database_url=db_url,
                    fast_password_hashing=True, dev_sim_bank=True)


@pytest.fixture
def platform(settings: Settings) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings)
    yield p
    p.close()


@pytest.fixture
def client(platform: bootstrap.Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform)) as c:
        yield c


@dataclasses.dataclass
class Actor:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def creating(self) -> dict[str, str]:
        """The headers of a creating request: a fresh Idempotency-Key each time."""
        return keyed(self.headers)


def new_key() -> str:
    """A fresh Idempotency-Key, for a creating service call made directly in a test."""
    return uuid.uuid4().hex


def keyed(headers: dict[str, str]) -> dict[str, str]:
    """`headers` with a fresh Idempotency-Key (every creating request carries one)."""
    return {**headers, "Idempotency-Key": uuid.uuid4().hex}


PASSWORD = "correct horse battery staple"


def make_user(
    platform: bootstrap.Platform,
    *,
    email: str,
    name: str = "Test User",
    kind: str = "customer",
    staff_role: str | None = None,
    password: str = PASSWORD,
) -> Actor:
    """A verified, active user with a live session (as if signed in with 2FA)."""
    deps = platform.deps
    now = deps.clock.now_ms()
    user = User(
        id=deps.rand.new_id(), kind=kind, staff_role=staff_role, name=name,
        email=idn.normalise_email(email), email_verified=True, phone=None,
        phone_verified=False, password_hash=deps.hasher.hash(password), totp_secret_enc=None,
        totp_enabled=False, totp_last_step=0, status=idn.UserStatus.ACTIVE, failed_logins=0,
        locked_until_ms=0,
        terms_version=idn.TERMS_VERSION, privacy_version=idn.PRIVACY_VERSION,
        terms_accepted_ms=now, created_ms=now, updated_ms=now,
    )
    with deps.uow() as uow:
        uow.repo(User).add(user)
        token = sessions.open_session(deps, uow, user, Origin(ip="127.0.0.1"))
        uow.commit()
    return Actor(user, token)


def give_kyc(platform: bootstrap.Platform, subject_id: str, tier: int = 1,
             subject_type: str = "user") -> None:
    """An accepted KYC (a customer) or KYB (an organisation, tier 3) for `subject_id`, as
    a compliance officer's decision would leave it (without the decision's side effects)."""
    deps = platform.deps
    now = deps.clock.now_ms()
    rec_id = deps.rand.new_id()
    rec = kyc.new_record(id=rec_id, subject_type=subject_type, subject_id=subject_id,
                         data_enc=deps.sealer.seal(b"{}", f"kyc-customer:{rec_id}"),
                         now_ms=now)
    with deps.uow() as uow:
        uow.repo(KycCustomer).add(dataclasses.replace(rec, status=kyc.KycStatus.ACCEPTED, tier=tier,
                                                      decided_ms=now))
        uow.commit()


@pytest.fixture
def customer(platform: bootstrap.Platform) -> Actor:
    return make_user(platform, email="carol@example.com", name="Carol Customer")


@pytest.fixture
def other_customer(platform: bootstrap.Platform) -> Actor:
    return make_user(platform, email="dave@example.com", name="Dave Customer")


def make_staff(platform: bootstrap.Platform, role: str, email: str | None = None) -> Actor:
    return make_user(platform, email=email or f"{role}@corridor.example", name=f"Staff {role}",
                     kind="staff", staff_role=role)
