"""Batch payments (issue 17): upload, validation, reservation, approval and execution.

- `upload`: an organisation member with pay.initiate sends a CSV or pain.001 file with an
  Idempotency-Key (the same key and file: the same batch; another file: refused). The
  file is read (domain/batches.py, domain/iso20022/), every item checked up front the way
  a payment is (amount and currency, recipient shape and IBAN/BIC via domain/bank.py,
  recipient found and able to receive, duplicates, the tier's currencies and limits) and
  every problem recorded per row with a stable code. A batch with no problem has its
  total per currency (fees included) reserved by one held transfer (`Purpose.BATCH`,
  never signed: its debit counts in funds.available_minor like a held payment's).
- Approval: at upload the organisation's approval policy routes the whole batch (its
  total in US dollars, several recipients: services/approvals.py): blocked, it is refused;
  sent to approval, each level's approvers vote through `approve` / `reject` (or the
  approvals queue) and the last level's vote runs it (`SUBJECT`, in the vote's unit of
  work); allowed, one member with pay.approve who is not the uploader approves it.
- Execution (in the approval's unit of work): the reservation ends and, in its place,
  each item becomes a payment (services/payments.py's record, screened by the same
  monitors). Items the monitors let through are settled in as few ledger transactions
  as the ledger's operation limit allows (`domain/batches.chunks`: one debit of the
  payer per transaction, then one credit per item); an item held by compliance gets a
  held transfer of its own (an officer releases or returns it: services/compliance.py),
  so it never blocks the rest. Exactly once: every item's payment has the idempotency
  key `batch:<batch>:<row>` (unique per owner) and the item's `payment_id` is unique;
  the outbox carries each transaction exactly once across restarts (domain/transfers.py).
- `on_transfer` (bootstrap.HANDLERS for Purpose.BATCH): a chunk's outcome settles each
  of its payments as payments.settle does for a single one.
- Reports: per-item status (each item follows its payment), pain.002, a result CSV.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from corridor.platform.domain import batches as dom
from corridor.platform.domain import fx, idempotency, money
from corridor.platform.domain import kyc as kyc_domain
from corridor.platform.domain.approvals import OPEN_STATES, Action, Approval, Vote
from corridor.platform.domain.batches import (
    Batch,
    BatchItem,
    BatchStatus,
    Code,
    ItemStatus,
    Problem,
    RawItem,
)
from corridor.platform.domain.errors import Err, PlatformError, Problems
from corridor.platform.domain.iso20022 import pain001
from corridor.platform.domain.monitoring import Movement, MovementKind, Outcome, outcome_of
from corridor.platform.domain.payments import TRANSITIONS as payment_transitions
from corridor.platform.domain.payments import (
    Payment,
    PaymentKind,
    PaymentStatus,
    PaymentStep,
    RecipientType,
)
from corridor.platform.domain.payments import moved as payment_moved
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm, UserKind
from corridor.platform.domain.transfers import (
    TREASURY,
    Leg,
    Purpose,
    Transfer,
    TransferStatus,
    wallet_ref,
)
from corridor.platform.domain.wallets import OwnerType, Wallet
from corridor.platform.domain.webhooks import EndpointStatus, WebhookEndpoint
from corridor.platform.services import (
    approvals,
    bank_details,
    funds,
    kyc,
    monitoring,
    payment_recipients,
    payments,
    rates,
    refunds,
    settlement,
    wallets,
    webhooks,
)
from corridor.platform.services.access import acting_owner
from corridor.platform.services.handlers import ApprovalSubject
from corridor.platform.services.ports import Deps, UnitOfWork

S = PaymentStatus
I = ItemStatus  # noqa: E741
RESERVATION_ENDED = "BATCH_RESERVATION_ENDED"
PENDING_MAX = 1_000  # batches of one organisation waiting for approval, counted per day
APPROVAL_KIND = "batch"  # domain/approvals.SubjectKind.BATCH


# --- upload and validation -------------------------------------------------------------


def read_file(data: bytes) -> dom.ParsedFile:
    """CSV or pain.001, told apart by the content (XML starts with '<')."""
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return pain001.read(data)
    return dom.parse_csv(data)


def upload(deps: Deps, who: Principal, org_id: str, data: bytes, file_name: str,
           idempotency_key: str | None) -> tuple[Batch, bool]:
    """Reads, validates and records a batch (and reserves its total when it has no
    problem); returns it and whether it is new."""
    problems = Problems()
    key = funds.check_key(idempotency_key, problems)
    idempotency.raise_if_any(problems)
    if len(data) > dom.FILE_BYTES_MAX:
        raise Err.TOO_LARGE.error(f"a batch file is at most {dom.FILE_BYTES_MAX} bytes")
    sha = hashlib.sha256(data).hexdigest()
    with deps.reader() as uow:
        owner = acting_owner(uow, who, org_id, Perm.PAY_INITIATE)
        existing = _replayed(uow, org_id, key, sha)
        if existing is not None:
            return existing, False
        wallet = payment_recipients.open_wallet(uow, *owner)
        if wallet is None:
            raise Err.NO_OPEN_WALLET.error()
        parsed = read_file(data)
        checked = _check_items(deps, uow, owner, wallet, parsed)
    batch_id = _new_id(deps)

    def write(uow: UnitOfWork) -> tuple[Batch, bool]:
        existing = _replayed(uow, org_id, key, sha)
        if existing is not None:
            return existing, False
        sender = payment_recipients.open_wallet(uow, *owner, for_update=True)
        if sender is None:
            raise Err.NO_OPEN_WALLET.error()
        file_problems = list(parsed.problems) or _funds_problems(deps, uow, sender, checked)
        batch = _record(deps, uow, who, org_id, batch_id, key, sha, file_name, parsed,
                        checked, file_problems, sender)
        return batch, True

    return deps.write(write)


def _replayed(uow: UnitOfWork, org_id: str, key: str, sha: str) -> Batch | None:
    existing = uow.repo(Batch).one(org_id=org_id, idempotency_key=key)
    if existing is not None and existing.file_sha256 != sha:
        raise Err.IDEMPOTENCY_KEY_REUSED.error()
    return existing


def _new_id(deps: Deps) -> str:
    day = dt.datetime.fromtimestamp(deps.clock.now_ms() // 1000, dt.UTC).strftime("%Y%m%d")
    return f"BAT{day}{deps.rand.digits(12)}"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Checked:
    """An item after its checks: priced when valid, its problems otherwise."""

    raw: RawItem
    amount_minor: int
    fee_minor: int
    recipient: payment_recipients.Recipient | None
    spec: dict[str, str]
    problems: tuple[Problem, ...]


_FIELD_CODES = {"recipient.iban": Code.IBAN_INVALID, "recipient.account_number":
                Code.IBAN_INVALID, "recipient.bank_code": Code.BIC_INVALID}


def _check_items(deps: Deps, uow: UnitOfWork, owner: tuple[str, str], wallet: Wallet,
                 parsed: dom.ParsedFile) -> list[Checked]:
    limits = kyc_domain.limits_for(kyc.tier_of(uow, *owner))
    terms = rates.terms(deps)
    seen_refs: dict[str, int] = {}
    seen_items: dict[str, int] = {}
    resolved: dict[tuple[str, str], tuple[payment_recipients.Recipient | None, Problem | None]]
    resolved = {}
    out = []
    for raw in parsed.items:
        found: list[Problem] = []

        def add(field: str, code: Code, message: str, row: int = raw.row,
                found: list[Problem] = found) -> None:
            found.append(Problem(row=row, field=field, code=code, message=message))

        if not raw.reference or len(raw.reference) > dom.REFERENCE_LEN_MAX or \
                not raw.reference.isprintable():
            add("reference", Code.REFERENCE_INVALID,
                f"1 to {dom.REFERENCE_LEN_MAX} printable characters")
        elif raw.reference in seen_refs:
            add("reference", Code.REFERENCE_DUPLICATE,
                f"the same reference as row {seen_refs[raw.reference]}")
        else:
            seen_refs[raw.reference] = raw.row
        if len(raw.memo) > dom.MEMO_LEN_MAX or not raw.memo.isprintable():
            add("memo", Code.MEMO_INVALID, f"at most {dom.MEMO_LEN_MAX} printable characters")
        amount = 0
        if not money.is_currency(raw.currency):
            add("currency", Code.CURRENCY_UNKNOWN, f"one of {', '.join(money.CURRENCIES)}")
        else:
            try:
                amount = money.parse_major(raw.amount, raw.currency)
            except PlatformError as exc:
                add("amount", Code.AMOUNT_INVALID, exc.message)
            if raw.currency not in limits.asset_codes:
                add("currency", Code.CURRENCY_NOT_ALLOWED,
                    f"the organisation's verification tier ({limits.tier}) does not allow "
                    f"{raw.currency}")
        shape = Problems()
        spec = payment_recipients.recipient_shape(raw.recipient, shape)
        for field, message in shape.fields.items():
            add(field, _FIELD_CODES.get(field, Code.RECIPIENT_INVALID), message)
        recipient = None
        if not shape and money.is_currency(raw.currency):
            cache_key = (json.dumps(spec, sort_keys=True), raw.currency)
            if cache_key not in resolved:
                resolved[cache_key] = _resolve(deps, uow, spec, raw.currency, wallet)
            recipient, problem = resolved[cache_key]
            if problem is not None:
                found.append(dataclasses.replace(problem, row=raw.row))
        fee = 0
        if amount and not found:
            priced = fx.for_buy(amount, raw.currency, raw.currency, money.rate("1"), terms)
            fee = priced.fee_minor
            usd = money.convert(priced.sell_minor, raw.currency, kyc_domain.REFERENCE_CURRENCY,
                                rates.mid(deps, raw.currency, kyc_domain.REFERENCE_CURRENCY),
                                up=True)
            if usd > limits.per_tx_minor:
                add("amount", Code.LIMIT_EXCEEDED, "above the per-transaction limit of "
                    f"{money.format_minor(limits.per_tx_minor, limits.currency)} "
                    f"{limits.currency}")
            same = json.dumps([spec, raw.currency, amount, raw.memo], sort_keys=True)
            if same in seen_items:
                add("row", Code.ITEM_DUPLICATE, "the same recipient, amount, currency and "
                    f"memo as row {seen_items[same]}")
            seen_items.setdefault(same, raw.row)
        out.append(Checked(raw=raw, amount_minor=amount, fee_minor=fee, recipient=recipient,
                           spec=spec, problems=tuple(found)))
    return out


def _resolve(deps: Deps, uow: UnitOfWork, spec: dict[str, str], code: str, wallet: Wallet
             ) -> tuple[payment_recipients.Recipient | None, Problem | None]:
    """The recipient found and able to receive `code`, or why not (row filled later)."""
    try:
        r = payment_recipients.resolve(uow, spec)
        payment_recipients.check_can_receive(deps, uow, r, code)
    except PlatformError as exc:
        codes = {Err.RECIPIENT_NOT_FOUND: Code.RECIPIENT_NOT_FOUND}
        return None, Problem(row=0, field="recipient", code=codes.get(
            exc.err, Code.RECIPIENT_CANNOT_RECEIVE), message=exc.message)
    if r.wallet_id == wallet.id:
        return None, Problem(row=0, field="recipient", code=Code.SAME_WALLET,
                             message="the recipient is the paying wallet")
    return r, None


def _sums(checked: Iterable[Checked]) -> tuple[dict[str, int], dict[str, int]]:
    totals: dict[str, int] = {}
    fees: dict[str, int] = {}
    for c in checked:
        if c.amount_minor:
            code = c.raw.currency
            totals[code] = totals.get(code, 0) + c.amount_minor + c.fee_minor
            fees[code] = fees.get(code, 0) + c.fee_minor
    return totals, fees


def _funds_problems(deps: Deps, uow: UnitOfWork, sender: Wallet, checked: list[Checked]
                    ) -> list[Problem]:
    """The batch as a whole: not empty, few currencies, within the daily limit and the
    money available (checked only when every item is valid: nothing else is reserved).
    Call with the sender's wallet locked."""
    if not checked:
        return [Problem(row=0, field="items", code=Code.EMPTY, message="the file has no items")]
    if any(c.problems for c in checked):
        return []
    totals, _ = _sums(checked)
    if len(totals) > dom.CURRENCIES_MAX:
        return [Problem(row=0, field="currency", code=Code.TOO_MANY_CURRENCIES,
                        message=f"at most {dom.CURRENCIES_MAX} currencies in one batch")]
    out = []
    limits = kyc_domain.limits_for(kyc.tier_of(uow, sender.owner_type, sender.owner_id))
    usd = _usd(deps, totals)
    used = _used_today_usd(deps, uow, sender)
    if used + usd > limits.per_day_minor:
        out.append(Problem(row=0, field="total", code=Code.LIMIT_EXCEEDED,
                           message="the batch is above the daily limit of "
                                   f"{money.format_minor(limits.per_day_minor, 'USD')} USD "
                                   f"({money.format_minor(used, 'USD')} USD used today)"))
    if wallets.ledger_node(deps) is not None:
        for code, need in sorted(totals.items()):
            available = funds.available_minor(deps, uow, sender, code)
            if need > available:
                out.append(Problem(
                    row=0, field=f"total.{code}", code=Code.INSUFFICIENT_FUNDS,
                    message=f"needs {money.format_minor(need, code)} {code}, "
                            f"{money.format_minor(max(available, 0), code)} available"))
    return out


