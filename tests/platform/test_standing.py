"""The standing policy (issue 14/2): money moves only for an organisation and a customer in
good standing. Every money-moving use case is listed here and called as a customer whose
account was disabled after their session was checked (the moment between the two), and as
a member of a suspended organisation: each refuses, changes nothing, and works again once
reinstated. The HTTP side, enumerated from the app's routes, is in test_authz_matrix.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from corridor.ledger import keys
from corridor.ledger.keys import KeyPair
from corridor.platform import bootstrap
from corridor.platform.domain.audit import AuditEntry
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.identity import User, UserStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import MONEY_PERMS, Perm, UserKind
from corridor.platform.services import (
    access,
    deposits,
    orgs,
    payment_reads,
    payments,
    quotes,
    refunds,
    wallets,
    withdrawals,
)
from tests.platform.conftest import Actor, new_key
from tests.platform.payment_fakes import kyc, open_wallet
from tests.platform.payment_records import JPEG, make_org, make_payment

BANK = {"name": "Carol", "account": "GB82WEST12345698765432", "country": "GB",
        "bank_code": "WESTGB2L"}
KEY = keys.encode_public_key(KeyPair.from_seed(bytes(31) + b"\x05").public_key)
UseCase = Callable[[bootstrap.Platform, Principal, str | None, str], Any]

# Every use case that moves money or opens a chain account: (name, call(platform, who,
# org_id or None for the customer's own money, a payment id of that owner)).
MONEY_USE_CASES: list[tuple[str, UseCase]] = [
    ("quote", lambda p, who, org, pid: quotes.create(
        p.deps, who, sell_asset="USD", buy_asset="EUR", sell_amount="10.00", org_id=org,
        idempotency_key="k0")),
    ("payment preview", lambda p, who, org, pid: payments.preview(
        p.deps, who, payments.PaymentRequest(recipient={"type": "user",
                                                        "email": "dave@example.com"},
                                             asset="USD", amount="1.00", org_id=org))),
    ("payment", lambda p, who, org, pid: payments.create(
        p.deps, who, payments.PaymentRequest(recipient={"type": "user",
                                                        "email": "dave@example.com"},
                                             asset="USD", amount="1.00", org_id=org), "k1")),
    ("deposit", lambda p, who, org, pid: deposits.create(
        p.deps, who, currency="USD", amount="10.00", idempotency_key="k2", org_id=org)),
    ("withdrawal", lambda p, who, org, pid: withdrawals.create(
        p.deps, who, currency="USD", amount="1.00", bank=BANK, idempotency_key="k3",
        org_id=org)),
    ("refund evidence", lambda p, who, org, pid: refunds.upload_evidence(
        p.deps, who, JPEG, "image/jpeg", org_id=org)),
    ("refund request", lambda p, who, org, pid: refunds.request(
        p.deps, who, pid, kind="wrong_payee", reason="sent to the wrong person",
        evidence=[], idempotency_key="k4")),
    ("cancel a payment", lambda p, who, org, pid: payment_reads.cancel(p.deps, who, pid)),
]
ORG_ONLY: list[tuple[str, UseCase]] = [
    ("new org wallet", lambda p, who, org, pid: wallets.create_org_wallet(
        p.deps, who, org or "", "payouts", idempotency_key=new_key())),
    ("key challenge", lambda p, who, org, pid: wallets.key_challenge(
        p.deps, who, org or "", KEY, idempotency_key=new_key())),
    ("external key", lambda p, who, org, pid: wallets.register_external_key(
        p.deps, who, org or "", KEY, "hsm", challenge_id="none", signature_hex="00" * 64,
        idempotency_key=new_key())),
]
CUSTOMER_ONLY: list[tuple[str, UseCase]] = [
    ("new organisation", lambda p, who, org, pid: orgs.create_org(
        p.deps, who, name="Acme", country="GB", idempotency_key=new_key())),
]


def principal(actor: Actor) -> Principal:
    return Principal(user_id=actor.user.id, kind=UserKind.CUSTOMER, staff_role=None,
                     session_id="s")


def set_user_status(platform: bootstrap.Platform, user_id: str, status: str) -> None:
    with platform.deps.uow() as uow:
        user = uow.repo(User).get(user_id)
        assert user is not None
        uow.repo(User).update(dataclasses.replace(user, status=status))
        uow.commit()


def audit_count(platform: bootstrap.Platform) -> int:
    with platform.deps.uow() as uow:
        return uow.repo(AuditEntry).count()


def refused(platform: bootstrap.Platform, call: UseCase, who: Principal, org: str | None,
            pid: str) -> str:
    before = audit_count(platform)
    with pytest.raises(PlatformError) as exc:
        call(platform, who, org, pid)
    assert audit_count(platform) == before  # nothing written
    return exc.value.code


def not_refused_for_standing(platform: bootstrap.Platform, call: UseCase, who: Principal,
                             org: str | None, pid: str) -> None:
    """Reinstated: the use case runs (it may still refuse for its own reasons)."""
    try:
        call(platform, who, org, pid)
    except PlatformError as exc:
        assert exc.code not in ("ORG_SUSPENDED", "ACCOUNT_SUSPENDED"), exc.code


def test_money_permissions_are_the_ones_that_move_money() -> None:
    assert {Perm.PAY_INITIATE, Perm.PAY_APPROVE, Perm.ORG_WALLETS} == MONEY_PERMS
    with pytest.raises(AssertionError):
        access.acting_owner(None, None, None, Perm.ORG_READ)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [UserStatus.DISABLED, UserStatus.PENDING])
def test_a_customer_not_in_good_standing_moves_no_money_until_reinstated(
        platform: bootstrap.Platform, customer: Actor, other_customer: Actor,
        status: str) -> None:
    kyc(platform, customer.user.id, 2)
    mine = open_wallet(platform, customer.user.id)
    paid = make_payment(platform, mine, recipient=open_wallet(platform,
                                                              other_customer.user.id))
    draft = make_payment(platform, mine, status="ready")
    who = principal(customer)
    set_user_status(platform, customer.user.id, status)  # after the session was checked
    for name, call in MONEY_USE_CASES + CUSTOMER_ONLY:
        pid = draft.id if name == "cancel a payment" else paid.id
        assert refused(platform, call, who, None, pid) == "ACCOUNT_SUSPENDED", name
    set_user_status(platform, customer.user.id, UserStatus.ACTIVE)
    for name, call in MONEY_USE_CASES + CUSTOMER_ONLY:
        pid = draft.id if name == "cancel a payment" else paid.id
        not_refused_for_standing(platform, call, who, None, pid)


def test_a_suspended_org_and_a_disabled_member_move_no_money_until_reinstated(
        platform: bootstrap.Platform, customer: Actor, other_customer: Actor) -> None:
    org = make_org(platform, {"owner": customer})
    kyc(platform, org, 3, owner_type="org")
    sender = open_wallet(platform, org, owner_type="org")
    paid = make_payment(platform, sender, recipient=open_wallet(platform,
                                                                other_customer.user.id))
    draft = make_payment(platform, sender, status="ready")
    who = principal(customer)
    staff = Principal(user_id="op", kind=UserKind.STAFF, staff_role="operator",  # type: ignore[arg-type]
                      session_id="s")
    cases = MONEY_USE_CASES + ORG_ONLY
    orgs.set_org_status(platform.deps, staff, org, suspended=True)
    for name, call in cases:
        pid = draft.id if name == "cancel a payment" else paid.id
        assert refused(platform, call, who, org, pid) == "ORG_SUSPENDED", name
    orgs.set_org_status(platform.deps, staff, org, suspended=False)
    set_user_status(platform, customer.user.id, UserStatus.DISABLED)  # the member
    for name, call in cases:
        pid = draft.id if name == "cancel a payment" else paid.id
        assert refused(platform, call, who, org, pid) == "ACCOUNT_SUSPENDED", name
    set_user_status(platform, customer.user.id, UserStatus.ACTIVE)
    for name, call in cases:
        pid = draft.id if name == "cancel a payment" else paid.id
        not_refused_for_standing(platform, call, who, org, pid)
