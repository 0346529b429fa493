"""Issue 14, items 4, 10, 11 (names), 12 (in test_identity.py), 13 and 16: codes kept only
as keyed hashes and their messages only while they live, private data files, forwarded
client addresses believed only from configured proxies, names without control or invisible
characters, strong passwords, and sign-in delays an attacker cannot stretch into a lockout."""

# ruff: noqa: F811  (fixtures imported from test_identity are parameters here)
from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
import uvicorn
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.api.deps import client_ip
from corridor.cli.platform import uvicorn_config
from corridor.platform import bootstrap
from corridor.platform.adapters import migrate
from corridor.platform.adapters.vault import EnvelopeVault, Keyring
from corridor.platform.config import ConfigError, Settings
from corridor.platform.domain import identity as idn
from corridor.platform.domain import orgs as org_rules
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import Err, PlatformError, Problems
from corridor.platform.domain.identity import OneTimeCode, User
from corridor.platform.domain.notices import Notice
from corridor.platform.domain.principal import Origin
from corridor.platform.services import (
    codes,
    login,
    registration,
    security,
    sessions,
    staff,
    wallets,
)
from tests.platform.conftest import PASSWORD as STAFF_PASSWORD  # make_user's password
from tests.platform.conftest import make_staff, make_user
from tests.platform.test_identity import (  # noqa: F401  (fixtures)
    PASSWORD,
    FakeClock,
    api,
    app_platform,
    clock,
    error,
    last_code,
    notices,
    opened,
    register,
    signup,
    user_by_email,
)
from tests.platform.test_identity import login as sign_in
from tests.platform.test_migrations import empty_engine  # noqa: F401  (fixture)

ANN = "ann@example.com"
HERE = Origin(ip="198.51.100.1")


def code_messages(p: bootstrap.Platform) -> list[Notice]:
    with p.deps.uow() as uow:
        return [n for n in uow.repo(Notice).many() if "code is" in n.body]


# --- item 4: codes, their messages, and the files ------------------------------------------

