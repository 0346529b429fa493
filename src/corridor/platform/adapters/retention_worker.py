"""The retention job's periodic run (issue 16): once a day, the report of what the
retention period keeps and what may be purged is written to the audit trail
(`services/retention.record_report`). It never purges: that is an operator's act
(`corridor compliance retention --purge --by ...`)."""

from __future__ import annotations

from corridor.platform.adapters.periodic import Periodic
from corridor.platform.services import retention
from corridor.platform.services.ports import Deps

INTERVAL_S = 24 * 3600.0


class RetentionWorker(Periodic):
    name = "retention"

    def __init__(self, deps: Deps, interval_s: float = INTERVAL_S) -> None:
        super().__init__(interval_s)
        self.deps = deps

    def run_once(self) -> retention.RetentionReport | None:
        # `platform serve` starts it in one process; a report written in the last
        # interval (a restart, another deployment's process) is this round's.
        return retention.record_report(self.deps, fresh_ms=int(self.interval_s * 1000))
