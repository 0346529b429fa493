"""pain.001 files made up for the batch benchmark and tests: `n` credit transfers to
Corridor customers (by e-mail) or ledger addresses, in any shipped pain.001 version."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from xml.sax.saxutils import escape

from corridor.platform.domain.iso20022.pain001 import CORRIDOR_SCHEME


@dataclasses.dataclass(frozen=True, slots=True)
class Line:
    reference: str
    amount: str  # major units
    currency: str
    email: str | None = None
    address: str | None = None
    iban: str | None = None
    bic: str | None = None
    name: str = "Recipient"
    memo: str = ""


def pain001(lines: Sequence[Line], *, version: str = "pain.001.001.09",
            message_id: str = "BENCH-1", debtor: str = "Corridor Bench Ltd") -> bytes:
    """A schema-valid pain.001 of one payment information block holding `lines`."""
    v03 = version == "pain.001.001.03"
    bic_tag = "BIC" if v03 else "BICFI"
    total = sum((Decimal(x.amount) for x in lines), Decimal(0))
    date = "<ReqdExctnDt>2026-12-07</ReqdExctnDt>" if v03 else \
        "<ReqdExctnDt><Dt>2026-12-07</Dt></ReqdExctnDt>"
    dbtr_agt = ("<DbtrAgt><FinInstnId><Othr><Id>CORRIDOR</Id></Othr></FinInstnId></DbtrAgt>")
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:'
           f'tech:xsd:{version}"><CstmrCdtTrfInitn><GrpHdr><MsgId>{escape(message_id)}</MsgId>'
           f"<CreDtTm>2026-12-07T12:00:00</CreDtTm><NbOfTxs>{len(lines)}</NbOfTxs>"
           f"<CtrlSum>{total}</CtrlSum><InitgPty><Nm>{escape(debtor)}</Nm></InitgPty></GrpHdr>"
           f"<PmtInf><PmtInfId>{escape(message_id)}-1</PmtInfId><PmtMtd>TRF</PmtMtd>{date}"
           f"<Dbtr><Nm>{escape(debtor)}</Nm></Dbtr><DbtrAcct><Id><Othr><Id>ORG</Id></Othr>"
           f"</Id></DbtrAcct>{dbtr_agt}"]
    for x in lines:
        agent = (f"<CdtrAgt><FinInstnId><{bic_tag}>{x.bic}</{bic_tag}></FinInstnId></CdtrAgt>"
                 if x.bic else "")
        contact = f"<CtctDtls><EmailAdr>{escape(x.email)}</EmailAdr></CtctDtls>" \
            if x.email else ""
        if x.iban:
            account = f"<CdtrAcct><Id><IBAN>{x.iban}</IBAN></Id></CdtrAcct>"
        elif x.address:
            account = (f"<CdtrAcct><Id><Othr><Id>{x.address}</Id><SchmeNm><Prtry>"
                       f"{CORRIDOR_SCHEME}</Prtry></SchmeNm></Othr></Id></CdtrAcct>")
        else:
            account = ""
        memo = f"<RmtInf><Ustrd>{escape(x.memo)}</Ustrd></RmtInf>" if x.memo else ""
        out.append(f"<CdtTrfTxInf><PmtId><EndToEndId>{escape(x.reference)}</EndToEndId>"
                   f"</PmtId><Amt><InstdAmt Ccy=\"{x.currency}\">{x.amount}</InstdAmt></Amt>"
                   f"{agent}<Cdtr><Nm>{escape(x.name)}</Nm>{contact}</Cdtr>{account}{memo}"
                   f"</CdtTrfTxInf>")
    out.append("</PmtInf></CstmrCdtTrfInitn></Document>\n")
    return "".join(out).encode()
