"""The console's integration pages over HTTP (both databases): an owner creates an API key
(bad input refused on the form, every problem at once, nothing made), sees its token once,
and the key works on the API; the key's uses are listed; replace and revoke; a viewer, a
non-member and a form without its CSRF token are refused. A webhook's delivery log shows
each attempt and sends a delivery again under the same id. Chinese pages are translated."""

from __future__ import annotations

import dataclasses
import html
import re

import httpx
import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.adapters.webhook_worker import WebhookWorker
from corridor.platform.config import Settings
from corridor.platform.domain.apikeys import ApiKey
from corridor.platform.domain.webhooks import WebhookDelivery
from corridor.platform.services import webhooks
from tests.platform.conftest import Actor, give_kyc, make_user
from tests.platform.wallet_fakes import make_org
from tests.web.test_org_pages import _as, _form

TOKEN = re.compile(r'<p class="mono token">(cor_[^<]+)</p>')


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, webhook_allow_networks=("93.184.216.0/24",))


def _owner(platform: bootstrap.Platform) -> tuple[Actor, str]:
    carol = make_user(platform, email="carol@example.com", name="Carol Customer")
    give_kyc(platform, carol.user.id)
    return carol, make_org(platform, carol.user.id)


def _keys(platform: bootstrap.Platform) -> list[ApiKey]:
    with platform.deps.uow() as uow:
        return uow.repo(ApiKey).many(order_by="created_ms")


