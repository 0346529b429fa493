"""Custodial and registered wallets (requirement L2). Being written: see the custody work."""

from __future__ import annotations

from corridor.platform.services.ports import Deps, UnitOfWork


def request_authorisation(
    deps: Deps,
    uow: UnitOfWork,
    *,
    owner_type: str,  # "user" | "org"
    owner_id: str,
    asset_codes: tuple[str, ...],
    actor_id: str,
) -> None:
    """Queues, inside the caller's unit of work, the issuer's on-chain authorisation of
    every wallet of the owner for each asset code."""
    raise NotImplementedError("custody work in progress")


def ensure_wallet(deps: Deps, uow: UnitOfWork, *, owner_type: str, owner_id: str) -> str:
    """The owner's custodial wallet id, creating it (and queueing its on-chain opening)
    inside the caller's unit of work if it has none."""
    raise NotImplementedError("custody work in progress")
