"""Soak: many seeded simulations across the fault mixes; non-zero exit on any violation.

    python -m corridor.sim.soak --seeds 1000 [--start 0] [--json soak.json]

Seed s runs the case `CASES[s % len(CASES)]` (a fault mix and a number of Byzantine
validators), so any failing seed is reproduced by `simulate(s, **case_of(s))` alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

from corridor.sim.run import MIXES, SimReport, simulate

CASES: Final = (
    ("calm", 0),
    ("lossy", 0),
    ("partition", 0),
    ("crash", 0),
    ("skew", 0),
    ("chaos", 0),
    ("calm", 1),
    ("lossy", 1),
    ("crash", 1),
    ("chaos", 1),
)


def case_of(seed: int) -> dict[str, Any]:
    """The keyword arguments of `simulate` for soak seed `seed`."""
    mix, byzantine = CASES[seed % len(CASES)]
    return {"faults": MIXES[mix], "byzantine": byzantine}


def run_seed(seed: int, heights: int = 5) -> SimReport:
    return simulate(seed, heights=heights, **case_of(seed))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m corridor.sim.soak", description=__doc__)
    parser.add_argument("--seeds", type=int, required=True, help="how many seeds to run")
    parser.add_argument("--start", type=int, default=0, help="the first seed")
    parser.add_argument("--heights", type=int, default=5, help="heights each run must reach")
    parser.add_argument("--json", metavar="PATH", help="write every report to this JSON file")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    faults: Counter[str] = Counter()
    heights = 0
    failed: list[SimReport] = []
    reports = []
    for seed in range(args.start, args.start + args.seeds):
        report = run_seed(seed, args.heights)
        reports.append(report.to_json())
        faults.update(dict(report.faults))
        heights += report.heights_committed
        if report.violations:
            failed.append(report)
            print(f"FAILED seed {seed} ({report.mix}, byzantine {len(report.byzantine)}):")
            for violation in report.violations:
                print(f"  {violation}")
    elapsed = time.perf_counter() - started
    print(f"seeds run:         {args.seeds} ({args.start}..{args.start + args.seeds - 1})")
    print(f"faults injected:   {sum(faults.values())}")
    for kind, count in sorted(faults.items()):
        print(f"  {kind:<24} {count}")
    print(f"heights committed: {heights}")
    print(f"violations:        {sum(len(r.violations) for r in failed)}")
    print(f"failing seeds:     {' '.join(str(r.seed) for r in failed) or '-'}")
    print(f"wall time:         {elapsed:.1f} s")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {
                    "seeds": reports,
                    "failing": [r.seed for r in failed],
                },
                out,
                indent=1,
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
