"""The signed-in person's notifications inbox (issue 15): a page of it with the unread
count, and marking read. A notification is a message key (`topic`) with parameters; the
client writes it in its reader's language (the web pages do, from their catalogue).

Marking read changes no money and creates nothing: doing it twice leaves the same state,
so no Idempotency-Key is needed; one that is sent is checked like any other (a malformed
key is refused with IDEMPOTENCY_KEY_INVALID), so a client that sends keys everywhere may."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from corridor.api.deps import DepsDep, IdempotencyKey, PrincipalDep
from corridor.api.json_body import JsonRoute
from corridor.platform.domain import notifications as dom
from corridor.platform.domain.idempotency import check_key
from corridor.platform.domain.notifications import Notification
from corridor.platform.services import notifications

router = APIRouter(route_class=JsonRoute, prefix="/me/notifications", tags=["account"])


class NotificationView(BaseModel):
    id: str
    topic: str  # the message key, e.g. "payment.received"
    params: dict[str, str]  # amounts in minor units with their currency code
    subject_type: str  # payment | deposit | withdrawal | kyc | refund | security
    subject_id: str
    created_ms: int
    read_ms: int | None


class InboxView(BaseModel):
    items: list[NotificationView]
    total: int
    unread: int
    limit: int
    offset: int


class MarkedView(BaseModel):
    marked: int
    unread: int


def _view(n: Notification) -> NotificationView:
    return NotificationView(id=n.id, topic=n.topic, params=n.params,
                            subject_type=n.subject_type, subject_id=n.subject_id,
                            created_ms=n.created_ms, read_ms=n.read_ms)


def _optional_key(key: str | None) -> None:
    if key is not None:
        check_key(key)


@router.get("", response_model=InboxView)
def inbox(who: PrincipalDep, deps: DepsDep,
          limit: int = Query(20, ge=1, le=dom.PAGE_MAX), offset: int = Query(0, ge=0),
          unread_only: bool = False) -> InboxView:
    """The caller's notifications, newest first, with how many are unread."""
    page = notifications.page(deps, who, limit=limit, offset=offset, unread_only=unread_only)
    return InboxView(items=[_view(n) for n in page.items], total=page.total,
                     unread=page.unread, limit=limit, offset=offset)


@router.post("/read-all", response_model=MarkedView)
def read_all(who: PrincipalDep, deps: DepsDep, key: IdempotencyKey = None) -> MarkedView:
    """Marks every notification of the caller read."""
    _optional_key(key)
    marked = notifications.mark_all_read(deps, who)
    return MarkedView(marked=marked, unread=notifications.unread_count(deps, who))


@router.post("/{notification_id}/read", response_model=NotificationView)
def read_one(notification_id: str, who: PrincipalDep, deps: DepsDep,
             key: IdempotencyKey = None) -> NotificationView:
    """Marks one notification read; someone else's is NOT_FOUND, like an absent one."""
    _optional_key(key)
    return _view(notifications.mark_read(deps, who, notification_id))
