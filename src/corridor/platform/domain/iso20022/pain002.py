"""pain.002 (customer payment status report) written for a batch.

The report answers the batch's pain.001 in the matching generation (.03 for .03; .10 for
.08/.09 and a CSV upload; .14 for .11/.12). Per item: ACTC (validated, waiting for
approval), PDNG (held by compliance), ACSP (on its way), ACSC (credited), RJCT with the
platform's stable code as the proprietary reason and its words as additional information.
Every report is validated against its schema after it is written (a report that fails
is a bug: assert).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from xml.etree import ElementTree

from corridor.platform.domain.iso20022 import NS_PREFIX, PAIN_002_VERSIONS, errors, parse

ADDITIONAL_INFO_LEN_MAX = 105  # Max105Text
TEXT35_MAX = 35


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TxStatus:
    """One item's line: its group (PmtInfId), reference (EndToEndId), ISO status and,
    for a rejection, the stable code and the words."""

    group: str
    reference: str
    status: str  # ACTC | PDNG | ACSP | ACSC | RJCT
    reason_code: str | None = None
    reason_text: str | None = None


STATUSES = ("ACTC", "PDNG", "ACSP", "ACSC", "RJCT")


def answer_version(pain001_version: str) -> str:
    """The pain.002 version that answers a pain.001 version (or a CSV)."""
    if pain001_version == "pain.001.001.03":
        return "pain.002.001.03"
    if pain001_version in ("pain.001.001.11", "pain.001.001.12"):
        return "pain.002.001.14"
    return "pain.002.001.10"


def group_status(statuses: Sequence[str]) -> str:
    """All alike: that status; some rejected: PART (partially accepted)."""
    distinct = set(statuses)
    if len(distinct) == 1:
        return statuses[0]
    return "PART" if "RJCT" in distinct else "ACSP" if "ACSC" in distinct else "PDNG"


def write(*, version: str, message_id: str, created_iso: str, original_message_id: str,
          original_version: str, lines: Sequence[TxStatus], file_problems: Sequence[
              tuple[str, str]] = ()) -> bytes:
    """The status report (UTF-8 XML). `file_problems`: (code, words) of the file as a
    whole, reported at group level (a file that could not be read has no lines)."""
    assert version in PAIN_002_VERSIONS, version
    assert all(line.status in STATUSES for line in lines)
    ns = NS_PREFIX + version
    ElementTree.register_namespace("", ns)

    def el(parent: ElementTree.Element, name: str, text: str | None = None
           ) -> ElementTree.Element:
        child = ElementTree.SubElement(parent, f"{{{ns}}}{name}")
        if text is not None:
            child.text = text
        return child

    doc = ElementTree.Element(f"{{{ns}}}Document")
    report = el(doc, "CstmrPmtStsRpt")
    header = el(report, "GrpHdr")
    el(header, "MsgId", message_id[:TEXT35_MAX])
    el(header, "CreDtTm", created_iso)
    original = el(report, "OrgnlGrpInfAndSts")
    el(original, "OrgnlMsgId", original_message_id[:TEXT35_MAX])
    el(original, "OrgnlMsgNmId", original_version)
    el(original, "OrgnlNbOfTxs", str(len(lines)))
    statuses = [line.status for line in lines] or ["RJCT"]
    el(original, "GrpSts", group_status(statuses))
    for code, words in file_problems:
        _reason(el, original, code, words)
    groups: dict[str, list[TxStatus]] = {}
    for line in lines:
        groups.setdefault(line.group, []).append(line)
    for group, members in groups.items():
        info = el(report, "OrgnlPmtInfAndSts")
        el(info, "OrgnlPmtInfId", group[:TEXT35_MAX])
        el(info, "OrgnlNbOfTxs", str(len(members)))
        el(info, "PmtInfSts", group_status([m.status for m in members]))
        for m in members:
            tx = el(info, "TxInfAndSts")
            if m.reference:
                el(tx, "OrgnlEndToEndId", m.reference[:TEXT35_MAX])
            el(tx, "TxSts", m.status)
            if m.reason_code is not None:
                _reason(el, tx, m.reason_code, m.reason_text or "")
    data: bytes = ElementTree.tostring(doc, encoding="utf-8", xml_declaration=True)
    wrong = errors(version, parse(data))  # in pairs: what we write, its schema accepts
    assert not wrong, f"pain.002 {version} not schema-valid: {wrong[:3]}"
    return data


def _reason(el: object, parent: ElementTree.Element, code: str, words: str) -> None:
    assert callable(el)
    info = el(parent, "StsRsnInf")
    el(el(info, "Rsn"), "Prtry", code[:TEXT35_MAX])
    if words:
        el(info, "AddtlInf", words[:ADDITIONAL_INFO_LEN_MAX])
