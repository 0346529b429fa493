"""The background loop that escalates compliance cases past a due time
(services/case_sla.py); once per deployment, beside the rail and webhook workers of the
first API process (bootstrap.Platform.start_workers). Each breach is escalated once, so
a round repeated (or run by two processes by mistake) escalates nothing twice."""

from __future__ import annotations

from corridor.platform.adapters.periodic import Periodic
from corridor.platform.services import case_sla
from corridor.platform.services.ports import Deps

INTERVAL_S = 60.0  # the SLA counts in hours: a minute late is on time


class CaseSlaWorker(Periodic):
    name = "case-sla"

    def __init__(self, deps: Deps, interval_s: float = INTERVAL_S) -> None:
        super().__init__(interval_s)
        self.deps = deps

    def run_once(self) -> int:
        return case_sla.escalate_due(self.deps)