def test_an_owner_creates_uses_replaces_and_revokes_a_key(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol, org_id = _owner(platform)
    _as(site, carol)
    url = f"/org/{org_id}/api-keys"
    page = site.get(url)
    assert page.status_code == 200 and "No API keys yet." in page.text
    assert f'href="{url}"' in site.get(f"/org/{org_id}").text  # the section's link
    form = _form(site, url)
    r = site.post(url, data={**form, "name": "", "allowlist": "10.0.0.1/8\nnope",
                             "expires_in_days": "999"})
    assert r.status_code == 422
    for field in ("name", "scopes", "allowlist", "expires_in_days"):
        assert f'href="#{field}"' in r.text, field
    assert _keys(platform) == []
    data = {**form, "name": "payroll server", "scopes": ["read"],
            "allowlist": "127.0.0.0/8, testclient-not-ip\n"}
    r = site.post(url, data=data)
    assert r.status_code == 422 and 'href="#allowlist"' in r.text
    data["allowlist"] = ""
    first = site.post(url, data=data)
    assert first.status_code == 200, first.text
    match = TOKEN.search(first.text)
    assert match is not None
    token = html.unescape(match.group(1))
    again = site.post(url, data=data)  # a resent form: the same key, no token shown
    assert TOKEN.search(again.text) is None and "already sent" in again.text
    [key] = _keys(platform)
    assert token not in site.get(url).text and f"cor_{key.prefix}_" in site.get(url).text

    # the key on the API, then its uses on its page
    api = TestClient(site.app, client=("203.0.113.9", 1))
    assert api.get(f"/v1/orgs/{org_id}", headers={"Authorization": f"Bearer {token}"}
                   ).status_code == 200
    detail = site.get(f"{url}/{key.id}").text
    assert "GET /v1/orgs/{org_id}" in detail and "203.0.113.9" in detail

    # replace, with an overlap; then revoke both
    page = site.get(url).text
    rotate_key = re.search(r'/rotate" class="inline-form">\s*<input type="hidden" '
                           r'name="csrf_token" value="([^"]+)">\s*<input type="hidden" '
                           r'name="key" value="([^"]+)">', page)
    assert rotate_key is not None
    r = site.post(f"{url}/{key.id}/rotate", data={"csrf_token": rotate_key.group(1),
                                                  "key": rotate_key.group(2),
                                                  "overlap_hours": "1"})
    assert r.status_code == 200 and TOKEN.search(r.text) is not None
    assert 'data-state="rotating"' in r.text
    old, new = _keys(platform)
    for k in (old, new):
        r = site.post(f"{url}/{k.id}/revoke", data={"csrf_token": form["csrf_token"]},
                      follow_redirects=False)
        assert r.status_code == 303
    assert all(k.revoked_ms is not None for k in _keys(platform))
    assert api.get(f"/v1/orgs/{org_id}", headers={"Authorization": f"Bearer {token}"}
                   ).status_code == 401
    zh = site.get(url, headers={"accept-language": "zh-CN"}).text
    assert "API 密钥" in zh and "已撤销" in zh


def test_the_keys_pages_refuse_who_may_not_manage_them(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol, org_id = _owner(platform)
    viewer = make_user(platform, email="vic@example.com")
    stranger = make_user(platform, email="sam@example.com")
    with platform.deps.uow() as uow:
        from corridor.platform.domain.orgs import Membership
        now = platform.deps.clock.now_ms()
        uow.repo(Membership).add(Membership(id=platform.deps.rand.new_id(), org_id=org_id,
                                            user_id=viewer.user.id, role="viewer",
                                            department_id=None, created_ms=now,
                                            updated_ms=now))
        uow.commit()
    url = f"/org/{org_id}/api-keys"
    _as(site, carol)
    form = _form(site, url)
    r = site.post(url, data={"name": "x", "scopes": ["read"], "key": form["key"]})
    assert r.status_code == 403 and _keys(platform) == []  # no CSRF token
    _as(site, viewer)
    assert site.get(url).status_code == 403
    assert f'href="{url}"' not in site.get(f"/org/{org_id}").text
    _as(site, stranger)
    assert site.get(url).status_code == 404
    site.cookies.clear()
    assert site.get(url, follow_redirects=False).status_code in (303, 307)


def test_the_delivery_log_page_and_sending_again(
        site: TestClient, platform: bootstrap.Platform) -> None:
    carol, org_id = _owner(platform)
    _as(site, carol)
    endpoint, _secret = webhooks.register(platform.deps, _principal(platform, carol), org_id,
                                          "https://hooks.example/corridor",
                                          idempotency_key="k1")
    with platform.deps.uow() as uow:
        webhooks.enqueue(platform.deps, uow, org_id, "batch.completed", {"batch": "b1"})
        uow.commit()
    transport = httpx.MockTransport(lambda request: httpx.Response(500, text="boom at receiver"))
    worker = WebhookWorker(platform.deps, transport=transport,
                           resolver=lambda host, port: ["93.184.216.34"])
    try:
        assert worker.run_once() == 1
    finally:
        worker.close()
    form = _form(site, f"/org/{org_id}/webhooks")
    r = site.post(f"/org/{org_id}/webhooks", data={**form, "url": "https://b.example/h",
                                                   "events": "batch.*, nope.thing"})
    assert r.status_code == 422 and 'href="#events"' in r.text
    r = site.post(f"/org/{org_id}/webhooks", data={**form, "url": "https://b.example/h",
                                                   "events": "batch.*, checkout.paid"})
    assert r.status_code == 200 and "batch.*, checkout.paid" in r.text
    hooks = site.get(f"/org/{org_id}/webhooks").text
    rotate = re.search(rf'/webhooks/{endpoint.id}/rotate-secret" class="inline-form">\s*'
                       r'<input type="hidden" name="csrf_token" value="([^"]+)">\s*'
                       r'<input type="hidden" name="key" value="([^"]+)">', hooks)
    assert rotate is not None
    data = {"csrf_token": rotate.group(1), "key": rotate.group(2)}
    first = site.post(f"/org/{org_id}/webhooks/{endpoint.id}/rotate-secret", data=data)
    again = site.post(f"/org/{org_id}/webhooks/{endpoint.id}/rotate-secret", data=data)
    shown = re.compile(r'<p class="mono">(whsec_[^<]+)</p>')
    new_secret, repeated = shown.search(first.text), shown.search(again.text)
    assert first.status_code == 200 and "new signing secret" in first.text
    assert new_secret is not None and repeated is not None
    assert new_secret.group(1) != _secret and repeated.group(1) == new_secret.group(1)
    log_url = f"/org/{org_id}/webhooks/{endpoint.id}/deliveries"
    assert f'href="{log_url}"' in hooks
    page = site.get(log_url)
    assert page.status_code == 200
    assert "batch.completed" in page.text and "HTTP 500" in page.text
    assert "boom at receiver" in page.text
    with platform.deps.uow() as uow:
        [d] = uow.repo(WebhookDelivery).many()
    # still pending (a retry is due later): no "send again" yet; mark it failed to offer it
    assert f"{d.id}/redeliver" not in page.text
    with platform.deps.uow() as uow:
        uow.repo(WebhookDelivery).update(dataclasses.replace(d, status="failed"))
        uow.commit()
    page = site.get(log_url).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None and f"{d.id}/redeliver" in page
    r = site.post(f"{log_url}/{d.id}/redeliver", data={"csrf_token": token.group(1)})
    assert r.status_code == 200 and 'id="redelivered"' in r.text
    with platform.deps.uow() as uow:
        again = uow.repo(WebhookDelivery).get(d.id)
    assert again is not None and (again.status, again.attempts) == ("pending", 0)
    zh = site.get(log_url, headers={"accept-language": "zh-CN"}).text
    assert "投递" in zh


def _principal(platform: bootstrap.Platform, who: Actor):  # type: ignore[no-untyped-def]
    from corridor.platform.domain.principal import Principal
    from corridor.platform.domain.roles import UserKind

    return Principal(user_id=who.user.id, kind=UserKind.CUSTOMER, staff_role=None,
                     session_id="test")
