"""The background loop of collections (services/collections.py): payers' reminders before
and after a request's due date, and requests whose payment was refused after a hold made
open again; beside the other workers of the first API process. Each reminder is recorded
on its request under the row's lock, so a round repeated (or run by two processes) sends
none twice."""

from __future__ import annotations

from corridor.platform.adapters.periodic import Periodic
from corridor.platform.services import collections
from corridor.platform.services.ports import Deps

INTERVAL_S = 300.0  # reminders count in days: five minutes late is on time


class CollectionsWorker(Periodic):
    name = "collections"

    def __init__(self, deps: Deps, interval_s: float = INTERVAL_S) -> None:
        super().__init__(interval_s)
        self.deps = deps

    def run_once(self) -> int:
        return collections.run_round(self.deps)
