"""The site's pages on a demo data set: one registry of every page (`PAGES`) that the
accessibility test (tests/web/test_quality.py: axe-core in Chromium, both languages, 375 px)
and `corridor bench web` (server time per page) both walk, and the data they show.

The demo data is made through the platform's own services, as people would make it:
customers register and verify, submit KYC that a compliance officer accepts, ask for
deposits whose bank transfers arrive, pay each other (same currency and exchanged, some
credited, one still moving, one refused by the chain), withdraw, and ask for a refund.
Only the chain's part is played here (`DemoLedger` answers balances; the outcome of each
transfer is recorded as the outbox worker would, `settlement.record_outcome`).

Adding a page is one line in `PAGES`: its name, its path (`{placeholders}` are filled from
`Demo.ids`), and who must be signed in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path

from corridor.bench.demo_chain import ALICE, FakeChain, addr
from corridor.platform import bootstrap
from corridor.platform.config import Settings
from corridor.platform.domain import identity as idn
from corridor.platform.domain.authenticity import Purpose
from corridor.platform.domain.collections import NewRequest
from corridor.platform.domain.compliance import Case
from corridor.platform.domain.identity import User
from corridor.platform.domain.kyc import Decision
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.principal import Origin, Principal
from corridor.platform.domain.rails import Deposit
from corridor.platform.domain.roles import StaffRole
from corridor.platform.domain.screening.entries import ListFormat
from corridor.platform.domain.transfers import Transfer, TransferStatus
from corridor.platform.domain.wallets import JobStatus, LedgerJob, Wallet
from corridor.platform.services import (
    authenticity,
    codes,
    collections,
    deposits,
    kyc,
    merchants,
    monitoring,
    orgs,
    payments,
    quotes,
    refunds,
    registration,
    reports,
    screening,
    sessions,
    settlement,
    staff,
    wallets,
    withdrawals,
)
from corridor.platform.services.ledger_port import (
    BlockOutcomes,
    ChainAccount,
    ChainHolding,
    ChainStatus,
    Refusal,
    TxInclusion,
    TxState,
    TxStatus,
)
from corridor.platform.services.payments import PaymentRequest
from corridor.platform.services.screening import ListFiles

ANONYMOUS = "anonymous"
CUSTOMER = "customer"
# A page's `who` may also be any staff role (StaffRole's values): the demo has a member of
# staff in each. The ones the pages below use:
COMPLIANCE = "compliance_officer"
SUPPORT = "support_agent"
ADMIN = "admin"
OPERATOR = "operator"
AUDITOR = "auditor"
REGULATOR = "regulator"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class WebPage:
    """One page of the site as the quality checks visit it (a GET)."""

    name: str
    path: str  # `{name}` placeholders are filled from `Demo.ids`
    who: str = ANONYMOUS  # ANONYMOUS, CUSTOMER or a staff role
    needs: str = ""  # what of the demo data it shows (for the reader)
    status: int = 200  # the answer expected


# Every page a person can land on. One line per page; keep them in the nav's order.
PAGES: tuple[WebPage, ...] = (
    WebPage(name="front", path="/"),
    WebPage(name="signin", path="/signin"),
    WebPage(name="signup", path="/signup"),
    WebPage(name="verify", path="/verify"),
    WebPage(name="recover", path="/recover"),
    WebPage(name="help-security", path="/help/security"),
    WebPage(name="explorer", path="/explorer"),
    WebPage(name="explorer-block", path="/explorer/block/{block_height}",
            needs="a block with payments"),
    WebPage(name="explorer-tx", path="/explorer/tx/{tx_id}", needs="a committed payment"),
    WebPage(name="explorer-account", path="/explorer/account/{chain_address}",
            needs="an account with balances"),
    WebPage(name="explorer-validators", path="/explorer/validators"),
    WebPage(name="explorer-unknown", path="/explorer/block/999", status=404),
    WebPage(name="not-found", path="/no-such-page", status=404),
    WebPage(name="dashboard", path="/dashboard", who=CUSTOMER, needs="wallet balances"),
    WebPage(name="pay", path="/pay", who=CUSTOMER),
    WebPage(name="payments", path="/payments", who=CUSTOMER, needs="payments"),
    WebPage(name="payment", path="/payments/{payment_id}", who=CUSTOMER,
            needs="a credited exchanged payment"),
    WebPage(name="payment-moving", path="/payments/{moving_payment_id}", who=CUSTOMER,
            needs="a submitted payment"),
    WebPage(name="deposits", path="/deposits", who=CUSTOMER, needs="deposits"),
    WebPage(name="deposit", path="/deposits/{deposit_id}", who=CUSTOMER,
            needs="a credited deposit"),
    WebPage(name="withdrawals", path="/withdrawals", who=CUSTOMER, needs="withdrawals"),
    WebPage(name="withdrawal", path="/withdrawals/{withdrawal_id}", who=CUSTOMER,
            needs="a withdrawal"),
    WebPage(name="history", path="/history", who=CUSTOMER, needs="every kind of row"),
    WebPage(name="history-print", path="/history/print", who=CUSTOMER,
            needs="every kind of row"),
    WebPage(name="verification", path="/verification", who=CUSTOMER, needs="accepted KYC"),
    WebPage(name="security", path="/security", who=CUSTOMER),
    WebPage(name="notifications", path="/notifications", who=CUSTOMER,
            needs="payments and deposits notified"),
    WebPage(name="refunds", path="/refunds", who=CUSTOMER, needs="a refund requested"),
    WebPage(name="refund", path="/refunds/{refund_id}", who=CUSTOMER,
            needs="a refund requested"),
    WebPage(name="refund-request", path="/payments/{refundable_payment_id}/refund",
            who=CUSTOMER, needs="a credited payment"),
    WebPage(name="orgs", path="/org", who=CUSTOMER, needs="an organisation"),
    WebPage(name="org", path="/org/{org_id}", who=CUSTOMER, needs="an organisation"),
    WebPage(name="org-departments", path="/org/{org_id}/departments", who=CUSTOMER,
            needs="a department"),
    WebPage(name="org-members", path="/org/{org_id}/members", who=CUSTOMER,
            needs="two members"),
    WebPage(name="org-wallets", path="/org/{org_id}/wallets", who=CUSTOMER),
    WebPage(name="org-webhooks", path="/org/{org_id}/webhooks", who=CUSTOMER),
    WebPage(name="org-audit", path="/org/{org_id}/audit", who=CUSTOMER,
            needs="the organisation's changes"),
    WebPage(name="org-reports", path="/org/{org_id}/reports", who=CUSTOMER),
    WebPage(name="org-reports-payments", path="/org/{org_id}/reports/payments", who=CUSTOMER),
    WebPage(name="org-reports-fees", path="/org/{org_id}/reports/fees", who=CUSTOMER),
    WebPage(name="org-reports-forecast", path="/org/{org_id}/reports/forecast", who=CUSTOMER),
    WebPage(name="requests", path="/requests", who=CUSTOMER,
            needs="a request to and a request by the customer"),
    WebPage(name="request-payer", path="/requests/{request_id}", who=CUSTOMER,
            needs="an open request to the customer"),
    WebPage(name="request-link", path="/requests/{link_request_id}", who=CUSTOMER,
            needs="the customer's open link request (its QR code)"),
    WebPage(name="checkout", path="/checkout/{checkout_token}", needs="a link request"),
    WebPage(name="merchant", path="/org/{org_id}/merchant", who=CUSTOMER,
            needs="a merchant account"),
    WebPage(name="merchant-settlement", path="/org/{org_id}/merchant/settlement?day={today}",
            who=CUSTOMER, needs="a merchant account"),
    WebPage(name="staff", path="/staff", who=COMPLIANCE),
    WebPage(name="staff-kyc-queue", path="/staff/kyc", who=COMPLIANCE,
            needs="a KYC record waiting"),
    WebPage(name="staff-kyc", path="/staff/kyc/{kyc_record_id}", who=COMPLIANCE,
            needs="a KYC record waiting"),
    WebPage(name="staff-refunds", path="/staff/refunds", who=SUPPORT,
            needs="a refund requested"),
    WebPage(name="staff-refund", path="/staff/refunds/{refund_id}", who=SUPPORT,
            needs="a refund requested"),
    WebPage(name="staff-dashboard", path="/staff/dashboard", who=OPERATOR,
            needs="payments over days"),
    WebPage(name="staff-audit", path="/staff/audit", who=AUDITOR, needs="audit entries"),
    WebPage(name="staff-customers", path="/staff/customers?q=ann%40example.com", who=SUPPORT,
            needs="customers"),
    WebPage(name="staff-customer", path="/staff/customers/{customer_id}", who=SUPPORT,
            needs="a customer with money"),
    WebPage(name="staff-admin", path="/staff/admin", who=ADMIN, needs="staff in every role"),
    WebPage(name="staff-compliance", path="/staff/compliance", who=COMPLIANCE,
            needs="a case"),
    WebPage(name="staff-case", path="/staff/compliance/cases/{case_id}", who=COMPLIANCE,
            needs="a screening hit in a case"),
    WebPage(name="staff-reports", path="/staff/reports", who=COMPLIANCE,
            needs="a report drafted"),
    WebPage(name="staff-report", path="/staff/reports/{report_id}", who=COMPLIANCE,
            needs="a draft report with its narrative"),
    WebPage(name="staff-report-print", path="/staff/reports/{report_id}/print",
            who=COMPLIANCE, needs="a draft report with its narrative"),
    WebPage(name="staff-case-held", path="/staff/compliance/cases/{held_case_id}",
            who=COMPLIANCE, needs="a case holding a withdrawal"),
    WebPage(name="staff-customer-freeze", path="/staff/customers/{customer_id}",
            who=COMPLIANCE, needs="a customer (the freeze form)"),
    WebPage(name="regulator-overview", path="/regulator/overview", who=REGULATOR,
            needs="a case"),
    WebPage(name="regulator-payments", path="/regulator/payments", who=REGULATOR,
            needs="payments"),
    WebPage(name="regulator-payment", path="/regulator/payments/{payment_id}",
            who=REGULATOR, needs="a credited payment"),
    WebPage(name="regulator-alerts", path="/regulator/alerts", who=REGULATOR,
            needs="a screening alert"),
    WebPage(name="regulator-cases", path="/regulator/cases", who=REGULATOR, needs="a case"),
    WebPage(name="regulator-case", path="/regulator/cases/{case_id}", who=REGULATOR,
            needs="a screening hit in a case"),
    WebPage(name="regulator-reports", path="/regulator/reports", who=REGULATOR,
            needs="filed reports (none in the demo: the list's filters)"),
    WebPage(name="regulator-audit", path="/regulator/audit", who=REGULATOR,
            needs="audit entries"),
    WebPage(name="regulator-feed", path="/regulator/feed", who=REGULATOR,
            needs="alerts and holds"),
    WebPage(name="payment-held", path="/payments/{documents_payment_id}", who=CUSTOMER,
            needs="a payment held for supporting documents, with travel-rule data"),
    WebPage(name="payment-documents", path="/payments/{documents_payment_id}/documents",
            who=CUSTOMER, needs="a payment held for supporting documents"),
    WebPage(name="staff-payment-review", path="/staff/compliance/payments/"
            "{documents_payment_id}", who=COMPLIANCE, needs="a document and travel-rule data"),
)


def path_of(page: WebPage, ids: dict[str, str]) -> str:
    return page.path.format(**ids)


# --- the chain's part --------------------------------------------------------------------

DEMO_CHAIN = "corridor-web-demo"
ISSUER = "cDEMOISSUER"


@dataclasses.dataclass
class DemoLedger:
    """The node as the demo's pages read it: balances kept here, set as the demo's
    transfers commit; every transaction is accepted and none has a proof to show."""

    balances: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)

    def status(self) -> ChainStatus:
        return ChainStatus(chain_id=DEMO_CHAIN, height=100, latest_time_ms=0)

    def account(self, address: str) -> ChainAccount | None:
        held = self.balances.get(address)
        if held is None:
            return None
        return ChainAccount(address=address, sequence=1, holdings=tuple(
            ChainHolding(code=code, issuer=ISSUER, balance_minor=minor, authorised=True,
                         frozen=False) for code, minor in sorted(held.items())))

    def submit(self, tx_hex: str) -> Refusal | None:
        return None

    def submit_many(self, txs_hex: Sequence[str]) -> list[Refusal | None]:
        return [None for _ in txs_hex]

    def block(self, height: int) -> BlockOutcomes | None:
        return None

    def tx_state(self, tx_id: str) -> TxState:
        return TxState(status=TxStatus.UNKNOWN)

    def tx_proof(self, tx_id: str) -> TxInclusion | None:
        return None

    def add(self, address: str, code: str, minor: int) -> None:
        held = self.balances.setdefault(address, {})
        held[code] = held.get(code, 0) + minor


# --- the demo data -------------------------------------------------------------------------

PASSWORD = "demo pages mango tractor 42"
ORIGIN = Origin(ip="127.0.0.1", user_agent="corridor web demo")
JPEG = b"\xff\xd8\xff\xe0" + b"\x00JFIF" + bytes(200)
# Payments between the two customers beyond the few above: the history's first page
# (25 rows) fills and it has an older page, as a customer's after a few months.
HISTORY_EXTRA_PAYMENTS = 40


@dataclasses.dataclass
class Demo:
    """The platform holding the demo data, a session token for each kind of visitor, and
    the ids the registry's paths name."""

    platform: bootstrap.Platform
    ledger: DemoLedger
    tokens: dict[str, str]  # who -> session token
    ids: dict[str, str]

    def path(self, page: WebPage) -> str:
        return path_of(page, self.ids)