def _usd(deps: Deps, totals: dict[str, int]) -> int:
    return sum(money.convert(v, code, kyc_domain.REFERENCE_CURRENCY,
                             rates.mid(deps, code, kyc_domain.REFERENCE_CURRENCY), up=True)
               for code, v in totals.items())


def _used_today_usd(deps: Deps, uow: UnitOfWork, sender: Wallet) -> int:
    """What counts against the daily limit already: today's payments (approved batches'
    items are payments) and the totals of batches reserved today and not decided yet."""
    owner = (sender.owner_type, sender.owner_id)
    start = deps.clock.now_ms() // payments.DAY_MS * payments.DAY_MS
    waiting = uow.repo(Batch).many(org_id=sender.owner_id, status=BatchStatus.VALIDATED,
                                   above={"created_ms": start - 1}, limit=PENDING_MAX)
    return payments.today_minor(deps, uow, owner) + sum(_usd(deps, b.totals) for b in waiting)


def _record(deps: Deps, uow: UnitOfWork, who: Principal, org_id: str, batch_id: str,
            key: str, sha: str, file_name: str, parsed: dom.ParsedFile,
            checked: list[Checked], file_problems: list[Problem], sender: Wallet) -> Batch:
    now = deps.clock.now_ms()
    item_problems = [p for c in checked for p in c.problems]
    every = file_problems + item_problems
    valid = not every
    totals, fees = _sums(checked)
    reservation = None
    if valid:
        reservation = settlement.queue(
            deps, uow, purpose=Purpose.BATCH, ref_id=batch_id, source=wallet_ref(sender.id),
            legs=[Leg(source=wallet_ref(sender.id), destination=TREASURY, code=code,
                      amount_minor=amount) for code, amount in sorted(totals.items())],
            memo=f"batch {batch_id}", held=True)
    batch = Batch(
        id=batch_id, org_id=org_id, created_by=who.user_id, idempotency_key=key,
        file_sha256=sha, format=parsed.format, version=parsed.version,
        message_id=(parsed.message_id or "")[:64] or None, file_name=file_name[:200],
        status=BatchStatus.VALIDATED if valid else BatchStatus.INVALID,
        item_count=len(checked), totals=totals, fees=fees, problem_count=len(every),
        problems=tuple(every[:dom.PROBLEMS_MAX]),
        reservation_id=reservation.id if reservation else None, decided_by=None,
        decided_ms=None, created_ms=now, updated_ms=now)
    uow.repo(Batch).add(batch)
    for c in checked:
        item_id = deps.rand.new_id()
        sealed = None if c.problems else deps.sealer.seal(
            json.dumps(c.spec, sort_keys=True).encode(), _recipient_context(item_id))
        uow.repo(BatchItem).add(BatchItem(
            id=item_id, batch_id=batch_id, recipient_sealed=sealed, row=c.raw.row,
            reference=c.raw.reference[:64], group_id=(c.raw.group or batch_id)[:64],
            currency=c.raw.currency[:12], amount_minor=c.amount_minor, fee_minor=c.fee_minor,
            recipient=bank_details.masked(c.spec) if c.spec else {},
            recipient_name=_shown_name(c)[:200], memo=c.raw.memo[:200],
            status=I.INVALID if c.problems else I.VALID, problems=c.problems,
            # the id its payment will have: approval only inserts payments, and a replayed
            # approval finds them (the id is unique)
            payment_id=None if c.problems else payments.new_id(deps), transfer_id=None,
            reason_code=c.problems[0].code if c.problems else None,
            created_ms=now, updated_ms=now))
    if valid:  # the organisation's approval policy decides who approves it
        _open_approval(deps, uow, batch)
    _event(deps, uow, batch, "validated" if valid else "invalid")
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="batch.upload",
              object_type="batch", object_id=batch_id,
              after={"org_id": org_id, "status": batch.status, "items": len(checked),
                     "problems": len(every), "format": parsed.version, "sha256": sha,
                     "totals": {k: money.format_minor(v, k) for k, v in totals.items()}})
    return batch


