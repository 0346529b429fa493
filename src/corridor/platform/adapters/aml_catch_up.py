"""The AML window's catch-up with other processes' movements on a timer of its own, so an
API process that has been quiet does not read a long backlog in a payment's path (the
window also catches up before an evaluation when the timer has not: services/aml_window)."""

from __future__ import annotations

from corridor.platform.adapters.periodic import Periodic
from corridor.platform.services.aml_window import CATCH_UP_MS, AmlWindow


class AmlCatchUp(Periodic):
    name = "aml-catch-up"

    def __init__(self, window: AmlWindow, interval_s: float = CATCH_UP_MS / 1000) -> None:
        super().__init__(interval_s)
        self.window = window

    def run_once(self) -> int:
        return self.window.tick()
