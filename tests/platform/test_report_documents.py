"""A report's documents without a database: the canonical JSON encoding and its content
hash pinned by a golden vector (tests/vectors/str_report.json, which any other
implementation of `corridor.str/1` can check itself against); the goAML-style XML for an
organisation paying a bank account, valid against the schema; and the schema refusing
what it should (so validating every emission means something)."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from corridor.platform.domain import reports as dom
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.reports import Report, ReportKind, ReportState
from corridor.platform.services import report_export, reports

VECTOR = Path(__file__).resolve().parents[1] / "vectors" / "str_report.json"
T_MS = 1_790_000_000_000  # 2026-09-21T14:13:20Z

ORG = {"type": "organisation", "id": "org-1", "name": "Acme 贸易有限公司",
       "kyc": {"record_id": "k-1", "status": "ACCEPTED", "tier": 2, "risk": "medium"},
       "registration_number": "12345678", "registration_date": "2015-03-01",
       "address": "1 Harbour Road", "country": "HK", "email": "ops@acme.example",
       "phone": "+85212345678", "director": "Li Wei",
       "beneficial_owners": [{"name": "Li Wei", "birth_date": "1970-01-02",
                              "nationality": "CN", "ownership_percent": "60"}]}
BANK_PAYMENT = {
    "payment_id": "p-1", "uetr": "8b6c6fac-ca35-4969-8b6e-26ef913604fe", "tx_id": "ab" * 32,
    "height": 7, "date": "2026-09-21T14:13:20+00:00", "date_ms": T_MS, "status": "credited",
    "amount_minor": 1_000_000, "currency": "USD", "amount": "10000.00", "fee_minor": 500,
    "received_amount_minor": 900_000, "received_currency": "EUR", "received_amount": "9000.00",
    "rate": "0.9", "memo": "invoice 7",
    "from": {"customer_type": "org", "customer_id": "org-1", "name": "Acme", "wallet_id": "w-1"},
    "to": {"type": "external", "name": "Müller GmbH", "customer_id": None, "address": None,
           "bank_country": "DE", "bank_account": "****3000"}}
INDICATOR = {"alert_id": "a-1", "monitor": "aml", "typology": "structuring",
             "outcome": "review", "score_milli": 750, "date": "2026-09-21T14:13:20+00:00",
             "payment_ids": ["p-1"], "parties": ["org-1"],
             "rules": [{"rule": "structuring", "version": "structuring/1",
                        "values": {"count": 4, "window_h": 24}}],
             "list_hits": [], "screened_name": None}


def filed_report(**over: Any) -> Report:
    r = Report(id="r-1", case_id="c-1", kind=ReportKind.STR, state=ReportState.FILED,
               subject_type="org", subject_id="org-1", subject_name="Acme 贸易有限公司",
               content={"reporting_entity": {"id": "corridor", "name": "Corridor"},
                        "subject": ORG, "transactions": [BANK_PAYMENT],
                        "indicators": [INDICATOR],
                        "actions": [{"kind": "release", "date": "2026-09-21T14:13:20+00:00",
                                     "note": "documents seen", "payment_ids": ["p-1"]}]},
               narrative="Four payments just under the threshold in a day.\n\nAll to one "
                         "beneficiary.",
               authors=("u-1",), drafted_by="u-1", submitted_by="u-1", filed_by="u-2",
               returned_reason=None, number="2026-000042", year=2026, seq=42,
               content_hash=None, created_ms=T_MS, submitted_ms=T_MS, filed_ms=T_MS,
               updated_ms=T_MS)
    r = dataclasses.replace(r, **over)
    return dataclasses.replace(r, content_hash=dom.content_hash(dom.document(r)))


def test_the_golden_vector_pins_the_document_and_its_hash() -> None:
    vector = json.loads(VECTOR.read_text(encoding="utf-8"))
    r = filed_report()
    doc = dom.document(r)
    assert doc == vector["document"]
    assert dom.canonical({k: v for k, v in doc.items() if k != "content_hash"}).decode() \
        == vector["canonical"]
    assert doc["content_hash"] == vector["content_hash"] == dom.content_hash(doc)
    assert reports.verify(r)
    assert not reports.verify(dataclasses.replace(r, number="2026-000043"))


def test_an_organisation_paying_a_bank_account_is_valid_goaml_style_xml() -> None:
    root = ET.fromstring(report_export.xml_bytes(filed_report()))
    assert root.findtext("entity_reference") == "2026-000042"
    tx = root.find("transaction")
    assert tx is not None
    assert tx.findtext("t_from_my_client/t_entity/name") == "Acme 贸易有限公司"
    assert tx.findtext("t_from_my_client/t_entity/incorporation_country_code") == "HK"
    assert tx.findtext("t_from_my_client/t_entity/director_id/last_name") == "Wei"
    assert tx.findtext("amount_local") == "10000.00"
    assert tx.findtext("t_to/t_account/account") == "****3000"
    assert tx.findtext("t_to/to_foreign_currency/foreign_amount") == "9000.00"
    assert tx.findtext("t_to/to_country") == "DE"
    assert [i.text for i in root.iter("indicator")] == ["typology:structuring",
                                                        "rule:structuring"]


def test_the_schema_refuses_what_it_should() -> None:
    schema = xmlschema.XMLSchema(str(report_export.XSD))
    good = report_export.xml_bytes(filed_report()).decode()
    assert schema.is_valid(good)
    # an element the schema does not know, a lower-case currency, an unknown report code
    unknown = good.replace("<reason>", "<x>").replace("</reason>", "</x>")
    assert not schema.is_valid(unknown)
    assert not schema.is_valid(good.replace("<currency_code_local>USD",
                                            "<currency_code_local>usd"))
    assert not schema.is_valid(good.replace("<report_code>STR", "<report_code>CTR"))
    # the narrative (reason) moved after the transactions: out of goAML's order
    start, end = good.index("<reason>"), good.index("</reason>") + len("</reason>")
    reason = good[start:end]
    moved = good[:start] + good[end:]
    moved = moved.replace("<report_indicators>", reason + "<report_indicators>")
    assert not schema.is_valid(moved)


def test_a_report_without_a_narrative_has_no_xml() -> None:
    with pytest.raises(PlatformError) as exc:
        report_export.xml_bytes(filed_report(narrative=""))
    assert exc.value.code == "REPORT_STATE"
