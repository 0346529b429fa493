"""A report's exports (issue 16): its JSON document (`domain/reports.document`, schema
`corridor.str/1`) and a goAML-style XML report, validated against Corridor's XML Schema
for the subset it emits (`schemas/goaml_subset.xsd`) before it is returned: an export
that does not validate is a bug, never a file handed to the FIU.

Mapping (docs/compliance-reports.md): the reporting institution is `rentity_id`; the
report's number (or, before filing, its id) is `entity_reference`; each payment is a
`transaction` from the subject (`t_from_my_client`) to the recipient (`t_to_my_client` when
the recipient is a customer, else `t_to`), amounts in major units of the payment's own
currency; the narrative is `reason`, the case's decisions `action`; every typology, rule
and list hit is a `report_indicators/indicator`. A report without transactions (a
screening hit at KYC) is an `activity` naming the subject."""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import xmlschema

from corridor.platform.domain import money
from corridor.platform.domain import reports as dom
from corridor.platform.domain.errors import Err
from corridor.platform.domain.reports import Report

XSD = Path(__file__).with_name("schemas") / "goaml_subset.xsd"
SUBMISSION_ELECTRONIC = "E"
FUNDS_ELECTRONIC = "E"  # electronic funds (the FIU's lookup code for e-money)
TEXT_MAX = 255
INDICATORS_MAX = 200


@functools.cache
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD))


