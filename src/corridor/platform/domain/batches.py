"""Batch payments (issue 17): an organisation's file of payments (CSV or ISO 20022
pain.001), validated as a whole, reserved, approved as a whole and executed item by item.

A batch moves along `BATCH_TRANSITIONS`:

    validated  every item is valid; the batch's total is reserved (a held transfer)
    invalid    at least one problem: nothing is reserved, nothing can move
    approved   a member with pay.approve (not the uploader) approved it: its items are
               payments now, settled in as few ledger transactions as the ledger allows
    rejected   an approver refused it (or the uploader withdrew it): the reservation ends

An approved batch is done when every item reached an end (credited, failed, returned by
compliance): each item follows its payment, so that is read, not stored.

Items are `BatchItem`s; an approved item has a payment (services/payments.py's record) and
follows it. Everything here is pure: the file readers live in domain/iso20022 and
`parse_csv` below; the services do the lookups.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import io
from typing import Any

from corridor.platform.domain import money
from corridor.platform.domain.payments import RecipientType

ITEMS_MAX = 20_000  # items in one batch (the benchmark's file has 10,000)
FILE_BYTES_MAX = 5 * 1024 * 1024  # as every upload (config.UPLOAD_BYTES_MAX); 10,000 items ~3 MiB
PROBLEMS_MAX = 2_000  # problems reported for one file (every item's, up to this many)
CURRENCIES_MAX = 5  # distinct currencies in one batch (a reservation leg each)
# Items per ledger transaction: the ledger takes OPERATIONS_MAX (100) operations, one of
# them the payer's debit to the treasury, the rest one credit per item.
ITEMS_PER_TX_MAX = 99
REFERENCE_LEN_MAX = 35  # an ISO 20022 EndToEndId (Max35Text)
MEMO_LEN_MAX = 140  # as a payment's memo (RmtInf/Ustrd is Max140Text)
NAME_LEN_MAX = 140

assert ITEMS_PER_TX_MAX + 1 <= 100  # the ledger's OPERATIONS_MAX (ledger/limits.py)
assert PROBLEMS_MAX >= 100 and ITEMS_MAX <= 65_535


class BatchFormat(enum.StrEnum):
    CSV = "csv"
    PAIN_001 = "pain.001"


class BatchStatus(enum.StrEnum):
    VALIDATED = "validated"
    INVALID = "invalid"
    APPROVED = "approved"
    REJECTED = "rejected"


B = BatchStatus
BATCH_TRANSITIONS: dict[BatchStatus, frozenset[BatchStatus]] = {
    B.VALIDATED: frozenset({B.APPROVED, B.REJECTED}),
    B.INVALID: frozenset(),
    B.APPROVED: frozenset(),
    B.REJECTED: frozenset(),
}


class ItemStatus(enum.StrEnum):
    VALID = "valid"  # checked, waiting for the batch's approval
    INVALID = "invalid"  # has problems (the batch is invalid)
    SUBMITTED = "submitted"  # its payment is on its way to the chain
    ON_HOLD = "on_hold"  # compliance holds its payment (an officer decides)
    CREDITED = "credited"
    FAILED = "failed"  # refused by the chain or returned by compliance
    CANCELLED = "cancelled"  # the batch was rejected before it moved


ITEM_ENDS = frozenset({ItemStatus.CREDITED, ItemStatus.FAILED, ItemStatus.CANCELLED,
                       ItemStatus.INVALID})


class Code(enum.StrEnum):
    """Stable codes of an item's (or the file's) problems: on the API, in the report and
    in pain.002's StsRsnInf/Rsn/Prtry."""

    FILE_UNREADABLE = "FILE_UNREADABLE"  # not UTF-8, not XML, not CSV
    SCHEMA_INVALID = "SCHEMA_INVALID"  # pain.001 against its XSD
    VERSION_UNSUPPORTED = "VERSION_UNSUPPORTED"
    HEADER_INVALID = "HEADER_INVALID"  # a CSV header missing a column
    COUNT_MISMATCH = "COUNT_MISMATCH"  # GrpHdr/NbOfTxs
    SUM_MISMATCH = "SUM_MISMATCH"  # GrpHdr/CtrlSum
    EMPTY = "EMPTY"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    TOO_MANY_CURRENCIES = "TOO_MANY_CURRENCIES"
    AMOUNT_INVALID = "AMOUNT_INVALID"
    CURRENCY_UNKNOWN = "CURRENCY_UNKNOWN"
    CURRENCY_NOT_ALLOWED = "CURRENCY_NOT_ALLOWED"  # by the organisation's tier
    REFERENCE_INVALID = "REFERENCE_INVALID"
    REFERENCE_DUPLICATE = "REFERENCE_DUPLICATE"
    ITEM_DUPLICATE = "ITEM_DUPLICATE"  # same recipient, amount, currency and memo
    RECIPIENT_INVALID = "RECIPIENT_INVALID"  # shape: e-mail, address, name, country
    IBAN_INVALID = "IBAN_INVALID"
    BIC_INVALID = "BIC_INVALID"
    RECIPIENT_NOT_FOUND = "RECIPIENT_NOT_FOUND"
    RECIPIENT_CANNOT_RECEIVE = "RECIPIENT_CANNOT_RECEIVE"
    SAME_WALLET = "SAME_WALLET"
    MEMO_INVALID = "MEMO_INVALID"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"  # per transaction, or the batch over the daily limit
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"  # the batch's total per currency


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One problem: the row (1-based item number; 0 for the file), the field or XML
    element path, a stable code and plain words."""

    row: int
    field: str
    code: Code
    message: str

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "code": self.code,
                "message": self.message}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RawItem:
    """An item as the file states it (text, not checked yet). `recipient` is the
    payment API's recipient object ({"type": user|address|external, ...})."""

    row: int
    reference: str  # EndToEndId / the CSV's `reference`
    group: str  # pain.001 PmtInfId (the CSV: the batch)
    currency: str
    amount: str  # major units, as written
    recipient: dict[str, str]
    memo: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ParsedFile:
    """A file read: its items, and the problems of the file itself (row 0)."""

    format: BatchFormat
    version: str  # "csv" or the pain.001 message version ("pain.001.001.09")
    message_id: str | None  # GrpHdr/MsgId
    items: tuple[RawItem, ...]
    problems: tuple[Problem, ...]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """An uploaded batch. `totals`: currency -> minor units the items send (fees
    included, as reserved); `problem_count`: how many problems its validation found."""

    id: str
    org_id: str
    created_by: str
    idempotency_key: str
    file_sha256: str
    format: BatchFormat
    version: str
    message_id: str | None
    file_name: str
    status: BatchStatus
    item_count: int
    totals: dict[str, int]
    fees: dict[str, int]
    problem_count: int
    problems: tuple[Problem, ...]  # the file's own (row 0) and the first items' problems
    reservation_id: str | None  # the held transfer reserving `totals`
    decided_by: str | None
    decided_ms: int | None
    created_ms: int
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BatchItem:
    """One payment of a batch. `status` is what validation (or a rejection) made of it;
    a valid item's payment gets `payment_id` at upload and exists once the batch is
    approved, and from then on the item follows its payment's state.
    `amount_minor` is what the recipient receives, `fee_minor` comes on top."""

    id: str
    batch_id: str
    row: int
    reference: str
    group_id: str
    currency: str
    amount_minor: int
    fee_minor: int
    recipient: dict[str, str]  # as shown: a bank account masked
    recipient_sealed: str | None  # the recipient as given (sealed: bank details), if valid
    recipient_name: str
    memo: str
    status: ItemStatus
    problems: tuple[Problem, ...]
    payment_id: str | None
    transfer_id: str | None
    reason_code: str | None
    created_ms: int
    updated_ms: int


