"""Travel-rule data (FATF Recommendation 16; issue 16): a payment of 1,000 USD-equivalent or
more carries its originator's and its beneficiary's information, captured when it is made
and stored with it (sealed: it is personal data).

- originator: name, account (the paying wallet's ledger address), and one of: address,
  national identity number, or date and place of birth; plus the country;
- beneficiary: name and account (a ledger address, or for a bank beneficiary the IBAN or
  account number with the bank's BIC or code and the bank's country).

`missing` names what a record lacks, so the AML rule (domain/aml/engine.py `_travel_rule`)
and the pages say exactly which item is absent."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

THRESHOLD_USD_MINOR = 100_000  # 1,000 USD (FATF R.16's de minimis threshold)
TEXT_LEN_MAX = 200


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Party:
    """One side's information, as far as it is known (None: not known)."""

    name: str | None
    account: str | None  # a ledger address, an IBAN or a (domestic) account number
    country: str | None = None  # ISO 3166-1 alpha-2
    address: str | None = None
    national_id: str | None = None  # the identity document's number (and its type)
    birth_date: str | None = None  # ISO 8601 date
    birth_place: str | None = None
    bank_code: str | None = None  # a BIC or the domestic routing code (bank beneficiaries)
    customer_id: str | None = None  # the platform's own reference for the party

    def as_json(self) -> dict[str, str]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v}

    @classmethod
    def of_json(cls, doc: Mapping[str, Any]) -> Party:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: str(v)[:TEXT_LEN_MAX] for k, v in doc.items() if k in names and v})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class TravelRule:
    originator: Party
    beneficiary: Party

    def as_json(self) -> dict[str, dict[str, str]]:
        return {"originator": self.originator.as_json(),
                "beneficiary": self.beneficiary.as_json()}

    @classmethod
    def of_json(cls, doc: Mapping[str, Any]) -> TravelRule:
        return cls(originator=Party.of_json(doc.get("originator") or {}),
                   beneficiary=Party.of_json(doc.get("beneficiary") or {}))


def applies(usd_minor: int | None, threshold_usd_minor: int = THRESHOLD_USD_MINOR) -> bool:
    """Whether a payment of this USD equivalent carries travel-rule data (no rate: yes)."""
    return usd_minor is None or usd_minor >= threshold_usd_minor


def missing(originator: Mapping[str, str] | None,
            beneficiary: Mapping[str, str] | None) -> list[str]:
    """The required items a record lacks, by name ("originator.name", ...); [] when
    complete. The originator's identification is one of address, national id, or date and
    place of birth."""
    o, b = originator or {}, beneficiary or {}
    out = [f"originator.{k}" for k in ("name", "account") if not o.get(k)]
    if not (o.get("address") or o.get("national_id")
            or (o.get("birth_date") and o.get("birth_place"))):
        out.append("originator.identification")
    out += [f"beneficiary.{k}" for k in ("name", "account") if not b.get(k)]
    return out
