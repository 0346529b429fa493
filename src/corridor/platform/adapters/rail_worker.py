"""The background loop of the fiat rails: asks the rail to pay out burned withdrawals and
lets simulated rails deliver their due events. Started and stopped by the composition
root (bootstrap.Platform.start_workers / stop_workers)."""

from __future__ import annotations

import logging
import threading

from corridor.platform.adapters.sim_bank import SimBank
from corridor.platform.services import withdrawals
from corridor.platform.services.ports import Deps

log = logging.getLogger("corridor.platform.rail_worker")

INTERVAL_S = 0.5


class RailWorker:
    def __init__(self, deps: Deps, sims: list[SimBank], interval_s: float = INTERVAL_S) -> None:
        self.deps = deps
        self.sims = sims
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> None:
        withdrawals.dispatch_payouts(self.deps)
        for sim in self.sims:
            sim.pump()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # logged and retried next round: the loop must survive
                log.exception("rail worker round failed")
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        assert not self.running
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="rail-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
