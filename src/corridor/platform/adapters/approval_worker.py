"""The background loop that expires approvals past their time (services/approvals.py):
their payments are expired and their reservations released. Beside the other local
workers of an API process (bootstrap.Platform.start_workers); a round repeated, or run by
two processes, expires nothing twice (each approval is locked and checked still open)."""

from __future__ import annotations

from corridor.platform.adapters.periodic import Periodic
from corridor.platform.services import approvals
from corridor.platform.services.ports import Deps

INTERVAL_S = 30.0  # approvals live for hours or days: half a minute late is on time


class ApprovalExpiryWorker(Periodic):
    name = "approval-expiry"

    def __init__(self, deps: Deps, interval_s: float = INTERVAL_S) -> None:
        super().__init__(interval_s)
        self.deps = deps

    def run_once(self) -> int:
        return approvals.expire_due(self.deps)
