"""pain.001 (customer credit transfer initiation) read into a batch's items.

Every version whose schema ships in `xsd/` is read (.03, .08, .09, .11, .12): the file is
validated against the schema of the version its namespace names, and every schema error
is reported (up to PROBLEMS_MAX) with the element's path; a file that fails its schema
gives no items. Then each CdtTrfTxInf becomes a `RawItem`:

  recipient  CdtrAcct/Id/IBAN                      -> a bank account (external), with
             (CdtrAgt/FinInstnId/BIC or BICFI as its bank code, Cdtr/Nm, the country of
             Cdtr/PstlAdr/Ctry or else the IBAN's)
             CdtrAcct/Id/Othr/Id, SchmeNm/Prtry = CORRIDOR -> a Corridor ledger address
             Cdtr/CtctDtls/EmailAdr                -> a Corridor customer by e-mail
             CdtrAcct/Id/Othr/Id (another scheme)  -> a bank account number (external)
  amount     Amt/InstdAmt and its Ccy (what the recipient receives)
  reference  PmtId/EndToEndId;  memo: RmtInf/Ustrd;  group: the PmtInf's PmtInfId

GrpHdr/NbOfTxs and CtrlSum are checked against the items.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from lxml import etree

from corridor.platform.domain.batches import (
    ITEMS_MAX,
    PROBLEMS_MAX,
    BatchFormat,
    Code,
    ParsedFile,
    Problem,
    RawItem,
)
from corridor.platform.domain.iso20022 import NS_PREFIX, PAIN_001_VERSIONS, errors, local, parse

CORRIDOR_SCHEME = "CORRIDOR"  # CdtrAcct/Id/Othr/SchmeNm/Prtry naming a ledger address


def version_of(data: bytes) -> str | None:
    """The pain.001 version the document's namespace names (None: not pain.001)."""
    head = data[:4096].decode("utf-8", errors="replace")
    at = head.find(NS_PREFIX + "pain.001.")
    if at < 0:
        return None
    rest = head[at + len(NS_PREFIX):]
    return rest[:len("pain.001.001.03")]


def read(data: bytes) -> ParsedFile:
    """The file's items, or its problems (schema errors: no items)."""
    version = version_of(data)
    if version is None or version not in PAIN_001_VERSIONS:
        return _file_problem(version or "pain.001", Code.VERSION_UNSUPPORTED,
                             f"a pain.001 document of one of {', '.join(PAIN_001_VERSIONS)}")
    try:
        root = parse(data)
    except (etree.XMLSyntaxError, ValueError) as exc:
        return _file_problem(version, Code.FILE_UNREADABLE, f"not well-formed XML: {exc}")
    if root.getroottree().docinfo.doctype:  # ISO 20022 has none; entities are a risk
        return _file_problem(version, Code.FILE_UNREADABLE, "a DOCTYPE is not allowed")
    found = errors(version, root)
    if found:
        rows = _rows(root)
        problems = tuple(Problem(row=_row_of(e.element, rows), field=e.path,
                                 code=Code.SCHEMA_INVALID, message=e.message)
                         for e in found[:PROBLEMS_MAX])
        return ParsedFile(format=BatchFormat.PAIN_001, version=version, message_id=None,
                          items=(), problems=problems)
    return _items(root, version)


def _rows(root: etree._Element) -> dict[etree._Element, int]:
    """Each CdtTrfTxInf's item number (1-based, in document order)."""
    return {tx: n for n, tx in enumerate(
        (el for el in root.iter() if local(el.tag) == "CdtTrfTxInf"), start=1)}


def _row_of(element: etree._Element | None, rows: dict[etree._Element, int]) -> int:
    """The item a schema error is in (0: outside any item, the file's own)."""
    while element is not None:
        if element in rows:
            return rows[element]
        element = element.getparent()
    return 0


def _file_problem(version: str, code: Code, message: str) -> ParsedFile:
    return ParsedFile(format=BatchFormat.PAIN_001, version=version, message_id=None,
                      items=(), problems=(Problem(row=0, field="/Document", code=code,
                                                  message=message),))


def _child(el: etree._Element | None, *path: str) -> etree._Element | None:
    for name in path:
        if el is None:
            return None
        el = next((c for c in el if local(c.tag) == name), None)
    return el


