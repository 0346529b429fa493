"""The institution's treasury reports (services/org_reports.py, /v1/orgs/{id}/reports/...)
on a seeded history (tests/platform/report_history.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import openpyxl
import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import UserKind
from corridor.platform.domain.transfers import (
    TREASURY,
    Leg,
    Purpose,
    Transfer,
    TransferStatus,
    wallet_ref,
)
from corridor.platform.domain.wallets import OwnerType, Wallet, WalletStatus
from corridor.platform.services import org_reports as reports
from tests.platform.conftest import Actor
from tests.platform.report_history import History, pin_clock, seed


@pytest.fixture
def h(platform: bootstrap.Platform, monkeypatch: pytest.MonkeyPatch) -> History:
    pin_clock(monkeypatch, platform)
    return seed(platform)


def who(actor: Actor) -> Principal:
    return Principal(user_id=actor.user.id, kind=UserKind.CUSTOMER, staff_role=None,
                     session_id="test", ip="10.0.0.1")


def cells(position: reports.CashPosition) -> list[tuple[str, str, int, int, int, int]]:
    return [(r.wallet_id, r.code, r.balance_minor, r.reserved_minor, r.in_flight_minor,
             r.available_minor) for r in position.rows]


def test_cash_position_now_and_at_the_end_of_past_days(platform: bootstrap.Platform,
                                                       h: History) -> None:
    deps, me = platform.deps, who(h.owner)
    now = reports.cash_position(deps, me, h.org_id)
    assert now.day is None
    # balance 1,000.00 - 101.50 - 203.00; reserved: pending approval 70.00 + on hold 30.00
    # (its held transfer is not also in flight); in flight: the submitted 50.00
    assert cells(now) == [(h.wallet.id, "USD", 69_550, 10_000, 5_000, 54_550)]
    assert [(t.code, t.balance_minor, t.available_minor) for t in now.totals] == [
        ("USD", 69_550, 54_550)]
    assert cells(reports.cash_position(deps, me, h.org_id, "2026-12-01")) == [
        (h.wallet.id, "USD", 89_850, 0, 0, 89_850)]
    assert cells(reports.cash_position(deps, me, h.org_id, "2026-12-05")) == [
        (h.wallet.id, "USD", 69_550, 0, 5_000, 64_550)]
    assert cells(reports.cash_position(deps, me, h.org_id, "2026-10-31")) == []


def test_payments_by_department_beneficiary_and_corridor(platform: bootstrap.Platform,
                                                         h: History) -> None:
    deps, me = platform.deps, who(h.auditor)

    def groups(by: str) -> list[tuple[str, str, str, int, int, int]]:
        r = reports.payments_report(deps, me, h.org_id, by=by, since="2026-11-01",
                                    until="2026-12-07")
        assert not r.truncated
        return [(g.key, g.label, g.code, g.count, g.amount_minor, g.fee_minor)
                for g in r.groups]

    # only money that left: the submitted, pending and held payments are not in them
    assert groups("department") == [("", "", "USD", 1, 20_300, 300),
                                    (h.treasury_id, "Treasury", "USD", 1, 10_150, 150)]
    assert groups("corridor") == [("GB>DE USD>EUR", "GB>DE USD>EUR", "USD", 1, 20_300, 300),
                                  ("GB> USD>CNY", "GB> USD>CNY", "USD", 1, 10_150, 150)]
    bank = "bank:DE:DEUTDEFF:DE89********3000"
    assert groups("beneficiary") == [(bank, "Müller GmbH", "USD", 1, 20_300, 300),
                                     (f"user:{h.dave.user.id}", "Dave Customer", "USD", 1,
                                      10_150, 150)]
    # December alone: the bank payment only
    r = reports.payments_report(deps, me, h.org_id, by="department")
    assert (r.period.first.isoformat(), r.period.last.isoformat()) == ("2026-12-01",
                                                                       "2026-12-07")
    assert [(g.key, g.amount_minor) for g in r.groups] == [("", 20_300)]


def test_fees_by_month_and_day(platform: bootstrap.Platform, h: History) -> None:
    deps, me = platform.deps, who(h.approver)
    by_month = reports.fees_report(deps, me, h.org_id, every="month", since="2026-10-01",
                                   until="2026-12-07")
    assert [(x.period, x.code, x.count, x.fee_minor) for x in by_month.lines] == [
        ("2026-10", "USD", 0, 0), ("2026-11", "USD", 1, 150), ("2026-12", "USD", 1, 300)]
    assert [(x.code, x.count, x.fee_minor) for x in by_month.totals] == [("USD", 2, 450)]
    by_day = reports.fees_report(deps, me, h.org_id, since="2026-12-01", until="2026-12-03")
    assert [(x.period, x.fee_minor) for x in by_day.lines] == [
        ("2026-12-01", 0), ("2026-12-02", 300), ("2026-12-03", 0)]


def test_fee_forecast_from_the_history(platform: bootstrap.Platform, h: History) -> None:
    r = reports.fee_forecast(platform.deps, who(h.owner), h.org_id)
    (f,) = r.forecasts
    # weekday means of 9 Nov - 6 Dec: Tuesday 150/4, Wednesday 300/4; January 2027 has
    # four of each: 150 + 300
    assert (r.made_on, f.code, f.month, f.point_minor) == ("2026-12-07", "USD", "2027-01", 450)
    assert [(m.month, m.forecast_minor, m.actual_minor) for m in f.backtest] == [
        ("2026-09", 0, 0), ("2026-10", 0, 0), ("2026-11", 0, 150)]
    assert (f.mae_minor, f.mape_percent) == (50, Decimal("100.0"))
    assert (f.low_minor, f.high_minor) == (0, 900)


def test_who_may_read_the_reports(platform: bootstrap.Platform, h: History) -> None:
    deps = platform.deps
    for actor in (h.owner, h.auditor, h.approver):
        assert reports.cash_position(deps, who(actor), h.org_id).rows
    for actor, code in ((h.viewer, "FORBIDDEN"), (h.initiator, "FORBIDDEN"),
                        (h.stranger, "NOT_FOUND")):
        for read in (lambda w: reports.cash_position(deps, w, h.org_id),
                     lambda w: reports.payments_report(deps, w, h.org_id, by="corridor"),
                     lambda w: reports.fees_report(deps, w, h.org_id),
                     lambda w: reports.fee_forecast(deps, w, h.org_id)):
            with pytest.raises(PlatformError) as exc:
                read(who(actor))
            assert exc.value.code == code


def test_bad_periods_are_refused_with_every_problem(platform: bootstrap.Platform,
                                                    h: History) -> None:
    deps, me = platform.deps, who(h.owner)
    cases = [
        (dict(since="2026-13-01", until="soon"), {"from", "to"}),
        (dict(since="2026-12-05", until="2026-12-01"), {"from"}),
        (dict(since="2025-01-01", until="2026-12-01"), {"from"}),
        (dict(until="2026-12-08"), {"to"}),
    ]
    for args, fields in cases:
        with pytest.raises(PlatformError) as exc:
            reports.fees_report(deps, me, h.org_id, **args)
        assert (exc.value.code, set(exc.value.fields)) == ("INVALID_FILTERS", fields)
    with pytest.raises(PlatformError) as exc:
        reports.payments_report(deps, me, h.org_id, by="colour")
    assert (exc.value.code, set(exc.value.fields)) == ("INVALID_FILTERS", {"by"})
    with pytest.raises(PlatformError) as exc:
        reports.cash_position(deps, me, h.org_id, "2026-12-07")
    assert (exc.value.code, set(exc.value.fields)) == ("INVALID_FILTERS", {"day"})


def test_api_answers_json_csv_and_xlsx(client: TestClient, h: History) -> None:
    base = f"/v1/orgs/{h.org_id}/reports"
    r = client.get(f"{base}/cash", headers=h.owner.headers)
    assert r.status_code == 200
    assert r.json()["rows"][0] | {"wallet_label": "main"} == {
        "wallet_id": h.wallet.id, "wallet_label": "main", "code": "USD",
        "balance_minor": 69_550, "reserved_minor": 10_000, "in_flight_minor": 5_000,
        "available_minor": 54_550}
    r = client.get(f"{base}/payments?by=corridor&from=2026-11-01&format=csv",
                   headers=h.owner.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows == [["corridor", "name", "currency", "payments", "amount", "fees"],
                    ["GB>DE USD>EUR", "GB>DE USD>EUR", "USD", "1", "203.00", "3.00"],
                    ["GB> USD>CNY", "GB> USD>CNY", "USD", "1", "101.50", "1.50"]]
    r = client.get(f"{base}/fees?every=month&from=2026-11-01&format=xlsx",
                   headers=h.owner.headers)
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == ["month", "currency", "payments", "fees"]
    # numbers of the currency's places, so a sheet sums them
    assert values[1:] == [["2026-11", "USD", 1, 1.5], ["2026-12", "USD", 1, 3],
                          ["total", "USD", 2, 4.5]]
    assert sheet["D2"].number_format == "0.00"
    r = client.get(f"{base}/forecast", headers=h.owner.headers)
    assert r.status_code == 200
    body = r.json()
    assert "Weekday mean" in body["method"]
    assert body["forecasts"][0]["point_minor"] == 450
    assert body["forecasts"][0]["mape_percent"] == "100.0"
    r = client.get(f"{base}/cash", headers=h.viewer.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "FORBIDDEN")
    r = client.get(f"{base}/cash", headers=h.stranger.headers)
    assert r.status_code == 404
    r = client.get(f"{base}/fees?from=2026-12-09", headers=h.owner.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (422, "INVALID_FILTERS")


def _wallet(wallet_id: str, address: str) -> Wallet:
    return Wallet(id=wallet_id, owner_type=OwnerType.ORG, owner_id="org", address=address,
                  public_key="p", custodial=True, key_sealed="s", label=wallet_id,
                  status=WalletStatus.OPEN, created_ms=0, updated_ms=0)


def _t(status: TransferStatus, created: int, updated: int, *legs: Leg) -> Transfer:
    return Transfer(id=f"t{created}-{status}", purpose=Purpose.REFUND, ref_id="r",
                    source=legs[0].source, legs=legs, memo="", status=status, sequence=None,
                    tx_id=None, tx_hex=None, height=None, result_code=None,
                    result_message=None, attempts=0, created_ms=created, updated_ms=updated)


def test_position_rows_follow_each_transfer_through_time() -> None:
    """Pure: a refund credited to the wallet's address, a debit the chain rejected (in
    flight until its rejection was recorded, then nothing), a debit still undecided."""
    w = _wallet("w1", "cADDR")
    ref = wallet_ref("w1")
    transfers = [
        _t(TransferStatus.COMMITTED, 10, 20, Leg(source=TREASURY, destination="cADDR",
                                                 code="EUR", amount_minor=5_000)),
        _t(TransferStatus.REJECTED, 30, 40, Leg(source=ref, destination=TREASURY,
                                                code="EUR", amount_minor=1_000)),
        _t(TransferStatus.SUBMITTED, 50, 50, Leg(source=ref, destination=TREASURY,
                                                 code="EUR", amount_minor=700)),
    ]

    def at(ms: int) -> list[tuple[int, int, int]]:
        return [(r.balance_minor, r.reserved_minor, r.in_flight_minor)
                for r in reports.position_rows([w], transfers, [], ms)]

    assert at(15) == []  # the credit was not recorded yet: no row at all
    assert at(21) == [(5_000, 0, 0)]
    assert at(35) == [(5_000, 0, 1_000)]  # rejected only at 40
    assert at(45) == [(5_000, 0, 0)]
    assert at(60) == [(5_000, 0, 700)]