def _shown_name(c: Checked) -> str:
    """The recipient as the file names it: a customer by their e-mail or phone masked
    (never the registered name before anything is paid, as a payment's preview), an
    address, or the bank account holder's name. Once paid, the payment's name shows."""
    spec = c.spec or c.raw.recipient
    if spec.get("type") == RecipientType.USER:
        return payment_recipients.masked_contact(spec) if spec.keys() & {"email", "phone"} \
            else ""
    return spec.get("name") or spec.get("address", "")


# --- approval and execution --------------------------------------------------------------


def _event(deps: Deps, uow: UnitOfWork, batch: Batch, what: str) -> None:
    """The organisation's webhooks hear of the batch (`batch.<what>`, domain/webhooks)."""
    event = f"batch.{what}"
    webhooks.enqueue(deps, uow, batch.org_id, event, {
        "event": event, "at_ms": deps.clock.now_ms(),
        "batch": {"id": batch.id, "status": batch.status, "item_count": batch.item_count,
                  "problem_count": batch.problem_count,
                  "totals": {k: money.format_minor(v, k) for k, v in batch.totals.items()},
                  "message_id": batch.message_id}})


def _subject(deps: Deps, batch: Batch) -> approvals.Subject:
    """The batch as the approval policy sees it: its whole total (fees included) in US
    dollars, its currency (US dollars when it mixes several), several recipients."""
    every = {code: batch.totals.get(code, 0) + batch.fees.get(code, 0)
             for code in set(batch.totals) | set(batch.fees)}
    usd = _usd(deps, every)
    single = next(iter(every)) if len(every) == 1 else None
    return approvals.Subject(
        kind=APPROVAL_KIND, id=batch.id, org_id=batch.org_id, initiator_id=batch.created_by,
        usd_minor=usd, amount_minor=every[single] if single else usd,
        currency=single or kyc_domain.REFERENCE_CURRENCY, recipient_type=None, party=None,
        summary=f"batch of {batch.item_count} payments ({batch.file_name})")