def demo_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, fast_password_hashing=True)


def build(data_dir: Path) -> Demo:
    """A fresh platform in `data_dir` holding the demo data."""
    ledger = DemoLedger()
    platform = bootstrap.build(demo_settings(data_dir), ledger=ledger, chain=FakeChain())
    try:
        return _seed(platform, ledger)
    except BaseException:
        platform.close()
        raise


class _Seeder:
    def __init__(self, platform: bootstrap.Platform, ledger: DemoLedger) -> None:
        self.deps, self.ledger = platform.deps, ledger
        self.height = 10

    def key(self) -> str:
        return self.deps.rand.token()

    def principal(self, token: str) -> Principal:
        return sessions.authenticate(self.deps, token, ORIGIN)

    def session(self, email: str) -> str:
        with self.deps.uow() as uow:
            user = uow.repo(User).one(email=idn.normalise_email(email))
            assert user is not None
            token = sessions.open_session(self.deps, uow, user, ORIGIN)
            uow.commit()
        return token

    def customer(self, name: str, email: str) -> str:
        """Registers and verifies (with the code sent), then signs in: a session token."""
        registration.register(self.deps, registration.Register(
            name=name, email=email, phone=None, password=PASSWORD, accept_terms=True,
            terms_version=idn.TERMS_VERSION, privacy_version=idn.PRIVACY_VERSION), ORIGIN)
        notice = codes.outbox(self.deps, email, 1)[0]
        code = next(w for w in notice.body.split() if w.strip(".,:").isdigit()
                    and len(w.strip(".,:")) == 6).strip(".,:")
        registration.verify(self.deps, email, code, ORIGIN)
        return self.session(email)

    def staff(self, role: str) -> str:
        email = f"{role.replace('_', '.')}@corridor.example"
        staff.create_staff(self.deps, None, email=email, name=f"Demo {role}",
                           password=PASSWORD, role=role)
        return self.session(email)

    def kyc(self, token: str, first: str, last: str, email: str) -> str:
        """A complete tier-2 KYC submission with its two documents; the record's id."""
        who = self.principal(token)
        front = kyc.upload_file(self.deps, who, JPEG, "image/jpeg").id
        proof = kyc.upload_file(self.deps, who, JPEG, "image/jpeg").id
        view = kyc.put_customer(self.deps, who, {
            "first_name": first, "last_name": last, "birth_date": "1988-04-12",
            "address_country_code": "GB", "email_address": email,
            "address": "1 Demo Street", "city": "London", "postal_code": "N1 9GU",
            "id_type": "passport", "id_country_code": "GB", "id_number": "123456789",
            "id_expiration_date": "2031-01-01", "photo_id_front": front,
            "photo_proof_residence": proof}, tier=2)
        assert view.record is not None
        return view.record.id

    def accept(self, officer: str, record_id: str) -> None:
        kyc.decide(self.deps, self.principal(officer), record_id,
                   Decision(outcome="accept", reason="documents match", tier=2, risk="low"),
                   self.key())
        self.chain_jobs()

    def chain_jobs(self) -> None:
        """The chain opens the wallets and grants the authorisations asked for."""
        with self.deps.uow() as uow:
            for job in uow.repo(LedgerJob).many():
                if job.status != JobStatus.DONE:
                    wallets.record_done(self.deps, uow, job)
            uow.commit()

    def commit_transfers(self, *, refuse: str | None = None) -> None:
        """Every queued transfer commits on chain (the balances follow), except the one
        named by `refuse`, which the chain refuses."""
        with self.deps.reader() as uow:
            queued = [t for t in uow.repo(Transfer).many()
                      if t.status not in (TransferStatus.COMMITTED, TransferStatus.REJECTED)]
            addresses = {w.id: w.address for w in uow.repo(Wallet).many()}
        for t in queued:
            self.height += 1
            tx_id = hashlib.sha256(f"demo-tx-{t.id}".encode()).hexdigest()
            if t.id == refuse:
                settlement.record_outcome(self.deps, t.id, committed=False, tx_id=tx_id,
                                          height=self.height, code="INSUFFICIENT_FUNDS",
                                          message="the demo chain refused it")
                continue
            for leg in t.legs:
                for ref, sign in ((leg.source, -1), (leg.destination, 1)):
                    address = addresses.get(ref.removeprefix("wallet:"))
                    if address is not None:
                        self.ledger.add(address, leg.code, sign * leg.amount_minor)
            settlement.record_outcome(self.deps, t.id, committed=True, tx_id=tx_id,
                                      height=self.height)

    def deposit(self, token: str, currency: str, amount: str, arrive: bool) -> str:
        d = deposits.create(self.deps, self.principal(token), currency=currency,
                            amount=amount, idempotency_key=self.key())
        if arrive:
            with self.deps.uow() as uow:
                deposits.funds_received(self.deps, uow, d.rail, {
                    "reference": d.reference, "amount_minor": d.amount_minor,
                    "currency": d.currency, "rail_ref": f"DEMO-{d.reference}"})
                uow.commit()
            self.commit_transfers()
        return d.id

    def pay(self, token: str, to_email: str, send: str, receive: str, amount: str,
            memo: str = "") -> Payment:
        who = self.principal(token)
        recipient = {"type": "user", "email": to_email}
        if send == receive:
            req = PaymentRequest(recipient=recipient, asset=send, amount=amount, memo=memo)
        else:
            quote = quotes.create(self.deps, who, sell_asset=send, buy_asset=receive,
                                  sell_amount=amount, idempotency_key=self.key())
            req = PaymentRequest(recipient=recipient, quote_id=quote.id, memo=memo)
        payment, _new = payments.create(self.deps, who, req, self.key())
        return payment


