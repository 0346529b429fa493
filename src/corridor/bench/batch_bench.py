"""A batch of payments against the same payments one by one: `corridor bench batch`.

The payments benchmark's set-up (bench/payments_bench.py, payments_setup.py): a
one-validator node and `corridor platform serve` as their own processes on SQLite,
customers seeded directly in the database, their wallets opened and funded on chain (not
timed). Here an organisation (two members: the maker, an initiator, and the checker, an
approver; KYB tier 3) with its own funded wallet is seeded too. Then, over real HTTP:

- `payments_per_s`: single payments through POST /v1/payments, the payments benchmark's
  throughput phase (closed loop, credited in its window per second).
- the batch: a pain.001.001.09 file of `items` credit transfers of 1.00 USD to the
  customers by e-mail (round-robin) is uploaded by the maker (`batch_validate_s`: the
  upload request, XSD validation and every item's checks), approved by the checker, and
  the platform executes it; `batch_items_per_s` = items / (the last item's `credited`
  time - the upload's start), so validation, approval and settlement all count.
  `batch_credited` counts the items whose payment reached `credited` (must equal
  `batch_items`).
- `batch_ratio` = batch_items_per_s / payments_per_s (target >= 2.0).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from corridor.bench import payments_bench as pb
from corridor.bench.batch_file import Line, pain001
from corridor.bench.node_process import NodeProcess
from corridor.bench.payments_load import now_ms
from corridor.bench.payments_setup import (
    Customer,
    drain,
    fund,
    mints_done,
    seed_customers,
    wait_for,
    wallets_ready,
)
from corridor.bench.report import Row, Target, machine_json, targets_json, timestamped
from corridor.node.home import init_demo_home
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain.batches import BatchItem
from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import KycCustomer, KycStatus, Risk, SubjectType
from corridor.platform.domain.orgs import Membership, Organisation, OrgStatus
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.roles import OrgRole
from corridor.platform.domain.transfers import ISSUER, Leg, Purpose, wallet_ref
from corridor.platform.services import settlement, wallets

TARGET_BATCH_RATIO = Target(op=">=", value=2.0)
ORG_FUNDING_MINOR = 1_000_000_00  # 1,000,000.00 USD
REQUEST_TIMEOUT_S = 600.0

Log = Callable[[str], None]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BatchBenchConfig:
    quick: bool
    items: int
    customers: int
    payments: pb.PaymentsBenchConfig  # the single payments' phase
    drain_timeout_s: float


FULL = BatchBenchConfig(quick=False, items=10_000, customers=200, drain_timeout_s=600.0,
                        payments=dataclasses.replace(pb.FULL, duration_s=15.0))
QUICK = BatchBenchConfig(quick=True, items=300, customers=8, drain_timeout_s=120.0,
                         payments=pb.QUICK)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BatchFigures:
    config: BatchBenchConfig
    batch_items: int
    batch_credited: int
    batch_validate_s: float
    batch_approve_s: float
    batch_total_s: float
    batch_items_per_s: float
    ledger_transactions: int
    payments_per_s: float
    load_avg_1m: float
    elapsed_s: float

    @property
    def batch_ratio(self) -> float:
        return self.batch_items_per_s / self.payments_per_s if self.payments_per_s else 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class Org:
    id: str
    maker: Customer
    checker: Customer
    wallet_id: str


def seed_org(p: bootstrap.Platform, maker: Customer, checker: Customer) -> Org:
    """An active organisation (KYB tier 3) with the maker as initiator and the checker as
    approver, and a custodial wallet queued to open and be authorised for USD."""
    deps = p.deps
    now = deps.clock.now_ms()
    org_id = deps.rand.new_id()
    with deps.uow() as uow:
        users = {c.email: uow.repo(User).one(email=c.email) for c in (maker, checker)}
        ids = {email: u.id for email, u in users.items() if u is not None}
        uow.repo(Organisation).add(Organisation(
            id=org_id, name="Bench Payroll Ltd", country="GB", status=OrgStatus.ACTIVE,
            created_by=ids[maker.email], created_ms=now, updated_ms=now))
        for email, role in ((maker.email, OrgRole.INITIATOR), (checker.email, OrgRole.APPROVER)):
            uow.repo(Membership).add(Membership(
                id=deps.rand.new_id(), org_id=org_id, user_id=ids[email], role=role,
                department_id=None, created_ms=now, updated_ms=now))
        kyc_id = deps.rand.new_id()
        uow.repo(KycCustomer).add(KycCustomer(
            id=kyc_id, subject_type=SubjectType.ORG, subject_id=org_id, status=KycStatus.ACCEPTED,
            requested_tier=3, tier=3, risk=Risk.LOW,
            data_enc=deps.sealer.seal(b"{}", f"kyc-customer:{kyc_id}"), field_status={},
            submitted_ms=now, decided_ms=now, decided_by=None,
            decision_reason="benchmark organisation", review_due_ms=None, created_ms=now,
            updated_ms=now))
        wallet_id = wallets.ensure_wallet(deps, uow, owner_type="org", owner_id=org_id)
        wallets.request_authorisation(deps, uow, owner_type="org", owner_id=org_id,
                                      asset_codes=("USD",), actor_id=ids[maker.email])
        uow.commit()
    return Org(org_id, maker, checker, wallet_id)


def fund_org(p: bootstrap.Platform, org: Org) -> str:
    deps = p.deps
    with deps.uow() as uow:
        t = settlement.queue(deps, uow, purpose=Purpose.MINT, ref_id=deps.rand.new_id(),
                             source=ISSUER, legs=[Leg(source=ISSUER,
                                                      destination=wallet_ref(org.wallet_id),
                                                      code="USD",
                                                      amount_minor=ORG_FUNDING_MINOR)])
        uow.commit()
    return t.id


def run(config: BatchBenchConfig, log: Log = lambda _: None) -> BatchFigures:
    started = time.perf_counter()
    load_avg = os.getloadavg()[0]
    log = timestamped(log, started)
    with tempfile.TemporaryDirectory(prefix="corridor-bench-batch-") as tmp:
        root = Path(tmp)
        home = init_demo_home(root / "home", genesis_time_ms=int(time.time() * 1000))
        node = NodeProcess(home, block_interval_ms=pb.BLOCK_INTERVAL_MS)
        data_dir = root / "platform"
        url = f"sqlite:///{data_dir / 'platform.db'}"
        p = bootstrap.build(Settings(data_dir=data_dir, database_url=url,
                                     fast_password_hashing=True))
        server: pb.PlatformProcess | None = None
        try:
            log(f"seeding {config.customers} customers and an organisation")
            customers = seed_customers(p, config.customers + 2)
            org = seed_org(p, customers[-2], customers[-1])
            payees = customers[:-2]
            server = pb.PlatformProcess(data_dir, url, node)
            alive = server.alive
            wait_for("the wallets to open on chain", lambda: wallets_ready(
                p, [c.wallet_id for c in customers] + [org.wallet_id]), pb.SETUP_TIMEOUT_S,
                alive)
            log("funding every wallet (issuer mints)")
            mints = [*fund(p, customers), fund_org(p, org)]
            wait_for("the mints", lambda: mints_done(p, mints), pb.SETUP_TIMEOUT_S, alive)
            log("single payments through the API")
            single, _ = pb.measure_throughput(p, server, node, payees, config.payments, log)
            log(f"  {single.payments_per_s:,.1f} payments/s")
            figures = _batch(p, server, org, payees, config, log)
        finally:
            if server is not None:
                server.stop()
            node.stop()
            p.close()
    return dataclasses.replace(figures, payments_per_s=single.payments_per_s,
                               load_avg_1m=load_avg, elapsed_s=time.perf_counter() - started)


def _batch(p: bootstrap.Platform, server: pb.PlatformProcess, org: Org,
           payees: list[Customer], config: BatchBenchConfig, log: Log) -> BatchFigures:
    lines = [Line(f"B-{n}", "1.00", "USD", email=payees[n % len(payees)].email,
                  name=f"Bench {n % len(payees)}", memo=f"salary {n}")
             for n in range(config.items)]
    data = pain001(lines, message_id="BENCH-BATCH-1")
    log(f"the batch: {config.items:,} items, pain.001.001.09 of {len(data):,} bytes")
    base = f"http://127.0.0.1:{server.port}"
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as http:
        start_ms = now_ms()
        t0 = time.perf_counter()
        r = http.post("/v1/batches", headers={"Authorization": f"Bearer {org.maker.token}",
                                              "Idempotency-Key": "bench-batch-1"},
                      data={"org_id": org.id}, files={"file": ("batch.xml", data)})
        validate_s = time.perf_counter() - t0
        body = r.json()
        if r.status_code != 201 or body["status"] != "validated":
            raise RuntimeError(f"the batch was not accepted: {r.status_code} "
                               f"{str(body)[:500]}")
        log(f"  uploaded and validated in {validate_s:.2f} s")
        t1 = time.perf_counter()
        r = http.post(f"/v1/batches/{body['id']}/approve",
                      headers={"Authorization": f"Bearer {org.checker.token}"})
        approve_s = time.perf_counter() - t1
        if r.status_code != 200:
            raise RuntimeError(f"the approval failed: {r.status_code} {r.text[:500]}")
        log(f"  approved (items made payments, chunks queued) in {approve_s:.2f} s")
    with p.deps.uow() as uow:
        items = uow.repo(BatchItem).many(batch_id=body["id"])
    ids = [i.payment_id for i in items if i.payment_id]
    done, _ = drain(p, ids, config.drain_timeout_s, server.alive)
    credited = [o.credited_ms for o in done.values() if o.credited_ms is not None]
    total_s = (max(credited) - start_ms) / 1000 if credited else float("inf")
    with p.deps.uow() as uow:
        n_tx = len({x.transfer_id for n in range(0, len(ids), 500)
                    for x in uow.repo(Payment).many(id=tuple(ids[n:n + 500]))})
    log(f"  {len(credited):,} credited in {total_s:.1f} s from the upload, "
        f"{n_tx} ledger transactions")
    return BatchFigures(config=config, batch_items=config.items, batch_credited=len(credited),
                        batch_validate_s=validate_s, batch_approve_s=approve_s,
                        batch_total_s=total_s,
                        batch_items_per_s=len(credited) / total_s if credited else 0.0,
                        ledger_transactions=n_tx, payments_per_s=0.0, load_avg_1m=0.0,
                        elapsed_s=0.0)


def table_rows(f: BatchFigures) -> list[Row]:
    return [
        Row(name="batch_items", value=f.batch_items),
        Row(name="batch_credited", value=f.batch_credited, note="must equal batch_items"),
        Row(name="batch_validate_s", value=f.batch_validate_s, unit="s",
            note="upload: XSD validation and every item's checks"),
        Row(name="batch_approve_s", value=f.batch_approve_s, unit="s",
            note="approval: screening, payments recorded, chunks queued"),
        Row(name="batch_items_per_s", value=f.batch_items_per_s, unit="/s",
            note=f"upload start to the last credit ({f.batch_total_s:.1f} s), "
                 f"{f.ledger_transactions} ledger transactions"),
        Row(name="payments_per_s", value=f.payments_per_s, unit="/s",
            note="single payments through the API, same run"),
        Row(name="batch_ratio", value=f.batch_ratio, target=TARGET_BATCH_RATIO),
    ]


def json_document(f: BatchFigures, rows: list[Row]) -> dict[str, Any]:
    return {
        "bench": "batch",
        "quick": f.config.quick,
        "batch_items": f.batch_items,
        "batch_credited": f.batch_credited,
        "batch_validate_s": f.batch_validate_s,
        "batch_approve_s": f.batch_approve_s,
        "batch_total_s": f.batch_total_s,
        "batch_items_per_s": f.batch_items_per_s,
        "batch_ledger_transactions": f.ledger_transactions,
        "payments_per_s": f.payments_per_s,
        "batch_ratio": f.batch_ratio,
        "load_avg_1m": f.load_avg_1m,
        "elapsed_s": round(f.elapsed_s, 1),
        "targets": targets_json(rows),
        "machine": machine_json(),
    }
