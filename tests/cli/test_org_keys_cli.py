"""`corridor org keys create|list|rotate|revoke` through the platform API with an owner's
session: the token printed once, the list without tokens, the rotated key's successor, a
revoked key refused, and a refusal printed as one line with its code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from corridor.api.app import create_app
from corridor.cli import org as org_cli
from corridor.cli.main import app
from corridor.cli.platform import _settings
from corridor.platform import bootstrap
from tests.platform.conftest import Actor, make_user
from tests.platform.wallet_fakes import make_org

runner = CliRunner()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Actor, Actor, str]]:
    platform = bootstrap.build(_settings(tmp_path / "platform", None, fast_password_hashing=True))
    api = create_app(platform)
    monkeypatch.setattr(org_cli, "client_factory", lambda _url: TestClient(api))
    try:
        owner = make_user(platform, email="carol@example.com")
        viewer = make_user(platform, email="vic@example.com")
        yield owner, viewer, make_org(platform, owner.user.id, {viewer.user.id: "viewer"})
    finally:
        platform.close()


def keys(*args: str) -> tuple[int, str]:
    r = runner.invoke(app, ["org", "keys", *args])
    return r.exit_code, r.output


def test_create_list_rotate_revoke(world: tuple[Actor, Actor, str]) -> None:
    owner, viewer, org = world
    auth = ("--org", org, "--token", owner.token)
    code, out = keys("create", *auth, "--name", "erp", "--scope", "read",
                     "--allow", "203.0.113.0/24")
    assert code == 0, out
    token = re.search(r"token \(shown once, stored nowhere\): (cor_\S+)", out)
    assert token is not None
    key_id = out.split()[0]
    code, out = keys("list", *auth)
    assert code == 0 and key_id in out and "active" in out and token.group(1) not in out
    assert "203.0.113.0/24" in out
    code, out = keys("rotate", *auth, key_id, "--overlap-hours", "1")
    assert code == 0 and "cor_" in out
    code, out = keys("list", *auth)
    assert "rotating" in out
    code, out = keys("revoke", *auth, key_id)
    assert code == 0 and "revoked" in out
    # refusals: one line with the API's code
    code, out = keys("create", "--org", org, "--token", viewer.token, "--name", "x",
                     "--scope", "read")
    assert code == 1 and "FORBIDDEN" in out
    code, out = keys("create", *auth, "--name", "x", "--scope", "pay-approve")
    assert code == 1 and "INVALID_FIELDS" in out and "scopes" in out
    code, out = keys("list", "--org", org, "--token", "")
    assert code == 1 and "CORRIDOR_TOKEN" in out