def moved(b: Batch, status: BatchStatus, now_ms: int, **changes: Any) -> Batch:
    """The batch in its next state; an illegal move is a bug."""
    assert status in BATCH_TRANSITIONS[b.status], f"batch {b.status} -> {status}"
    return dataclasses.replace(b, status=status, updated_ms=now_ms, **changes)


def chunks(items: list[BatchItem], size: int = ITEMS_PER_TX_MAX) -> list[list[BatchItem]]:
    """Items grouped for settlement: one currency per group, at most `size` items, in
    row order (the fewest ledger transactions the ledger's operation limit allows)."""
    assert 1 <= size <= ITEMS_PER_TX_MAX
    by_code: dict[str, list[BatchItem]] = {}
    for item in sorted(items, key=lambda i: i.row):
        by_code.setdefault(item.currency, []).append(item)
    return [group[i:i + size] for _, group in sorted(by_code.items())
            for i in range(0, len(group), size)]


# --- CSV -------------------------------------------------------------------------------

CSV_COLUMNS = ("reference", "currency", "amount", "recipient_type", "email", "phone",
               "address", "name", "iban", "account_number", "bank_code", "country", "memo")
CSV_REQUIRED = ("reference", "currency", "amount", "recipient_type")
_RECIPIENT_FIELDS = {
    RecipientType.USER: ("email", "phone"),
    RecipientType.ADDRESS: ("address",),
    RecipientType.EXTERNAL: ("name", "iban", "account_number", "bank_code", "country"),
}


