"""`corridor bench payments`: the customers it seeds directly in the platform's database
(sessions, accepted KYC, custodial wallets opened and funded on chain; none of it timed), and
the payments' outcomes read back from that database."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from corridor.platform import bootstrap
from corridor.platform.adapters.db import SqlUnitOfWork, table_of
from corridor.platform.domain import identity as idn
from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import KycCustomer, KycStatus, Risk, SubjectType
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Origin
from corridor.platform.domain.roles import UserKind
from corridor.platform.domain.transfers import (
    ISSUER,
    Leg,
    Purpose,
    Transfer,
    TransferStatus,
    wallet_ref,
)
from corridor.platform.domain.wallets import LedgerJob, Wallet, WalletStatus
from corridor.platform.services import sessions, settlement, wallets

KYC_TIER = 3  # the highest limits: 1,000,000 USD a payment, 5,000,000 a day
FUNDING_MINOR = 100_000_000  # 1,000,000.00 USD per customer
MINT_PURPOSE = Purpose.MINT  # no outcome hook: the transfer alone records the mint
POLL_S = 0.2
# Marks this process's own queries, which PostgreSQL's statement count leaves out.
BENCH_MARK = "/* corridor-bench */"


# --- set-up ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Customer:
    email: str
    token: str
    wallet_id: str


def seed_customers(p: bootstrap.Platform, count: int) -> list[Customer]:
    """Users with live sessions, accepted KYC and a custodial wallet whose opening and USD
    authorisation are queued for the platform's ledger worker."""
    deps = p.deps
    now = deps.clock.now_ms()
    password_hash = deps.hasher.hash("bench customer password")  # nobody signs in with it
    out = []
    with deps.uow() as uow:
        for i in range(count):
            email = idn.normalise_email(f"bench{i}@bench.example")
            user = User(
                id=deps.rand.new_id(),
                kind=UserKind.CUSTOMER,
                staff_role=None,
                name=f"Bench {i}",
                email=email,
                email_verified=True,
                phone=None,
                phone_verified=False,
                password_hash=password_hash,
                totp_secret_enc=None,
                totp_enabled=False,
                totp_last_step=0,
                status=idn.UserStatus.ACTIVE,
                failed_logins=0,
                locked_until_ms=0,
                terms_version=idn.TERMS_VERSION,
                privacy_version=idn.PRIVACY_VERSION,
                terms_accepted_ms=now,
                created_ms=now,
                updated_ms=now,
            )
            uow.repo(User).add(user)
            token = sessions.open_session(deps, uow, user, Origin(ip="127.0.0.1"))
            kyc_id = deps.rand.new_id()
            uow.repo(KycCustomer).add(
                KycCustomer(
                    id=kyc_id,
                    subject_type=SubjectType.USER,
                    subject_id=user.id,
                    status=KycStatus.ACCEPTED,
                    requested_tier=KYC_TIER,
                    tier=KYC_TIER,
                    risk=Risk.LOW,
                    # sealed as the KYC area seals it: payments open it (the verified name)
                    data_enc=deps.sealer.seal(b"{}", f"kyc-customer:{kyc_id}"),
                    field_status={},
                    submitted_ms=now,
                    decided_ms=now,
                    decided_by=None,
                    decision_reason="benchmark customer",
                    review_due_ms=None,
                    created_ms=now,
                    updated_ms=now,
                )
            )
            wallet_id = wallets.ensure_wallet(deps, uow, owner_type="user", owner_id=user.id)
            wallets.request_authorisation(
                deps,
                uow,
                owner_type="user",
                owner_id=user.id,
                asset_codes=("USD",),
                actor_id=user.id,
            )
            out.append(Customer(email, token, wallet_id))
        uow.commit()
    return out


def wait_for(
    what: str, check: Callable[[], bool], timeout_s: float, alive: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if not alive():
            raise RuntimeError(f"a process died while waiting for {what}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(POLL_S)


def wallets_ready(p: bootstrap.Platform, ids: Sequence[str]) -> bool:
    with p.deps.uow() as uow:
        jobs = uow.repo(LedgerJob).many()
        failed = [j for j in jobs if j.status == "failed"]
        if failed:
            raise RuntimeError(f"{len(failed)} ledger jobs failed: {failed[0]}")
        if any(j.status != "done" for j in jobs):
            return False
        ws = [uow.repo(Wallet).get(i) for i in ids]
    return all(w is not None and w.status == WalletStatus.OPEN for w in ws)


def fund(p: bootstrap.Platform, customers: Sequence[Customer]) -> list[str]:
    """Queues an issuer mint to every customer's wallet; returns the transfer ids."""
    deps = p.deps
    ids = []
    with deps.uow() as uow:
        for c in customers:
            leg = Leg(
                source=ISSUER,
                destination=wallet_ref(c.wallet_id),
                code="USD",
                amount_minor=FUNDING_MINOR,
            )
            t = settlement.queue(
                deps,
                uow,
                purpose=MINT_PURPOSE,
                ref_id=deps.rand.new_id(),
                source=ISSUER,
                legs=[leg],
            )
            ids.append(t.id)
        uow.commit()
    return ids


def mints_done(p: bootstrap.Platform, ids: Sequence[str]) -> bool:
    with p.deps.uow() as uow:
        ts = [uow.repo(Transfer).get(i) for i in ids]
    bad = [t for t in ts if t is not None and t.status == TransferStatus.REJECTED]
    if bad:
        raise RuntimeError(
            f"a funding mint was refused: {bad[0].result_code} {bad[0].result_message}"
        )
    return all(t is not None and t.status == TransferStatus.COMMITTED for t in ts)


# --- reading outcomes from the platform's database --------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    created_ms: int
    credited_ms: int | None


def outcomes(p: bootstrap.Platform, ids: Sequence[str]) -> dict[str, Outcome]:
    table = table_of(Payment)
    out: dict[str, Outcome] = {}
    with p.deps.uow() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        for i in range(0, len(ids), 500):
            rows = uow.execute(
                sa.select(table.c.id, table.c.status, table.c.created_ms, table.c.history).where(
                    table.c.id.in_(ids[i : i + 500])
                )
            )
            for pid, status, created_ms, history in rows:
                if isinstance(history, str):
                    history = json.loads(history)
                credited = next(
                    (int(h["at_ms"]) for h in history if h["status"] == "credited"), None
                )
                out[pid] = Outcome(str(status), int(created_ms), credited)
    return out


def drain(
    p: bootstrap.Platform, ids: Sequence[str], timeout_s: float, alive: Callable[[], bool]
) -> tuple[dict[str, Outcome], float]:
    """Waits until every payment is credited or failed; returns the outcomes and the wait."""
    started = time.perf_counter()
    pending = list(ids)
    done: dict[str, Outcome] = {}
    deadline = time.monotonic() + timeout_s
    while pending:
        got = outcomes(p, pending)
        for pid, o in got.items():
            if o.status in ("credited", "failed"):
                done[pid] = o
        pending = [i for i in pending if i not in done]
        if not pending:
            break
        if not alive():
            raise RuntimeError("a process died while payments were draining")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} payments not credited after {timeout_s:.0f} s")
        time.sleep(POLL_S)
    return done, time.perf_counter() - started
