"""Timed rounds on a shared machine: how much CPU other processes used meanwhile (from
/proc), and medians over the rounds they left quiet. Shared by the benchmarks."""

from __future__ import annotations

import functools
import os
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from corridor.bench.harness import machine_busy_cpu_s, process_cpu_s


def median_rate(count: int, seconds: Iterable[float]) -> float:
    return count / statistics.median(seconds)


# A round is quiet if other processes used less than this many cores beyond those the round
# did not need. On a shared machine, another process on one of two cores halves what a
# parallel verifier can gain, and leaves a one-core loop almost untouched.
FOREIGN_CPU_QUIET_CORES = 0.1


def own_cpu_s() -> float:
    """CPU seconds used by this process and its children (the verifier processes)."""
    return process_cpu_s(os.getpid())


def measure_foreign_cpu(work: Callable[[], float]) -> tuple[float, float | None]:
    """(what `work` returns, cores' worth of CPU other processes used meanwhile, or None
    where /proc cannot tell)."""
    try:
        busy, own, started = machine_busy_cpu_s(), own_cpu_s(), time.perf_counter()
    except OSError:
        return work(), None
    result = work()
    wall = time.perf_counter() - started
    foreign = (machine_busy_cpu_s() - busy) - (own_cpu_s() - own)
    return result, max(0.0, foreign / wall)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rounds:
    """Timed rounds of one measurement, each with the other work done meanwhile.

    A round is quiet if other processes left it the `cores_needed` it can use.
    """

    cores_needed: int
    seconds: list[float]
    foreign_cores: list[float | None]

    def add(self, seconds: float, foreign_cores: float | None) -> None:
        self.seconds.append(seconds)
        self.foreign_cores.append(foreign_cores)

    def _quiet(self) -> list[bool]:
        spare = (os.cpu_count() or 1) - self.cores_needed + FOREIGN_CPU_QUIET_CORES
        return [f is not None and f < spare for f in self.foreign_cores]

    def median_rate(self, count: int) -> float:
        """Per second, over the quiet rounds if there are any, else over all of them."""
        quiet = [s for s, q in zip(self.seconds, self._quiet(), strict=True) if q]
        return median_rate(count, quiet or self.seconds)

    def quiet_rounds(self) -> int:
        return sum(self._quiet())


def time_once(run: Callable[[], None]) -> float:
    """Seconds one call of `run` takes."""
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def time_rounds(run: Callable[[], None], rounds: int) -> Rounds:
    run()  # warm-up: caches, branch predictors, lazy imports
    timed = Rounds(cores_needed=1, seconds=[], foreign_cores=[])
    for _ in range(rounds):
        timed.add(*measure_foreign_cpu(functools.partial(time_once, run)))
    return timed