def _seed(platform: bootstrap.Platform, ledger: DemoLedger) -> Demo:
    s = _Seeder(platform, ledger)
    staff_tokens = {role.value: s.staff(role.value) for role in StaffRole}  # any page's role
    officer = staff_tokens[COMPLIANCE]
    ann = s.customer("Ann Example", "ann@example.com")
    bo = s.customer("Bo Wang", "bo@example.com")
    cai = s.customer("Cai Lin", "cai@example.com")
    s.accept(officer, s.kyc(ann, "Ann", "Example", "ann@example.com"))
    s.accept(officer, s.kyc(bo, "Bo", "Wang", "bo@example.com"))
    waiting = s.kyc(cai, "Cai", "Lin", "cai@example.com")  # left in the review queue
    ids: dict[str, str] = {"kyc_record_id": waiting}
    ids["deposit_id"] = s.deposit(ann, "USD", "5000.00", arrive=True)
    s.deposit(ann, "EUR", "800.00", arrive=True)
    s.deposit(bo, "CNY", "20000.00", arrive=True)
    s.deposit(ann, "USD", "120.00", arrive=False)  # awaiting the bank transfer
    credited = s.pay(ann, "bo@example.com", "USD", "CNY", "250.00", memo="rent")
    s.pay(ann, "bo@example.com", "EUR", "EUR", "40.00", memo="books")
    s.pay(bo, "ann@example.com", "CNY", "USD", "700.00", memo="dinner")
    for i in range(HISTORY_EXTRA_PAYMENTS):  # more rows than a page of the history shows
        s.pay(ann if i % 2 else bo, "bo@example.com" if i % 2 else "ann@example.com",
              "USD" if i % 2 else "CNY", "USD" if i % 2 else "CNY", f"{i + 1}.25",
              memo=f"demo {i + 1}")
    s.commit_transfers()
    refused = s.pay(ann, "bo@example.com", "USD", "USD", "15.00")
    s.commit_transfers(refuse=refused.transfer_id)
    ids["payment_id"] = credited.id
    w = withdrawals.create(s.deps, s.principal(ann), currency="USD", amount="300.00",
                           bank={"name": "Ann Example", "country": "GB",
                                 "account": "GB82WEST12345698765432",
                                 "bank_code": "WESTGB2L"},
                           idempotency_key=s.key())
    ids["withdrawal_id"] = w.id
    s.commit_transfers()
    refund = refunds.request(s.deps, s.principal(ann), credited.id, kind="wrong_payee",
                             reason="I sent it to the wrong person", evidence=[],
                             idempotency_key=s.key())
    ids["refund_id"] = refund.id
    ids["refundable_payment_id"] = s.pay(ann, "bo@example.com", "USD", "USD", "12.00").id
    s.commit_transfers()
    ids["moving_payment_id"] = s.pay(ann, "bo@example.com", "USD", "CNY", "20.00").id
    ids.update(_org(s, ann))
    ids.update(_collections(s, ann, bo, ids["org_id"]))
    ids["case_id"] = _listed_customer(s)
    ids["report_id"] = _report(s, officer, ids["case_id"])
    ids["held_case_id"] = _held_withdrawal(s, ann)
    ids["documents_payment_id"] = _held_for_documents(s, ann)
    ids["customer_id"] = s.principal(ann).user_id
    chain = FakeChain()  # what build() gives the platform: the same values
    ids["block_height"] = "2"
    ids["tx_id"] = chain.tx_ids(2)[1]
    ids["chain_address"] = addr(ALICE)
    tokens = {CUSTOMER: ann, **staff_tokens}
    return Demo(platform=platform, ledger=ledger, tokens=tokens, ids=ids)


