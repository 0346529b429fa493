"""A background loop that runs `run_once` every `interval_s` on a daemon thread, logging
and surviving any failure of a round (the next round retries)."""

from __future__ import annotations

import abc
import logging
import threading
from typing import Any

STOP_JOIN_S = 10.0


class Periodic(abc.ABC):
    name = "periodic"

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._log = logging.getLogger(f"corridor.platform.{self.name}")

    @abc.abstractmethod
    def run_once(self) -> Any:
        """One round of the worker's work."""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # logged and retried next round: the loop must survive
                self._log.exception("%s round failed", self.name)
            self._stop.wait(self.interval_s)

    def start(self) -> None:
        assert not self.running
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=STOP_JOIN_S)
            self._thread = None
