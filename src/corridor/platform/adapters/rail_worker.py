"""The background loop of the fiat rails: asks the rail to pay out burned withdrawals and
lets simulated rails deliver their due events. Started and stopped by the composition
root (bootstrap.Platform.start_workers / stop_workers)."""

from __future__ import annotations

from corridor.platform.adapters.periodic import Periodic
from corridor.platform.adapters.sim_bank import SimBank
from corridor.platform.services import withdrawals
from corridor.platform.services.ports import Deps

INTERVAL_S = 0.5


class RailWorker(Periodic):
    name = "rail-worker"

    def __init__(self, deps: Deps, sims: list[SimBank], interval_s: float = INTERVAL_S, *,
                 dispatch: bool = True) -> None:
        super().__init__(interval_s)
        self.deps = deps
        self.sims = sims
        # Payouts are asked for by one process of a deployment only; every API process
        # pumps its own simulated banks (their pending events live in its memory).
        self.dispatch = dispatch

    def run_once(self) -> None:
        if self.dispatch:
            withdrawals.dispatch_payouts(self.deps)
        for sim in self.sims:
            sim.pump()
