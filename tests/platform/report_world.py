"""The world the report and retention tests share (tests/platform/test_reports.py,
test_retention.py): the compliance cases' list and customers (a payment to Bob, whose
name is listed, is held in Alice's case), and two compliance officers. Plain functions,
so each test module declares its own fixtures over them."""

from __future__ import annotations

from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.services import screening
from tests.platform.conftest import make_staff, make_user
from tests.platform.payment_fakes import FakeChain, FakeClock, kyc, open_wallet
from tests.platform.test_compliance_cases import LIST, LISTED, World
from tests.platform.wallet_fakes import CountingKeyGen


def build(settings: Settings, chain: FakeChain) -> bootstrap.Platform:
    p = bootstrap.build(settings, clock=FakeClock(), ledger=chain, keygen=CountingKeyGen())
    screening.import_list(p.deps, None, LIST, ListFormat.CSL)
    return p


def world(platform: bootstrap.Platform, chain: FakeChain) -> World:
    alice = make_user(platform, email="carol@example.com", name="Carol Customer")
    bob = make_user(platform, email="dave@example.com", name=LISTED)
    kyc(platform, alice.user.id, 2)
    kyc(platform, bob.user.id, 2)
    wallet = open_wallet(platform, alice.user.id)
    open_wallet(platform, bob.user.id)
    chain.fund(wallet.address, "USD", 100_000)
    return World(alice, wallet, bob, make_staff(platform, "compliance_officer"),
                 make_staff(platform, "compliance_officer", "second@corridor.example"))
