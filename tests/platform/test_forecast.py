"""The fee forecast's pure core (domain/forecast.py) on series whose answers are known."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from corridor.platform.domain import forecast as fc

TODAY = dt.date(2026, 12, 7)  # a Monday; next month is January 2027 (31 days, 21 weekdays)


def series(first: dt.date, value_of: Callable[[dt.date], int]) -> fc.DailySeries:
    """A series from `first` to the day before TODAY, each day's value `value_of(day)`."""
    days = (TODAY - first).days
    values = tuple(value_of(first + dt.timedelta(days=i)) for i in range(days))
    return fc.DailySeries(first=first, values=values)


def test_a_constant_series_is_forecast_exactly_and_its_backtest_has_no_error() -> None:
    f = fc.forecast_next_month("USD", series(dt.date(2026, 6, 1), lambda d: 150), TODAY)
    assert (f.month, f.days, f.point_minor) == ("2027-01", 31, 150 * 31)
    assert [m.month for m in f.backtest] == ["2026-09", "2026-10", "2026-11"]
    assert all(m.error_minor == 0 for m in f.backtest)
    assert (f.mae_minor, f.mape_percent) == (0, Decimal("0.0"))
    assert (f.low_minor, f.high_minor) == (f.point_minor, f.point_minor)


def test_weekdays_are_forecast_by_their_own_mean() -> None:
    """Fees on working days only: January 2027 has 21 of them."""
    f = fc.forecast_next_month("USD", series(dt.date(2026, 10, 1),
                                             lambda d: 0 if d.weekday() >= 5 else 100), TODAY)
    assert f.point_minor == 21 * 100
    # November 2026 has 21 weekdays, forecast from October's last four weeks: exact
    assert f.backtest[-1].month == "2026-11"
    assert f.backtest[-1].forecast_minor == f.backtest[-1].actual_minor == 2100


def test_a_growing_series_shows_its_error_and_interval() -> None:
    """10 a day in August, 20 in September, 30 in October, 40 from November on: each
    month is forecast at the previous month's level."""
    level = {8: 10, 9: 20, 10: 30, 11: 40, 12: 40}
    f = fc.forecast_next_month("USD", series(dt.date(2026, 8, 1), lambda d: level[d.month]),
                               TODAY)
    got = [(m.month, m.forecast_minor, m.actual_minor, m.error_minor) for m in f.backtest]
    assert got == [("2026-09", 300, 600, -300), ("2026-10", 620, 930, -310),
                   ("2026-11", 900, 1200, -300)]
    assert f.mae_minor == 303  # (300 + 310 + 300) / 3, to whole minor units
    assert f.mape_percent == Decimal("36.1")  # (1/2 + 1/3 + 1/4) / 3
    assert f.point_minor == 40 * 31
    # widened by the worst relative error, 50 %
    assert (f.low_minor, f.high_minor) == (620, 1860)


def test_too_little_history_gives_no_forecast_and_no_interval() -> None:
    f = fc.forecast_next_month("EUR", series(dt.date(2026, 11, 20), lambda d: 5), TODAY)
    assert f.point_minor is None and f.backtest == ()
    assert f.low_minor is None and f.high_minor is None
    assert f.mae_minor is None and f.mape_percent is None


def test_a_month_with_nothing_paid_counts_in_mae_but_not_mape() -> None:
    level = {8: 10, 9: 10, 10: 0, 11: 10, 12: 10}
    f = fc.forecast_next_month("USD", series(dt.date(2026, 8, 1), lambda d: level[d.month]),
                               TODAY)
    by_month = {m.month: m for m in f.backtest}
    assert by_month["2026-10"].ape is None and by_month["2026-10"].error_minor == 310
    # November forecast from October's zeros: 0 against 300 paid, 100 %
    assert by_month["2026-11"].forecast_minor == 0
    assert f.mape_percent == Decimal("50.0")  # (0 % for September + 100 %) / 2
    assert f.mae_minor == round((0 + 310 + 300) / 3)


def test_rounding_is_half_to_even_once() -> None:
    assert fc.round_minor(Fraction(5, 2)) == 2
    assert fc.round_minor(Fraction(7, 2)) == 4
    assert fc.round_minor(Fraction(10, 3)) == 3


def test_weekday_means_of_four_weeks() -> None:
    end = dt.date(2026, 12, 7)  # Monday: the window's first day is a Monday too
    window = [1] + [0] * 27  # one Monday with 1
    means = fc.weekday_means(window, end)
    assert means[0] == Fraction(1, 4) and all(means[d] == 0 for d in range(1, 7))


def test_month_helpers() -> None:
    assert fc.next_month(dt.date(2026, 12, 31)) == dt.date(2027, 1, 1)
    assert fc.next_month(dt.date(2027, 1, 31)) == dt.date(2027, 2, 1)
    assert len(fc.month_days(dt.date(2028, 2, 1))) == 29
