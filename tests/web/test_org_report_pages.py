"""The institution console's treasury reports over HTTP (on both databases), on the seeded
history of tests/platform/report_history.py: each report's figures, chart and table; the
period form's problems shown on the form; exports; English and Chinese; and refusals for
roles without `org.reports`, non-members and the signed-out."""

from __future__ import annotations

import csv
import io
import re

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.web import security
from tests.platform.conftest import Actor
from tests.platform.report_history import History, pin_clock, seed

SESSION = security.cookie_names(production=False)[0]
ZH = {"accept-language": "zh-CN"}


@pytest.fixture
def h(platform: bootstrap.Platform, monkeypatch: pytest.MonkeyPatch) -> History:
    pin_clock(monkeypatch, platform)
    return seed(platform)


def _as(site: TestClient, who: Actor) -> None:
    site.cookies.set(SESSION, who.token)


def _minor(page: str, attribute: str, value: str) -> list[str]:
    """The data-minor figures of the table row marked attribute="value"."""
    row = re.search(rf'<tr[^>]*{attribute}="{re.escape(value)}"[^>]*>(.*?)</tr>', page, re.S)
    assert row, f"no row {attribute}={value}"
    return re.findall(r'data-minor="(-?\d+)"', row.group(1))


def test_reports_show_the_figures_in_both_languages(site: TestClient, h: History) -> None:
    _as(site, h.auditor)
    base = f"/org/{h.org_id}/reports"
    overview = site.get(f"/org/{h.org_id}").text
    assert f'href="{base}"' in overview  # the section is in the organisation's menu
    cash = site.get(base)
    assert cash.status_code == 200
    assert _minor(cash.text, "data-wallet", h.wallet.id) == ["69550", "10000", "5000", "54550"]
    assert 'data-chart="cash-USD"' in cash.text and "<svg" in cash.text
    past = site.get(f"{base}?day=2026-12-01").text
    assert _minor(past, "data-wallet", h.wallet.id) == ["89850", "0", "0", "89850"]

    pay = site.get(f"{base}/payments?by=department&from=2026-11-01&to=2026-12-07").text
    assert _minor(pay, "data-key", h.treasury_id) == ["10150", "150"]
    assert "Treasury" in pay and "No department" in pay
    corridor = site.get(f"{base}/payments?by=corridor&from=2026-11-01").text
    assert "GB → DE (USD → EUR)" in corridor and "on the platform" in corridor

    fees = site.get(f"{base}/fees?every=month&from=2026-11-01").text
    assert _minor(fees, "data-total", "USD") == ["450"]
    forecast = site.get(f"{base}/forecast").text
    assert re.search(r'data-figure="point" data-minor="450"', forecast)
    assert "weekday" in forecast and "MAPE" in forecast and "100.0%" in forecast

    zh = site.get(f"{base}/forecast", headers=ZH).text
    assert "手续费预测" in zh and "回测" in zh
    zh_cash = site.get(base, headers=ZH).text
    assert "现金头寸" in zh_cash and "可用" in zh_cash


def test_the_period_form_shows_its_problems(site: TestClient, h: History) -> None:
    _as(site, h.owner)
    r = site.get(f"/org/{h.org_id}/reports/fees?from=2026-12-05&to=2026-12-09")
    assert r.status_code == 422
    assert 'class="error-summary"' in r.text and 'href="#to"' in r.text
    assert "Not after today" in r.text
    zh = site.get(f"/org/{h.org_id}/reports/payments?from=yesterday", headers=ZH)
    assert zh.status_code == 422 and "YYYY-MM-DD" in zh.text and "日期" in zh.text


def test_exports_are_the_api_files(site: TestClient, h: History) -> None:
    _as(site, h.approver)
    r = site.get(f"/org/{h.org_id}/reports/payments/export?format=csv&by=beneficiary"
                 "&from=2026-11-01")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[1][1:] == ["Müller GmbH", "USD", "1", "203.00", "3.00"]
    api = site.get(f"/v1/orgs/{h.org_id}/reports/payments?format=csv&by=beneficiary"
                   "&from=2026-11-01", headers=h.approver.headers)
    assert api.content == r.content
    x = site.get(f"/org/{h.org_id}/reports/cash/export?format=xlsx")
    assert x.status_code == 200 and x.content[:2] == b"PK"
    assert site.get(f"/org/{h.org_id}/reports/nothing/export").status_code == 404


def test_wrong_roles_are_refused(site: TestClient, h: History) -> None:
    base = f"/org/{h.org_id}/reports"
    for who, status in ((h.viewer, 403), (h.initiator, 403), (h.stranger, 404)):
        _as(site, who)
        for path in (base, f"{base}/payments", f"{base}/fees", f"{base}/forecast",
                     f"{base}/fees/export?format=csv"):
            r = site.get(path)
            assert r.status_code == status, (path, r.status_code)
            assert "data-report" not in r.text
        if status == 403:
            assert f'href="{base}"' not in site.get(f"/org/{h.org_id}").text
    site.cookies.clear()
    r = site.get(base, follow_redirects=False)
    assert r.status_code in (303, 401) and "data-report" not in r.text
