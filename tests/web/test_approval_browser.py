"""The approval pages in Chromium at 375 px, in English and Chinese: an owner saves a policy
in the editor, a payment waits for approval, the approver approves it from the queue, and
the payment's page shows who approved; the beneficiary book adds a bank beneficiary. No
Content-Security-Policy violation, a label on every input, nothing wider than the phone.
Screenshots go to out/web-screenshots/."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.web import security
from corridor.web.site import create_site
from tests.platform.conftest import Actor, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.wallet_fakes import CountingKeyGen, make_org
from tests.web.browser import CHROMIUM_ARGS, chromium, serve
from tests.web.test_browser import PHONE_WIDTH, Checked

SESSION = security.cookie_names(production=False)[0]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[str, bootstrap.Platform, FakeChain]]:
    # SQLite only, as the main browser suite: the HTTP tests cover both databases.
    chain = FakeChain()
    platform = bootstrap.build(Settings(data_dir=tmp_path_factory.mktemp("p") / "platform",
                                        fast_password_hashing=True),
                               clock=FakeClock(), ledger=chain, keygen=CountingKeyGen())
    try:
        for url in serve(create_site(platform)):
            yield url, platform, chain
    finally:
        platform.close()


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
def test_policy_queue_and_payment_on_a_phone(
        live: tuple[str, bootstrap.Platform, FakeChain], browser: Browser,
        language: str) -> None:
    url, platform, chain = live
    tag = language.lower()

    def user(name: str) -> Actor:
        return make_user(platform, email=f"{name}-{tag}@acme.example", name=name.title())
    owner, ada, bob = user("owner"), user("ada"), user("bob")
    org_id = make_org(platform, owner.user.id, {ada.user.id: "approver"})
    kyc(platform, org_id, 3, owner_type="org")
    chain.fund(open_wallet(platform, org_id, owner_type="org").address, "USD", 1_000_00)
    kyc(platform, bob.user.id, 2)
    open_wallet(platform, bob.user.id)

    def as_(who: Actor) -> Checked:
        context = browser.new_context(locale="zh-CN" if language == "zh-Hans" else "en-GB",
                                      viewport={"width": PHONE_WIDTH, "height": 800})
        context.add_cookies([{"name": SESSION, "value": who.token, "url": url}])
        return Checked(context.new_page(), language)

    b = as_(owner)
    page = b.page
    page.goto(f"{url}/org/{org_id}/policy")
    b.landed("approval-policy")
    page.fill("#group-0-name", "approvers")
    page.check(f"input[name='group-0-members'][value='{ada.user.id}']")
    page.select_option("#rule-0-action", "approve")
    page.fill("#rule-0-usd_min", "10.00")
    page.fill("#rule-0-levels", "approvers:1")
    page.select_option("#rule-1-action", "allow")
    page.click("form.policy-editor button[type=submit]")
    b.landed()
    assert page.locator("#policy-saved").count() == 1, page.inner_text("main")
    page.goto(f"{url}/org/{org_id}/beneficiaries")
    b.landed("beneficiaries")
    page.fill("#name", "Acme Ltd")
    page.fill("#country", "GB")
    page.fill("#iban", "GB82WEST12345698765432")
    page.fill("#bank_code", "WESTGB2L")
    page.click(f"form[action='/org/{org_id}/beneficiaries'] button[type=submit]")
    b.landed()
    assert page.locator("table.beneficiaries tr[data-id]").count() == 1

    made = httpx.post(f"{url}/v1/payments", headers={
        "Authorization": f"Bearer {owner.token}", "Idempotency-Key": uuid.uuid4().hex},
        json={"recipient": {"type": "user", "email": bob.user.email}, "asset": "USD",
              "amount": "25", "org_id": org_id})
    assert made.status_code == 201 and made.json()["status"] == "pending_approval", made.text
    payment_id = made.json()["id"]

    a = as_(ada)
    a.page.goto(f"{url}/org/{org_id}/approvals")
    a.landed("approvals-queue")
    a.page.click(f"tr[data-subject='{payment_id}'] form button[type=submit]")
    a.landed()
    assert a.page.locator("#approval-state[data-state='approved']").count() == 1

    page.goto(f"{url}/payments/{payment_id}")
    b.landed("payment-approved")
    steps = page.locator(".approval-steps li[data-decision='approve']")
    assert steps.count() == 1 and "Ada" in steps.inner_text()
    page.context.close()
    a.page.context.close()
