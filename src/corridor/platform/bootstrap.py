"""The composition root: the one place adapters are chosen and wired into services."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
import os
import secrets
import threading
from pathlib import Path

from sqlalchemy.engine import Engine

from corridor.ledger.errors import DecodeError
from corridor.ledger.keys import KeyPair, keypair_from_keyfile_json
from corridor.platform.adapters import schema
from corridor.platform.adapters.aml_catch_up import AmlCatchUp
from corridor.platform.adapters.approval_worker import ApprovalExpiryWorker
from corridor.platform.adapters.case_sla_worker import CaseSlaWorker
from corridor.platform.adapters.chain_events import EventStream
from corridor.platform.adapters.collections_worker import CollectionsWorker
from corridor.platform.adapters.db import SqlUnitOfWork, make_engine
from corridor.platform.adapters.group_commit import GroupCommitter
from corridor.platform.adapters.history import SqlHistory
from corridor.platform.adapters.ledger_client import LedgerClient
from corridor.platform.adapters.outbox_worker import OutboxWorker
from corridor.platform.adapters.rail_worker import RailWorker
from corridor.platform.adapters.retention_worker import RetentionWorker
from corridor.platform.adapters.review_worker import ReviewWorker
from corridor.platform.adapters.sim_bank import SimBank, in_process
from corridor.platform.adapters.static_rates import StaticRates
from corridor.platform.adapters.system import (
    Argon2Hasher,
    SystemClock,
    SystemKeyGen,
    SystemRandomness,
)
from corridor.platform.adapters.vault import EncryptedFileStore, EnvelopeVault, Keyring
from corridor.platform.adapters.webhook_worker import WebhookWorker
from corridor.platform.config import (
    RAIL_WEBHOOK_SECRET_FILE,
    ConfigError,
    Settings,
    production_problems,
    sqlite_path,
)
from corridor.platform.domain import cases as cases_domain
from corridor.platform.domain import fx
from corridor.platform.domain.authenticity import AuthenticityMonitor
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.monitoring import Monitor
from corridor.platform.domain.transfers import Purpose
from corridor.platform.domain.wallets import Signer
from corridor.platform.services import (
    aml_window,
    bank_details,
    batches,
    beneficiaries,
    collections,
    deposits,
    funds,
    monitoring,
    payment_approvals,
    payments,
    refunds,
    screening,
    withdrawals,
)
from corridor.platform.services.handlers import Handlers, HoldHandlers
from corridor.platform.services.ledger_port import ChainReader, KeyGen, LedgerNode
from corridor.platform.services.ports import Clock, Deps, Randomness
from corridor.platform.services.rates import RateSource

log = logging.getLogger("corridor.platform")

# What happens when the chain decides a transfer, a payment's money reaches the treasury, a
# refund settles, or staff decide a hold: every reaction, in order, in one typed table
# (docs/architecture.md, "A payment, from request to credited").
HANDLERS = Handlers(
    transfer_outcome={
        # committed -> included, final, credited (a bank payout: payout_requested below);
        # refused -> failed, and its money released back to the sender at once.
        # ... then the payment request it paid is settled (or reopened), or it is matched
        # to an open request by its reference (services/collections.py).
        Purpose.PAYMENT: (payments.on_transfer, refunds.release_refused_payment,
                          collections.on_payment_transfer),
        Purpose.REFUND: (refunds.on_transfer,),  # then refund_settled below
        Purpose.DEPOSIT: (deposits.on_mint_outcome,),
        Purpose.WITHDRAWAL: (withdrawals.on_burn_outcome,),  # burned: ready for its payout
        Purpose.REVERSAL: (withdrawals.on_reversal_outcome,),
        Purpose.BATCH: (batches.on_transfer,),  # each chunk's payments settled
    },
    payout_requested=(withdrawals.payout_payment,),
    refund_settled=(withdrawals.on_payment_refund_settled,),
    hold_decision={deposits.HOLD_SUBJECT: HoldHandlers(release=deposits.release_held,
                                                       give_back=deposits.return_held)},
    # what approving or refusing each kind of subject does (services/approvals.py)
    approval_subjects={payment_approvals.KIND: payment_approvals.SUBJECT,
                       beneficiaries.KIND: beneficiaries.SUBJECT,
                       batches.APPROVAL_KIND: batches.SUBJECT},
)


def monitors_of(deps: Deps) -> tuple[Monitor, ...]:
    """What evaluates every movement before the chain (issue 16), in order: the one place
    monitors are listed. The sanctions screener over the recipient's name, then, unless
    `settings.aml_monitoring` is off, the AML rules engine (domain/aml), one per process,
    its window rebuilt from the store's records at start and kept up with other processes'
    (services/aml_window.py). `settings.compliance_off` (the payments benchmark's "off" leg
    only) lists none."""
    if deps.settings.compliance_off:
        return ()
    screener: Monitor = monitoring.ScreeningMonitor(screening.Screener(deps))
    # supporting documents for trade and service payments abroad (always on: a rule, not
    # a model)
    documents: Monitor = AuthenticityMonitor(deps.settings.authenticity_usd_minor)
    if not deps.settings.aml_monitoring:
        return (screener, documents)
    window = aml_window.AmlWindow(aml_window.UowMovementLog(deps.read_uow or deps.uow),
                                  deps.clock)
    return (screener, window, documents)


@dataclasses.dataclass
class Platform:
    settings: Settings
    engine: Engine
    deps: Deps
    vault: EnvelopeVault
    worker: OutboxWorker | None = None
    rail_worker: RailWorker | None = None
    webhook_worker: WebhookWorker | None = None
    retention_worker: RetentionWorker | None = None
    review_worker: ReviewWorker | None = None
    case_sla_worker: CaseSlaWorker | None = None
    aml_catch_up: AmlCatchUp | None = None
    collections_worker: CollectionsWorker | None = None
    approval_worker: ApprovalExpiryWorker | None = None

    def start_rail_worker(self, *, dispatch: bool = True) -> None:
        """Payouts of burned withdrawals (`dispatch`: one process of a deployment), and
        simulated rails' event deliveries (every API process: a simulated bank's pending
        events live in the memory of the process whose API was called). Runs with or
        without a network: the rails do not need the node."""
        if self.rail_worker is not None and self.rail_worker.running:
            return
        sims = [x for x in self.deps.rails.values() if isinstance(x, SimBank)]
        self.rail_worker = RailWorker(self.deps, sims, dispatch=dispatch)
        self.rail_worker.start()

    def warm_monitors(self) -> None:
        """Builds the screening index and rebuilds the AML window from the store in the
        background (seconds for a large list or a long history), so the first payment after
        a start does not wait for them."""
        def warm(monitor: monitoring.ScreeningMonitor) -> None:
            try:
                monitor.index()
            except Exception:  # the first screening builds it then, and reports any problem
                log.warning("screening index not built in advance", exc_info=True)

        for monitor in self.deps.monitors:
            if isinstance(monitor, aml_window.AmlWindow):
                monitor.warm()  # its own thread; evaluations meanwhile say "partial"
                if self.aml_catch_up is None:  # then other processes' movements each second
                    self.aml_catch_up = AmlCatchUp(monitor)
                    self.aml_catch_up.start()
            if isinstance(monitor, monitoring.ScreeningMonitor):
                threading.Thread(target=warm, args=(monitor,), name="screening-index",
                                 daemon=True).start()

    def start_webhook_worker(self) -> None:
        """Deliveries of organisations' webhooks (needs neither the node nor keys)."""
        if self.webhook_worker is None:
            self.webhook_worker = WebhookWorker(self.deps)
        if not self.webhook_worker.running:
            self.webhook_worker.start()

    def start_retention_worker(self) -> None:
        """The retention job's daily report to the audit trail (it never purges)."""
        if self.retention_worker is None:
            self.retention_worker = RetentionWorker(self.deps)
        if not self.retention_worker.running:
            self.retention_worker.start()

    def start_review_worker(self) -> None:
        """Opens due KYC re-reviews (services/reviews.py); any number of processes may."""
        if self.review_worker is None:
            self.review_worker = ReviewWorker(self.deps)
        if not self.review_worker.running:
            self.review_worker.start()

    def start_workers(self, *, local: bool = True, chain: bool = True) -> bool:
        """Starts the workers. `local`: rails and webhooks (they keep in-memory state, such
        as the simulated bank's, so they live in the API process). `chain`: the outbox worker
        (all on-chain work, adapters/outbox_worker.py), which needs the issuer and operator
        key files in the settings; without them it does not start and chain work stays
        queued (development without a network). One deployment runs it exactly once.
        Returns whether it runs."""
        if local:
            self.start_rail_worker()
            self.start_webhook_worker()
            self.start_review_worker()
            self.warm_monitors()
            self.start_retention_worker()
            if self.case_sla_worker is None:  # compliance cases' escalations
                self.case_sla_worker = CaseSlaWorker(self.deps)
                self.case_sla_worker.start()
            if self.collections_worker is None:  # payment requests' reminders
                self.collections_worker = CollectionsWorker(self.deps)
                self.collections_worker.start()
            if self.approval_worker is None:  # approvals past their time (issue 17)
                self.approval_worker = ApprovalExpiryWorker(self.deps)
                self.approval_worker.start()
        if not chain:
            return False
        if self.worker is not None and self.worker.running:
            return True
        settings = self.settings
        if settings.issuer_key is None or settings.operator_key is None or not settings.node_rpc:
            log.info("outbox worker not started: no issuer/operator key or node configured; "
                     "chain work stays queued")
            return False
        signers = {Signer.ISSUER: load_system_key(settings.issuer_key),
                   Signer.OPERATOR: load_system_key(settings.operator_key)}
        ledger = LedgerClient(settings.node_rpc, token=settings.node_rpc_token)
        try:
            ledger.status()
        except PlatformError as exc:
            ledger.close()
            raise ConfigError(f"cannot reach the node at {settings.node_rpc}: "
                              f"{exc.message}") from None
        events = EventStream(settings.node_rpc, token=settings.node_rpc_token)
        self.worker = OutboxWorker(self.deps, ledger, signers, events=events)
        self.worker.start()
        return True

    def stop_workers(self) -> None:
        if self.retention_worker is not None:
            self.retention_worker.stop()
            self.retention_worker = None
        if self.review_worker is not None:
            self.review_worker.stop()
            self.review_worker = None
        if self.case_sla_worker is not None:
            self.case_sla_worker.stop()
            self.case_sla_worker = None
        if self.aml_catch_up is not None:
            self.aml_catch_up.stop()
            self.aml_catch_up = None
        if self.collections_worker is not None:
            self.collections_worker.stop()
            self.collections_worker = None
        if self.approval_worker is not None:
            self.approval_worker.stop()
            self.approval_worker = None
        if self.webhook_worker is not None:
            self.webhook_worker.close()
            self.webhook_worker = None
        if self.rail_worker is not None:
            self.rail_worker.stop()
            self.rail_worker = None
        if self.worker is not None:
            self.worker.stop()
            node = self.worker.node
            if isinstance(node, LedgerClient):
                node.close()
            self.worker = None

    def close(self) -> None:
        self.stop_workers()
        for monitor in self.deps.monitors:
            if isinstance(monitor, aml_window.AmlWindow):
                monitor.close()  # its rebuild reads the store: done before it closes
        ledger = self.deps.ledger
        if isinstance(ledger, LedgerClient):
            ledger.close()
        self.engine.dispose()


