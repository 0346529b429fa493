"""The parties of a payment as compliance needs them (issue 16): each side's country (for
the authenticity rule's "cross-border") and, for a payment of 1,000 USD-equivalent or more,
the travel-rule record (domain/travel_rule.py) built from what the platform knows: the
sender's accepted KYC or KYB and wallet, the recipient's registered name and account (a
bank beneficiary's IBAN or account number, BIC or bank code and country).

Nothing is read for a small payment of no trade purpose: the payment path stays cheap.
The record is sealed with the payment (`Payment.travel_rule_sealed`), opened for the
payment's sender side and for compliance officers only."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from corridor.platform.domain import authenticity
from corridor.platform.domain import travel_rule as dom
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.orgs import Organisation
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.wallets import OwnerType, Wallet
from corridor.platform.services import bank_details, payment_recipients
from corridor.platform.services.ports import Deps, UnitOfWork


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Parties:
    """What the monitors learn of a payment's two sides (None: not known or not needed)."""

    sender_country: str | None = None
    receiver_country: str | None = None
    record: dom.TravelRule | None = None


def _kyc_values(deps: Deps, uow: UnitOfWork, owner_type: str,
                owner_id: str) -> dict[str, Any]:
    """An owner's accepted verification data ({} when none was accepted)."""
    rec = uow.repo(KycCustomer).one(subject_type=owner_type, subject_id=owner_id)
    if rec is None or rec.tier < 1:
        return {}
    values: dict[str, Any] = json.loads(deps.sealer.open(rec.data_enc,
                                                         f"kyc-customer:{rec.id}"))
    return values


def _text(value: object) -> str | None:
    text = " ".join(str(value or "").split())[:dom.TEXT_LEN_MAX]
    return text or None


def _country_of(deps: Deps, uow: UnitOfWork, owner_type: str, owner_id: str,
                values: dict[str, Any] | None = None) -> str | None:
    values = _kyc_values(deps, uow, owner_type, owner_id) if values is None else values
    if owner_type == OwnerType.ORG:
        found = values.get("organization.address_country_code")
        if not found:
            org = uow.repo(Organisation).get(owner_id)
            found = org.country if org is not None else None
        return _text(found)
    return _text(values.get("address_country_code"))


def _originator(deps: Deps, uow: UnitOfWork, owner: tuple[str, str], wallet: Wallet,
                values: dict[str, Any], name: str | None) -> dom.Party:
    if owner[0] == OwnerType.ORG:
        return dom.Party(name=name or _text(values.get("organization.name")),
                         account=wallet.address,
                         country=_country_of(deps, uow, *owner, values),
                         address=_text(values.get("organization.registered_address")),
                         national_id=_text(values.get("organization.registration_number")),
                         customer_id=owner[1])
    address = ", ".join(str(values[k]) for k in ("address", "city", "postal_code")
                        if values.get(k))
    id_number = values.get("id_number")
    return dom.Party(
        name=name, account=wallet.address, country=_country_of(deps, uow, *owner, values),
        address=_text(address),
        national_id=_text(f"{values.get('id_type', 'id')} {id_number}") if id_number else None,
        birth_date=_text(values.get("birth_date")),
        birth_place=_text(values.get("birth_country_code")), customer_id=owner[1])


def _beneficiary(r: payment_recipients.Recipient, country: str | None) -> dom.Party:
    if r.bank is not None:
        return dom.Party(name=_text(r.name), account=bank_details.account_in(r.bank),
                         country=_text(r.bank.get("country")),
                         bank_code=_text(r.bank.get("bank_code")))
    return dom.Party(name=_text(r.name), account=r.address, country=country,
                     customer_id=r.owner[1] if r.owner else None)


def capture(deps: Deps, uow: UnitOfWork, *, owner: tuple[str, str], wallet: Wallet,
            recipient: payment_recipients.Recipient, usd_minor: int | None,
            purpose: str | None, sender_name: str | None,
            countries: bool = False) -> Parties:
    """The payment's parties as far as its size and purpose need them: the travel-rule
    record from 1,000 USD-equivalent, the countries also when the authenticity rule could
    apply (a trade or service purpose at or above its threshold), or when asked
    (`countries`: the AML engine judges every payment's corridor)."""
    record_needed = dom.applies(usd_minor)
    countries_needed = countries or record_needed or (
        purpose in authenticity.TRADE_PURPOSES and (
            usd_minor is None or usd_minor >= deps.settings.authenticity_usd_minor))
    if not countries_needed:
        return Parties()
    values = _kyc_values(deps, uow, *owner)
    sender_country = _country_of(deps, uow, *owner, values)
    if recipient.bank is not None:
        receiver_country = _text(recipient.bank.get("country"))
    elif recipient.owner is not None:
        receiver_country = _country_of(deps, uow, *recipient.owner)
    else:
        receiver_country = None  # an address the platform keeps no wallet for
    record = None
    if record_needed:
        record = dom.TravelRule(
            originator=_originator(deps, uow, owner, wallet, values, sender_name),
            beneficiary=_beneficiary(recipient, receiver_country))
    return Parties(sender_country=sender_country, receiver_country=receiver_country,
                   record=record)


def context(payment_id: str) -> str:
    return f"payment-travel-rule:{payment_id}"


def seal(deps: Deps, payment_id: str, record: dom.TravelRule | None) -> str | None:
    if record is None:
        return None
    text = json.dumps(record.as_json(), sort_keys=True, separators=(",", ":"))
    return deps.sealer.seal(text.encode(), context(payment_id))


def of_payment(deps: Deps, p: Payment) -> dom.TravelRule | None:
    """The payment's travel-rule record, opened (callers check who may see it)."""
    if p.travel_rule_sealed is None:
        return None
    doc = json.loads(deps.sealer.open(p.travel_rule_sealed, context(p.id)))
    record = dom.TravelRule.of_json(doc)
    assert record.as_json() == doc, f"payment {p.id}: travel-rule record does not round-trip"
    return record
