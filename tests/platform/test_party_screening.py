"""Screening of parties beside the customer (issue 16), on both databases: a member added
to an organisation is screened by name (a hit alerts the organisation's case, naming the
member); a list import re-screens every member and every stored counterparty (a
payment's bank beneficiary, a withdrawal's account holder) against what it added, once per
counterparty."""

from __future__ import annotations

import dataclasses
import uuid

from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.compliance import Alert
from corridor.platform.domain.payments import RecipientType
from corridor.platform.domain.rails import Withdrawal
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.services import bank_details, rescreen, screening
from corridor.platform.services.screening import ListFiles
from tests.platform.conftest import keyed, make_user
from tests.platform.payment_records import make_org, make_payment, make_wallet

HEADER = b"_id,source,name,type,alt_names,dates_of_birth,nationalities,programs\n"
FIRST = b'"b1","OFAC","ORTEGA, Maribel","Individual","",1970-01-01,VE,"VENEZUELA"\n'
ADDED = (b'"a2","OFAC","KHOROSHEV, Dmitry Yuryevich","Individual","LOCKBITSUPP",'
         b'1993-04-17,RU,"CYBER2"\n')
FIRM = b'"e1","OFAC","VOLGATRANS SHIPPING JSC","Entity","",,RU,"RUSSIA-EO14024"\n'
IBAN = "GB82WEST12345698765432"


def files(*rows: bytes) -> ListFiles:
    return ListFiles(file_name="consolidated.csv", main=HEADER + b"".join(rows))


def alerts_of(platform: bootstrap.Platform, subject_type: str, subject_id: str) -> list[Alert]:
    with platform.deps.reader() as uow:
        return uow.repo(Alert).many(subject_type=subject_type, subject_id=subject_id,
                                    order_by="created_ms")


def test_a_member_added_is_screened_on_the_organisation_case(
        client: TestClient, platform: bootstrap.Platform) -> None:
    screening.import_list(platform.deps, None, files(FIRST, ADDED), ListFormat.CSL)
    owner = make_user(platform, email="carol@example.com", name="Carol Customer")
    listed = make_user(platform, email="dave@example.com", name="Dmitry Khoroshev")
    clean = make_user(platform, email="erin@example.com", name="Erin Example")
    org_id = make_org(platform, {"owner": owner})
    for who in (clean, listed):
        r = client.post(f"/v1/orgs/{org_id}/members", headers=keyed(owner.headers),
                        json={"email": who.user.email, "role": "viewer"})
        assert r.status_code == 201, r.text
    [alert] = alerts_of(platform, "org", org_id)
    assert (alert.source_type, alert.parties) == ("member", (listed.user.id,))
    assert alert.explanation["screened_name"] == "Dmitry Khoroshev"
    assert alert.explanation["hits"][0]["source_id"] == "a2"
    assert alerts_of(platform, "user", listed.user.id) == []  # the member's own case: none


def test_an_import_re_screens_members_and_stored_counterparties_once(
        client: TestClient, platform: bootstrap.Platform) -> None:
    deps = platform.deps
    rescreen.import_list(deps, None, files(FIRST), ListFormat.CSL)
    owner = make_user(platform, email="carol@example.com", name="Carol Customer")
    member = make_user(platform, email="dave@example.com", name="Dmitry Khoroshev")
    org_id = make_org(platform, {"owner": owner, "viewer": member})
    wallet = make_wallet(platform, owner.user.id)
    # the same beneficiary twice: a row from before accounts were sealed (the account in
    # clear), and one as the service writes it now (masked, the account sealed)
    bank = {"name": "Volgatrans Shipping", "account": IBAN, "country": "GB",
            "bank_code": "WESTGB2L"}
    legacy, current = (make_payment(platform, wallet, recipient_type=RecipientType.EXTERNAL,
                                    recipient_bank=bank, recipient_name="Volgatrans Shipping JSC")
                       for _ in range(2))
    current = dataclasses.replace(
        current, recipient_bank=bank_details.masked(bank),
        recipient_account_sealed=bank_details.seal(deps, IBAN,
                                                   bank_details.payment_context(current.id)))
    with deps.uow() as uow:
        uow.repo(type(current)).update(current)
        uow.commit()
    assert bank_details.payment_account(deps, legacy) == IBAN

    withdrawal = Withdrawal(
        id=str(uuid.uuid4()), uetr=str(uuid.uuid4()), owner_type="user",
        owner_id=owner.user.id, created_by=owner.user.id, idempotency_key="k",
        request_hash="h" * 64, wallet_id=wallet.id, rail="sim", currency="USD",
        amount_minor=100, bank=bank_details.masked({**bank, "name": "Dmitri Khoroshev"}),
        status="paid", history=(), transfer_id=str(uuid.uuid4()), tx_id=None, height=None,
        rail_ref=None, reversal_transfer_id=None, reversal_tx_id=None, reason_code=None,
        reason_message=None, flagged=False, created_ms=0, updated_ms=0)
    withdrawal = dataclasses.replace(withdrawal, account_sealed=bank_details.seal(
        deps, IBAN, bank_details.withdrawal_context(withdrawal.id)))
    with deps.uow() as uow:
        uow.repo(Withdrawal).add(withdrawal)
        uow.commit()

    out, done = rescreen.import_list(deps, None, files(FIRST, ADDED, FIRM), ListFormat.CSL)
    assert out.new and (done.members, done.counterparties) == (2, 2)
    org_alerts = alerts_of(platform, "org", org_id)
    assert [(a.source_type, a.parties) for a in org_alerts] == [
        ("list", (member.user.id,))]
    found = {a.explanation["hits"][0]["source_id"]: a
             for a in alerts_of(platform, "user", owner.user.id)}
    assert set(found) == {"e1", "a2"}  # the payments' beneficiary; the withdrawal's holder
    for alert in found.values():
        assert alert.source_id == out.snapshot.id
        assert alert.parties == (bank_details.beneficiary_party(deps, IBAN),)
    assert found["a2"].explanation["screened_name"] == "Dmitri Khoroshev"