def _open_approval(deps: Deps, uow: UnitOfWork, batch: Batch) -> None:
    """At upload: a batch the policy blocks is refused (nothing recorded); one it sends to
    approval waits for its levels (services/approvals.py); one it allows waits for one
    other member with pay.approve (maker != checker), as without a policy."""
    routed = approvals.route(deps, uow, _subject(deps, batch))
    if routed.action is Action.BLOCK:
        raise Err.PAYMENT_BLOCKED.error(
            f"the organisation's approval policy (rule {routed.rule_index + 1}) blocks it")
    if routed.action is Action.APPROVE:
        approvals.open_approval(deps, uow, _subject(deps, batch), routed)


def _policy_approval(uow: UnitOfWork, batch_id: str) -> Approval | None:
    return uow.repo(Approval).one(subject_kind=APPROVAL_KIND, subject_id=batch_id)


def _decide_approval(uow: UnitOfWork, who: Principal, batch: Batch) -> None:
    """Whether `who` may approve (or reject) a batch no policy level governs: pay.approve
    in the organisation, and not the batch's uploader (maker != checker)."""
    acting_owner(uow, who, batch.org_id, Perm.PAY_APPROVE)
    if who.user_id == batch.created_by:
        raise Err.BATCH_SELF_APPROVAL.error()


