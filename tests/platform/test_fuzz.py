"""The OpenAPI fuzzer over the platform API (tests/fuzz.py): every operation, anonymous,
as a signed-in customer and as staff; no server error, no undocumented status, bodies as
documented. In-process on SQLite, bounded (3 requests per operation and mode; 6 in the
long run); `bash scripts/fuzz.sh` runs it longer."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis import Response
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.identity import User
from corridor.platform.domain.principal import Origin
from corridor.platform.services import sessions
from tests import fuzz
from tests.platform import live
from tests.platform.conftest import give_kyc, keyed, make_staff, make_user


@pytest.fixture
def sqlite_platform(tmp_path: Path) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(Settings(data_dir=tmp_path / "platform",
                                 database_url=f"sqlite:///{tmp_path / 'platform.db'}",
                                 fast_password_hashing=True))
    yield p
    p.close()


def signed_in(platform: bootstrap.Platform, user: User) -> fuzz.Headers:
    """Headers of `user`'s session; a new session after a 401 (the fuzzer signed out)."""
    token = ""

    def headers(last: Response | None) -> Mapping[str, str]:
        nonlocal token
        if not token or (last is not None and last.status_code == 401):
            with platform.deps.uow() as uow:
                token = sessions.open_session(platform.deps, uow, user, Origin(ip="127.0.0.1"))
                uow.commit()
        return {"Authorization": f"Bearer {token}"}

    return headers


def roles(platform: bootstrap.Platform) -> dict[str, fuzz.Headers]:
    customer = make_user(platform, email="fuzz-customer@example.com", name="Fuzz Customer")
    give_kyc(platform, customer.user.id, tier=2)  # so its money operations go deeper
    officer = make_staff(platform, "compliance_officer")
    admin = make_staff(platform, "admin")
    return {"anonymous": lambda _last: {},
            "customer": signed_in(platform, customer.user),
            "compliance_officer": signed_in(platform, officer.user),
            "staff_admin": signed_in(platform, admin.user)}


def check(report: fuzz.Report) -> None:
    print(report.headline())
    assert report.operations >= 90, report.summary()
    assert not report.failures, report.summary()


def known_ids(platform: bootstrap.Platform, app: FastAPI,
              customer: fuzz.Headers) -> dict[str, str]:
    """An organisation the customer owns (with an accepted KYB), so its operations are
    fuzzed past 404."""
    with TestClient(app) as client:
        r = client.post("/v1/orgs", json={"name": "Fuzz Ltd", "country": "GB"},
                        headers=keyed(dict(customer(None))))
    assert r.status_code == 201, r.text
    org_id: str = r.json()["id"]
    give_kyc(platform, org_id, tier=3, subject_type="org")
    return {"org_id": org_id}


# Requests per operation and mode in process: 3 in the default run, fuzz.EXAMPLES (6) with
# CORRIDOR_LONG_TESTS=1 (`bash scripts/test-long.sh`), whatever CORRIDOR_FUZZ_EXAMPLES says
# when it is set (`bash scripts/fuzz.sh`: 60). The same seed: the default's requests are
# the first of the long run's.
IN_PROCESS_EXAMPLES = (fuzz.EXAMPLES if "CORRIDOR_FUZZ_EXAMPLES" in os.environ
                       or os.environ.get("CORRIDOR_LONG_TESTS") == "1" else 3)


def test_the_platform_api_survives_the_fuzzer(sqlite_platform: bootstrap.Platform) -> None:
    app = create_app(sqlite_platform)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    as_roles = roles(sqlite_platform)
    check(fuzz.run(schema, as_roles, examples=IN_PROCESS_EXAMPLES,
                   known=known_ids(sqlite_platform, app, as_roles["customer"])))


@pytest.mark.skipif(not fuzz.LIVE, reason="the long run only: bash scripts/fuzz.sh")
def test_the_live_platform_survives_the_fuzzer(service: live.Platform, db_url: str) -> None:
    """`corridor platform serve` with a node, over HTTP; the roles' sessions are opened in
    its database directly."""
    beside = bootstrap.build(Settings(data_dir=service.data_dir, database_url=db_url))
    try:
        schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json")
        check(fuzz.run(schema, roles(beside)))
    finally:
        beside.close()
