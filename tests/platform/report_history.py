"""A seeded treasury history for the institution's reports (services/org_reports.py),
made directly in the records, with every figure known in advance. The platform's clock
is pinned to NOW (Monday 7 December 2026, noon UTC).

Wallet "main" of the organisation:
  1 Nov        received 1,000.00 USD (a payment from Dave)              balance  100,000
  10 Nov 09:00 paid Dave 101.50 USD (fee 1.50) by the owner (Treasury)  balance   89,850
  2 Dec 09:00  paid a German bank 203.00 USD (fee 3.00) by the initiator
                                                                        balance   69,550
  5 Dec 10:00  50.00 USD sent to the chain, undecided                   in flight  5,000
  6 Dec 10:00  70.00 USD pending approval                               reserved   7,000
  6 Dec 11:00  30.00 USD on compliance hold (its transfer held)         reserved   3,000
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

import pytest

from corridor.platform import bootstrap
from corridor.platform.domain.orgs import Department, Membership, Organisation
from corridor.platform.domain.payments import Payment, PaymentStatus, PaymentStep, RecipientType
from corridor.platform.domain.transfers import TREASURY, Leg, Purpose, Transfer, wallet_ref
from corridor.platform.domain.wallets import Wallet
from tests.platform.conftest import Actor, make_user
from tests.platform.payment_records import make_org, make_payment, make_wallet


def at(day: str, hour: int = 9) -> int:
    d = dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)
    return int(d.timestamp()) * 1000


NOW = at("2026-12-07", 12)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class History:
    org_id: str
    wallet: Wallet
    spare: Wallet  # a second wallet, never used: no rows
    owner: Actor
    initiator: Actor
    viewer: Actor
    auditor: Actor
    approver: Actor
    stranger: Actor
    dave: Actor
    treasury_id: str
    paid_dave: Payment
    paid_bank: Payment


def pin_clock(monkeypatch: pytest.MonkeyPatch, platform: bootstrap.Platform) -> None:
    monkeypatch.setattr(platform.deps.clock, "now_ms", lambda: NOW)


def _transfer(platform: bootstrap.Platform, *, ref_id: str, legs: list[Leg], status: str,
              created_ms: int, updated_ms: int, source: str) -> Transfer:
    t = Transfer(id=str(uuid.uuid4()), purpose=Purpose.PAYMENT, ref_id=ref_id, source=source,
                 legs=tuple(legs), memo="", status=status, sequence=None, tx_id=None,
                 tx_hex=None, height=None, result_code=None, result_message=None, attempts=0,
                 created_ms=created_ms, updated_ms=updated_ms)
    with platform.deps.uow() as uow:
        uow.repo(Transfer).add(t)
        uow.commit()
    return t


def _steps(*pairs: tuple[str, int]) -> tuple[PaymentStep, ...]:
    return tuple(PaymentStep(status=PaymentStatus(s), at_ms=ms) for s, ms in pairs)


def _sent(platform: bootstrap.Platform, wallet: Wallet, *, by: str, amount: int, fee: int,
          created: int, statuses: list[tuple[str, int]], transfer: str | None,
          **over: Any) -> Payment:
    """A payment of the organisation's; its transfer (debit leg) in state `transfer`."""
    p = make_payment(platform, wallet, status=statuses[-1][0], created_ms=created,
                     created_by=by, sell_amount_minor=amount, fee_minor=fee,
                     statuses=[s for s, _ in statuses], **over)
    p = dataclasses.replace(p, history=_steps(*statuses))
    if transfer is not None:
        decided = statuses[-1][1]
        t = _transfer(platform, ref_id=p.id, status=transfer, created_ms=created,
                      updated_ms=decided, source=wallet_ref(wallet.id),
                      legs=[Leg(source=wallet_ref(wallet.id), destination=TREASURY,
                                code="USD", amount_minor=amount)])
        p = dataclasses.replace(p, transfer_id=t.id)
    with platform.deps.uow() as uow:
        uow.repo(Payment).update(p)
        uow.commit()
    return p


