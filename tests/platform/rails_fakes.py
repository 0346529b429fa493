"""Helpers for the fiat rails tests: a platform on the simulated bank, KYC tiers granted
directly, open wallets, the chain played with settlement.record_outcome, and a fake node
that reports a chosen on-chain balance."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from corridor.platform import bootstrap
from corridor.platform.adapters.sim_bank import SimBank
from corridor.platform.config import Settings
from corridor.platform.domain import kyc
from corridor.platform.domain.kyc import KycCustomer
from corridor.platform.domain.transfers import Transfer
from corridor.platform.domain.wallets import Wallet, WalletStatus
from corridor.platform.services import settlement, wallets
from corridor.platform.services.ledger_port import ChainAccount, ChainHolding
from tests.platform.conftest import Actor
from tests.platform.wallet_fakes import CountingKeyGen

IBAN_OK = "GB82 WEST 1234 5698 7654 32"
_keys = itertools.count(1)


@pytest.fixture(name="platform")
def rails_platform(settings: Settings) -> Iterator[bootstrap.Platform]:
    """A platform without a node (balances from the rails' records), on the sim bank."""
    p = bootstrap.build(settings, ledger=None, keygen=CountingKeyGen())
    yield p
    p.close()


def sim_of(platform: bootstrap.Platform) -> SimBank:
    sim = platform.deps.rails["sim-bank"]
    assert isinstance(sim, SimBank)
    return sim


def grant_tier(platform: bootstrap.Platform, subject_id: str, tier: int = 2,
               subject_type: str = "user") -> None:
    deps = platform.deps
    now = deps.clock.now_ms()
    rec_id = deps.rand.new_id()
    rec = kyc.new_record(id=rec_id, subject_type=subject_type, subject_id=subject_id,
                         data_enc=deps.sealer.seal(b"{}", f"kyc-customer:{rec_id}"),
                         now_ms=now)
    with deps.uow() as uow:
        uow.repo(KycCustomer).add(dataclasses.replace(rec, status=kyc.KycStatus.ACCEPTED,
                                                      tier=tier))
        uow.commit()


def set_tier(platform: bootstrap.Platform, subject_id: str, tier: int,
             subject_type: str = "user") -> None:
    """Changes a tier granted with `grant_tier` (a raise or a downgrade by review)."""
    with platform.deps.uow() as uow:
        rec = uow.repo(KycCustomer).one(subject_type=subject_type, subject_id=subject_id)
        assert rec is not None
        uow.repo(KycCustomer).update(dataclasses.replace(rec, tier=tier))
        uow.commit()


def open_wallet(platform: bootstrap.Platform, owner_id: str, owner_type: str = "user") -> str:
    deps = platform.deps
    with deps.uow() as uow:
        wallet_id = wallets.ensure_wallet(deps, uow, owner_type=owner_type, owner_id=owner_id)
        wallet = uow.repo(Wallet).get(wallet_id)
        assert wallet is not None
        uow.repo(Wallet).update(dataclasses.replace(wallet, status=WalletStatus.OPEN))
        uow.commit()
    return wallet_id


def transfers(platform: bootstrap.Platform, **eq: Any) -> list[Transfer]:
    with platform.deps.uow() as uow:
        return uow.repo(Transfer).many(order_by="created_ms", **eq)


def play(platform: bootstrap.Platform, transfer_id: str, *, committed: bool = True) -> None:
    """The chain's part: the transfer commits (or is refused) and its hook runs."""
    tx_id = transfer_id.replace("-", "")[:32].ljust(64, "0")
    settlement.record_outcome(platform.deps, transfer_id, committed=committed,
                              tx_id=tx_id if committed else None,
                              height=42 if committed else None,
                              code=None if committed else "UNDERFUNDED",
                              message=None if committed else "not enough funds")


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"key-{next(_keys)}"}


def create_deposit(client: TestClient, who: Actor, amount: str = "250.00",
                   currency: str = "USD", path: str = "/v1/deposits") -> dict[str, Any]:
    r = client.post(path, json={"currency": currency, "amount": amount},
                    headers={**who.headers, **key()})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def credit(client: TestClient, platform: bootstrap.Platform, who: Actor,
           amount: str = "500.00", currency: str = "USD") -> dict[str, Any]:
    """A deposit taken all the way to credited: instructions, the bank transfer, the
    webhook, the mint committed."""
    d = create_deposit(client, who, amount, currency)
    r = client.post("/v1/dev/sim-bank/transfers", headers=who.headers,
                    json={"reference": d["reference"], "amount": amount, "currency": currency})
    assert r.status_code == 202, r.text
    assert sim_of(platform).drain() == 1
    (mint,) = transfers(platform, ref_id=d["id"])
    play(platform, mint.id)
    out: dict[str, Any] = client.get(f"/v1/deposits/{d['id']}", headers=who.headers).json()
    assert out["status"] == "credited", out
    return out


@dataclasses.dataclass
class BalanceNode:
    """A node that knows one balance per (address, code); nothing else is asked of it."""

    balances: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)

    def account(self, address: str) -> ChainAccount | None:
        holdings = tuple(ChainHolding(code=code, issuer="cISSUER", balance_minor=amount,
                                      authorised=True, frozen=False)
                         for (addr, code), amount in self.balances.items() if addr == address)
        return ChainAccount(address=address, sequence=1, holdings=holdings)
