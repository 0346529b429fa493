"""`corridor platform …` administration commands: clear one-line errors, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from corridor.cli.main import app

runner = CliRunner()


def _run(data_dir: Path, *args: str, stdin: str = "") -> tuple[int, str]:
    r = runner.invoke(app, ["platform", *args, "--data-dir", str(data_dir)], input=stdin)
    return r.exit_code, r.output


def test_staff_add_then_audit_verify_and_tamper(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "staff-add", "--email", "Olive@Corridor.example", "--name",
                     "Olive", "--role", "compliance_officer", "--password-stdin",
                     stdin="officer passphrase 2026\n")
    assert code == 0, out
    assert "created staff olive@corridor.example (compliance_officer)" in out
    code, out = _run(tmp_path, "staff-add", "--email", "olive@corridor.example", "--name",
                     "Olive", "--role", "compliance_officer", "--password-stdin",
                     stdin="officer passphrase 2026\n")
    assert code == 1 and "error:" in out
    code, out = _run(tmp_path, "staff-add", "--email", "x@corridor.example", "--name", "X",
                     "--role", "emperor", "--password-stdin", stdin="officer passphrase 2026\n")
    assert code == 1 and "error:" in out and "Traceback" not in out
    code, out = _run(tmp_path, "audit-verify")
    assert code == 0 and "audit chain intact: 1 entries" in out
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'platform.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor_kind = 'customer' WHERE seq = 1"))
    engine.dispose()
    code, out = _run(tmp_path, "audit-verify")
    assert code == 1 and "entry 1 was altered" in out


def _staff(data_dir: Path) -> None:
    code, out = _run(data_dir, "staff-add", "--email", "olive@corridor.example", "--name",
                     "Olive", "--role", "compliance_officer", "--password-stdin",
                     stdin="officer passphrase 2026\n")
    assert code == 0, out


def test_outbox_lists_messages_and_rejects_bad_addresses(tmp_path: Path) -> None:
    _staff(tmp_path)
    code, out = _run(tmp_path, "outbox")
    assert code == 0 and "(no messages)" in out
    code, out = _run(tmp_path, "outbox", "--to", "not an address")
    assert code == 1 and "is not an e-mail address or phone number" in out


def test_production_mode_refuses_a_development_keyring(tmp_path: Path) -> None:
    _staff(tmp_path)  # creates a development keyring
    r = runner.invoke(app, ["platform", "outbox", "--data-dir", str(tmp_path)],
                      env={"CORRIDOR_MODE": "production"})
    assert r.exit_code == 1
    assert "refusing to start in production" in r.output
    assert "development keyring" in r.output


def test_outbox_shows_a_code_while_it_lives_then_forgets_it(tmp_path: Path) -> None:
    """README's sign-up reads the code with `outbox`; an expired code's message is gone."""
    from corridor.platform import bootstrap
    from corridor.platform.config import Settings
    from corridor.platform.domain.identity import Channel, Purpose, User
    from corridor.platform.services import codes
    from tests.platform.conftest import make_user

    p = bootstrap.build(Settings(data_dir=tmp_path, fast_password_hashing=True))
    try:
        actor = make_user(p, email="ann@example.com")
        with p.deps.uow() as uow:
            user = uow.repo(User).get(actor.user.id)
            assert user is not None
            codes.issue(p.deps, uow, user, Purpose.LOGIN, Channel.EMAIL, "ann@example.com")
            uow.commit()
    finally:
        p.close()
    code, out = _run(tmp_path, "outbox", "--to", "ann@example.com")
    assert code == 0 and "Your Corridor code is" in out
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'platform.db'}")
    with engine.begin() as conn:  # as if ten minutes went by
        conn.execute(sa.text("UPDATE notices SET expires_ms = 1 WHERE expires_ms IS NOT NULL"))
    engine.dispose()
    code, out = _run(tmp_path, "outbox", "--to", "ann@example.com")
    assert code == 0 and "(no messages)" in out
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'platform.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM notices")).scalar_one() == 0
    engine.dispose()


def test_reading_commands_refuse_a_data_dir_without_a_database(tmp_path: Path) -> None:
    """Issue 15: `outbox` pointed at the wrong place made a new, empty database and said
    "(no messages)"; now it says where it looked, and makes nothing."""
    for command in ("outbox", "audit-verify", "rotate-keys", "wallets-check"):
        code, out = _run(tmp_path / "nowhere", command)
        assert code == 1, (command, out)
        assert f"no platform database at {tmp_path / 'nowhere' / 'platform.db'}" in out
        assert "--data-dir" in out and "Traceback" not in out
    assert not (tmp_path / "nowhere" / "platform.db").exists()


def test_platform_commands_default_to_the_data_dir_of_corridor_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --data-dir the platform commands use `corridor up`'s: `platform` in
    CORRIDOR_HOME, else in .corridor/local (issue 15)."""
    from corridor.cli import common
    from corridor.platform.config import load_settings

    monkeypatch.delenv("CORRIDOR_DATA_DIR", raising=False)
    monkeypatch.delenv("CORRIDOR_HOME", raising=False)
    assert load_settings({}).data_dir == common.DEFAULT_HOME / "platform"
    assert Path(".corridor/local") == common.DEFAULT_HOME
    home = tmp_path / "home"
    assert load_settings({"CORRIDOR_HOME": str(home)}).data_dir == home / "platform"
    assert load_settings({"CORRIDOR_HOME": str(home), "CORRIDOR_DATA_DIR": "/x"}
                         ).data_dir == Path("/x")
    _staff(home / "platform")  # as `corridor up` would have made it
    r = runner.invoke(app, ["platform", "audit-verify"], env={"CORRIDOR_HOME": str(home)})
    assert r.exit_code == 0 and "audit chain intact: 1 entries" in r.output, r.output