def seed(platform: bootstrap.Platform) -> History:
    mk = make_user
    owner = mk(platform, email="owner@example.com", name="Olive Owner")
    initiator = mk(platform, email="ini@example.com", name="Ian Initiator")
    viewer = mk(platform, email="viewer@example.com", name="Vera Viewer")
    auditor = mk(platform, email="auditor@example.com", name="Ada Auditor")
    approver = mk(platform, email="approver@example.com", name="Abe Approver")
    stranger = mk(platform, email="stranger@example.com", name="Sam Stranger")
    dave = mk(platform, email="dave@example.com", name="Dave Customer")
    org_id = make_org(platform, {"owner": owner, "initiator": initiator, "viewer": viewer,
                                 "auditor": auditor, "approver": approver})
    treasury = Department(id=str(uuid.uuid4()), org_id=org_id, name="Treasury",
                          created_ms=at("2026-08-01"))
    with platform.deps.uow() as uow:
        org = uow.repo(Organisation).get(org_id)
        assert org is not None
        uow.repo(Organisation).update(dataclasses.replace(org, created_ms=at("2026-08-01")))
        uow.repo(Department).add(treasury)
        m = uow.repo(Membership).one(org_id=org_id, user_id=owner.user.id)
        assert m is not None
        uow.repo(Membership).update(dataclasses.replace(m, department_id=treasury.id))
        uow.commit()
    wallet = make_wallet(platform, org_id, "org")
    spare = make_wallet(platform, org_id, "org")
    for w in (wallet, spare):
        with platform.deps.uow() as uow:
            uow.repo(Wallet).update(dataclasses.replace(w, created_ms=at("2026-08-01")))
            uow.commit()
    dave_wallet = make_wallet(platform, dave.user.id)
    received = make_payment(platform, dave_wallet, recipient=wallet,
                            recipient_user_id=None, created_ms=at("2026-11-01"),
                            sell_amount_minor=100_000, fee_minor=0)
    _transfer(platform, ref_id=received.id, status="committed", created_ms=at("2026-11-01"),
              updated_ms=at("2026-11-01", 10), source=wallet_ref(dave_wallet.id),
              legs=[Leg(source=wallet_ref(dave_wallet.id), destination=TREASURY, code="USD",
                        amount_minor=100_000),
                    Leg(source=TREASURY, destination=wallet_ref(wallet.id), code="USD",
                        amount_minor=100_000)])
    done = ["draft", "ready", "submitted", "included", "final", "credited"]

    def steps(day: str) -> list[tuple[str, int]]:
        return [(s, at(day) + i * 1000) for i, s in enumerate(done)]

    paid_dave = _sent(platform, wallet, by=owner.user.id, amount=10_150, fee=150,
                      created=at("2026-11-10"), statuses=steps("2026-11-10"),
                      transfer="committed", recipient_user_id=dave.user.id,
                      recipient_type=RecipientType.USER, buy_code="CNY")
    paid_bank = _sent(platform, wallet, by=initiator.user.id, amount=20_300, fee=300,
                      created=at("2026-12-02"), statuses=steps("2026-12-02"),
                      transfer="committed", recipient_type=RecipientType.EXTERNAL,
                      recipient_bank={"name": "Müller GmbH", "country": "DE",
                                      "iban": "DE89********3000", "bank_code": "DEUTDEFF"},
                      recipient_name="Müller GmbH", buy_code="EUR", buy_amount_minor=18_000)
    _sent(platform, wallet, by=owner.user.id, amount=5_000, fee=50, created=at("2026-12-05", 10),
          statuses=[("draft", at("2026-12-05", 10)), ("ready", at("2026-12-05", 10)),
                    ("submitted", at("2026-12-05", 10))], transfer="submitted")
    _sent(platform, wallet, by=initiator.user.id, amount=7_000, fee=70,
          created=at("2026-12-06", 10),
          statuses=[("draft", at("2026-12-06", 10)), ("pending_approval", at("2026-12-06", 10))],
          transfer=None)
    _sent(platform, wallet, by=initiator.user.id, amount=3_000, fee=30,
          created=at("2026-12-06", 11),
          statuses=[("draft", at("2026-12-06", 11)), ("screening", at("2026-12-06", 11)),
                    ("on_hold", at("2026-12-06", 11))], transfer="held")
    return History(org_id=org_id, wallet=wallet, spare=spare, owner=owner,
                   initiator=initiator, viewer=viewer, auditor=auditor, approver=approver,
                   stranger=stranger, dave=dave, treasury_id=treasury.id,
                   paid_dave=paid_dave, paid_bank=paid_bank)