def parse_csv(data: bytes) -> ParsedFile:
    """A CSV batch (UTF-8, optional BOM; the header names the columns, any order; see
    CSV_COLUMNS, of which CSV_REQUIRED must be present). Every row is an item."""
    problems: list[Problem] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _unreadable(BatchFormat.CSV, "csv", "the file is not UTF-8 text")
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(rows, [])]
        body = list(rows)
    except csv.Error as exc:
        return _unreadable(BatchFormat.CSV, "csv", f"not CSV: {exc}")
    missing = [c for c in CSV_REQUIRED if c not in header]
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if missing or unknown:
        what = "; ".join(x for x in (
            f"missing columns: {', '.join(missing)}" if missing else "",
            f"unknown columns: {', '.join(unknown)}" if unknown else "") if x)
        problems.append(Problem(row=0, field="header", code=Code.HEADER_INVALID,
                                message=f"{what} (columns: {', '.join(CSV_COLUMNS)})"))
        return ParsedFile(format=BatchFormat.CSV, version="csv", message_id=None, items=(),
                          problems=tuple(problems))
    items: list[RawItem] = []
    for n, cells in enumerate((r for r in body if any(c.strip() for c in r)), start=1):
        if len(items) >= ITEMS_MAX:
            problems.append(_too_many())
            break
        cell = {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header)}
        kind = cell.get("recipient_type", "").lower()
        recipient = {"type": kind, **{k: cell[k] for k in _RECIPIENT_FIELDS.get(
            RecipientType(kind) if kind in tuple(RecipientType) else RecipientType.USER, ())
            if cell.get(k)}}
        items.append(RawItem(row=n, reference=cell["reference"], group="",
                             currency=cell["currency"].upper(), amount=cell["amount"],
                             recipient=recipient, memo=cell.get("memo", "")))
    return ParsedFile(format=BatchFormat.CSV, version="csv", message_id=None,
                      items=tuple(items), problems=tuple(problems))


def _too_many() -> Problem:
    return Problem(row=0, field="items", code=Code.TOO_MANY_ITEMS,
                   message=f"at most {ITEMS_MAX} items in one batch")


def _unreadable(fmt: BatchFormat, version: str, why: str) -> ParsedFile:
    return ParsedFile(format=fmt, version=version, message_id=None, items=(), problems=(
        Problem(row=0, field="file", code=Code.FILE_UNREADABLE, message=why),))


def result_csv(batch: Batch, items: list[BatchItem]) -> str:
    """The result file: one line per item, in row order, with its status and reason."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(("row", "reference", "currency", "amount", "fee", "recipient", "status",
                "payment_id", "reason_code", "problems"))
    for i in sorted(items, key=lambda x: x.row):
        amount = money.format_minor(i.amount_minor, i.currency) if i.amount_minor else ""
        fee = money.format_minor(i.fee_minor, i.currency) if i.amount_minor else ""
        w.writerow((i.row, _safe(i.reference), i.currency, amount, fee,
                    _safe(i.recipient_name), i.status, i.payment_id or "", i.reason_code or "",
                    "; ".join(f"{p.code}: {p.field}: {p.message}" for p in i.problems)))
    assert batch.item_count == len(items)
    return out.getvalue()


def _safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