# A sanctions list of one entry, in the Consolidated Screening List's format.
DEMO_LIST = ListFiles(file_name="consolidated.csv", main=(
    b"_id,source,name,type,alt_names,dates_of_birth,nationalities,programs\n"
    b'"demo-1","OFAC","KHOROSHEV, Dmitry Yuryevich","Individual","LOCKBITSUPP",1993-04-17,'
    b'RU,"CYBER2"\n'))


def _listed_customer(s: _Seeder) -> str:
    """A customer bearing a listed name submits identity verification: screened at
    submission, an alert in a compliance case (the case's id)."""
    screening.import_list(s.deps, None, DEMO_LIST, ListFormat.CSL)
    for monitor in s.deps.monitors:  # the index may be a second stale: ask for the lists now
        if isinstance(monitor, monitoring.ScreeningMonitor):
            monitor.refresh()
    token = s.customer("Dmitry Khoroshev", "dk@example.com")
    s.kyc(token, "Dmitry", "Khoroshev", "dk@example.com")
    who = s.principal(token)
    with s.deps.reader() as uow:
        case = uow.repo(Case).one(subject_id=who.user_id)
    assert case is not None, "the listed name raised no case"
    return case.id


def _report(s: _Seeder, officer: str, case_id: str) -> str:
    """A suspicious-activity report drafted from the case, with its narrative."""
    who = s.principal(officer)
    r = reports.draft(s.deps, who, case_id, "SAR", s.key())
    reports.edit(s.deps, who, r.id, narrative="The customer's name matches a listed person "
                 "(US CSL, CYBER2) at identity verification.", kind=None,
                 idempotency_key=s.key())
    return r.id


