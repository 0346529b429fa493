"""`corridor platform …` administration commands: clear one-line errors, exit codes."""

from __future__ import annotations

from pathlib import Path

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


def test_outbox_lists_messages_and_rejects_bad_addresses(tmp_path: Path) -> None:
    code, out = _run(tmp_path, "outbox")
    assert code == 0 and "(no messages)" in out
    code, out = _run(tmp_path, "outbox", "--to", "not an address")
    assert code == 1 and "is not an e-mail address or phone number" in out


def test_production_mode_refuses_a_development_keyring(tmp_path: Path) -> None:
    _run(tmp_path, "outbox")  # creates a development keyring
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