def _text(el: etree._Element | None, *path: str) -> str:
    found = _child(el, *path)
    return (found.text or "").strip() if found is not None else ""


def _items(root: etree._Element, version: str) -> ParsedFile:
    doc = _child(root, "CstmrCdtTrfInitn")
    assert doc is not None  # the schema requires it
    header = _child(doc, "GrpHdr")
    problems: list[Problem] = []
    items: list[RawItem] = []
    for pmt_inf in (c for c in doc if local(c.tag) == "PmtInf"):
        group = _text(pmt_inf, "PmtInfId")
        for tx in (c for c in pmt_inf if local(c.tag) == "CdtTrfTxInf"):
            if len(items) >= ITEMS_MAX:
                problems.append(Problem(row=0, field="/Document/CstmrCdtTrfInitn/PmtInf",
                                        code=Code.TOO_MANY_ITEMS,
                                        message=f"at most {ITEMS_MAX} items in one batch"))
                break
            items.append(_item(len(items) + 1, group, tx))
    problems.extend(_header_checks(header, items))
    return ParsedFile(format=BatchFormat.PAIN_001, version=version,
                      message_id=_text(header, "MsgId") or None, items=tuple(items),
                      problems=tuple(problems))


def _item(row: int, group: str, tx: etree._Element) -> RawItem:
    amount_el = _child(tx, "Amt", "InstdAmt")
    currency = amount_el.get("Ccy", "") if amount_el is not None else ""
    amount = (amount_el.text or "").strip() if amount_el is not None else ""
    return RawItem(row=row, reference=_text(tx, "PmtId", "EndToEndId"), group=group,
                   currency=currency.upper(), amount=_plain_amount(amount),
                   recipient=_recipient(tx), memo=_text(tx, "RmtInf", "Ustrd"))


def _plain_amount(text: str) -> str:
    """xs:decimal allows '10', '10.5', '010.50', '+1': the platform's one amount syntax
    is digits with an optional point, so a leading sign is dropped (the schema has already
    refused a negative ActiveOrHistoricCurrencyAndAmount)."""
    return text[1:] if text.startswith("+") else text


def _recipient(tx: etree._Element) -> dict[str, str]:
    name = _text(tx, "Cdtr", "Nm")
    account = _child(tx, "CdtrAcct", "Id")
    bic = _text(tx, "CdtrAgt", "FinInstnId", "BICFI") or _text(tx, "CdtrAgt", "FinInstnId",
                                                                 "BIC")
    iban = _text(account, "IBAN")
    other = _text(account, "Othr", "Id")
    scheme = _text(account, "Othr", "SchmeNm", "Prtry")
    country = _text(tx, "Cdtr", "PstlAdr", "Ctry")
    email = _text(tx, "Cdtr", "CtctDtls", "EmailAdr")
    if iban:
        return {"type": "external", "name": name, "iban": iban, "bank_code": bic,
                "country": country or iban[:2].upper()}
    if other and scheme.upper() == CORRIDOR_SCHEME:
        return {"type": "address", "address": other}
    if email:
        return {"type": "user", "email": email}
    return {"type": "external", "name": name, "account_number": other, "bank_code": bic,
            "country": country}


def _header_checks(header: etree._Element | None, items: list[RawItem]) -> list[Problem]:
    out = []
    field = "/Document/CstmrCdtTrfInitn/GrpHdr"
    stated = _text(header, "NbOfTxs")
    if stated and stated.isdigit() and int(stated) != len(items):
        out.append(Problem(row=0, field=f"{field}/NbOfTxs", code=Code.COUNT_MISMATCH,
                           message=f"states {stated} transactions, the file has {len(items)}"))
    ctrl = _text(header, "CtrlSum")
    if ctrl:
        try:
            total = sum((Decimal(i.amount) for i in items), Decimal(0))
            if Decimal(ctrl) != total:
                out.append(Problem(row=0, field=f"{field}/CtrlSum", code=Code.SUM_MISMATCH,
                                   message=f"states {ctrl}, the amounts add up to {total}"))
        except InvalidOperation:
            pass  # an item's amount is reported on its own row
    return out