def _held_withdrawal(s: _Seeder, owner: str) -> str:
    """The customer withdraws to a bank beneficiary bearing the listed name: held, an
    alert in the customer's case (the case's id: its page lists the held withdrawal)."""
    who = s.principal(owner)
    withdrawals.create(s.deps, who, currency="USD", amount="5.00",
                       bank={"name": "Dmitry Khoroshev", "country": "GB",
                             "account": "GB33BUKB20201555555555", "bank_code": "BUKBGB22"},
                       idempotency_key=s.key())
    with s.deps.reader() as uow:
        case = uow.repo(Case).one(subject_id=who.user_id, state="open")
    assert case is not None, "the listed beneficiary raised no case"
    return case.id


def _held_for_documents(s: _Seeder, token: str) -> str:
    """A payment for goods to a bank in China, above the authenticity threshold: held for
    supporting documents, with an invoice uploaded (the payment's id)."""
    s.deposit(token, "USD", "6000.00", arrive=True)
    who = s.principal(token)
    req = PaymentRequest(recipient={"type": "external", "name": "Shenzhen Demo Parts Co",
                                    "country": "CN", "account_number": "6222020200112233",
                                    "bank_code": "102100099996"},
                         asset="USD", amount="5500.00", memo="order 2026-118",
                         purpose=Purpose.GDDS)
    payment, _new = payments.create(s.deps, who, req, s.key())
    assert payment.status == "on_hold", payment.status
    authenticity.upload(s.deps, who, payment.id, kind="invoice", data=JPEG,
                        content_type="image/jpeg")
    return payment.id


