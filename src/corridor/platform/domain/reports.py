"""Suspicious-transaction reports (issue 16): a report drafted from a compliance case,
reviewed by a second officer, and filed with the financial intelligence unit.

A report is prefilled from its case (the reporting institution, the subject's identity
from their KYC record, the case's payments, and the indicators: the rules, typologies
and list hits that fired, with their values) and carries an editable narrative. Its
states:

    draft --submit--> in_review --file--> filed
      ^                   |
      +----send back------+   (with the reviewer's reason)

Four-eyes: an officer who wrote any of the report (drafted or edited it, or submitted
it) does not file it or send it back. A filed report is immutable: it has a number
(`{year}-{seq:06d}`, a gap-free sequence per calendar year, assigned in the filing's
transaction) and a content hash (SHA-256 of its canonical JSON document), so a copy can
be checked against the record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import json
from typing import Any

NARRATIVE_LEN_MAX = 20_000  # goAML's <reason> is free text; a long report, not a book
REASON_LEN_MAX = 1_000
PAGE_MAX = 100
ID_LEN_MAX = 64
SEQ_DIGITS = 6
COUNTER_ID = "reports"  # the one row of report_counters
SCHEMA = "corridor.str/1"  # the JSON document's schema and version (docs/compliance-reports.md)


class ReportKind(enum.StrEnum):
    STR = "STR"  # suspicious transaction report
    SAR = "SAR"  # suspicious activity report (no single transaction needed)


class ReportState(enum.StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    FILED = "filed"


# Which step may happen in which state.
OPEN = frozenset({ReportState.DRAFT, ReportState.IN_REVIEW})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """One report. `content` is what the case gave when it was drafted (institution,
    subject, transactions, indicators: see `prefill`); `authors` everyone who drafted,
    edited or submitted it (none of them may file it). `number`, `year`, `seq` and
    `content_hash` are set when it is filed, and nothing changes after."""

    id: str
    case_id: str
    kind: ReportKind
    state: ReportState
    subject_type: str  # "user" | "org"
    subject_id: str
    subject_name: str
    content: dict[str, Any]
    narrative: str
    authors: tuple[str, ...]
    drafted_by: str
    submitted_by: str | None
    filed_by: str | None
    returned_reason: str | None  # the last reviewer's reason for sending it back
    number: str | None
    year: int | None
    seq: int | None
    content_hash: str | None
    created_ms: int
    submitted_ms: int | None
    filed_ms: int | None
    updated_ms: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ReportCounter:
    """The filing sequence: the year of the last number given and its sequence. One row
    (`COUNTER_ID`), locked by each filing, so numbers are gap-free under concurrency."""

    id: str
    year: int
    last: int


def may_review(report: Report, officer_id: str) -> bool:
    """Four-eyes: nobody who wrote or submitted the report files it or sends it back."""
    return officer_id not in report.authors


def with_author(authors: tuple[str, ...], officer_id: str) -> tuple[str, ...]:
    return authors if officer_id in authors else (*authors, officer_id)


def year_of(ms: int) -> int:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).year


def next_number(counter: ReportCounter, now_ms: int) -> ReportCounter:
    """The counter after giving the next number at `now_ms`: a new year starts at 1."""
    year = year_of(now_ms)
    assert year >= counter.year, f"the clock went back a year: {year} < {counter.year}"
    return dataclasses.replace(counter, year=year,
                               last=1 if year != counter.year else counter.last + 1)


def number_text(year: int, seq: int) -> str:
    return f"{year}-{seq:0{SEQ_DIGITS}d}"


def canonical(doc: dict[str, Any]) -> bytes:
    """The one encoding the content hash is taken over: sorted keys, no spaces, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def content_hash(doc: dict[str, Any]) -> str:
    """SHA-256 of the document without its own `content_hash`."""
    body = {k: v for k, v in doc.items() if k != "content_hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


def document(r: Report) -> dict[str, Any]:
    """The report as its JSON document (schema `SCHEMA`), the form every export starts
    from. A filed report's document carries its number and content hash."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "id": r.id,
        "kind": r.kind.value,
        "state": r.state.value,
        "number": r.number,
        "case_id": r.case_id,
        "reporting_entity": r.content.get("reporting_entity", {}),
        "subject": r.content.get("subject", {}),
        "transactions": r.content.get("transactions", []),
        "indicators": r.content.get("indicators", []),
        "actions": r.content.get("actions", []),
        "narrative": r.narrative,
        "drafted_by": r.drafted_by,
        "submitted_by": r.submitted_by,
        "filed_by": r.filed_by,
        "created_at": iso(r.created_ms),
        "submitted_at": iso(r.submitted_ms),
        "filed_at": iso(r.filed_ms),
    }
    if r.state == ReportState.FILED:
        doc["content_hash"] = r.content_hash
    return doc


def clean_narrative(text: str) -> str | None:
    """The narrative as stored: paragraphs kept, trailing spaces and control characters
    refused; None when empty or too long."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    out = "\n".join(lines).strip()
    if not out or len(out) > NARRATIVE_LEN_MAX:
        return None
    if any(not ch.isprintable() and ch != "\n" for ch in out):
        return None
    return out
