"""Fixtures for the pages: the platform (on SQLite and PostgreSQL, as every platform
test), the site (API and pages in one app) over HTTP, and helpers that read a form's CSRF
token and the development outbox the way a person reads their mail."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.services import codes
from corridor.web.site import create_site
from tests.platform.conftest import db_url, platform, settings  # noqa: F401  (fixtures)
from tests.platform.pg import pg_server, pg_url  # noqa: F401  (fixtures)

PASSWORD = "mango tractor umbrella 42"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def site(platform: bootstrap.Platform) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_site(platform), base_url="http://127.0.0.1") as c:
        yield c


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def latest_code(platform: bootstrap.Platform, destination: str) -> str:  # noqa: F811
    notices = codes.outbox(platform.deps, destination, 10)
    for notice in notices:
        match = re.search(r"\b(\d{6})\b", notice.body)
        if match:
            return match.group(1)
    raise AssertionError(f"no code sent to {destination}")