def _vote(deps: Deps, who: Principal, batch: Batch, a: Approval, decision: str) -> Approval:
    """`who`'s vote on the batch's policy approval (services/approvals.decide: maker !=
    checker, each level's N distinct approvers, expiry). The key is the voter's at this
    level, so a retried request is answered, not counted twice."""
    key = hashlib.sha256(f"batch-{decision}:{batch.id}:{a.level}:{who.user_id}".encode())
    return approvals.decide(deps, who, APPROVAL_KIND, batch.id, decision,
                            idempotency_key=key.hexdigest()[:48])


def batch_for(uow: UnitOfWork, who: Principal, batch_id: str, *, lock: bool = False
               ) -> Batch:
    b = uow.repo(Batch).get(batch_id, for_update=lock)
    if b is None or not funds.may_read(uow, who, OwnerType.ORG, b.org_id):
        raise Err.NOT_FOUND.error("no such batch")
    return b


def approve(deps: Deps, who: Principal, batch_id: str) -> Batch:
    """Approves a validated batch and starts its execution, in one unit of work.
    Approving an approved batch again is answered with it (a retried request). A batch
    its organisation's policy sent to approval takes `who`'s vote instead: the vote of its
    last level carries the execution out (`_approved`); before that it waits, reserved."""
    with deps.reader() as uow:
        batch = batch_for(uow, who, batch_id)
        _decide_approval(uow, who, batch)
        if batch.status == BatchStatus.APPROVED:
            return batch
        _check_state(batch, BatchStatus.APPROVED)
        policy = _policy_approval(uow, batch_id)
        if policy is None:
            items = uow.repo(BatchItem).many(batch_id=batch_id, order_by="row")
            sender = payment_recipients.open_wallet(uow, OwnerType.ORG, batch.org_id)
            if sender is None:
                raise Err.NO_OPEN_WALLET.error()
            sender_name = kyc.verified_name(deps, uow, OwnerType.ORG, batch.org_id)
            recipients = _recipients(deps, uow, items)
    if policy is not None:
        _vote(deps, who, batch, policy, "approve")
        with deps.reader() as uow:
            return batch_for(uow, who, batch_id)
    assert sender is not None
    # screened before the write lock (10,000 items: seconds of index lookups)
    screened = {i.id: _screen(deps, batch, i, recipients[i.id], sender_name) for i in items}

    def write(uow: UnitOfWork) -> Batch:
        current = batch_for(uow, who, batch_id, lock=True)
        if current.status == BatchStatus.APPROVED:
            return current
        _check_state(current, BatchStatus.APPROVED)
        wallet = payment_recipients.open_wallet(uow, OwnerType.ORG, batch.org_id,
                                                for_update=True)
        assert wallet is not None and wallet.id == sender.id
        return _run(deps, uow, who, current, items, wallet, screened, sender_name)

    return deps.write(write)


def _run(deps: Deps, uow: UnitOfWork, who: Principal, batch: Batch, items: list[BatchItem],
         wallet: Wallet, screened: dict[str, _Screened], sender_name: str | None) -> Batch:
    """The approved batch executed: the reservation gives way to the items' payments."""
    _end_reservation(deps, uow, batch)
    _execute(deps, uow, who, batch, items, wallet, screened, sender_name)
    now = deps.clock.now_ms()
    done = dom.moved(batch, BatchStatus.APPROVED, now, decided_by=who.user_id,
                     decided_ms=now)
    uow.repo(Batch).update(done)
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="batch.approve",
              object_type="batch", object_id=batch.id,
              after={"items": len(items), "status": done.status})
    _event(deps, uow, done, "executing")
    return done