def test_codes_are_stored_only_as_keyed_hashes(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    register(api)
    code = last_code(app_platform, ANN)
    with app_platform.deps.uow() as uow:
        record = uow.repo(OneTimeCode).one(destination=ANN)
    assert record is not None and code not in record.code_hash
    assert record.code_hash != idn.digest(code, record.id)  # not guessable from the row
    context = f"code:{record.id}"
    assert app_platform.vault.keyed_hash_matches(record.code_hash, code, context)
    other_vault = EnvelopeVault(Keyring.generate(development=True))  # without the keyring:
    assert not other_vault.keyed_hash_matches(record.code_hash, code, context)  # no match


def test_recovery_codes_are_keyed_too(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    signup(api, app_platform)
    user = user_by_email(app_platform, ANN)
    deps = app_platform.deps
    with deps.uow() as uow:
        shown = codes.new_recovery_codes(deps, uow, user.id)
        uow.commit()
    with deps.uow() as uow:
        stored = uow.repo(idn.RecoveryCode).many(user_id=user.id)
        assert all(rc.code_hash.startswith("h1.") for rc in stored)
        assert codes.use_recovery_code(deps, uow, user.id, shown[0])
        assert not codes.use_recovery_code(deps, uow, user.id, shown[0])  # single use


def test_code_messages_live_only_as_long_as_their_code(
    api: TestClient, app_platform: bootstrap.Platform, clock: FakeClock
) -> None:
    register(api)
    [shown] = codes.outbox(app_platform.deps, ANN, 20)  # `corridor platform outbox` shows it
    assert "code is" in shown.body
    assert len(code_messages(app_platform)) == 1
    api.post("/v1/auth/verify/resend", json={"identifier": ANN})
    assert len(code_messages(app_platform)) == 1  # the replaced code's message is gone
    r = api.post("/v1/auth/verify", json={"identifier": ANN,
                                          "code": last_code(app_platform, ANN)})
    assert r.status_code == 200
    assert code_messages(app_platform) == []  # used: gone
    r = api.post("/v1/auth/login", json={"identifier": ANN, "password": PASSWORD})
    assert r.status_code == 200 and len(code_messages(app_platform)) == 1
    clock.advance(idn.CODE_TTL_MS)
    assert codes.outbox(app_platform.deps, ANN, 20) == []
    assert code_messages(app_platform) == []  # expired: deleted


def test_code_messages_are_never_stored_in_production(app_platform: bootstrap.Platform) -> None:
    sent: list[dict[str, str]] = []

    class Messenger:
        def send(self, **message: str) -> None:
            sent.append(message)

    base = app_platform.deps
    deps = dataclasses.replace(
        base, settings=dataclasses.replace(base.settings, mode="production"),
        messenger=Messenger())
    wallets_ensure = wallets.ensure_wallet
    registration.register(deps, registration.Register(
        name="Ann", email=ANN, phone=None, password=PASSWORD, accept_terms=True,
        terms_version=idn.TERMS_VERSION, privacy_version=idn.PRIVACY_VERSION), HERE)
    assert code_messages(app_platform) == []  # nothing with a code in the database
    [message] = sent
    assert message["destination"] == ANN and "code is" in message["body"]
    code = message["body"].split("code is ")[1][:6]
    wallets.ensure_wallet = lambda *a, **k: "w"  # type: ignore[assignment]  # custody: elsewhere
    try:
        registration.verify(deps, ANN, code, HERE)
    finally:
        wallets.ensure_wallet = wallets_ensure
    assert user_by_email(app_platform, ANN).status == "active"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_directory_database_and_keys_are_created_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "platform"
    p = bootstrap.build(Settings(data_dir=data, fast_password_hashing=True))
    try:
        ref = p.deps.files.put(b"passport scan", "test")
        with p.deps.uow() as uow:  # a write, so SQLite has its -wal and -shm files
            uow.repo(Notice).add(Notice(id="n1", user_id=None, channel="email",
                                        destination=ANN, subject="s", body="b", created_ms=1,
                                        sent_ms=None, expires_ms=None))
            uow.commit()
        files = data / "files"
        upload = files / ref[:2] / ref
        assert mode(data) == mode(files) == mode(upload.parent) == 0o700
        for f in (data / "platform.db", data / "platform.db-wal", data / "platform.db-shm",
                  data / "master-keys.json", upload):
            assert mode(f) == 0o600, f
    finally:
        p.close()


def test_production_refuses_files_open_to_others(tmp_path: Path) -> None:
    data = tmp_path / "platform"
    data.mkdir(mode=0o700)
    Keyring.generate(development=False).save(data / "master-keys.json")
    prod = Settings(mode="production", data_dir=data, rail_webhook_secret="s" * 40)
    bootstrap.build(prod).close()  # private: starts
    os.chmod(data / "platform.db", 0o644)
    os.chmod(data, 0o755)
    with pytest.raises(ConfigError) as exc:
        bootstrap.build(prod)
    assert f"chmod 700 {data}" in str(exc.value)
    assert f"chmod 600 {data / 'platform.db'}" in str(exc.value)
    os.chmod(data, 0o700)
    os.chmod(data / "platform.db", 0o600)
    bootstrap.build(prod).close()


# --- item 10: forwarded client addresses -------------------------------------------------

def served(p: bootstrap.Platform, peer: str) -> TestClient:
    """The app as `corridor platform serve` runs it: wrapped by uvicorn's configuration (its
    proxy-header middleware, if on), the request coming from TCP peer `peer`."""
    config = uvicorn_config(uvicorn, create_app(p))
    config.load()
    return TestClient(config.loaded_app, client=(peer, 40000))


def audit_ips(p: bootstrap.Platform, action: str) -> list[str]:
    with p.deps.uow() as uow:
        return [e.ip for e in uow.repo(AuditEntry).many(action=action, order_by="seq")]


def registration_body(email: str) -> dict[str, object]:
    return {"name": "Ann Example", "email": email, "password": PASSWORD, "accept_terms": True,
            "terms_version": idn.TERMS_VERSION, "privacy_version": idn.PRIVACY_VERSION}


def test_forwarded_for_from_localhost_is_not_believed_by_default(
    app_platform: bootstrap.Platform, opened: list[str]
) -> None:
    with served(app_platform, "127.0.0.1") as c:
        r = c.post("/v1/auth/register", json=registration_body(ANN),
                   headers={"X-Forwarded-For": "203.0.113.7"})
        assert r.status_code == 202
        assert audit_ips(app_platform, "auth.register") == ["127.0.0.1"]  # not spoofed
        refused = 0
        for i in range(35):  # a new forged address each time: still one client
            r = c.post("/v1/auth/recover", json={"identifier": f"x{i}@example.com"},
                       headers={"X-Forwarded-For": f"203.0.113.{i + 10}"})
            refused += r.status_code == 429
        assert refused > 0  # the per-address limit holds


def test_forwarded_for_is_believed_from_a_configured_proxy_only(
    app_platform: bootstrap.Platform, opened: list[str]
) -> None:
    app_platform.settings = dataclasses.replace(app_platform.settings,
                                                trusted_proxies=("10.0.0.0/8",))
    with served(app_platform, "10.1.2.3") as c:
        # The client forged the left entry; the proxy appended the address it saw.
        r = c.post("/v1/auth/register", json=registration_body(ANN),
                   headers={"X-Forwarded-For": "198.51.100.99, 203.0.113.7"})
        assert r.status_code == 202
    with served(app_platform, "192.0.2.1") as c:  # not a proxy: its header is ignored
        c.post("/v1/auth/register", json=registration_body("bo@example.com"),
               headers={"X-Forwarded-For": "203.0.113.8"})
    assert audit_ips(app_platform, "auth.register") == ["203.0.113.7", "192.0.2.1"]


def test_client_ip_walks_the_chain_from_the_right() -> None:
    proxies = ("10.0.0.0/8", "2001:db8::/32")
    assert client_ip("127.0.0.1", ["1.2.3.4"], ()) == "127.0.0.1"  # none by default
    assert client_ip("10.0.0.1", ["1.2.3.4, 10.9.9.9"], proxies) == "1.2.3.4"
    assert client_ip("2001:db8::1", ["9.9.9.9", "5.6.7.8"], proxies) == "5.6.7.8"
    assert client_ip("10.0.0.1", ["not-an-ip"], proxies) == "10.0.0.1"
    assert client_ip("10.0.0.1", [], proxies) == "10.0.0.1"


def test_trusted_proxies_setting_is_parsed_and_checked() -> None:
    from corridor.platform.config import load_settings

    s = load_settings({"CORRIDOR_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16"})
    assert s.trusted_proxies == ("10.0.0.1", "192.168.0.0/16")
    assert load_settings({}).trusted_proxies == ()
    with pytest.raises(ConfigError):
        load_settings({"CORRIDOR_TRUSTED_PROXIES": "localhost"})


# --- item 11: names --------------------------------------------------------------------------

BAD_NAMES = ["Ann\x00", "Ann\x1b[31m", "Ann\u202egnp.exe", "An\u200bn", "Ann\u2066x\u2069",
             "Ann\ufeff", "Ann\u2028Bo", "Ann\x85"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_refuse_control_bidi_and_invisible_characters(name: str) -> None:
    for check in (idn.check_name, org_rules.check_org_name, org_rules.check_department_name):
        p = Problems()
        check(name, p)
        assert "invisible" in p.fields["name"], (check, name)
    with pytest.raises(PlatformError) as exc:
        wallets._check_label(name)
    assert exc.value.code == "INVALID_LABEL"
    p = Problems()
    assert idn.check_name("  Zoë  O'Brien-Łukasz 李 ", p) == "Zoë O'Brien-Łukasz 李" and not p


def test_registration_and_staff_creation_refuse_a_spoofing_name(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    r = api.post("/v1/auth/register", json={**registration_body(ANN), "name": "Ann\u202eX"})
    assert r.status_code == 422 and "name" in r.json()["error"]["fields"]
    with pytest.raises(PlatformError) as exc:
        staff.create_staff(app_platform.deps, None, email="s@corridor.example",
                           name="Admin\u200b", password=PASSWORD, role="admin")
    assert "name" in exc.value.fields
    with app_platform.deps.uow() as uow:
        assert uow.repo(User).count() == 0


# --- item 13: passwords ----------------------------------------------------------------------

WEAK = ["password1234", "qwertyuiop123", "iloveyou1234", "Password1234!", "aaaaaaaaaaaaa1"]


@pytest.mark.parametrize("weak", WEAK)
def test_common_passwords_are_refused_with_advice(
    api: TestClient, app_platform: bootstrap.Platform, weak: str
) -> None:
    r = api.post("/v1/auth/register", json={**registration_body(ANN), "password": weak})
    assert r.status_code == 422 and error(r) == "WEAK_PASSWORD"
    assert r.json()["error"]["fields"]["password"].startswith("too ")
    with app_platform.deps.uow() as uow:
        assert uow.repo(User).count() == 0


def test_a_password_made_of_the_persons_own_details_is_weak() -> None:
    for password in ("Ann Example 1984", f"{ANN} 12"):
        assert not idn.check_password(password, Problems())  # strong for a stranger
        p = Problems()
        assert idn.check_password(password, p, user_inputs=("Ann Example", ANN))
        assert idn.password_code(p, True) is Err.WEAK_PASSWORD


def test_password_change_staff_creation_and_recovery_refuse_weak_passwords(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    signup(api, app_platform)
    headers = sign_in(api, app_platform)
    r = api.post("/v1/me/password", headers=headers,
                 json={"old_password": PASSWORD, "new_password": "password1234"})
    assert r.status_code == 422 and error(r) == "WEAK_PASSWORD"
    with pytest.raises(PlatformError) as exc:
        staff.create_staff(app_platform.deps, None, email="s@corridor.example",
                           name="Sam Staff", password="password1234", role="admin")
    assert exc.value.code == "WEAK_PASSWORD"
    with pytest.raises(PlatformError) as exc:
        security.recovery_finish(app_platform.deps, ANN, "123456", "password1234", HERE)
    assert exc.value.code == "WEAK_PASSWORD"


def test_the_passwords_of_the_readme_and_the_tests_are_strong_enough() -> None:
    for good in ("a long passphrase 1", "correct horse battery staple", PASSWORD):
        p = Problems()
        assert not idn.check_password(good, p) and not p


# --- item 16: sign-in delays, unlock, alerts -------------------------------------------------

def fail(api: TestClient, who: str = ANN, password: str = "wrong password!!") -> int:
    r = api.post("/v1/auth/login", json={"identifier": who, "password": password})
    return r.status_code


def failures_until_blocked_for(api: TestClient, clock: FakeClock, delay_ms: int) -> None:
    """Failed sign-ins, each made once the block of the previous one is over, until the
    block reaches `delay_ms`."""
    failures = 0
    while idn.failure_delay_ms(failures) < delay_ms:
        clock.advance(idn.failure_delay_ms(failures))
        assert fail(api) == 401
        failures += 1


def test_attempts_while_blocked_do_not_count_or_lengthen_the_block(
    api: TestClient, app_platform: bootstrap.Platform, clock: FakeClock
) -> None:
    signup(api, app_platform)
    failures_until_blocked_for(api, clock, idn.LOCKOUT_MS)
    counted = user_by_email(app_platform, ANN).failed_logins
    for _ in range(20):  # an attacker keeps trying through the block
        clock.advance(idn.LOCKOUT_MS // 40)
        assert fail(api) == 401
        assert fail(api, password=PASSWORD) == 401  # the right password is refused too
    assert user_by_email(app_platform, ANN).failed_logins == counted
    clock.advance(idn.LOCKOUT_MS // 2 + 1)  # the block ends when it was due to
    sign_in(api, app_platform)


def test_delays_grow_from_a_second_to_the_lockout() -> None:
    delays = [idn.failure_delay_ms(n) for n in range(1, 20)]
    assert delays[: idn.LOGIN_FAILURES_FREE - 1] == [0] * (idn.LOGIN_FAILURES_FREE - 1)
    assert delays[idn.LOGIN_FAILURES_FREE - 1] == idn.LOGIN_DELAY_BASE_MS
    assert delays == sorted(delays) and delays[-1] == idn.LOCKOUT_MS


def test_the_owner_lifts_a_block_with_a_code_and_signs_in_at_once(
    api: TestClient, app_platform: bootstrap.Platform, clock: FakeClock
) -> None:
    signup(api, app_platform)
    failures_until_blocked_for(api, clock, idn.LOCKOUT_MS)
    assert fail(api, password=PASSWORD) == 401
    assert login.LOCKED_SUBJECT in [n.subject for n in notices(app_platform, ANN)]
    r = api.post("/v1/auth/unlock", json={"identifier": ANN})
    assert r.status_code == 202 and r.json() == {"status": "sent_if_blocked"}
    code = last_code(app_platform, ANN)
    r = api.post("/v1/auth/unlock/verify", json={"identifier": ANN, "code": "000000"
                                                 if code != "000000" else "111111"})
    assert r.status_code == 422 and error(r) == "CODE_INVALID"
    r = api.post("/v1/auth/unlock/verify", json={"identifier": ANN, "code": code})
    assert r.status_code == 200 and r.json() == {"status": "unlocked"}
    with served(app_platform, "198.51.100.7") as owner:  # the attacker's address stays slow
        sign_in(owner, app_platform)  # no waiting
    assert audit_ips(app_platform, "auth.unlock")
    r = api.post("/v1/auth/unlock", json={"identifier": "nobody@example.com"})
    assert r.status_code == 202 and r.json() == {"status": "sent_if_blocked"}  # same answer


def test_failures_from_one_source_block_that_source_only(
    app_platform: bootstrap.Platform, clock: FakeClock
) -> None:
    password = make_user(app_platform, email=ANN) and STAFF_PASSWORD
    deps = app_platform.deps
    attacker, owner = Origin(ip="203.0.113.66"), Origin(ip="198.51.100.7")
    for i in range(idn.SOURCE_FAILURES_FREE):  # a spray over many accounts, known or not
        with pytest.raises(PlatformError):
            login.start(deps, f"user{i}@example.com", "wrong password!!", attacker)
    with pytest.raises(PlatformError) as exc:
        login.start(deps, ANN, password, attacker)
    assert exc.value.code == "AUTH_FAILED"  # the source is blocked, whatever it sends
    assert login.start(deps, ANN, password, owner).method == "email"  # others are not
    clock.advance(idn.failure_delay_ms(idn.SOURCE_FAILURES_FREE, idn.SOURCE_FAILURES_FREE))
    assert login.start(deps, ANN, password, attacker).method == "email"  # after the delay


def test_repeated_lockouts_of_staff_alert_the_admins(
    app_platform: bootstrap.Platform, clock: FakeClock
) -> None:
    target = make_staff(app_platform, "compliance_officer")
    admin = make_staff(app_platform, "admin")
    deps = app_platform.deps
    email = target.user.email
    assert email is not None

    def lockouts(n: int) -> None:
        for _ in range(n * idn.LOGIN_FAILURES_MAX):
            clock.advance(idn.LOCKOUT_MS)
            with pytest.raises(PlatformError):
                login.start(deps, email, "wrong password!!", Origin(ip=f"203.0.113.{_ % 9}"))

    def alerts() -> list[AuditEntry]:
        with deps.uow() as uow:
            return uow.repo(AuditEntry).many(action="security.alert.staff_lockouts")

    lockouts(1)
    assert alerts() == []  # one lockout: the owner is told, nobody else
    lockouts(1)
    [alert] = alerts()
    assert alert.object_id == target.user.id
    subjects = [n.subject for n in notices(app_platform, admin.user.email or "")]
    assert "Security alert: a staff account keeps locking" in subjects


def test_an_authenticator_code_lifts_a_block_too(
    app_platform: bootstrap.Platform, clock: FakeClock
) -> None:
    deps = app_platform.deps
    actor = make_user(app_platform, email=ANN)
    who = sessions.authenticate(deps, actor.token, HERE)
    secret, _ = security.totp_begin(deps, who)

    def totp_now() -> str:
        return pyotp.TOTP(secret).at(clock.ms // 1000)

    security.totp_confirm(deps, who, totp_now())
    for _ in range(idn.LOGIN_FAILURES_MAX):
        clock.advance(idn.LOCKOUT_MS)
        with pytest.raises(PlatformError):
            login.start(deps, ANN, "wrong password!!", Origin(ip=f"203.0.113.{_}"))
    with pytest.raises(PlatformError):
        login.start(deps, ANN, STAFF_PASSWORD, HERE)  # blocked
    with pytest.raises(PlatformError) as exc:
        login.unlock_finish(deps, ANN, "000000" if totp_now() != "000000" else "111111", HERE)
    assert exc.value.code == "CODE_INVALID"
    clock.advance(30_000)  # a time step the enrolment did not use
    login.unlock_finish(deps, ANN, totp_now(), HERE)
    assert login.start(deps, ANN, STAFF_PASSWORD, HERE).method == "totp"


def test_the_upgrade_retires_clear_code_messages_and_unkeyed_codes(empty_engine: Engine) -> None:
    """The revision that brought keyed hashes deletes stored messages with codes, retires
    unused unkeyed one-time codes, and replaces unkeyed recovery codes by a notice to make
    new ones."""
    script = ScriptDirectory.from_config(migrate.config())
    rev = next(r for r in script.walk_revisions()
               if hasattr(r.module, "_retire_unkeyed_recovery_codes"))
    assert isinstance(rev.down_revision, str)
    migrate.upgrade(empty_engine, rev.down_revision)
    # The users table as it was at that revision (later revisions add columns).
    users = sa.Table("users", sa.MetaData(), autoload_with=empty_engine)
    user = {c.name: None for c in users.columns}
    user.update(id="u1", kind="customer", name="Ann", email=ANN, email_verified=True,
                phone_verified=False, password_hash="x", totp_enabled=True, totp_last_step=0,
                status="active", failed_logins=0, locked_until_ms=0, terms_version="t",
                privacy_version="p", terms_accepted_ms=1, created_ms=1, updated_ms=1)
    with empty_engine.begin() as conn:
        conn.execute(sa.insert(users), user)
        conn.execute(sa.text(
            "INSERT INTO recovery_codes (id, user_id, code_hash) VALUES ('r1', 'u1', :h)"),
            {"h": idn.digest("abcdefghij", "r1")})
        conn.execute(sa.text(
            "INSERT INTO one_time_codes (id, user_id, purpose, channel, destination, "
            "code_hash, created_ms, expires_ms, attempts) VALUES ('c1', 'u1', 'login', "
            "'email', :d, 'x', 5, 10, 0)"), {"d": ANN})
        conn.execute(sa.text(
            "INSERT INTO notices (id, user_id, channel, destination, subject, body, "
            "created_ms) VALUES ('n1', 'u1', 'email', :d, 'Your sign-in code', "
            "'Your Corridor code is 123456. It expires in 10 minutes.', 5)"), {"d": ANN})
    migrate.upgrade(empty_engine, rev.revision)
    with empty_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM recovery_codes")).scalar_one() == 0
        assert conn.execute(sa.text(
            "SELECT used_ms FROM one_time_codes WHERE id = 'c1'")).scalar_one() == 5
        bodies = [r.body for r in conn.execute(sa.text("SELECT body FROM notices"))]
    assert len(bodies) == 1 and "recovery codes were retired" in bodies[0]
