"""The available-balance rule: a chain snapshot plus the wallet's transfers judged by
their signed sequence. Nothing is counted twice, nothing spent is forgotten, even when
the snapshot was read before later transfers committed."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from corridor.platform import bootstrap
from corridor.platform.domain.transfers import (
    TREASURY,
    Leg,
    Purpose,
    Transfer,
    TransferStatus,
    wallet_ref,
)
from corridor.platform.services import funds, settlement
from corridor.platform.services.ledger_port import ChainAccount, ChainHolding
from tests.platform.conftest import make_user
from tests.platform.payment_records import make_wallet
from tests.platform.wallet_fakes import use_ledger


class NoCalls:
    """A node that must not be asked: the snapshot given is used."""

    def account(self, address: str) -> Any:
        raise AssertionError("the node was asked although a snapshot was given")


def _snapshot(address: str, sequence: int, usd_minor: int) -> ChainAccount:
    return ChainAccount(address=address, sequence=sequence, holdings=(
        ChainHolding(code="USD", issuer="cI", balance_minor=usd_minor, authorised=True,
                     frozen=False),))


@pytest.fixture
def wallet_and_ref(platform: bootstrap.Platform) -> tuple[Any, str]:
    use_ledger(platform, NoCalls())
    user = make_user(platform, email="carol@example.com")
    wallet = make_wallet(platform, user.user.id)
    return wallet, wallet_ref(wallet.id)


def _transfer(platform: bootstrap.Platform, ref: str, amount: int, status: str,
              sequence: int | None) -> None:
    with platform.deps.uow() as uow:
        t = settlement.queue(platform.deps, uow, purpose=Purpose.MINT, ref_id="r", source=ref,
                             legs=[Leg(source=ref, destination=TREASURY, code="USD",
                                       amount_minor=amount)])
        uow.repo(Transfer).update(dataclasses.replace(t, status=status, sequence=sequence))
        uow.commit()


def _available(platform: bootstrap.Platform, wallet: Any, snap: ChainAccount) -> int:
    with platform.deps.uow() as uow:
        return funds.available_minor(platform.deps, uow, wallet, "USD", snap)


def test_debits_are_counted_once_whatever_the_snapshot_saw(
        platform: bootstrap.Platform, wallet_and_ref: tuple[Any, str]) -> None:
    wallet, ref = wallet_and_ref
    _transfer(platform, ref, 100, TransferStatus.COMMITTED, 4)  # inside the snapshot
    _transfer(platform, ref, 300, TransferStatus.COMMITTED, 6)  # applied after it
    _transfer(platform, ref, 50, TransferStatus.SUBMITTED, 5)  # applied, outcome not recorded
    _transfer(platform, ref, 20, TransferStatus.SUBMITTED, 7)  # in flight
    _transfer(platform, ref, 10, TransferStatus.QUEUED, None)  # not signed yet
    _transfer(platform, ref, 999, TransferStatus.REJECTED, 8)  # never applied
    # The snapshot: balance after sequences 1..5 (so the 100 and the 50 are in it).
    assert _available(platform, wallet, _snapshot(wallet.address, 5, 1_000)) == (
        1_000 - 300 - 20 - 10)
    # A fresher snapshot (through sequence 6) gives the same answer.
    assert _available(platform, wallet, _snapshot(wallet.address, 6, 700)) == 700 - 20 - 10


class _Moment:
    """A unit of work whose transfer reads see the chain commit a transfer between the
    two statements (PostgreSQL's READ COMMITTED gives each statement its own moment)."""

    def __init__(self, before: Transfer, after: Transfer) -> None:
        self.reads = [[before], [after]]

    def repo(self, record_type: type) -> Any:
        assert record_type is Transfer
        return self

    def many(self, **_: Any) -> list[Transfer]:
        return self.reads.pop(0)


def test_a_transfer_committed_between_the_two_reads_is_counted_once(
        platform: bootstrap.Platform, wallet_and_ref: tuple[Any, str]) -> None:
    wallet, ref = wallet_and_ref
    _transfer(platform, ref, 300, TransferStatus.SUBMITTED, 6)
    with platform.deps.uow() as uow:
        (submitted,) = uow.repo(Transfer).many(source=ref)
    committed = dataclasses.replace(submitted, status=TransferStatus.COMMITTED)
    uow = _Moment(submitted, committed)
    got = funds.available_minor(platform.deps, uow, wallet, "USD",  # type: ignore[arg-type]
                                _snapshot(wallet.address, 5, 1_000))
    assert got == 700 and not uow.reads