def _approved(deps: Deps, uow: UnitOfWork, a: Approval) -> None:
    """The policy's last level approved (in the decision's unit of work, from the batch
    page or the approvals queue alike): the batch runs now, as its last approver."""
    batch = uow.repo(Batch).get(a.subject_id, for_update=True)
    if batch is None or batch.status != BatchStatus.VALIDATED:
        return
    votes = uow.repo(Vote).many(approval_id=a.id, order_by="created_ms")
    who = Principal(user_id=votes[-1].user_id, kind=UserKind.CUSTOMER, staff_role=None,
                    session_id="")
    items = uow.repo(BatchItem).many(batch_id=batch.id, order_by="row")
    wallet = payment_recipients.open_wallet(uow, OwnerType.ORG, batch.org_id, for_update=True)
    if wallet is None:
        raise Err.NO_OPEN_WALLET.error()
    sender_name = kyc.verified_name(deps, uow, OwnerType.ORG, batch.org_id)
    recipients = _recipients(deps, uow, items)
    screened = {i.id: _screen(deps, batch, i, recipients[i.id], sender_name) for i in items}
    _run(deps, uow, who, batch, items, wallet, screened, sender_name)


def _refused(deps: Deps, uow: UnitOfWork, a: Approval) -> None:
    """Rejected by an approver or expired: the batch is refused, its reservation ends."""
    batch = uow.repo(Batch).get(a.subject_id, for_update=True)
    if batch is not None and batch.status == BatchStatus.VALIDATED:
        _rejected(deps, uow, None, batch, f"approval {a.state}")


# What approving or refusing a batch does (bootstrap.HANDLERS.approval_subjects).
SUBJECT = ApprovalSubject(approved=_approved, refused=_refused)


def reject(deps: Deps, who: Principal, batch_id: str, reason: str = "") -> Batch:
    """Refuses a validated batch: its reservation ends, nothing moves. The uploader may
    withdraw their own batch; anyone else needs pay.approve, and under a policy approval
    their refusal is their vote (which rejects it: `_refused`)."""
    with deps.reader() as uow:
        batch = batch_for(uow, who, batch_id)
        policy = _policy_approval(uow, batch_id)
    if (policy is not None and policy.state in OPEN_STATES
            and who.user_id != batch.created_by and batch.status == BatchStatus.VALIDATED):
        _vote(deps, who, batch, policy, "reject")
        with deps.reader() as uow:
            return batch_for(uow, who, batch_id)

    def write(uow: UnitOfWork) -> Batch:
        batch = batch_for(uow, who, batch_id, lock=True)
        if who.user_id == batch.created_by:
            acting_owner(uow, who, batch.org_id, Perm.PAY_INITIATE)
        else:
            _decide_approval(uow, who, batch)
        if batch.status == BatchStatus.REJECTED:
            return batch
        _check_state(batch, BatchStatus.REJECTED)
        approvals.withdrawn(deps, uow, APPROVAL_KIND, batch_id, who)  # an open approval ends
        return _rejected(deps, uow, who, batch, reason)

    return deps.write(write)


def _rejected(deps: Deps, uow: UnitOfWork, who: Principal | None, batch: Batch,
              reason: str) -> Batch:
    """The batch refused: its reservation ends, its items are cancelled, nothing moves."""
    _end_reservation(deps, uow, batch)
    now = deps.clock.now_ms()
    for item in uow.repo(BatchItem).many(batch_id=batch.id):
        uow.repo(BatchItem).update(dataclasses.replace(item, status=I.CANCELLED,
                                                       updated_ms=now))
    done = dom.moved(batch, BatchStatus.REJECTED, now,
                     decided_by=who.user_id if who else None, decided_ms=now)
    uow.repo(Batch).update(done)
    uow.audit(actor_id=who.user_id if who else None,
              actor_kind=who.kind.value if who else "system", action="batch.reject",
              object_type="batch", object_id=batch.id,
              after={"reason": reason[:500], "status": done.status})
    _event(deps, uow, done, "rejected")
    return done


def _check_state(batch: Batch, target: BatchStatus) -> None:
    if target not in dom.BATCH_TRANSITIONS[batch.status]:
        raise Err.BATCH_STATE.error(f"the batch is {batch.status}",
                                    {"status": str(batch.status)})


def _end_reservation(deps: Deps, uow: UnitOfWork, batch: Batch) -> None:
    """The held transfer reserving the batch's total is refused (it was never signed, so
    nothing applied); in the same unit of work the items' own transfers take its place."""
    if batch.reservation_id is None:
        return
    t = uow.repo(Transfer).get(batch.reservation_id, for_update=True)
    assert t is not None and t.purpose == Purpose.BATCH
    if t.status == TransferStatus.HELD:
        uow.repo(Transfer).update(dataclasses.replace(
            t, status=TransferStatus.REJECTED, result_code=RESERVATION_ENDED,
            result_message="the batch's reservation ended", updated_ms=deps.clock.now_ms()))


