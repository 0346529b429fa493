"""A seeded virtual clock and message scheduler: the whole network of a simulation.

Everything that happens in a simulation is a callback on one heap ordered by (virtual time,
sequence number); nothing reads the wall clock and every random choice comes from the `rng`
the network was given, so a seed reproduces a run exactly (STYLE 11).

`send` applies the current `NetworkFaults`: a message may be dropped, duplicated, delayed by a
uniform delay, or held back by an extra "reorder" delay so it overtakes nothing and is
overtaken. A partition is a list of groups; nodes in different groups cannot talk, checked
when a message is sent and again when it arrives (the link is cut for messages in flight).
Payloads are opaque objects: their encoding is the nodes' business.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

EVENTS_MAX_DEFAULT: Final = 5_000_000  # a run that needs more is stuck in a loop: stop it


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkFaults:
    """How the network misbehaves; probabilities per message (and per copy)."""

    drop: float = 0.0
    duplicate: float = 0.0
    delay_ms_min: int = 1
    delay_ms_max: int = 20
    reorder: float = 0.0  # probability of an extra delay of up to `reorder_ms_max`
    reorder_ms_max: int = 400

    def __post_init__(self) -> None:
        assert 0.0 <= self.drop < 1.0 and 0.0 <= self.duplicate < 1.0 and 0.0 <= self.reorder <= 1
        assert 0 <= self.delay_ms_min <= self.delay_ms_max and self.reorder_ms_max >= 0


CALM: Final = NetworkFaults()

Handler = Callable[[str, object], None]  # (sender, payload)


class Network:
    """Virtual time, the event heap, and the links between named nodes."""

    def __init__(self, rng: random.Random, faults: NetworkFaults = CALM) -> None:
        self.rng = rng
        self.faults = faults
        self.now_ms = 0
        self._seq = 0
        self._heap: list[tuple[int, int, Callable[[], None]]] = []
        self._handlers: dict[str, Handler] = {}
        self._group_of: dict[str, int] | None = None  # None: no partition
        self.stats: Counter[str] = Counter()

    # --- the clock ---------------------------------------------------------------------------

    def schedule(self, delay_ms: int, callback: Callable[[], None]) -> None:
        """Run `callback` `delay_ms` from now (after everything already due at that time)."""
        assert delay_ms >= 0
        self._seq += 1
        heapq.heappush(self._heap, (self.now_ms + delay_ms, self._seq, callback))

    def run_until(
        self,
        time_ms: int,
        *,
        stop: Callable[[], bool] | None = None,
        events_max: int = EVENTS_MAX_DEFAULT,
    ) -> bool:
        """Run events due up to `time_ms`; then the clock reads `time_ms`. True if `stop()`
        became true first (checked after each event; the clock then stays at that event)."""
        budget = events_max
        while self._heap and self._heap[0][0] <= time_ms:
            due, _, callback = heapq.heappop(self._heap)
            self.now_ms = due
            callback()
            budget -= 1
            assert budget > 0, f"more than {events_max} events before {time_ms} ms: a livelock?"
            if stop is not None and stop():
                return True
        self.now_ms = max(self.now_ms, time_ms)
        return False

    # --- links -------------------------------------------------------------------------------

    def register(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Cut every link between different groups (a node in no group talks to nobody)."""
        self._group_of = {name: i for i, group in enumerate(groups) for name in group}
        self.stats["partitions"] += 1

    def heal(self) -> None:
        self._group_of = None

    @property
    def partitioned(self) -> bool:
        return self._group_of is not None

    def can_talk(self, a: str, b: str) -> bool:
        if self._group_of is None or a == b:
            return True
        ga, gb = self._group_of.get(a), self._group_of.get(b)
        return ga is not None and ga == gb

    def send(self, src: str, dst: str, payload: object) -> None:
        """Queue `payload` for `dst` under the current faults."""
        assert dst in self._handlers, dst
        self.stats["sent"] += 1
        if not self.can_talk(src, dst):
            self.stats["cut"] += 1
            return
        f = self.faults
        copies = 1
        if f.duplicate and self.rng.random() < f.duplicate:
            copies = 2
            self.stats["duplicated"] += 1
        for _ in range(copies):
            if f.drop and self.rng.random() < f.drop:
                self.stats["dropped"] += 1
                continue
            delay = self.rng.randint(f.delay_ms_min, f.delay_ms_max)
            if f.reorder and self.rng.random() < f.reorder:
                delay += self.rng.randint(0, f.reorder_ms_max)
                self.stats["reordered"] += 1
            self.schedule(delay, _Delivery(self, src, dst, payload))


@dataclass(frozen=True, slots=True)
class _Delivery:
    net: Network
    src: str
    dst: str
    payload: object

    def __call__(self) -> None:
        if not self.net.can_talk(self.src, self.dst):
            self.net.stats["cut"] += 1
            return
        self.net.stats["delivered"] += 1
        self.net._handlers[self.dst](self.src, self.payload)