def load_system_key(path: Path) -> KeyPair:
    """A system signing key from its corridor-key-v1 file: kept in memory, never stored in
    the database, never logged."""
    try:
        return keypair_from_keyfile_json(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read the key file {path}: {exc.strerror}") from None
    except DecodeError as exc:
        raise ConfigError(f"{path} is not a usable key file: {exc.message}") from None


def load_keyring(settings: Settings) -> Keyring:
    path = settings.keyring_path
    if path.exists():
        return Keyring.load(path)
    if settings.production:
        raise ConfigError(f"production needs a master keyring at {path} (corridor platform keys)")
    ring = Keyring.generate(development=True)
    ring.save(path)
    return ring


def create_private(settings: Settings) -> None:
    """Creates the data directory (0700) and the SQLite database file (0600) if missing;
    SQLite gives its -wal and -shm files the database file's mode. The keyring is written
    0600 (adapters/vault.py). Existing paths are left as they are: production refuses to
    start if they are open to others (config.permission_problems)."""
    if not settings.data_dir.exists():
        settings.data_dir.mkdir(mode=0o700, parents=True)
    db = sqlite_path(settings)
    if db is not None and not db.exists():
        db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


RAIL_SECRET_BYTES = 32


def with_rail_secret(settings: Settings) -> Settings:
    """The settings with the rail webhook secret filled in: when none is configured
    (development; production refuses to start without one), the secret generated at the
    first start, kept in the data dir readable by its owner only (0600), so it is never a
    value known to everyone."""
    if settings.rail_webhook_secret:
        return settings
    path = settings.data_dir / RAIL_WEBHOOK_SECRET_FILE
    if not path.exists():
        # Written whole under a temporary name, then linked into place: processes starting
        # together agree on one secret, and none reads a half-written file.
        secret = secrets.token_urlsafe(RAIL_SECRET_BYTES)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secret + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process was first: its secret stands
        finally:
            tmp.unlink()
    secret = path.read_text().strip()
    if len(secret) < RAIL_SECRET_BYTES:
        raise ConfigError(f"{path} holds no usable rail webhook secret")
    return dataclasses.replace(settings, rail_webhook_secret=secret)


class FromSettings(enum.Enum):
    """A port `build` makes from the settings when the caller gives none."""

    NODE = "node"


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    rand: Randomness | None = None,
    keygen: KeyGen | None = None,
    ledger: LedgerNode | FromSettings | None = FromSettings.NODE,
    rates: RateSource | None = None,
    chain: ChainReader | FromSettings | None = FromSettings.NODE,
) -> Platform:
    """Opens (and migrates) the database and wires every port. Refuses unsafe production.
    A port given (a test's fake) replaces the adapter chosen here; `ledger` None: no node
    (balances from the rails' records), by default a client of the settings' node; `chain`
(the explorer's reads) by default that same client."""
    create_private(settings)
    keyring = load_keyring(settings)
    problems = production_problems(settings, keyring_is_development=keyring.development)
    if problems:
        raise ConfigError("refusing to start in production: " + "; ".join(problems))
    settings = with_rail_secret(settings)
    try:  # the compliance cases' SLA setting (domain/cases.py)
        cases_domain.parse_policy(settings.case_sla)
    except ValueError as exc:
        raise ConfigError(f"CORRIDOR_CASE_SLA: {exc}") from None
    engine = make_engine(settings.db_url, pool_max=settings.db_pool_max)
    schema.upgrade(engine)
    clock = clock or SystemClock()
    vault = EnvelopeVault(keyring)
    committer = (GroupCommitter(lambda: SqlUnitOfWork(engine, clock))
                 if engine.dialect.name == "sqlite" else None)
    if ledger is FromSettings.NODE:
        ledger = (LedgerClient(settings.node_rpc, timeout_s=2.0, token=settings.node_rpc_token)
                  if settings.node_rpc else None)
    if chain is FromSettings.NODE:
        chain = ledger if isinstance(ledger, LedgerClient) else None
    sim = SimBank(settings.rail_webhook_secret.encode(), clock)
    deps = Deps(
        uow=lambda: SqlUnitOfWork(engine, clock),
        read_uow=lambda: SqlUnitOfWork(engine, clock, read_only=True),
        group_write=committer.run if committer is not None else None,
        clock=clock,
        rand=rand or SystemRandomness(),
        hasher=Argon2Hasher(fast_for_tests=settings.fast_password_hashing),
        sealer=vault,
        files=EncryptedFileStore(settings.data_dir / "files", vault),
        settings=settings,
        keygen=keygen or SystemKeyGen(),
        history=SqlHistory(),
        rates=rates or StaticRates(),  # development rates; production wires a feed
        fx_terms=fx.Terms(),
        ledger=ledger,
        chain=chain,
        snapshots=funds.Snapshots(),  # balances read a moment ago
        rails={sim.name: sim},
        handlers=HANDLERS,
    )
    deps = dataclasses.replace(deps, monitors=monitors_of(deps))
    sim.deliver = in_process(deps)  # its events reach the platform through these deps
    bank_details.seal_legacy(deps)  # rows from before account numbers were sealed
    return Platform(settings, engine, deps, vault)

