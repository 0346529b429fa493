"""A customer's first journey end to end, in Debian's Chromium against real processes (a
ledger node and `corridor platform serve`, as tests/platform/test_e2e_payments.py runs
them), once in English and once in Chinese, each with its own people:

register -> verify with the code from the outbox -> sign in -> turn the authenticator on
and sign in with it -> the KYC form with its documents -> a compliance officer accepts it
in a second browser context -> a deposit, credited when the simulated bank pays it (the
development flow of README: POST /v1/dev/sim-bank/transfers, then /flush) -> quote and pay
another customer -> the recipient sees the credit -> the payment's receipt proof shows
verified -> a refund requested with evidence -> approved by the officer -> the payer sees
the money back -> the explorer shows the chain at or past the payment's block.

Every page landed on is checked as in test_browser.py (the page's language, a label on
every input, nothing wider than a 375 px phone, no CSP violation); screenshots of the main
pages go to out/web-screenshots/journey-*-{language}.png. The test waits on what the
pages show (Playwright's expect, or reloading until the state appears, within
live.WAIT_S), never on fixed sleeps, and asserts no time.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.services import staff
from corridor.platform.services.codes import TOTP_STEP_S
from corridor.web import i18n, security
from tests.node.conftest import NodeProcess, init_home
from tests.platform.live import OFFICER_PASSWORD, Platform, sign_in, wait_until
from tests.platform.live import PASSWORD as ONBOARDED_PASSWORD  # onboard()'s customers
from tests.platform.test_e2e_payments import onboard
from tests.web.browser import CHROMIUM_ARGS, chromium
from tests.web.conftest import latest_code
from tests.web.test_browser import PHONE_WIDTH, Checked

OFFICER = "officer@corridor.example"
PASSWORD = "journey passphrase 2026"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)
PDF = b"%PDF-1.7\n" + bytes(200)
EXPECT_MS = 20_000  # for a page already loaded to show a state (htmx, a redirect)
SESSION = security.cookie_names(production=False)[0]


class Service(Platform):
    """The platform process, with its development outbox read in this process (the
    database the process writes; the CLI's `outbox` reads the same rows, but starting it
    costs seconds a code)."""

    def __init__(self, root: Path, node: NodeProcess) -> None:
        super().__init__(root / "platform", f"sqlite:///{root / 'platform.db'}", node)
        self.mailbox = bootstrap.build(Settings(data_dir=self.data_dir,
                                                database_url=self.db_url), ledger=None)

    def code_for(self, address: str) -> str:
        return latest_code(self.mailbox, address)

    def stop(self) -> None:
        super().stop()
        self.mailbox.close()


@dataclasses.dataclass
class World:
    service: Service
    node: NodeProcess
    api: httpx.Client
    officer: dict[str, str]  # the officer's API headers (onboards the recipients)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # SQLite only: the pages' services run on both databases in the HTTP tests; this test
    # is about the whole system in a browser, and runs once per language.
    root = tmp_path_factory.mktemp("journey")
    node = NodeProcess(init_home(root / "home"))
    node.start()
    service = Service(root, node)
    try:
        # What `corridor platform staff-add` does, before the process starts.
        staff.create_staff(service.mailbox.deps, None, email=OFFICER, name="Olive Officer",
                           password=OFFICER_PASSWORD, role="compliance_officer")
        service.start()
        with httpx.Client(base_url=service.url, timeout=30) as api:
            officer = sign_in(api, service, OFFICER, OFFICER_PASSWORD)
            yield World(service, node, api, officer)
    finally:
        service.stop()
        assert node.stop() == 0, node.log_tail()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Person:
    """One browser context (its own cookies) in one language, checking each page."""

    def __init__(self, browser: Browser, world: World, language: str, who: str) -> None:
        self.world, self.language, self.who = world, language, who
        self.context: BrowserContext = browser.new_context(
            locale="zh-CN" if language == "zh-Hans" else "en-GB",
            viewport={"width": PHONE_WIDTH, "height": 800})
        self.checked = Checked(self.context.new_page(), language)
        self.page: Page = self.checked.page
        self.fmt = i18n.Formats(language, "UTC")

    def _(self, message: str) -> str:
        return self.fmt.gettext(message)

    def go(self, path: str, shot: str | None = None) -> None:
        self.page.goto(self.world.service.url + path)
        self.landed(shot)

    def landed(self, shot: str | None = None) -> None:
        self.checked.landed(f"journey-{shot}" if shot else None)

    def submit(self, form_action: str, shot: str | None = None) -> None:
        self.page.click(f"form[method=post][action='{form_action}'] button[type=submit]")
        self.landed(shot)

    def reload_until(self, what: str, selector: str,
                     nudge: Callable[[], object] | None = None) -> None:
        """Reloads the page until `selector` shows (the server's state moved on); the
        wait is live.wait_until's, the check is what the page shows."""
        def shown() -> bool:
            if nudge is not None:
                nudge()
            self.page.reload()
            self.page.wait_for_load_state("load")
            return self.page.locator(selector).count() > 0

        wait_until(f"{self.who}: {what}", shown)
        self.landed()

    @property
    def bearer(self) -> dict[str, str]:
        """The session as an API client uses it (the cookie holds the same token)."""
        token = next(c["value"] for c in self.context.cookies() if c["name"] == SESSION)
        return {"Authorization": f"Bearer {token}"}

    def sign_in(self, email: str, password: str, code: str | None = None,
                shot: str | None = None) -> None:
        page = self.page
        self.go("/signin", shot)
        page.fill("#identifier", email)
        page.fill("#password", password)
        self.submit("/signin", f"{shot}-code" if shot else None)
        page.fill("#code", code or self.world.service.code_for(email))
        self.submit("/signin/code")

    def close(self) -> None:
        assert not self.checked.violations, self.checked.violations
        self.context.close()


JOURNEYS = [
    pytest.param("en", "Ann Example", id="en"),
    pytest.param("zh-Hans", "王芳", id="zh-Hans"),
]


@pytest.mark.parametrize(("language", "name"), JOURNEYS)
def test_a_customer_s_first_journey(world: World, browser: Browser, language: str,
                                    name: str) -> None:
    payer_email = f"payer-{language.lower()}@example.com"
    payee_email = f"payee-{language.lower()}@example.cn"
    payer = Person(browser, world, language, "the payer")
    officer = Person(browser, world, language, "the officer")
    payee = Person(browser, world, language, "the recipient")
    # The recipient is onboarded through the API (their own journey is this one).
    onboard(world.api, world.service, world.officer, payee_email, "CN")

    _register(payer, name, payer_email)
    _authenticator_on(payer, payer_email)
    record_id = _kyc(payer, name, payer_email)
    _officer_accepts(officer, record_id)
    _wallet_ready(payer)
    _deposit(payer, "500.00")
    payment_id, received = _pay(payer, payee_email, "100.00")
    height = _settled_with_proof(payer, payment_id)

    payee.sign_in(payee_email, ONBOARDED_PASSWORD)
    expect(payee.page).to_have_url(world.service.url + "/dashboard")
    expect(payee.page.locator("td[data-currency=CNY]")).to_have_text(received)
    payee.landed("recipient-dashboard")

    refund_id = _ask_refund(payer, payment_id)
    _officer_approves(officer, refund_id)
    payer.reload_until("the refund to be paid back", "#refund-status[data-status=refunded]")
    expect(payer.page.locator("#decision")).to_contain_text("the payee confirmed")
    payer.landed("refund-refunded")
    payer.go(f"/payments/{payment_id}")
    expect(payer.page.locator("#payment-status")).to_have_attribute("data-status", "refunded")
    payer.go("/refunds", "refunds")
    expect(payer.page.locator(f"tr[data-id='{refund_id}'] td[data-status]")).to_have_attribute(
        "data-status", "refunded")
    _authenticator_still_on(payer)

    # The explorer: the payment's transaction, in its block, its proof checked in the
    # browser against the block header (nobody's word taken for it).
    payer.go(f"/payments/{payment_id}")
    payer.page.click("#tx-id a")
    expect(payer.page).to_have_url(re.compile(r"/explorer/tx/[0-9a-f]{64}$"))
    payer.landed("explorer-tx")
    expect(payer.page.locator(f"a[href='/explorer/block/{height}']").first).to_be_visible()
    proof = payer.page.locator("[data-proof]")
    proof.locator("[data-verify]").click()
    expect(proof).to_have_attribute("data-verified", "true", timeout=EXPECT_MS)

    for person in (payer, officer, payee):
        person.close()


def _register(b: Person, name: str, email: str) -> None:
    page, service = b.page, b.world.service
    b.go("/signup", "signup")
    page.fill("#name", name)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.check("#accept_terms")
    b.submit("/signup", "verify")
    page.fill("#code", service.code_for(email))
    page.click("form[action='/verify'] button:not([name])")
    b.landed()
    expect(page).to_have_url(f"{service.url}/signin?note=verified")
    b.sign_in(email, PASSWORD, shot="signin")
    expect(page).to_have_url(f"{service.url}/dashboard")


def _totp(secret: str, step: int) -> str:
    return str(pyotp.TOTP(secret, interval=TOTP_STEP_S).generate_otp(step))


def _authenticator_on(b: Person, email: str) -> None:
    """Turns the authenticator on, signs out and signs in with it. The confirmation uses
    this time step's code and the sign-in the next one (a code is never accepted twice;
    the platform accepts one step of drift either way)."""
    page = b.page
    b.go("/security")
    page.click("form[action='/security/totp'] button")
    b.landed()
    secret = page.inner_text("#totp-secret").strip()
    step = int(time.time()) // TOTP_STEP_S
    page.fill("#code", _totp(secret, step))
    b.submit("/security/totp/confirm", "security")
    expect(page.locator("#recovery-codes li").first).to_be_visible()
    page.click("form[action='/signout'] button")
    b.landed()
    b.sign_in(email, PASSWORD, code=_totp(secret, step + 1))
    expect(page).to_have_url(f"{b.world.service.url}/dashboard")
    b.landed("dashboard-new")


def _authenticator_still_on(b: Person) -> None:
    """The authenticator is still on at the end (the security page offers to turn it
    off, not on)."""
    b.go("/security")
    expect(b.page.locator("form[action='/security/totp/disable']")).to_have_count(1)
    expect(b.page.locator("form[action='/security/totp']")).to_have_count(0)


KYC_FIELDS = {"last_name": "Example", "birth_date": "1985-01-02", "address": "1 Main Street",
              "city": "Springfield", "postal_code": "12345", "address_country_code": "US",
              "id_country_code": "US", "id_number": "P1234567",
              "id_expiration_date": "2034-01-01"}


def _kyc(b: Person, name: str, email: str) -> str:
    """The full level's form with its two documents; returns the record's id."""
    page = b.page
    b.go("/verification?tier=2", "verification")
    page.fill("#first_name", name)
    page.fill("#email_address", email)
    for field, value in KYC_FIELDS.items():
        page.fill(f"#{field}", value)
    page.select_option("#id_type", "passport")
    page.set_input_files("#photo_id_front", files=[
        {"name": "passport.png", "mimeType": "image/png", "buffer": PNG}])
    page.set_input_files("#photo_proof_residence", files=[
        {"name": "bill.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    b.submit("/verification")
    expect(page.locator("#kyc-status")).to_contain_text(b._("Under review"))
    b.landed("verification-sent")
    r = b.world.api.get("/v1/kyc/customer", headers=b.bearer)
    assert r.status_code == 200, r.text
    record_id: str = r.json()["id"]
    return record_id


def _officer_accepts(o: Person, record_id: str) -> None:
    page = o.page
    o.sign_in(OFFICER, OFFICER_PASSWORD)
    expect(page).to_have_url(f"{o.world.service.url}/staff")
    o.go("/staff/kyc", "staff-kyc-queue")
    page.click(f"tr[data-id='{record_id}'] a")
    o.landed("staff-kyc")
    page.check("input[name=decision][value=accept]")
    page.select_option("#tier", "2")
    page.select_option("#risk", "low")
    page.fill("#reason", "documents verified")
    o.submit(f"/staff/kyc/{record_id}/decision")
    expect(page.locator("p.status-line")).to_have_attribute("data-status", "ACCEPTED")


def _wallet_ready(b: Person) -> None:
    """The wallet opened on the ledger and enabled for its currencies (the outbox
    worker's part after the decision), then the dashboard shows it."""
    def ready() -> bool:
        items = b.world.api.get("/v1/wallets", headers=b.bearer).json()["items"]
        return bool(items) and items[0]["status"] == "open" and bool(
            items[0]["authorisations"]) and {
            a["status"] for a in items[0]["authorisations"]} == {"authorised"}

    wait_until("the payer's wallet to be open and enabled", ready)
    b.go("/dashboard", "dashboard-verified")


def _deposit(b: Person, amount: str) -> None:
    page, api = b.page, b.world.api
    b.go("/deposits", "deposits")
    page.fill("#amount", amount)
    page.select_option("#currency", "USD")
    b.submit("/deposits", "deposit")
    reference = page.inner_text("#reference").strip()
    r = api.post("/v1/dev/sim-bank/transfers", headers=b.bearer,
                 json={"reference": reference, "amount": amount, "currency": "USD"})
    assert r.status_code == 202, r.text
    b.reload_until("the deposit to be credited", "p.status-line[data-status=credited]",
                   nudge=lambda: api.post("/v1/dev/sim-bank/flush", headers=b.bearer))
    b.landed("deposit-credited")


def _pay(b: Person, recipient: str, amount: str) -> tuple[str, str]:
    """Quote and pay; returns the payment's id and what the recipient receives, as the
    cost page showed it before confirming."""
    page = b.page
    b.go("/pay", "pay")
    page.fill("#recipient", recipient)
    page.fill("#amount", amount)
    page.select_option("#send_currency", "USD")
    page.select_option("#receive_currency", "CNY")
    b.submit("/pay/review", "pay-review")
    expect(page.locator("#total")).to_be_visible()
    received = page.inner_text("#received").strip()
    b.submit("/pay/confirm")
    expect(page.locator("#uetr")).not_to_be_empty()
    payment_id = page.url.rsplit("/", 1)[1]
    return payment_id, received


def _settled_with_proof(b: Person, payment_id: str) -> int:
    """The timeline reaches credited (followed by htmx while it moves), then the page
    shows the receipt's Merkle proof checked against the block header; returns the
    payment's block height."""
    page = b.page
    expect(page.locator("#timeline li[data-status=credited]")).to_have_count(
        1, timeout=EXPECT_MS * 3)
    b.reload_until("the payment's proof", "#proof-verified")
    expect(page.locator("#payment-status")).to_have_attribute("data-status", "credited")
    b.landed("payment-credited")
    assert page.locator("#tx-id").inner_text().strip()
    return int(page.inner_text("#block-height").strip())


def _ask_refund(b: Person, payment_id: str) -> str:
    page = b.page
    page.click("#request-refund")
    b.landed("refund-request")
    page.check("input[name=kind][value=wrong_payee]")
    page.fill("#reason", "I typed the wrong e-mail address")
    page.set_input_files("#evidence", files=[
        {"name": "chat.png", "mimeType": "image/png", "buffer": PNG}])
    b.submit("/refunds", "refund")
    expect(page.locator("#refund-status")).to_have_attribute("data-status", "requested")
    refund_id = page.url.rsplit("/", 1)[1]
    assert page.url.endswith(f"/refunds/{refund_id}") and payment_id in page.content()
    return refund_id


def _officer_approves(o: Person, refund_id: str) -> None:
    page = o.page
    o.go("/staff/refunds", "staff-refunds")
    page.click(f"tr[data-id='{refund_id}'] a")
    o.landed("staff-refund")
    page.check("input[name=decision][value=approve]")
    page.fill("#reason", "the payee confirmed the mistake")
    o.submit(f"/staff/refunds/{refund_id}/decision")
    expect(page.locator("p.status-line")).not_to_have_attribute("data-status", "requested")
