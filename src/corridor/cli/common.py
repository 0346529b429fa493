"""What every `corridor` wallet and explorer command shares: the one-line error and its exit
code, the defaults, and amounts and times typed by a person (amounts through the platform's
one amount parser, `corridor.platform.domain.money`)."""

from __future__ import annotations

import functools
import re
import time
from datetime import UTC, datetime
from typing import Any, NoReturn

import typer

from corridor.ledger.limits import AMOUNT_MAX
from corridor.node.home import HomeError
from corridor.platform import config
from corridor.platform.domain import money
from corridor.platform.domain.errors import PlatformError

DEFAULT_RPC = "http://127.0.0.1:26657"
# The `corridor up` default home. Every `--home` option reads CORRIDOR_HOME when it is not
# given (typer's envvar), so one export points `up`, the wallet, explorer, light-client and
# node commands at the same home; the platform's data directory follows it (config.py).
DEFAULT_HOME = config.HOME_DEFAULT
HOME_ENV = config.HOME_ENV


class CliError(Exception):
    """One line for the user; exit code 1."""


def fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def die(message: str) -> NoReturn:
    raise CliError(message)


def run_cli(fn: Any) -> Any:
    """Decorator: turns CliError/HomeError into the one red line and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (CliError, HomeError) as exc:
            raise fail(str(exc)) from None

    return wrapper


# --- Amounts and times -----------------------------------------------------------------------


def parse_amount(text: str, decimals: int, code: str = "the asset") -> int:
    """The exact minor units of a decimal string; refuses anything that is not exact."""
    if text.strip().startswith("-"):
        die(f"amount {text!r} is negative: give a positive amount")
    if money.amount_parts(text) is None:  # the platform's one amount syntax
        die(f"amount {text!r} is not a number: write it like 12.50")
    try:
        units = money.parse_minor(text, decimals)
    except PlatformError:
        die(f"amount {text} has more decimal places than {code} allows ({decimals})")
    if units <= 0:
        die(f"amount {text} is zero: give a positive amount")
    if units > AMOUNT_MAX:
        die(f"amount {text} is too large (at most {format_amount(AMOUNT_MAX, decimals)})")
    return units


def format_amount(minor: int, decimals: int) -> str:
    if decimals == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}"


def format_money(minor: int, code: str, decimals: int | None) -> str:
    """How every command shows an amount (issue 15): major units and the currency, as the
    platform's API does ('12.50 USD'). Without the asset's decimals (an asset the caller
    cannot look up) the minor units, said as such: never a guess."""
    if decimals is None:
        return f"{minor} minor units of {code}"
    return f"{format_amount(minor, decimals)} {code}"


_RELATIVE_RE = re.compile(r"\+([0-9]+)([smhd])")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_time_ms(text: str, what: str, now_ms: int | None = None) -> int:
    """An ISO-8601 time (naive means UTC) or a relative `+10m` (s, m, h, d) as unix ms."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    rel = _RELATIVE_RE.fullmatch(text)
    if rel is not None:
        return now + int(rel.group(1)) * _UNIT_MS[rel.group(2)]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        die(f"{what} {text!r} is not a time: use ISO-8601 (2026-01-31T12:00:00Z) or +10m")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ms = int(moment.timestamp() * 1000)
    if ms < 0:
        die(f"{what} {text!r} is before 1970")
    return ms


def ms_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
