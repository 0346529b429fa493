"""Reading batch payments (issue 17; services/batches.py uploads, approves and runs
them): a batch with its items, each item's status following its payment's; the
organisation's list; the pain.002 status report and the result CSV."""

from __future__ import annotations

import dataclasses
import datetime as dt

from corridor.platform.domain import batches as dom
from corridor.platform.domain.batches import Batch, BatchFormat, BatchItem, BatchStatus, ItemStatus
from corridor.platform.domain.iso20022 import pain002
from corridor.platform.domain.payments import Payment, PaymentStatus
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.roles import Perm
from corridor.platform.services.access import require_org
from corridor.platform.services.batches import batch_for
from corridor.platform.services.ports import Deps, UnitOfWork

S = PaymentStatus
I = ItemStatus  # noqa: E741
READ_CHUNK = 500  # payments read per statement when items follow their payments
# an item's status as its payment's moves on
ITEM_OF_PAYMENT: dict[PaymentStatus, ItemStatus] = {
    S.DRAFT: I.SUBMITTED, S.SCREENING: I.ON_HOLD, S.PENDING_APPROVAL: I.SUBMITTED,
    S.ON_HOLD: I.ON_HOLD, S.READY: I.SUBMITTED, S.SUBMITTED: I.SUBMITTED,
    S.INCLUDED: I.SUBMITTED, S.FINAL: I.SUBMITTED, S.CREDITED: I.CREDITED,
    S.REFUND_REQUESTED: I.CREDITED, S.REFUNDED: I.CREDITED, S.REJECTED: I.FAILED,
    S.FAILED: I.FAILED, S.EXPIRED: I.FAILED, S.CANCELLED: I.FAILED,
}
assert set(ITEM_OF_PAYMENT) == set(PaymentStatus)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class View:
    """A batch with its items, each item's status following its payment's."""

    batch: Batch
    items: tuple[BatchItem, ...]
    counts: dict[str, int]

    @property
    def done(self) -> bool:
        return self.batch.status != BatchStatus.VALIDATED and all(
            i.status in dom.ITEM_ENDS for i in self.items)


def show(deps: Deps, who: Principal, batch_id: str) -> View:
    with deps.reader() as uow:
        batch = batch_for(uow, who, batch_id)
        items = uow.repo(BatchItem).many(batch_id=batch_id, order_by="row")
        by_payment = _payments_of(uow, [i.payment_id for i in items if i.payment_id])
    followed = tuple(_follow(i, by_payment.get(i.payment_id or "")) for i in items)
    counts: dict[str, int] = {}
    for i in followed:
        counts[i.status] = counts.get(i.status, 0) + 1
    return View(batch=batch, items=followed, counts=counts)


def _payments_of(uow: UnitOfWork, ids: list[str]) -> dict[str, Payment]:
    out: dict[str, Payment] = {}
    for start in range(0, len(ids), READ_CHUNK):
        for p in uow.repo(Payment).many(id=tuple(ids[start:start + READ_CHUNK])):
            out[p.id] = p
    return out


def _follow(item: BatchItem, p: Payment | None) -> BatchItem:
    if p is None:
        return item
    return dataclasses.replace(item, status=ITEM_OF_PAYMENT[p.status],
                               reason_code=p.reason_code, transfer_id=p.transfer_id,
                               recipient_name=p.recipient_name or item.recipient_name)


def list_batches(deps: Deps, who: Principal, org_id: str, limit: int = 50) -> list[Batch]:
    with deps.reader() as uow:
        require_org(uow, who, org_id, Perm.ORG_READ)
        return uow.repo(Batch).many(org_id=org_id, order_by="created_ms", descending=True,
                                    limit=min(max(limit, 1), 100))


_ISO_OF = {I.VALID: "ACTC", I.INVALID: "RJCT", I.SUBMITTED: "ACSP", I.ON_HOLD: "PDNG",
           I.CREDITED: "ACSC", I.FAILED: "RJCT", I.CANCELLED: "RJCT"}
assert set(_ISO_OF) == set(ItemStatus)


def status_report(deps: Deps, who: Principal, batch_id: str) -> bytes:
    """The batch's pain.002 (XSD-validated as it is written)."""
    view = show(deps, who, batch_id)
    b = view.batch
    original = b.version if b.format == BatchFormat.PAIN_001 else "csv"  # answered in .10
    lines = []
    for i in view.items:
        iso = _ISO_OF[i.status]
        code = text = None
        if iso == "RJCT":
            first = i.problems[0] if i.problems else None
            code = first.code if first else (i.reason_code or str(i.status).upper())
            text = first.message if first else None
        lines.append(pain002.TxStatus(group=i.group_id, reference=i.reference, status=iso,
                                      reason_code=code, reason_text=text))
    at = dt.datetime.fromtimestamp(deps.clock.now_ms() / 1000, dt.UTC)
    return pain002.write(
        version=pain002.answer_version(original), message_id=f"{b.id}-{deps.rand.digits(6)}",
        created_iso=at.strftime("%Y-%m-%dT%H:%M:%S"), original_message_id=b.message_id or b.id,
        original_version=original, lines=lines,
        file_problems=[(p.code, p.message) for p in b.problems if p.row == 0])


def result_csv(deps: Deps, who: Principal, batch_id: str) -> str:
    view = show(deps, who, batch_id)
    return dom.result_csv(view.batch, list(view.items))

