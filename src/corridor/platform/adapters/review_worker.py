"""The background loop of KYC re-reviews: opens the review of every accepted customer whose
re-review date has come (services/reviews.run). Safe in every process of a deployment: a
record is opened under its row lock, once per due date."""

from __future__ import annotations

from corridor.platform.adapters.periodic import Periodic
from corridor.platform.services import reviews
from corridor.platform.services.ports import Deps

INTERVAL_S = 60.0  # due dates are days apart: a minute late is on time


class ReviewWorker(Periodic):
    name = "review-worker"

    def __init__(self, deps: Deps, interval_s: float = INTERVAL_S) -> None:
        super().__init__(interval_s)
        self.deps = deps

    def run_once(self) -> reviews.Opened:
        return reviews.run(self.deps)
