"""Records made directly for refund and history tests: wallets and payments in whatever
state a test needs (the payments service has its own tests), organisations, uploads."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from typing import Any

from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.domain.orgs import Membership, Organisation
from corridor.platform.domain.payments import (
    Payment,
    PaymentKind,
    PaymentStatus,
    PaymentStep,
    RecipientType,
)
from corridor.platform.domain.transfers import Transfer
from corridor.platform.domain.wallets import Wallet
from tests.platform.conftest import Actor

JPEG = b"\xff\xd8\xff\xe0" + b"\x00JFIF" + bytes(200)
PDF = b"%PDF-1.7\n" + bytes(200)
_n = itertools.count(1)


def make_wallet(platform: bootstrap.Platform, owner_id: str, owner_type: str = "user",
                custodial: bool = True) -> Wallet:
    now = platform.deps.clock.now_ms()
    w = Wallet(id=str(uuid.uuid4()), owner_type=owner_type, owner_id=owner_id,
               address=f"cTEST{next(_n):06d}{uuid.uuid4().hex[:20]}",
               public_key=f"pTEST{uuid.uuid4().hex}", custodial=custodial,
               key_sealed="sealed" if custodial else None, label="main", status="open",
               created_ms=now, updated_ms=now)
    with platform.deps.uow() as uow:
        uow.repo(Wallet).add(w)
        uow.commit()
    return w


def make_payment(platform: bootstrap.Platform, sender: Wallet, *, status: str = "credited",
                 recipient: Wallet | None = None, recipient_user_id: str | None = None,
                 recipient_address: str | None = None, **over: Any) -> Payment:
    now = over.pop("created_ms", platform.deps.clock.now_ms())
    statuses = over.pop("statuses", ["draft", "ready", "submitted", "included", "final",
                                     "credited"] if status == "credited" else [status])
    pid = str(uuid.uuid4())
    p = Payment(
        id=pid, uetr=str(uuid.uuid4()), kind=PaymentKind.REMITTANCE, owner_type=sender.owner_type,
        owner_id=sender.owner_id, created_by=over.pop("created_by", sender.owner_id),
        idempotency_key=pid, request_hash="h" * 64, sender_wallet_id=sender.id,
        recipient_type=(RecipientType.USER if recipient_user_id or recipient
                        else RecipientType.ADDRESS),
        recipient_user_id=recipient_user_id,
        recipient_wallet_id=recipient.id if recipient else None,
        recipient_address=recipient_address, recipient_bank=None,
        recipient_name="Dave Customer", quote_id=None, sell_code="USD",
        sell_amount_minor=10_150, fee_minor=150, buy_code="CNY", buy_amount_minor=72_000,
        price="7.2", memo="", status=PaymentStatus(status),
        history=tuple(PaymentStep(status=PaymentStatus(s), at_ms=now) for s in statuses),
        transfer_id=None,
        tx_id="ab" * 32 if status == "credited" else None,
        height=7 if status == "credited" else None, reason_code=None, reason_message=None,
        expected_arrival_ms=now, created_ms=now, updated_ms=now,
    )
    p = dataclasses.replace(p, **over)
    with platform.deps.uow() as uow:
        uow.repo(Payment).add(p)
        uow.commit()
    return p


def payment(platform: bootstrap.Platform, payment_id: str) -> Payment:
    with platform.deps.uow() as uow:
        p = uow.repo(Payment).get(payment_id)
    assert p is not None
    return p


def transfer(platform: bootstrap.Platform, transfer_id: str) -> Transfer:
    with platform.deps.uow() as uow:
        t = uow.repo(Transfer).get(transfer_id)
    assert t is not None
    return t


def make_org(platform: bootstrap.Platform, members: dict[str, Actor],
             name: str = "Acme Ltd") -> str:
    deps = platform.deps
    now = deps.clock.now_ms()
    org_id = str(uuid.uuid4())
    with deps.uow() as uow:
        uow.repo(Organisation).add(Organisation(
            id=org_id, name=name, country="GB", status="active",
            created_by=next(iter(members.values())).user.id, created_ms=now, updated_ms=now))
        for role, actor in members.items():
            uow.repo(Membership).add(Membership(
                id=str(uuid.uuid4()), org_id=org_id, user_id=actor.user.id, role=role,
                department_id=None, created_ms=now, updated_ms=now))
        uow.commit()
    return org_id


def upload(client: TestClient, who: Actor, data: bytes = JPEG, ctype: str = "image/jpeg",
           org_id: str | None = None) -> Any:
    form = {"org_id": org_id} if org_id else None
    return client.post("/v1/refunds/files", headers=who.headers, data=form,
                       files={"file": ("evidence", data, ctype)})
