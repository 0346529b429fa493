"""The port the fiat rails area needs from a bank rail (requirements F1, F3). A rail is
asynchronous: incoming transfers and the fate of payouts arrive later as signed webhook
events (see services/rails.py); these calls only ask."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Protocol

from corridor.platform.domain.errors import Err
from corridor.platform.services.ports import Deps

DEFAULT_RAIL = "sim-bank"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CollectionAccount:
    """The platform's account at the rail that customers pay deposits into."""

    bank_name: str
    account_name: str
    account: str  # IBAN or account number
    bank_code: str  # BIC
    country: str
    currency: str


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PayoutAccepted:
    rail_ref: str  # the rail's id of the payout: its later events name it


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class PayoutRefused:
    """The rail refused the payout at once (nothing was sent)."""

    code: str
    message: str


class Rail(Protocol):
    name: str

    def collection_account(self, currency: str) -> CollectionAccount: ...

    def request_payout(self, *, payout_id: str, currency: str, amount_minor: int,
                       bank: Mapping[str, str], reference: str
                       ) -> PayoutAccepted | PayoutRefused:
        """Asks for a payout. Idempotent on `payout_id`: asking again (after a crash
        before the answer was recorded) returns the first answer and pays once. Raises
        PlatformError(UNAVAILABLE) when the rail cannot be reached."""
        ...

    def return_funds(self, *, return_id: str, rail_ref: str, currency: str,
                     amount_minor: int, reason: str) -> PayoutAccepted | PayoutRefused:
        """Sends an incoming transfer (`rail_ref`) back to the account it came from, as
        the rail's own return (the platform never learns or stores that account).
        Idempotent on `return_id`. Raises PlatformError(UNAVAILABLE) like a payout."""
        ...


def rail_of(deps: Deps, name: str = DEFAULT_RAIL) -> Rail:
    rail = deps.rails.get(name)
    if rail is None:
        raise Err.RAIL_UNAVAILABLE.error(f"the {name} rail is not set up")
    return rail
