"""Sign-up, sign-in with a second factor, account security and recovery, through the API
with a controllable clock (requirements A1–A4)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from starlette.testclient import TestClient

from corridor.api.app import create_app
from corridor.api.deps import RateLimiter
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain import identity as idn
from corridor.platform.domain.audit import AuditEntry, verify_chain
from corridor.platform.domain.identity import User
from corridor.platform.domain.notices import Notice
from corridor.platform.domain.support import SupportRequest
from corridor.platform.services import login as login_service
from corridor.platform.services import wallets

PASSWORD = "a long enough passphrase 42"


class FakeClock:
    def __init__(self) -> None:
        self.ms = 1_800_000_000_000

    def now_ms(self) -> int:
        self.ms += 1  # time passes between calls, so records created in turn sort in turn
        return self.ms

    def advance(self, ms: int) -> None:
        self.ms += ms


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records the wallets verification asks for (custody has its own tests)."""
    calls: list[str] = []
    monkeypatch.setattr(wallets, "ensure_wallet",
                        lambda deps, uow, *, owner_type, owner_id: calls.append(owner_id) or "w")
    return calls


@pytest.fixture
def app_platform(settings: Settings, clock: FakeClock) -> Iterator[bootstrap.Platform]:
    p = bootstrap.build(settings, clock=clock)
    yield p
    p.close()


@pytest.fixture
def api(app_platform: bootstrap.Platform, opened: list[str]) -> Iterator[TestClient]:
    with TestClient(create_app(app_platform)) as c:
        yield c


def notices(p: bootstrap.Platform, destination: str) -> list[Notice]:
    with p.deps.uow() as uow:
        return uow.repo(Notice).many(destination=destination, order_by="created_ms")


def last_code(p: bootstrap.Platform, destination: str) -> str:
    for n in reversed(notices(p, destination)):
        m = re.search(r"code is (\d{6})", n.body)
        if m:
            return m.group(1)
    raise AssertionError(f"no code sent to {destination}")


def user_by_email(p: bootstrap.Platform, email: str) -> User:
    with p.deps.uow() as uow:
        u = uow.repo(User).one(email=email)
    assert u is not None
    return u


def register(api: TestClient, email: str = "ann@example.com", **extra: object) -> None:
    body = {"name": "Ann Example", "email": email, "password": PASSWORD, "accept_terms": True,
            "terms_version": idn.TERMS_VERSION, "privacy_version": idn.PRIVACY_VERSION, **extra}
    r = api.post("/v1/auth/register", json=body)
    assert r.status_code == 202, r.text


def signup(api: TestClient, p: bootstrap.Platform, email: str = "ann@example.com") -> None:
    register(api, email)
    r = api.post("/v1/auth/verify", json={"identifier": email, "code": last_code(p, email)})
    assert r.status_code == 200, r.text


def login(api: TestClient, p: bootstrap.Platform, email: str = "ann@example.com",
          password: str = PASSWORD) -> dict[str, str]:
    r = api.post("/v1/auth/login", json={"identifier": email, "password": password})
    assert r.status_code == 200, r.text
    ch = r.json()
    assert ch["method"] == "email" and ch["sent_to"] == f"{email[0]}***@example.com"
    r = api.post("/v1/auth/login/verify",
                 json={"challenge": ch["challenge"], "code": last_code(p, email)})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def error(r: object) -> str:
    return r.json()["error"]["code"]  # type: ignore[attr-defined]


# --- registration ------------------------------------------------------------------------

def test_register_verify_login_and_see_my_profile(
    api: TestClient, app_platform: bootstrap.Platform, opened: list[str]
) -> None:
    register(api, "Ann@Example.com")
    user = user_by_email(app_platform, "ann@example.com")  # normalised
    assert user.status == "pending" and not user.email_verified
    assert user.terms_version == idn.TERMS_VERSION and user.terms_accepted_ms > 0
    assert user.password_hash.startswith("$argon2id$")
    signup_code = last_code(app_platform, "ann@example.com")
    r = api.post("/v1/auth/verify", json={"identifier": "ann@example.com", "code": signup_code})
    assert r.status_code == 200
    assert opened == [user.id]  # the customer's custodial wallet was asked for
    headers = login(api, app_platform)
    me = api.get("/v1/me", headers=headers).json()
    assert me["email"] == "ann@example.com" and me["email_verified"] and me["status"] == "active"
    assert "password_hash" not in me and "totp_secret_enc" not in me


