"""Every seed that ever failed a simulation, with the arguments it failed with.

Add a seed here the moment it fails (STYLE 11), with what it found; `test_regression_seeds`
runs them all as `simulate(seed, **REGRESSIONS[seed])` and requires no violation.
"""

from __future__ import annotations

from typing import Any

from corridor.sim.run import MIXES, FaultMix
from corridor.sim.soak import case_of

EQUIVOCATE_ONLY = FaultMix(name="equivocate", behaviours=frozenset({"equivocate"}))

# Soak seeds (arguments: `case_of(seed)`, heights 5) that stalled before the sim nodes
# relayed the votes they hold when stuck in a round: a Byzantine validator withheld its
# proof-of-lock prevote from one honest node, which never prevoted the locked block again.
# The others stalled on the consensus machine's split-lock bug (an equivocator's second
# prevote not counted), fixed in the machine; all of them pass now.
_SOAK_SEEDS = (6, 49, 87, 88, 99, 107, 117, 187, 189, 206, 207, 219, 239, 246, 287, 299, 328)
# Soak seeds that stalled when the simulator first ran the node's shell (issue 13 §1): the
# Byzantine transport re-twinned its re-sent votes, three values for one slot, hiding its
# polka vote behind the machine's VOTES_PER_VALIDATOR_MAX (49 again, and 748).
_SHELL_SEEDS = (748,)

REGRESSIONS: dict[int, dict[str, Any]] = {
    **{seed: {**case_of(seed), "heights": 5} for seed in (*_SOAK_SEEDS, *_SHELL_SEEDS)},
}

# The machine's split-lock liveness bug, smallest case: one equivocator, a calm network.
SPLIT_LOCK_SEED = 0
SPLIT_LOCK_ARGS: dict[str, Any] = {"byzantine": 1, "faults": EQUIVOCATE_ONLY, "heights": 4}

assert all(case["faults"].name in MIXES for case in REGRESSIONS.values())