@dataclasses.dataclass(frozen=True, slots=True)
class _Screened:
    outcome: Outcome
    findings: tuple[Any, ...]
    payment_id: str
    recipient: payment_recipients.Recipient


def _recipients(deps: Deps, uow: UnitOfWork, items: list[BatchItem]
                ) -> dict[str, payment_recipients.Recipient]:
    """Each item's recipient, found again (one lookup per distinct recipient). One that
    vanished since the upload (a closed account) is refused by the chain, as a payment's."""
    found: dict[str, payment_recipients.Recipient] = {}
    out = {}
    for item in items:
        sealed = item.recipient_sealed
        assert sealed is not None, f"item {item.id} has no recipient"
        text = deps.sealer.open(sealed, _recipient_context(item.id)).decode()
        if text not in found:
            found[text] = payment_recipients.resolve(uow, json.loads(text))
        out[item.id] = found[text]
    return out


def _recipient_context(item_id: str) -> str:
    return f"batch-item:{item_id}"


def _screen(deps: Deps, batch: Batch, item: BatchItem, recipient: payment_recipients.Recipient,
            sender_name: str | None) -> _Screened:
    """The item through the compliance monitors, as a payment is (outside the lock)."""
    assert item.payment_id is not None, f"a valid item {item.id} has its payment's id"
    payment_id = item.payment_id
    sell = item.amount_minor + item.fee_minor
    usd = money.convert(sell, item.currency, kyc_domain.REFERENCE_CURRENCY,
                        rates.mid(deps, item.currency, kyc_domain.REFERENCE_CURRENCY), up=True)
    findings = monitoring.evaluate(deps, Movement(
        id=payment_id, kind=MovementKind.PAYMENT, at_ms=deps.clock.now_ms(),
        sender=batch.org_id, sender_country=None, sender_name=sender_name,
        receiver=payments.party_of(deps, recipient), receiver_country=None,
        receiver_name=recipient.name if recipient.type != RecipientType.ADDRESS else None,
        amount_minor=sell, currency=item.currency, usd_minor=usd))
    return _Screened(Outcome.APPROVE, findings, payment_id, recipient)


def _execute(deps: Deps, uow: UnitOfWork, who: Principal, batch: Batch,
             items: list[BatchItem], wallet: Wallet, screened: dict[str, _Screened],
             sender_name: str | None) -> None:
    now = deps.clock.now_ms()
    clear: list[BatchItem] = []
    for item in items:
        s = screened[item.id]
        acting = monitoring.acting(uow, s.findings) if s.findings else []
        outcome = outcome_of(acting)
        if outcome is Outcome.APPROVE:
            clear.append(item)
            continue
        p = _payment(deps, who, batch, item, wallet, s, sender_name, now)
        if outcome is Outcome.DECLINE:
            p = _moved(p, now, S.SCREENING, S.REJECTED, reason_code="COMPLIANCE_DECLINED",
                       reason_message="refused by compliance")
        else:  # held: its own held transfer, so an officer's decision moves it alone
            t = settlement.queue(deps, uow, purpose=Purpose.PAYMENT, ref_id=p.id,
                                 source=wallet_ref(wallet.id), legs=_legs(wallet, [item], {
                                     item.id: s.recipient}), memo=p.uetr, held=True)
            p = _moved(p, now, S.SCREENING, S.ON_HOLD, transfer_id=t.id)
        uow.repo(Payment).add(p)
        _audit_created(uow, who, batch, p)
        if acting:
            monitoring.raise_alerts(deps, uow, acting, subject=(OwnerType.ORG, batch.org_id),
                                    source=("payment", p.id))
    recipients = {i.id: screened[i.id].recipient for i in clear}
    for chunk in dom.chunks(clear):
        t = settlement.queue(deps, uow, purpose=Purpose.BATCH, ref_id=batch.id,
                             source=wallet_ref(wallet.id), legs=_legs(wallet, chunk, recipients),
                             memo=f"batch {batch.id}")
        for item in chunk:  # built in their state at once (10,000 of them: no steps)
            p = dataclasses.replace(
                _payment(deps, who, batch, item, wallet, screened[item.id], sender_name, now),
                status=S.SUBMITTED, transfer_id=t.id, history=_submitted_steps(now))
            uow.repo(Payment).add(p)
            _audit_created(uow, who, batch, p)


