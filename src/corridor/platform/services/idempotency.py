"""Replaying requests by their Idempotency-Key (domain/idempotency.py), inside the
caller's unit of work: `prior` before acting, `remember` in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping

from corridor.platform.domain import idempotency as dom
from corridor.platform.services.ports import Deps, UnitOfWork


def prior(uow: UnitOfWork, actor_id: str, key: str, operation: str,
          request: Mapping[str, object]) -> str | None:
    """The id of the record an earlier request under `key` made (None: a new request);
    a different request under the same key is refused (IDEMPOTENCY_KEY_REUSED)."""
    seen = uow.repo(dom.IdempotentRequest).one(actor_id=actor_id, key=key)
    if seen is None:
        return None
    if seen.operation != operation or seen.request_hash != dom.request_hash(request):
        raise dom.reused()
    return seen.result_id


def remember(deps: Deps, uow: UnitOfWork, actor_id: str, key: str, operation: str,
             request: Mapping[str, object], result_id: str) -> None:
    uow.repo(dom.IdempotentRequest).add(dom.IdempotentRequest(
        id=deps.rand.new_id(), actor_id=actor_id, key=key, operation=operation,
        request_hash=dom.request_hash(request), result_id=result_id,
        created_ms=deps.clock.now_ms()))