def _sub(parent: ET.Element, tag: str, text: object | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _opt(parent: ET.Element, tag: str, text: object | None, limit: int = TEXT_MAX) -> None:
    if text not in (None, ""):
        _sub(parent, tag, str(text)[:limit])


def _when(iso_text: object | None) -> str | None:
    """An ISO date or dateTime as goAML's dateTime in UTC (no offset)."""
    if not iso_text:
        return None
    text = str(iso_text)
    if len(text) == 10:
        return f"{text}T00:00:00"
    return text[:19]


def _split(name: str) -> tuple[str, str]:
    """A full name as (first, last): the last word is the family name; one word is both
    (goAML requires both, and guessing a given name would invent one)."""
    words = name.split() or ["unknown"]
    if len(words) == 1:
        return words[0][:TEXT_MAX], words[0][:TEXT_MAX]
    return " ".join(words[:-1])[:TEXT_MAX], words[-1][:TEXT_MAX]


def _country(code: object | None) -> str | None:
    text = str(code or "").upper()
    return text if len(text) == 2 and text.isalpha() and text.isascii() else None


def _addresses(parent: ET.Element, subject: dict[str, Any]) -> None:
    country = _country(subject.get("country"))
    if not subject.get("address") or country is None:
        return
    addr = _sub(_sub(parent, "addresses"), "address")
    _sub(addr, "address_type", "residence" if subject.get("type") == "person" else "business")
    _sub(addr, "address", str(subject["address"])[:TEXT_MAX])
    _opt(addr, "city", subject.get("city"))
    _opt(addr, "zip", subject.get("postal_code"))
    _sub(addr, "country_code", country)


def _person(parent: ET.Element, tag: str, subject: dict[str, Any]) -> None:
    el = _sub(parent, tag)
    first, last = subject.get("first_name"), subject.get("last_name")
    if not (first and last):
        first, last = _split(str(subject.get("name") or ""))
    _sub(el, "first_name", str(first)[:TEXT_MAX])
    _sub(el, "last_name", str(last)[:TEXT_MAX])
    _opt(el, "birthdate", _when(subject.get("birth_date")))
    _opt(el, "nationality1", _country(subject.get("birth_country")))
    _addresses(el, subject)
    _opt(el, "email", subject.get("email"))
    _opt(el, "occupation", subject.get("occupation"))
    doc = subject.get("id_document") or {}
    if doc.get("type") and doc.get("number") and _country(doc.get("country")):
        ident = _sub(el, "identification")
        _sub(ident, "type", doc["type"])
        _sub(ident, "number", str(doc["number"])[:TEXT_MAX])
        _opt(ident, "issue_date", _when(doc.get("issue_date")))
        _opt(ident, "expiry_date", _when(doc.get("expiry_date")))
        _sub(ident, "issue_country", _country(doc.get("country")))
    _opt(el, "comments", f"customer {subject['id']}" if subject.get("id") else None)


def _entity(parent: ET.Element, tag: str, subject: dict[str, Any]) -> None:
    el = _sub(parent, tag)
    _sub(el, "name", str(subject.get("name") or "unknown")[:TEXT_MAX])
    _opt(el, "incorporation_number", subject.get("registration_number"))
    _addresses(el, subject)
    _opt(el, "email", subject.get("email"))
    _opt(el, "incorporation_country_code", _country(subject.get("country")))
    if subject.get("director"):
        first, last = _split(str(subject["director"]))
        d = _sub(el, "director_id")
        _sub(d, "first_name", first)
        _sub(d, "last_name", last)
        _sub(d, "role", "director")
    _opt(el, "comments", f"customer {subject['id']}" if subject.get("id") else None)


def _party(parent: ET.Element, subject: dict[str, Any]) -> None:
    if subject.get("type") == "organisation":
        _entity(parent, "t_entity", subject)
    else:
        _person(parent, "t_person", subject)


def _transaction(report: ET.Element, t: dict[str, Any], subject: dict[str, Any]) -> None:
    el = _sub(report, "transaction")
    _sub(el, "transactionnumber", t.get("uetr") or t["payment_id"])
    _sub(el, "internal_ref_number", t["payment_id"])
    described = f"status {t['status']}" + (f"; memo: {t['memo']}" if t.get("memo") else "")
    _sub(el, "transaction_description", described)
    _sub(el, "date_transaction", _when(t["date"]))
    _sub(el, "transmode_code", "bank" if t["to"]["type"] == "external" else "ledger")
    sent = money.to_major(int(t["amount_minor"]), str(t["currency"]))
    _sub(el, "amount_local", sent)
    src = _sub(el, "t_from_my_client")
    _sub(src, "from_funds_code", FUNDS_ELECTRONIC)
    fx = _sub(src, "from_foreign_currency")
    _sub(fx, "foreign_currency_code", t["currency"])
    _sub(fx, "foreign_amount", sent)
    _sub(fx, "foreign_exchange_rate", t.get("rate") or "1")
    _party(src, subject)
    _opt(src, "from_country", _country(subject.get("country")))
    to = t["to"]
    dst = _sub(el, "t_to_my_client" if to.get("customer_id") else "t_to")
    _sub(dst, "to_funds_code", FUNDS_ELECTRONIC)
    received = _sub(dst, "to_foreign_currency")
    _sub(received, "foreign_currency_code", t["received_currency"])
    _sub(received, "foreign_amount",
         money.to_major(int(t["received_amount_minor"]), str(t["received_currency"])))
    _sub(received, "foreign_exchange_rate", t.get("rate") or "1")
    if to.get("customer_id") or not (to.get("bank_account") or to.get("address")):
        _person(dst, "t_person", {"name": to.get("name") or "", "id": to.get("customer_id")})
    else:
        acc = _sub(dst, "t_account")
        _sub(acc, "institution_name", "bank" if to.get("bank_account") else "Corridor ledger")
        _sub(acc, "account", str(to.get("bank_account") or to.get("address"))[:TEXT_MAX])
        _sub(acc, "currency_code", t["received_currency"])
        _opt(acc, "account_name", to.get("name"))
    _opt(dst, "to_country", _country(to.get("bank_country")))
    if t.get("tx_id"):
        _sub(el, "comments", f"ledger tx {t['tx_id']} block {t.get('height')}")


def indicators(doc: dict[str, Any]) -> list[str]:
    """Each typology, rule and list hit of the report, once, in order."""
    out: dict[str, None] = {}
    for ind in doc["indicators"]:
        out[f"typology:{ind['typology']}"] = None
        for r in ind["rules"]:
            out[f"rule:{r['rule']}"] = None
        for h in ind["list_hits"]:
            out[f"list:{h['list']}:{h['source_id']}"] = None
    return list(out)[:INDICATORS_MAX] or ["manual"]


def _action(doc: dict[str, Any]) -> str | None:
    lines = [f"{a['date']} {a['kind']}: {a['note']}" for a in doc["actions"]]
    return "\n".join(lines)[:dom.NARRATIVE_LEN_MAX] or None


def xml_bytes(r: Report) -> bytes:
    """The report as goAML-style XML (UTF-8), validated against the schema. A report
    without a narrative has no `reason` yet: REPORT_STATE."""
    if not r.narrative:
        raise Err.REPORT_STATE.error("write the narrative before exporting XML")
    doc = dom.document(r)
    root = ET.Element("report")
    _sub(root, "rentity_id", doc["reporting_entity"].get("id") or "unknown")
    _sub(root, "submission_code", SUBMISSION_ELECTRONIC)
    _sub(root, "report_code", doc["kind"])
    _sub(root, "entity_reference", r.number or r.id)
    _sub(root, "submission_date", _when(dom.iso(r.filed_ms or r.updated_ms)))
    txs = doc["transactions"]
    _sub(root, "currency_code_local", txs[0]["currency"] if txs else "USD")
    _sub(root, "reason", r.narrative)
    _opt(root, "action", _action(doc), dom.NARRATIVE_LEN_MAX)
    subject = doc["subject"]
    if txs:
        for t in txs:
            _transaction(root, t, subject)
    else:
        party = _sub(_sub(_sub(root, "activity"), "report_parties"), "report_party")
        if subject.get("type") == "organisation":
            _entity(party, "entity", subject)
        else:
            _person(party, "person", subject)
        _sub(party, "significance", 10)
        _sub(party, "reason", "subject of the report")
    ind = _sub(root, "report_indicators")
    for code in indicators(doc):
        _sub(ind, "indicator", code[:TEXT_MAX])
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    schema().validate(data.decode())  # raises: an invalid emission is a bug
    return data


def json_document(r: Report) -> dict[str, Any]:
    """The report's JSON document (schema corridor.str/1)."""
    return dom.document(r)