def test_registration_requires_terms_and_reports_every_problem(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    r = api.post("/v1/auth/register", json={
        "name": " ", "email": "not-an-email", "password": "short", "accept_terms": False,
        "terms_version": "1999", "privacy_version": idn.PRIVACY_VERSION})
    assert r.status_code == 422 and error(r) == "INVALID_FIELDS"
    assert set(r.json()["error"]["fields"]) == {"name", "email", "password", "accept_terms",
                                                "terms_version"}
    with app_platform.deps.uow() as uow:
        assert uow.repo(User).count() == 0


def test_phone_registration_is_normalised_to_e164(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    r = api.post("/v1/auth/register", json={
        "name": "Bo", "phone": "+44 20 7946 0958", "password": PASSWORD, "accept_terms": True,
        "terms_version": idn.TERMS_VERSION, "privacy_version": idn.PRIVACY_VERSION})
    assert r.status_code == 202
    code = last_code(app_platform, "+442079460958")
    r = api.post("/v1/auth/verify", json={"identifier": "+44 20 7946 0958", "code": code})
    assert r.status_code == 200
    r = api.post("/v1/auth/register", json={
        "name": "Bo", "phone": "12", "password": PASSWORD, "accept_terms": True,
        "terms_version": idn.TERMS_VERSION, "privacy_version": idn.PRIVACY_VERSION})
    assert r.status_code == 422 and "phone" in r.json()["error"]["fields"]


def test_registering_a_taken_address_reveals_nothing(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    signup(api, app_platform)
    before = len(notices(app_platform, "ann@example.com"))
    register(api, "ann@example.com")  # same 202 as a new registration
    sent = notices(app_platform, "ann@example.com")[before:]
    assert [n.subject for n in sent] == ["Someone tried to register with your address"]
    with app_platform.deps.uow() as uow:
        assert uow.repo(User).count() == 1


def test_registering_a_pending_address_again_only_resends_its_code(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    """Issue 14 item 12: a second registration of a pending address used to disable the
    first and replace its password. Now the address gets a new code, nothing else changes,
    and the answer is the same 202 as for a new address."""
    register(api, "ann@example.com", name="First Ann")
    first = user_by_email(app_platform, "ann@example.com")
    first_code = last_code(app_platform, "ann@example.com")
    register(api, "ann@example.com", name="Second Ann", password="another fine passphrase",
             phone="+44 20 7946 0958")
    assert user_by_email(app_platform, "ann@example.com") == first  # name, password, status
    with app_platform.deps.uow() as uow:
        assert uow.repo(User).count() == 1  # the phone of the second attempt: not taken
    second_code = last_code(app_platform, "ann@example.com")
    if second_code != first_code:  # the first code died with the new one
        r = api.post("/v1/auth/verify", json={"identifier": "ann@example.com",
                                              "code": first_code})
        assert error(r) == "CODE_INVALID"
    assert api.post("/v1/auth/verify", json={"identifier": "ann@example.com",
                                             "code": second_code}).status_code == 200
    login(api, app_platform)  # with the first registration's password


def test_codes_are_single_use_attempt_limited_and_expire(
    api: TestClient, app_platform: bootstrap.Platform, clock: FakeClock
) -> None:
    register(api)
    code = last_code(app_platform, "ann@example.com")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(idn.CODE_ATTEMPTS_MAX):
        r = api.post("/v1/auth/verify", json={"identifier": "ann@example.com", "code": wrong})
        assert r.status_code == 422 and error(r) == "CODE_INVALID"
    r = api.post("/v1/auth/verify", json={"identifier": "ann@example.com", "code": code})
    assert error(r) == "CODE_INVALID"  # attempts used up: even the right code fails
    api.app.state.limiter = RateLimiter()  # the API's per-minute limit is tested elsewhere
    api.post("/v1/auth/verify/resend", json={"identifier": "ann@example.com"})
    fresh = last_code(app_platform, "ann@example.com")
    clock.advance(idn.CODE_TTL_MS)
    r = api.post("/v1/auth/verify", json={"identifier": "ann@example.com", "code": fresh})
    assert error(r) == "CODE_INVALID"  # expired
    api.post("/v1/auth/verify/resend", json={"identifier": "ann@example.com"})
    fresh = last_code(app_platform, "ann@example.com")
    assert api.post("/v1/auth/verify", json={"identifier": "ann@example.com",
                                             "code": fresh}).status_code == 200
    r = api.post("/v1/auth/verify", json={"identifier": "ann@example.com", "code": fresh})
    assert error(r) == "CODE_INVALID"  # single use


# --- sign-in ---------------------------------------------------------------------------------

def test_wrong_password_and_unknown_user_get_the_same_answer(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    signup(api, app_platform)
    a = api.post("/v1/auth/login", json={"identifier": "ann@example.com", "password": "nope"})
    b = api.post("/v1/auth/login", json={"identifier": "zed@example.com", "password": "nope"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_pending_user_must_verify_before_signing_in(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    register(api)
    r = api.post("/v1/auth/login", json={"identifier": "ann@example.com", "password": PASSWORD})
    assert r.status_code == 409 and error(r) == "VERIFICATION_REQUIRED"


def test_lockout_after_repeated_failures_then_release(
    api: TestClient, app_platform: bootstrap.Platform, clock: FakeClock
) -> None:
    signup(api, app_platform)
    for _ in range(idn.LOGIN_FAILURES_MAX):
        clock.advance(idn.LOCKOUT_MS)  # each failure after the block the last one earned
        api.post("/v1/auth/login", json={"identifier": "ann@example.com", "password": "bad"})
    r = api.post("/v1/auth/login", json={"identifier": "ann@example.com", "password": PASSWORD})
    assert r.status_code == 401  # locked: the right password is refused too
    subjects = [n.subject for n in notices(app_platform, "ann@example.com")]
    assert login_service.LOCKED_SUBJECT in subjects
    clock.advance(idn.LOCKOUT_MS + 1)
    login(api, app_platform)


def test_a_wrong_second_factor_is_refused_and_the_challenge_is_single_use(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    signup(api, app_platform)
    ch = api.post("/v1/auth/login", json={"identifier": "ann@example.com",
                                          "password": PASSWORD}).json()
    code = last_code(app_platform, "ann@example.com")
    bad = api.post("/v1/auth/login/verify", json={"challenge": ch["challenge"],
                                                  "code": "999999" if code != "999999" else "1"})
    assert bad.status_code == 401 and error(bad) == "MFA_FAILED"
    ok = api.post("/v1/auth/login/verify", json={"challenge": ch["challenge"], "code": code})
    assert ok.status_code == 200
    again = api.post("/v1/auth/login/verify", json={"challenge": ch["challenge"], "code": code})
    assert again.status_code == 401


def test_rate_limit_per_identifier(api: TestClient, app_platform: bootstrap.Platform) -> None:
    codes = [api.post("/v1/auth/login", json={"identifier": "x@example.com",
                                              "password": "p"}).status_code for _ in range(12)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]


# --- authenticator ---------------------------------------------------------------------------

def _enrol(api: TestClient, headers: dict[str, str], clock: FakeClock) -> tuple[pyotp.TOTP,
                                                                               list[str]]:
    r = api.post("/v1/me/totp", headers=headers)
    assert r.status_code == 200
    secret, uri = r.json()["secret"], r.json()["provisioning_uri"]
    assert uri.startswith("otpauth://totp/Corridor:") and f"secret={secret}" in uri
    totp = pyotp.TOTP(secret)
    r = api.post("/v1/me/totp/confirm", headers=headers,
                 json={"code": totp.at(clock.ms // 1000)})
    assert r.status_code == 200, r.text
    return totp, r.json()["recovery_codes"]


def test_totp_enrolment_sign_in_replay_and_recovery_codes(
    api: TestClient, app_platform: bootstrap.Platform, clock: FakeClock
) -> None:
    signup(api, app_platform)
    headers = login(api, app_platform)
    totp, recovery = _enrol(api, headers, clock)
    assert len(recovery) == idn.RECOVERY_CODES == len(set(recovery))
    user = user_by_email(app_platform, "ann@example.com")
    assert user.totp_enabled and totp.secret not in (user.totp_secret_enc or "")

    clock.advance(60_000)
    ch = api.post("/v1/auth/login", json={"identifier": "ann@example.com",
                                          "password": PASSWORD}).json()
    assert ch["method"] == "totp"
    code = totp.at(clock.ms // 1000)
    assert api.post("/v1/auth/login/verify",
                    json={"challenge": ch["challenge"], "code": code}).status_code == 200
    ch = api.post("/v1/auth/login", json={"identifier": "ann@example.com",
                                          "password": PASSWORD}).json()
    replay = api.post("/v1/auth/login/verify", json={"challenge": ch["challenge"], "code": code})
    assert replay.status_code == 401  # the same TOTP code is never accepted twice
    ch = api.post("/v1/auth/login", json={"identifier": "ann@example.com",
                                          "password": PASSWORD}).json()
    ok = api.post("/v1/auth/login/verify",
                  json={"challenge": ch["challenge"], "recovery_code": recovery[0]})
    assert ok.status_code == 200
    ch = api.post("/v1/auth/login", json={"identifier": "ann@example.com",
                                          "password": PASSWORD}).json()
    reused = api.post("/v1/auth/login/verify",
                      json={"challenge": ch["challenge"], "recovery_code": recovery[0]})
    assert reused.status_code == 401


def test_totp_disable_needs_password_and_code(
    api: TestClient, app_platform: bootstrap.Platform, clock: FakeClock
) -> None:
    signup(api, app_platform)
    headers = login(api, app_platform)
    totp, _ = _enrol(api, headers, clock)
    clock.advance(30_000)
    r = api.post("/v1/me/totp/disable", headers=headers,
                 json={"password": "wrong password!!", "code": totp.at(clock.ms // 1000)})
    assert r.status_code == 422 and error(r) == "PASSWORD_WRONG"
    assert user_by_email(app_platform, "ann@example.com").totp_enabled
    r = api.post("/v1/me/totp/disable", headers=headers,
                 json={"password": PASSWORD, "code": totp.at(clock.ms // 1000)})
    assert r.status_code == 204
    assert not user_by_email(app_platform, "ann@example.com").totp_enabled


# --- sessions and password ---------------------------------------------------------------------

def test_sessions_are_listed_and_revocable(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    signup(api, app_platform)
    first = login(api, app_platform)
    second = login(api, app_platform)
    listed = api.get("/v1/me/sessions", headers=first).json()
    assert len(listed) == 2 and sum(s["current"] for s in listed) == 1
    other = next(s for s in listed if not s["current"])
    assert api.delete(f"/v1/me/sessions/{other['id']}", headers=first).status_code == 204
    assert api.get("/v1/me", headers=second).status_code == 401
    assert api.post("/v1/auth/logout", headers=first).status_code == 204
    assert api.get("/v1/me", headers=first).status_code == 401


def test_sessions_expire_when_idle(
    api: TestClient, app_platform: bootstrap.Platform, clock: FakeClock
) -> None:
    signup(api, app_platform)
    headers = login(api, app_platform)
    clock.advance(idn.SESSION_IDLE_MS + 1)
    r = api.get("/v1/me", headers=headers)
    assert r.status_code == 401 and error(r) == "SESSION_INVALID"


def test_another_users_session_cannot_be_revoked(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    signup(api, app_platform, "ann@example.com")
    signup(api, app_platform, "bob@example.com")
    ann = login(api, app_platform, "ann@example.com")
    bob = login(api, app_platform, "bob@example.com")
    bob_session = api.get("/v1/me/sessions", headers=bob).json()[0]["id"]
    assert api.delete(f"/v1/me/sessions/{bob_session}", headers=ann).status_code == 404
    assert api.get("/v1/me", headers=bob).status_code == 200


def test_password_change_revokes_other_sessions(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    signup(api, app_platform)
    here, elsewhere = login(api, app_platform), login(api, app_platform)
    r = api.post("/v1/me/password", headers=here,
                 json={"old_password": "wrong one", "new_password": "another fine passphrase"})
    assert r.status_code == 422
    r = api.post("/v1/me/password", headers=here,
                 json={"old_password": PASSWORD, "new_password": "another fine passphrase"})
    assert r.json() == {"sessions_revoked": 1}
    assert api.get("/v1/me", headers=here).status_code == 200
    assert api.get("/v1/me", headers=elsewhere).status_code == 401
    login(api, app_platform, password="another fine passphrase")


def test_binding_a_new_email_verifies_it_and_tells_the_old_one(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    signup(api, app_platform)
    headers = login(api, app_platform)
    r = api.post("/v1/me/email", headers=headers,
                 json={"address": "ann.new@example.com", "password": PASSWORD})
    assert r.status_code == 202
    assert user_by_email(app_platform, "ann@example.com")  # not changed until verified
    code = last_code(app_platform, "ann.new@example.com")
    r = api.post("/v1/me/email/verify", headers=headers, json={"code": code})
    assert r.status_code == 200 and r.json()["email"] == "ann.new@example.com"
    old = [n.subject for n in notices(app_platform, "ann@example.com")]
    assert "Your email was changed" in old


# --- recovery ----------------------------------------------------------------------------------

def test_recovery_by_email_resets_password_and_signs_out_everywhere(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    signup(api, app_platform)
    headers = login(api, app_platform)
    assert api.post("/v1/auth/recover", json={"identifier": "ann@example.com"}).status_code == 202
    assert api.post("/v1/auth/recover", json={"identifier": "who@example.com"}).status_code == 202
    code = last_code(app_platform, "ann@example.com")
    r = api.post("/v1/auth/recover/reset", json={
        "identifier": "ann@example.com", "code": code, "new_password": "brand new passphrase 7"})
    assert r.status_code == 200
    assert api.get("/v1/me", headers=headers).status_code == 401
    login(api, app_platform, password="brand new passphrase 7")


def test_recovery_with_an_authenticator_needs_a_second_factor(
    api: TestClient, app_platform: bootstrap.Platform, clock: FakeClock
) -> None:
    signup(api, app_platform)
    headers = login(api, app_platform)
    _, recovery = _enrol(api, headers, clock)
    api.post("/v1/auth/recover", json={"identifier": "ann@example.com"})
    r = api.post("/v1/auth/recover/reset", json={
        "identifier": "ann@example.com", "code": last_code(app_platform, "ann@example.com"),
        "new_password": "brand new passphrase 7"})
    assert r.status_code == 422 and error(r) == "SECOND_FACTOR_REQUIRED"
    clock.advance(3_600_000)  # the hourly code limit is per purpose; move on
    api.post("/v1/auth/recover", json={"identifier": "ann@example.com"})
    r = api.post("/v1/auth/recover/reset", json={
        "identifier": "ann@example.com", "code": last_code(app_platform, "ann@example.com"),
        "new_password": "brand new passphrase 7", "recovery_code": recovery[3]})
    assert r.status_code == 200


def test_failed_recovery_can_open_a_manual_identity_check(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    signup(api, app_platform)
    r = api.post("/v1/auth/recover/identity-check", json={
        "identifier": "ann@example.com", "contact": "+44 20 7946 0000",
        "details": "lost phone and authenticator"})
    assert r.status_code == 202
    with app_platform.deps.uow() as uow:
        req = uow.repo(SupportRequest).get(r.json()["request_id"])
    assert req is not None and req.kind == "identity_check" and req.status == "open"
    assert req.user_id == user_by_email(app_platform, "ann@example.com").id


# --- audit ---------------------------------------------------------------------------------------

def test_security_events_are_in_an_unbroken_audit_chain(
    api: TestClient, app_platform: bootstrap.Platform
) -> None:
    signup(api, app_platform)
    api.post("/v1/auth/login", json={"identifier": "ann@example.com", "password": "bad pw"})
    login(api, app_platform)
    with app_platform.deps.uow() as uow:
        entries = uow.repo(AuditEntry).many(order_by="seq")
    actions = [e.action for e in entries]
    assert actions == ["auth.register", "auth.verify_channel", "auth.login.failed", "auth.login"]
    assert verify_chain(entries) is None


def test_unauthenticated_requests_to_account_endpoints_are_refused(api: TestClient) -> None:
    for method, path in [("get", "/v1/me"), ("get", "/v1/me/sessions"), ("post", "/v1/me/totp"),
                         ("post", "/v1/auth/logout")]:
        r = getattr(api, method)(path, headers={"Authorization": "Bearer forged-token"})
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path) -> None:
    """Every test gets its own data directory through the shared `settings` fixture."""