def _audit_created(uow: UnitOfWork, who: Principal, batch: Batch, p: Payment) -> None:
    """As payments.create records a payment: who made it (the batch's uploader) and who
    approved it (the approver, acting here), with the batch it came from."""
    uow.audit(actor_id=who.user_id, actor_kind=who.kind.value, action="payment.create",
              object_type="payment", object_id=p.id,
              after={"uetr": p.uetr, "owner_type": p.owner_type, "owner_id": p.owner_id,
                     "batch_id": batch.id, "created_by": p.created_by,
                     "sell": f"{money.format_minor(p.sell_amount_minor, p.sell_code)} "
                             f"{p.sell_code}",
                     "recipient_type": p.recipient_type, "transfer_id": p.transfer_id,
                     "status": p.status})


def _legs(wallet: Wallet, chunk: list[BatchItem],
          recipients: dict[str, payment_recipients.Recipient]) -> list[Leg]:
    """One debit of the payer to the treasury for the chunk (fees included), then one
    credit per item paid on chain (a bank recipient's money stays in the treasury for
    its payout, as a single payment's does)."""
    code = chunk[0].currency
    assert all(i.currency == code for i in chunk)
    debit = Leg(source=wallet_ref(wallet.id), destination=TREASURY, code=code,
                amount_minor=sum(i.amount_minor + i.fee_minor for i in chunk))
    credits = [Leg(source=TREASURY, destination=dest, code=code, amount_minor=i.amount_minor)
               for i in chunk if (dest := recipients[i.id].destination) is not None]
    return [debit, *credits]


def _payment(deps: Deps, who: Principal, batch: Batch, item: BatchItem, wallet: Wallet,
             s: _Screened, sender_name: str | None, now: int) -> Payment:
    r = s.recipient
    return Payment(
        id=s.payment_id, uetr=deps.rand.new_id(), kind=PaymentKind.TRANSFER,
        owner_type=OwnerType.ORG, owner_id=batch.org_id, created_by=batch.created_by,
        idempotency_key=f"batch:{batch.id}:{item.row}", request_hash=batch.file_sha256,
        sender_wallet_id=wallet.id, recipient_type=r.type, recipient_user_id=r.user_id,
        recipient_wallet_id=r.wallet_id, recipient_address=r.address,
        recipient_bank=None if r.bank is None else bank_details.masked(r.bank),
        recipient_account_sealed=None if r.bank is None else bank_details.seal(
            deps, bank_details.account_in(r.bank), bank_details.payment_context(s.payment_id)),
        recipient_name=r.name, quote_id=None, sell_code=item.currency,
        sell_amount_minor=item.amount_minor + item.fee_minor, fee_minor=item.fee_minor,
        buy_code=item.currency, buy_amount_minor=item.amount_minor, price="1",
        memo=item.memo or item.reference, status=S.DRAFT,
        history=(PaymentStep(status=S.DRAFT, at_ms=now),), transfer_id=None, tx_id=None,
        height=None, reason_code=None, reason_message=None,
        expected_arrival_ms=now + (payments.EXPECTED_PAYOUT_MS
                                   if r.type == RecipientType.EXTERNAL
                                   else payments.EXPECTED_ONCHAIN_MS),
        created_ms=now, updated_ms=now, sender_name=sender_name, purpose=None,
        travel_rule_sealed=None)


def _moved(p: Payment, now: int, *steps: PaymentStatus, **changes: Any) -> Payment:
    for i, status in enumerate(steps):
        p = payment_moved(p, status, now, **(changes if i == len(steps) - 1 else {}))
    return p


def _submitted_steps(now: int) -> tuple[PaymentStep, ...]:
    """A cleared item's payment history: the steps a single payment passes to submitted."""
    return tuple(PaymentStep(status=x, at_ms=now)
                 for x in (S.DRAFT, S.SCREENING, S.READY, S.SUBMITTED))


assert all(b in payment_transitions[a] for a, b in ((S.DRAFT, S.SCREENING),
                                                    (S.SCREENING, S.READY),
                                                    (S.READY, S.SUBMITTED)))


# --- the chain's outcome ------------------------------------------------------------------


def on_transfer(deps: Deps, uow: UnitOfWork, t: Transfer) -> None:
    """A chunk's transaction was decided: each of its payments is settled as a single
    payment's would be (payments.settle); a refused chunk's payments are released (nothing
    left the payer: the transaction is atomic). Replays change nothing."""
    if t.result_code == RESERVATION_ENDED:
        return
    chunk = uow.repo(Payment).many(transfer_id=t.id, order_by="created_ms", for_update=True)
    if not chunk:
        return
    org_id = chunk[0].owner_id
    hooks = uow.repo(WebhookEndpoint).count(org_id=org_id, status=EndpointStatus.ACTIVE) > 0
    for p in chunk:
        payments.settle(deps, uow, p, t, tell_sender=False, webhooks_on=hooks)
        if t.status == TransferStatus.REJECTED:
            failed = uow.repo(Payment).get(p.id, for_update=True)
            if failed is not None and failed.status == S.FAILED:
                refunds.release_not_included(deps, uow, failed)
