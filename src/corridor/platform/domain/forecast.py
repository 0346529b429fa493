"""The fee forecast of an organisation's next calendar month (issue 17, "Reports"): pure
functions over a daily series of fees paid in one currency, in minor units.

Method (stated on the page and in docs/architecture.md): a **weekday mean of the last
four weeks**. Each day of the month ahead is forecast as the mean of the fees paid on the
same weekday in the last `WINDOW_DAYS` (28) complete days before the forecast is made; the
month's forecast is the sum over its days. Payments follow the working week, so a plain
daily mean would over-forecast months with many weekend days; four weeks of history are
recent enough to follow a change of volume and long enough to average one odd day.

Its error is measured by a rolling-origin back-test: each of the last `BACKTEST_MONTHS`
complete months is forecast from the 28 days before it, exactly as the next month is, and
compared with what was paid. MAE (minor units) and MAPE (percent) are over those months;
the interval around the forecast is the point widened by the largest relative error the
back-test saw (no back-test, no interval: nothing to say how wrong it may be).

All figures are integers in minor units (sums of weekday means are computed exactly as
fractions and rounded half to even once); percentages are Decimals.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

WINDOW_DAYS = 28  # four weeks: each weekday four times
BACKTEST_MONTHS = 3  # months of the rolling-origin back-test, when the history has them
BACKTEST_MONTHS_MAX = 12
PERCENT = Decimal("0.1")

assert WINDOW_DAYS % 7 == 0 and 1 <= BACKTEST_MONTHS <= BACKTEST_MONTHS_MAX


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DailySeries:
    """Fees paid per UTC day in one currency: `values[i]` is the day `first + i`."""

    first: dt.date
    values: tuple[int, ...]

    def __post_init__(self) -> None:
        assert all(v >= 0 for v in self.values), "fees paid are never negative"

    @property
    def end(self) -> dt.date:
        """The day after the last one in the series."""
        return self.first + dt.timedelta(days=len(self.values))

    def between(self, start: dt.date, end: dt.date) -> tuple[int, ...]:
        """The values of the days [start, end), which must lie inside the series."""
        assert self.first <= start <= end <= self.end, (start, end)
        i = (start - self.first).days
        return self.values[i:i + (end - start).days]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BacktestMonth:
    """One month of the back-test: its forecast from the 28 days before it, and what was
    paid. `error_minor` is forecast minus actual (positive: the forecast was too high)."""

    month: str  # YYYY-MM
    forecast_minor: int
    actual_minor: int

    @property
    def error_minor(self) -> int:
        return self.forecast_minor - self.actual_minor

    @property
    def ape(self) -> Fraction | None:
        """The absolute percentage error as a fraction of one (None when nothing was paid:
        any error is infinite relative to zero)."""
        if self.actual_minor == 0:
            return None
        return Fraction(abs(self.error_minor), self.actual_minor)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Forecast:
    """The next month's fees in one currency, with the back-test that measures the
    method on this organisation's own history."""

    code: str
    month: str  # YYYY-MM, the month forecast
    days: int
    point_minor: int | None  # None: fewer than 28 days of history before the forecast
    low_minor: int | None
    high_minor: int | None
    backtest: tuple[BacktestMonth, ...]
    mae_minor: int | None
    mape_percent: Decimal | None


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    """The first day of the month after `day`'s."""
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_days(first: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((next_month(first) - first).days)]


def weekday_means(window: Sequence[int], window_end: dt.date) -> dict[int, Fraction]:
    """The mean fee per weekday (0 = Monday) of `window`, the days just before
    `window_end`; its length is a whole number of weeks."""
    assert window and len(window) % 7 == 0, len(window)
    start = window_end - dt.timedelta(days=len(window))
    sums = dict.fromkeys(range(7), 0)
    for i, value in enumerate(window):
        sums[(start + dt.timedelta(days=i)).weekday()] += value
    weeks = len(window) // 7
    return {wd: Fraction(total, weeks) for wd, total in sums.items()}


def forecast_days(series: DailySeries, made_on: dt.date, days: Sequence[dt.date]) -> int | None:
    """The forecast total of `days` made on `made_on` from the `WINDOW_DAYS` complete days
    before it; None when the series does not hold them."""
    window_start = made_on - dt.timedelta(days=WINDOW_DAYS)
    if window_start < series.first or made_on > series.end:
        return None
    means = weekday_means(series.between(window_start, made_on), made_on)
    return round_minor(sum((means[d.weekday()] for d in days), Fraction(0)))


def round_minor(value: Fraction) -> int:
    """To whole minor units, half to even (the one rounding of a forecast)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def backtest(series: DailySeries, before: dt.date,
             months: int = BACKTEST_MONTHS) -> tuple[BacktestMonth, ...]:
    """Up to `months` complete calendar months ending before `before`, oldest first, each
    forecast from the 28 days before its first day; months the series does not cover in
    full (or without 28 days before them) are left out."""
    assert 1 <= months <= BACKTEST_MONTHS_MAX
    out: list[BacktestMonth] = []
    first = month_start(before)
    for _ in range(months):
        first = month_start(first - dt.timedelta(days=1))
        end = next_month(first)
        if end > series.end or end > before:
            continue
        point = forecast_days(series, first, month_days(first))
        if point is None:
            break  # older months have even less history before them
        out.append(BacktestMonth(month=first.strftime("%Y-%m"), forecast_minor=point,
                                 actual_minor=sum(series.between(first, end))))
    return tuple(reversed(out))


def mae(months: Sequence[BacktestMonth]) -> int | None:
    if not months:
        return None
    return round_minor(Fraction(sum(abs(m.error_minor) for m in months), len(months)))


def mape(months: Sequence[BacktestMonth]) -> Decimal | None:
    """The mean absolute percentage error over the months something was paid in."""
    apes = [a for a in (m.ape for m in months) if a is not None]
    if not apes:
        return None
    mean = sum(apes, Fraction(0)) / len(apes) * 100
    return (Decimal(mean.numerator) / Decimal(mean.denominator)).quantize(
        PERCENT, rounding=ROUND_HALF_EVEN)


def forecast_next_month(code: str, series: DailySeries, today: dt.date,
                        months: int = BACKTEST_MONTHS) -> Forecast:
    """The forecast of the month after `today`'s, made from the 28 complete days before
    `today` (the series should end the day before `today`), with its back-test."""
    target = next_month(today)
    days = month_days(target)
    point = forecast_days(series, today, days)
    tested = backtest(series, today, months)
    worst = max((a for a in (m.ape for m in tested) if a is not None), default=None)
    low = high = None
    if point is not None and worst is not None:
        spread = round_minor(point * worst)
        low, high = max(0, point - spread), point + spread
    return Forecast(code=code, month=target.strftime("%Y-%m"), days=len(days),
                    point_minor=point, low_minor=low, high_minor=high, backtest=tested,
                    mae_minor=mae(tested), mape_percent=mape(tested))