def _org(s: _Seeder, owner: str) -> dict[str, str]:
    """An organisation of the customer's, with a department and a second member."""
    who = s.principal(owner)
    org = orgs.create_org(s.deps, who, name="Example Trading Ltd", country="GB",
                          idempotency_key=s.key())
    department = orgs.create_department(s.deps, who, org.id, name="Finance",
                                        idempotency_key=s.key())
    orgs.add_member(s.deps, who, org.id, email="bo@example.com", role="approver",
                    department_id=department.id, idempotency_key=s.key())
    return {"org_id": org.id}


def _collections(s: _Seeder, ann: str, bo: str, org_id: str) -> dict[str, str]:
    """Bo asks Ann for money; Ann makes a link anyone may pay; her organisation opens a
    merchant account (issue 17)."""
    day = s.deps.clock.now_ms() // 86_400_000
    due = dt.datetime.fromtimestamp((day + 7) * 86_400, dt.UTC).date().isoformat()
    asked, _ = collections.create(s.deps, s.principal(bo), NewRequest(
        currency="CNY", amount="88.00", due_date=due, reference="BO-2026-7",
        description="Concert tickets", payer_email="ann@example.com"))
    link, _ = collections.create(s.deps, s.principal(ann), NewRequest(
        currency="USD", amount="45.00", due_date=due, reference="ANN-CLUB-1",
        description="Book club"), link=True)
    merchants.open_account(s.deps, s.principal(ann), org_id, "Example Trading Shop")
    today = dt.datetime.fromtimestamp(day * 86_400, dt.UTC).date().isoformat()
    return {"request_id": asked.id, "link_request_id": link.id,
            "checkout_token": link.link_token, "today": today}


def check(demo: Demo) -> None:
    """The demo data is what the registry's pages need (a broken seed stops here)."""
    with demo.platform.deps.reader() as uow:
        assert uow.repo(Payment).get(demo.ids["payment_id"]) is not None
        assert uow.repo(Deposit).get(demo.ids["deposit_id"]) is not None
    for page in PAGES:
        assert page.who == ANONYMOUS or page.who in demo.tokens, page
        demo.path(page)  # every placeholder has an id
