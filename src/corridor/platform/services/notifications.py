"""The notifications inbox (domain/notifications.py): written by the use cases, inside
their unit of work, at the moment the event happens (like the audit entry beside it);
read and marked read by its owner only.

`record` is idempotent by the event's key, so a replayed chain outcome or a retried
request adds nothing; it also keeps the person's inbox within `PER_USER_MAX`."""

from __future__ import annotations

import dataclasses
from typing import Any

from corridor.platform.domain import notifications as dom
from corridor.platform.domain.errors import not_found
from corridor.platform.domain.notifications import Notification, SubjectType, Topic
from corridor.platform.domain.principal import Principal
from corridor.platform.domain.wallets import OwnerType
from corridor.platform.services.ports import Deps, UnitOfWork, page_bounds


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class InboxPage:
    """One page of a person's inbox, newest first, with the counts the badge needs."""

    items: tuple[Notification, ...]
    total: int
    unread: int


def record(deps: Deps, uow: UnitOfWork, *, user_id: str | None, topic: Topic,
           subject_type: SubjectType, subject_id: str, event: str,
           params: dict[str, object] | None = None) -> None:
    """Notifies `user_id` (None: nobody, e.g. an organisation's system payment) of `topic`
    about a record, once per `event` (a key naming this occurrence)."""
    if user_id is None:
        return
    key = f"{topic.value}:{event}"[:dom.EVENT_KEY_LEN_MAX]
    repo = uow.repo(Notification)
    if repo.one(user_id=user_id, event_key=key) is not None:
        return  # the same event, applied again
    repo.add(Notification(
        id=deps.rand.new_id(), user_id=user_id, event_key=key, topic=topic,
        subject_type=subject_type, subject_id=subject_id[:64],
        params=dom.clean_params(params or {}), created_ms=deps.clock.now_ms(), read_ms=None))
    _prune(uow, user_id)


def _prune(uow: UnitOfWork, user_id: str) -> None:
    """Keeps at most PER_USER_MAX: the oldest read ones go first, then the oldest."""
    repo = uow.repo(Notification)
    excess = dom.overflow(repo.count(user_id=user_id))
    if not excess:
        return
    old = repo.many(user_id=user_id, above={"read_ms": 0}, order_by="created_ms",
                    limit=excess)
    if len(old) < excess:
        kept = {n.id for n in old}
        old += [n for n in repo.many(user_id=user_id, order_by="created_ms", limit=excess)
                if n.id not in kept][:excess - len(old)]
    for n in old:
        repo.delete(n.id)


def user_of(owner_type: str, owner_id: str, acting_user_id: str | None) -> str | None:
    """Who hears about an owner's money: the customer, or for an organisation's record
    the member who made it."""
    return owner_id if owner_type == OwnerType.USER else acting_user_id


def page(deps: Deps, who: Principal, *, limit: int, offset: int,
         unread_only: bool = False) -> InboxPage:
    limit, offset = page_bounds(limit, offset, dom.PAGE_MAX)
    with deps.reader() as uow:
        repo = uow.repo(Notification)
        eq: dict[str, Any] = {"read_ms": None} if unread_only else {}
        items = repo.many(user_id=who.user_id, order_by="created_ms", descending=True,
                          limit=limit, offset=offset, **eq)
        total = repo.count(user_id=who.user_id, **eq)
        unread = total if unread_only else repo.count(user_id=who.user_id, read_ms=None)
    return InboxPage(items=tuple(items), total=total, unread=unread)


def unread_count(deps: Deps, who: Principal) -> int:
    with deps.reader() as uow:
        return uow.repo(Notification).count(user_id=who.user_id, read_ms=None)


def mark_read(deps: Deps, who: Principal, notification_id: str) -> Notification:
    """Marks one of the caller's notifications read (again: no change). Anyone else's, or
    none, is NOT_FOUND."""
    def work(uow: UnitOfWork) -> Notification:
        repo = uow.repo(Notification)
        n = repo.get(notification_id, for_update=True) if len(notification_id) <= 36 else None
        if n is None or n.user_id != who.user_id:
            raise not_found("notification")
        if n.read_ms is None:
            n = dataclasses.replace(n, read_ms=deps.clock.now_ms())
            repo.update(n)
        return n
    return deps.write(work)


def mark_all_read(deps: Deps, who: Principal) -> int:
    """Marks every unread notification of the caller read; returns how many changed."""
    def work(uow: UnitOfWork) -> int:
        repo = uow.repo(Notification)
        now = deps.clock.now_ms()
        unread = repo.many(user_id=who.user_id, read_ms=None, limit=dom.PER_USER_MAX + 1)
        for n in unread:
            repo.update(dataclasses.replace(n, read_ms=now))
        return len(unread)
    return deps.write(work)
