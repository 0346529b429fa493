"""`corridor compliance eval-aml`: a transaction stream in CSV run through the production AML
rules, as if each row were a payment arriving at its `ts` (the history is built only from
earlier rows), and the alerts as JSON.

The CSV's header names at least `id,ts,sender,sender_country,receiver,receiver_country,
amount,currency` (other columns are ignored): `ts` ISO 8601 in UTC, `amount` decimal text in
major units, countries ISO 3166 alpha-2 (empty: not known), `currency` any ISO 4217 code.
Rows must be in time order. The stream carries no beneficiary name, so the receiver's id
stands for it (the travel rule then checks the two countries)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from collections.abc import Iterable, Iterator
from typing import Any

from corridor.platform.domain.aml.engine import AmlEngine
from corridor.platform.domain.aml.rates import exponent, is_iso3166, is_iso4217
from corridor.platform.domain.monitoring import Movement, MovementKind

COLUMNS = ("id", "ts", "sender", "sender_country", "receiver", "receiver_country", "amount",
           "currency")
ERRORS_MAX = 20  # problems listed before giving up on a file
ROWS_MAX = 50_000_000
_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?")


class StreamError(ValueError):
    """The CSV is not a valid stream; the message lists every problem found (up to
    ERRORS_MAX), each with its line."""


def _ts_ms(text: str) -> int:
    t = dt.datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    elif t.utcoffset() != dt.timedelta(0):
        raise ValueError("not UTC")
    # whole seconds and milliseconds apart: exact, no float rounding of the fraction
    return int(t.replace(microsecond=0).timestamp()) * 1000 + t.microsecond // 1000


def _amount_minor(text: str, currency: str) -> int:
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"amount {text[:30]!r} is not decimal text in major units")
    whole, _, frac = text.partition(".")
    places = exponent(currency)
    if len(frac.rstrip("0")) > places:
        raise ValueError(f"amount {text!r} has more decimals than {currency} ({places})")
    scale: int = 10**places
    return int(whole) * scale + int((frac + "0" * places)[:places] or "0")


def _country(text: str, field: str) -> str | None:
    text = text.strip().upper()
    if not text:
        return None
    if not is_iso3166(text):
        raise ValueError(f"{field} {text[:10]!r} is not an ISO 3166 alpha-2 code")
    return text


def read_stream(data: bytes | str, name: str = "stream") -> Iterator[Movement]:
    """The rows as movements, in order; StreamError naming every bad line."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise StreamError(f"{name}: the header lacks {', '.join(missing)} "
                          f"(expected {','.join(COLUMNS)})")
    errors: list[str] = []
    movements: list[Movement] = []
    last_ms = None
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        if line > ROWS_MAX:
            raise StreamError(f"{name}: more than {ROWS_MAX:,} rows")
        try:
            movements.append(m := _movement(row, seen))
            if last_ms is not None and m.at_ms < last_ms:
                raise ValueError("rows are not in time order (ts earlier than the row before)")
            last_ms = m.at_ms
        except (ValueError, TypeError, AttributeError) as exc:
            errors.append(f"line {line}: {exc}")
            if len(errors) >= ERRORS_MAX:
                break
    if errors:
        raise StreamError(f"{name}: " + "; ".join(errors))
    yield from movements


def _movement(row: dict[str, str], seen: set[str]) -> Movement:
    ident, sender, receiver = (row[k].strip() for k in ("id", "sender", "receiver"))
    if not ident or not sender or not receiver:
        raise ValueError("id, sender and receiver are required")
    if ident in seen:
        raise ValueError(f"id {ident[:40]!r} appears twice")
    seen.add(ident)
    currency = row["currency"].strip()
    if not is_iso4217(currency):
        raise ValueError(f"currency {currency[:10]!r} is not an ISO 4217 code")
    try:
        at_ms = _ts_ms(row["ts"].strip())
    except ValueError:
        raise ValueError(f"ts {row['ts'][:40]!r} is not an ISO 8601 UTC time") from None
    return Movement(id=ident, kind=MovementKind.PAYMENT, at_ms=at_ms, sender=sender,
                    sender_country=_country(row["sender_country"], "sender_country"),
                    receiver=receiver,
                    receiver_country=_country(row["receiver_country"], "receiver_country"),
                    receiver_name=receiver,
                    amount_minor=_amount_minor(row["amount"].strip(), currency),
                    currency=currency)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class EvalResult:
    alerts: tuple[dict[str, Any], ...]
    evaluated: int
    flagged_payment_ids: tuple[str, ...]
    shadow_alerts: int

    def to_json(self) -> dict[str, Any]:
        """The document the issue specifies: alerts, evaluated, flagged_payment_ids."""
        return {"alerts": list(self.alerts), "evaluated": self.evaluated,
                "flagged_payment_ids": list(self.flagged_payment_ids)}


def evaluate(movements: Iterable[Movement], engine: AmlEngine | None = None) -> EvalResult:
    """Each movement through the engine in order. A movement is flagged when a finding not
    in shadow mode holds or refuses it; each such finding is an alert."""
    engine = engine or AmlEngine()
    alerts: list[dict[str, Any]] = []
    flagged: list[str] = []
    n = shadow = 0
    for m in movements:
        n += 1
        findings = engine.evaluate(m)
        acting = [f for f in findings if not f.shadow]
        shadow += len(findings) - len(acting)
        if acting:
            flagged.append(m.id)
        for f in acting:
            alerts.append({"id": f"{m.id}:{f.typology}", "typology": f.typology,
                           "rules": [r["rule"] for r in f.explanation["rules"]],
                           "payment_ids": list(f.movement_ids), "parties": list(f.parties)})
    return EvalResult(alerts=tuple(alerts), evaluated=n, flagged_payment_ids=tuple(flagged),
                      shadow_alerts=shadow)
