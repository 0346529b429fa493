"""The pages over plain HTTP: sign-up to dashboard, and what keeps them safe (headers,
CSRF, session fixation, roles, rate limits shared with the API)."""

from __future__ import annotations

from starlette.testclient import TestClient

from corridor.api.routers import auth as api_auth
from corridor.platform import bootstrap
from corridor.platform.domain.principal import Origin
from corridor.platform.services import sessions
from corridor.web import pages_auth, security
from tests.platform.conftest import make_staff, make_user
from tests.web.conftest import PASSWORD, csrf_of, latest_code

EMAIL = "ann@example.com"


def _signed_up(site: TestClient, platform: bootstrap.Platform) -> None:
    token = csrf_of(site.get("/signup").text)
    r = site.post("/signup", data={"csrf_token": token, "name": "Ann Example", "email": EMAIL,
                                   "password": PASSWORD, "accept_terms": "yes",
                                   "terms_version": "2026-11", "privacy_version": "2026-11"},
                  follow_redirects=False)
    assert r.status_code == 303, r.text
    r = site.post("/verify", data={"csrf_token": token, "identifier": EMAIL,
                                   "code": latest_code(platform, EMAIL)},
                  follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/signin?note=verified")


def _signed_in(site: TestClient, platform: bootstrap.Platform) -> None:
    token = csrf_of(site.get("/signin").text)
    r = site.post("/signin", data={"csrf_token": token, "identifier": EMAIL,
                                   "password": PASSWORD}, follow_redirects=False)
    assert r.headers["location"].startswith("/signin/code?method=email")
    r = site.post("/signin/code", data={"csrf_token": token, "next": "/dashboard",
                                        "code": latest_code(platform, EMAIL)},
                  follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/dashboard"), r.text


def test_sign_up_verify_sign_in_reaches_the_dashboard(site: TestClient,
                                                      platform: bootstrap.Platform) -> None:
    assert site.get("/dashboard", follow_redirects=False).headers["location"] == \
        "/signin?next=/dashboard"
    _signed_up(site, platform)
    _signed_in(site, platform)
    page = site.get("/dashboard")
    assert page.status_code == 200 and "Hello, Ann Example" in page.text


def test_every_page_refuses_framing_and_inline_script(site: TestClient) -> None:
    for path in ("/", "/signin", "/signup", "/static/site.css", "/nowhere-page"):
        r = site.get(path)
        assert r.headers["x-frame-options"] == "DENY", path
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp and r.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in site.get("/").text  # no inline script in any template's output
    # The API's answers are not pages: its documentation keeps its own needs.
    assert "content-security-policy" not in site.get("/v1/health").headers


def test_a_form_without_its_csrf_token_is_refused(site: TestClient,
                                                  platform: bootstrap.Platform) -> None:
    site.get("/signin")  # the anonymous cookie
    data = {"identifier": EMAIL, "password": PASSWORD}
    for token in (None, "", "h1.x.forged", csrf_of(site.get("/signin").text) + "x"):
        form = data if token is None else {**data, "csrf_token": token}
        r = site.post("/signin", data=form, follow_redirects=False)
        assert r.status_code == 403 and 'data-code="CSRF_FAILED"' in r.text
    # A token from another browser (another anonymous cookie) is refused too.
    other = TestClient(site.app, base_url="http://127.0.0.1")
    foreign = csrf_of(other.get("/signin").text)
    r = site.post("/signin", data={**data, "csrf_token": foreign}, follow_redirects=False)
    assert r.status_code == 403


def _set_cookies(response_headers: list[str]) -> dict[str, str]:
    return {c.split("=", 1)[0]: c.split("=", 1)[1].split(";", 1)[0] for c in response_headers}


def test_signing_in_issues_new_cookies_and_old_tokens_stop_working(
        site: TestClient, platform: bootstrap.Platform) -> None:
    _signed_up(site, platform)
    session_name, anon_name, _ = security.cookie_names(production=False)
    site.cookies.clear()
    planted = "attacker-chosen-value"  # e.g. set through a sibling subdomain
    site.cookies.set(anon_name, planted)
    site.cookies.set(session_name, "attacker-session")
    before = csrf_of(site.get("/signin").text)  # bound to the planted cookie
    site.post("/signin", data={"csrf_token": before, "identifier": EMAIL,
                               "password": PASSWORD}, follow_redirects=False)
    r = site.post("/signin/code", data={"csrf_token": before,
                                        "code": latest_code(platform, EMAIL)},
                  follow_redirects=False)
    assert r.status_code == 303
    fresh = _set_cookies(r.headers.get_list("set-cookie"))
    assert fresh[anon_name] not in ("", planted) and fresh[session_name] not in ("", planted)
    site.cookies.clear()
    site.cookies.set(anon_name, fresh[anon_name])
    site.cookies.set(session_name, fresh[session_name])
    assert site.get("/dashboard").status_code == 200
    # The CSRF token bound to the pre-sign-in cookie is no good for the session.
    r = site.post("/signout", data={"csrf_token": before}, follow_redirects=False)
    assert r.status_code == 403
    assert site.get("/dashboard").status_code == 200


def test_session_cookie_flags(site: TestClient, platform: bootstrap.Platform) -> None:
    _signed_up(site, platform)
    token = csrf_of(site.get("/signin").text)
    site.post("/signin", data={"csrf_token": token, "identifier": EMAIL, "password": PASSWORD},
              follow_redirects=False)
    r = site.post("/signin/code", data={"csrf_token": token,
                                        "code": latest_code(platform, EMAIL)},
                  follow_redirects=False)
    cookie = next(c for c in r.headers.get_list("set-cookie")
                  if c.startswith("corridor-session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert security.cookie_names(production=True)[0] == "__Host-corridor-session"


def test_the_wrong_role_is_refused(site: TestClient, platform: bootstrap.Platform) -> None:
    staff = make_staff(platform, "support_agent")
    session_name = security.cookie_names(production=False)[0]
    site.cookies.set(session_name, staff.token)
    for path in ("/dashboard", "/payments"):
        r = site.get(path, follow_redirects=False)
        assert r.status_code == 403 and 'data-code="FORBIDDEN"' in r.text, path
    customer = make_user(platform, email="carol@example.com")
    site.cookies.set(session_name, customer.token)
    assert site.get("/dashboard").status_code == 200
    # A payment that is not the reader's is absent, exactly like one that does not exist.
    assert site.get("/payments/no-such-payment").status_code == 404


def test_rate_limits_are_the_apis(site: TestClient) -> None:
    assert (pages_auth.IP_BUCKET, pages_auth.IP_PER_MINUTE_MAX) == ("auth-ip",
                                                                     api_auth.IP_PER_MINUTE_MAX)
    assert pages_auth.IDENTIFIER_PER_MINUTE_MAX == api_auth.IDENTIFIER_PER_MINUTE_MAX
    token = csrf_of(site.get("/signin").text)
    codes = [site.post("/signin", data={"csrf_token": token, "identifier": EMAIL,
                                        "password": "wrong password here"}).status_code
             for _ in range(api_auth.IDENTIFIER_PER_MINUTE_MAX + 1)]
    assert codes[:-1] == [401] * api_auth.IDENTIFIER_PER_MINUTE_MAX and codes[-1] == 429
    # The API counts the same bucket: its next attempt for that identifier is refused too.
    r = site.post("/v1/auth/login", json={"identifier": EMAIL, "password": "x" * 12})
    assert r.status_code == 429


def test_next_never_leaves_the_site(site: TestClient) -> None:
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        page = site.get("/signin", params={"next": bad}).text
        # none kept: the sign-in then lands by the user's kind (staff: /staff)
        assert 'name="next" value=""' in page and "evil.example" not in page, bad


def test_a_moving_payment_is_followed_and_a_settled_one_is_not(
        site: TestClient, platform: bootstrap.Platform) -> None:
    from tests.platform.payment_records import make_payment, make_wallet

    customer = make_user(platform, email="carol@example.com")
    site.cookies.set(security.cookie_names(production=False)[0], customer.token)
    wallet = make_wallet(platform, customer.user.id)
    moving = make_payment(platform, wallet, status="submitted")
    settled = make_payment(platform, wallet, status="credited")
    page = site.get(f"/payments/{moving.id}").text
    assert f'hx-get="/payments/{moving.id}/timeline"' in page and moving.uetr in page
    fragment = site.get(f"/payments/{moving.id}/timeline", headers={"HX-Request": "true"})
    assert fragment.text.lstrip().startswith('<div id="timeline"')
    assert "<html" not in fragment.text
    # Without JavaScript the same address is a whole page.
    assert "<html" in site.get(f"/payments/{moving.id}/timeline").text
    assert "hx-get" not in site.get(f"/payments/{settled.id}").text
    listed = site.get("/payments").text
    assert f"/payments/{moving.id}" in listed and f"/payments/{settled.id}" in listed


def test_the_verification_page_says_what_is_missing(site: TestClient,
                                                     platform: bootstrap.Platform) -> None:
    customer = make_user(platform, email="carol@example.com")
    site.cookies.set(security.cookie_names(production=False)[0], customer.token)
    page = site.get("/verification", headers={"accept-language": "zh-CN"})
    assert page.status_code == 200 and "尚未开始" in page.text
    assert "<li>名</li>" in page.text  # the first name, needed and not given
    from corridor.platform.services import kyc

    who = sessions.authenticate(platform.deps, customer.token, Origin(ip="127.0.0.1"))
    kyc.put_customer(platform.deps, who, {"first_name": "Carol", "last_name": "Customer"})
    page = site.get("/verification", headers={"accept-language": "en"}).text
    missing = page[page.index('id="kyc-missing"'):page.index("</ul>", page.index("kyc-missing"))]
    assert "First name" not in missing and "Last name" not in missing
    assert "Date of birth" in missing
    assert "Carol" not in page  # answers are never echoed on the page


def test_outside_development_cookies_are_secure_and_host_only(
        platform: bootstrap.Platform) -> None:
    from fastapi.responses import HTMLResponse
    from starlette.requests import Request

    from corridor.web import context, i18n

    request = Request({"type": "http", "method": "GET", "path": "/", "headers": [],
                       "query_string": b""})
    page = context.Page(request=request, deps=platform.deps, fmt=i18n.Formats("en", "UTC"),
                        origin=Origin(ip="127.0.0.1"), production=True)
    page.start_session("a-new-session-token")
    cookies = context.finish(page, HTMLResponse("")).headers.getlist("set-cookie")
    session = next(c for c in cookies if c.startswith("__Host-corridor-session="))
    assert all(flag in session for flag in ("Secure", "HttpOnly", "SameSite=lax", "Path=/"))
    assert "Domain" not in session


def test_a_forgotten_password_is_reset_with_the_code_sent(site: TestClient,
                                                          platform: bootstrap.Platform) -> None:
    make_user(platform, email=EMAIL)
    token = csrf_of(site.get("/recover").text)
    r = site.post("/recover", data={"csrf_token": token, "identifier": EMAIL},
                  follow_redirects=False)
    assert r.headers["location"] == "/recover/reset?identifier=ann%40example.com"
    form = {"csrf_token": token, "identifier": EMAIL, "new_password": PASSWORD}
    wrong = site.post("/recover/reset", data={**form, "code": "000000"})
    assert wrong.status_code == 422
    r = site.post("/recover/reset", data={**form, "code": latest_code(platform, EMAIL)},
                  follow_redirects=False)
    assert r.headers["location"] == "/signin?note=password_reset"
    r = site.post("/signin", data={"csrf_token": token, "identifier": EMAIL,
                                   "password": PASSWORD}, follow_redirects=False)
    assert r.headers["location"].startswith("/signin/code")  # the new password works


def test_the_password_is_changed_in_the_security_centre(site: TestClient,
                                                        platform: bootstrap.Platform) -> None:
    customer = make_user(platform, email=EMAIL)
    site.cookies.set(security.cookie_names(production=False)[0], customer.token)
    token = csrf_of(site.get("/security").text)
    r = site.post("/security/password", data={"csrf_token": token, "old_password": "nope",
                                              "new_password": PASSWORD})
    assert r.status_code == 422 and 'href="#old_password"' in r.text
    r = site.post("/security/password", data={"csrf_token": token,
                                              "old_password": "correct horse battery staple",
                                              "new_password": PASSWORD})
    assert r.status_code == 200 and 'id="password-changed"' in r.text


def test_a_mistyped_address_gets_a_page_and_the_api_keeps_json(site: TestClient) -> None:
    r = site.get("/no-such-page", headers={"accept-language": "zh-CN"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "此处没有内容" in r.text
    assert site.put("/signin").status_code == 405
    api = site.get("/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["error"]["code"] == "NOT_FOUND"


def test_the_code_page_shows_only_a_masked_address(site: TestClient) -> None:
    page = site.get("/signin/code", params={"method": "email", "to": "a***@example.com"}).text
    assert "a***@example.com" in page
    page = site.get("/signin/code", params={"method": "email",
                                            "to": "support at evil.example, call now"}).text
    assert "evil.example" not in page


def test_with_an_authenticator_a_recovery_code_also_signs_in(
        site: TestClient, platform: bootstrap.Platform) -> None:
    import pyotp

    from corridor.platform.services import security as security_service

    customer = make_user(platform, email=EMAIL)
    who = sessions.authenticate(platform.deps, customer.token, Origin(ip="127.0.0.1"))
    secret, _uri = security_service.totp_begin(platform.deps, who)
    recovery = security_service.totp_confirm(platform.deps, who, pyotp.TOTP(secret).now())
    token = csrf_of(site.get("/signin").text)
    r = site.post("/signin", data={"csrf_token": token, "identifier": EMAIL,
                                   "password": "correct horse battery staple"},
                  follow_redirects=False)
    assert r.headers["location"].startswith("/signin/code?method=totp")
    r = site.post("/signin/code", data={"csrf_token": token, "recovery_code": recovery[0]},
                  follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/dashboard")


def test_recovery_codes_are_renewed_and_the_app_turned_off_with_the_password(
        site: TestClient, platform: bootstrap.Platform) -> None:
    import pyotp

    from corridor.platform.services import security as security_service

    customer = make_user(platform, email=EMAIL)
    who = sessions.authenticate(platform.deps, customer.token, Origin(ip="127.0.0.1"))
    secret, _uri = security_service.totp_begin(platform.deps, who)
    old = security_service.totp_confirm(platform.deps, who, pyotp.TOTP(secret).now())
    site.cookies.set(security.cookie_names(production=False)[0], customer.token)
    token = csrf_of(site.get("/security").text)
    wrong = site.post("/security/recovery-codes", data={"csrf_token": token, "password": "x"})
    assert wrong.status_code == 422
    r = site.post("/security/recovery-codes",
                  data={"csrf_token": token, "password": "correct horse battery staple"})
    assert r.status_code == 200 and 'id="recovery-codes"' in r.text and old[0] not in r.text
    r = site.post("/security/totp/disable", data={"csrf_token": token, "code": "000000",
                                                  "password": "correct horse battery staple"})
    assert r.status_code == 422  # a wrong code: still on
