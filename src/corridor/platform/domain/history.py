"""Transaction history (requirements Q1, Q2): one list over every kind of record that moves
a customer's money - payments sent and received, exchanges, refunds, deposits and
withdrawals - with filters, stable paging and exports.

Each record type joins the list through a small adapter (adapters/history.py) that maps
its table onto `HistoryRow`; the filters here are validated once and applied in SQL.
Amounts stay integers in minor units until they are shown; exports write exact decimal
text (never floats).

Row meaning per type: `amount_minor` of `currency` is what moved for the caller - sent
payments: what left the sender, fee included; receipts: what the caller received;
refunds: what goes back to the sender. `counter_*` is the other side of an exchange.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import enum
import re
from decimal import Decimal

from corridor.platform.domain import money
from corridor.platform.domain.errors import Err, PlatformError, Problems

PAGE_MAX = 200
PAGE_DEFAULT = 50
EXPORT_ROWS_MAX = 10_000  # one export; beyond it the caller narrows the filters
TEXT_FILTER_LEN_MAX = 100
REF_LEN_MAX = 64
CURSOR_LEN_MAX = 200
_STATUS_RE = re.compile(r"^[a-z_]{1,32}$")


class RowType(enum.StrEnum):
    REMITTANCE = "remittance"  # sent, cross-currency
    RECEIPT = "receipt"  # a payment someone else sent to the caller
    TRANSFER = "transfer"  # sent, same currency
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    EXCHANGE = "exchange"  # between the caller's own wallets
    REFUND = "refund"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """Whose rows: a user's own (`user_id` also finds payments addressed to them) or an
    organisation's."""

    owner_type: str  # "user" | "org"
    owner_id: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Filters:
    types: frozenset[str]  # empty: every type
    from_ms: int | None = None  # inclusive
    to_ms: int | None = None  # exclusive
    currency: str | None = None
    min_minor: int | None = None  # inclusive, in `currency`
    max_minor: int | None = None  # inclusive
    status: str | None = None
    counterparty: str | None = None  # case-insensitive substring of name or address
    ref: str | None = None  # exact: the record id, UETR, payment id or transaction hash


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Cursor:
    """Where a page ends in the order (created_ms desc, id asc)."""

    created_ms: int
    id: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class HistoryRow:
    type: str  # RowType
    id: str
    created_ms: int
    status: str
    currency: str
    amount_minor: int
    fee_minor: int
    counter_currency: str | None
    counter_amount_minor: int | None
    rate: str | None  # Decimal text
    counterparty: str | None
    counterparty_address: str | None
    uetr: str | None
    tx_id: str | None
    height: int | None
    payment_id: str | None


def filters(*, types: list[str], from_ms: int | None, to_ms: int | None,
            currency: str | None, min_amount: str | None, max_amount: str | None,
            status: str | None, counterparty: str | None, ref: str | None) -> Filters:
    """Checked filters from raw input, every problem reported at once (INVALID_FILTERS)."""
    problems = Problems()
    bad_types = sorted(set(types) - set(RowType))
    if bad_types:
        problems.add("type", f"unknown {', '.join(bad_types)}; one of "
                     f"{', '.join(RowType)}")
    if from_ms is not None and to_ms is not None and from_ms >= to_ms:
        problems.add("to_ms", "must be after from_ms")
    code = currency
    if code is not None and not money.is_currency(code):
        problems.add("currency", f"one of {', '.join(money.CURRENCIES)}")
        code = None
    lo = _amount(min_amount, code, "min_amount", problems)
    hi = _amount(max_amount, code, "max_amount", problems)
    if (min_amount or max_amount) and currency is None:
        problems.add("currency", "an amount range needs the currency it is in")
    if lo is not None and hi is not None and lo > hi:
        problems.add("max_amount", "must not be below min_amount")
    if status is not None and not _STATUS_RE.match(status):
        problems.add("status", "a status name, e.g. credited")
    for name, value, cap in (("counterparty", counterparty, TEXT_FILTER_LEN_MAX),
                             ("ref", ref, REF_LEN_MAX)):
        if value is not None and not 0 < len(value.strip()) <= cap:
            problems.add(name, f"1-{cap} characters")
    problems.raise_if_any(Err.INVALID_FILTERS)
    return Filters(types=frozenset(types), from_ms=from_ms, to_ms=to_ms, currency=code,
                   min_minor=lo, max_minor=hi, status=status,
                   counterparty=counterparty.strip().lower() if counterparty else None,
                   ref=ref.strip().lower() if ref else None)


def _amount(text: str | None, code: str | None, field: str, problems: Problems) -> int | None:
    if text is None or code is None:
        return None
    try:
        return money.parse_major(text, code, field)
    except PlatformError as exc:  # reported with the others
        problems.add(field, exc.message)
        return None


def encode_cursor(c: Cursor) -> str:
    return base64.urlsafe_b64encode(f"{c.created_ms}:{c.id}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    try:
        if len(text) > CURSOR_LEN_MAX:
            raise ValueError
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        ms, _, row_id = raw.partition(":")
        if not row_id or len(row_id) > 64:
            raise ValueError
        return Cursor(created_ms=int(ms), id=row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Err.INVALID_CURSOR.error("the cursor is not one this API gave out",
                                       {"cursor": "invalid"}) from None


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value: str | None) -> str:
    """User text made safe for a spreadsheet cell: text that would start a formula is
    prefixed with an apostrophe (CSV/formula injection)."""
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value


EXPORT_COLUMNS = ("type", "id", "created_at_utc", "status", "currency", "amount", "fee",
                  "counter_currency", "counter_amount", "rate", "counterparty",
                  "counterparty_address", "uetr", "tx_hash", "block_height", "payment_id")


def export_cells(row: HistoryRow) -> list[str]:
    """One export line: amounts as exact decimal text in major units, time in ISO 8601."""
    at = _EPOCH + dt.timedelta(milliseconds=row.created_ms)
    counter = (money.format_minor(row.counter_amount_minor, row.counter_currency)
               if row.counter_currency and row.counter_amount_minor is not None else "")
    return [row.type, row.id, at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            row.status, row.currency, money.format_minor(row.amount_minor, row.currency),
            money.format_minor(row.fee_minor, row.currency), row.counter_currency or "",
            counter, row.rate or "", cell_text(row.counterparty),
            cell_text(row.counterparty_address), row.uetr or "", row.tx_id or "",
            "" if row.height is None else str(row.height), row.payment_id or ""]


# A spreadsheet holds numbers as binary doubles: exact for whole numbers of minor units up
# to 2**53. Beyond that an amount stays text rather than be rounded.
SHEET_EXACT_MINOR_MAX = 2**53

Cell = str | int | Decimal


def export_values(row: HistoryRow) -> list[Cell]:
    """One export line for a spreadsheet (issue 15): `export_cells`, with the amounts as
    numbers in major units (a Decimal of the currency's places, so a sheet can sum them)
    and the block height as a whole number."""
    cells: list[Cell] = list(export_cells(row))
    amounts = {"amount": (row.amount_minor, row.currency),
               "fee": (row.fee_minor, row.currency),
               "counter_amount": (row.counter_amount_minor, row.counter_currency)}
    for name, (minor, code) in amounts.items():
        if minor is not None and code and abs(minor) < SHEET_EXACT_MINOR_MAX:
            cells[EXPORT_COLUMNS.index(name)] = money.to_major(minor, code).quantize(
                Decimal(1).scaleb(-money.decimals(code)))
    if row.height is not None:
        cells[EXPORT_COLUMNS.index("block_height")] = row.height
    return cells
