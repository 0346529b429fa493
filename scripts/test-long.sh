#!/usr/bin/env bash
# The long test run: everything scripts/test.sh checks (lint, types, layer rules), then every
# test at full size, the default run's and what it leaves out:
#   - the tests marked `slow` (`-m ""` undoes pyproject's `-m 'not slow'`): the end-to-end
#     benchmarks (`corridor bench ledger/node/network/payments --quick`) and the second
#     database of the end-to-end process tests (tests/platform/test_e2e_*.py);
#   - CORRIDOR_LONG_TESTS=1: the full size of the sized-down runs (300 simulator seeds
#     instead of 100, the ledger model's soak profile, all the examples of the account
#     codec's differential tests, 6 fuzz requests per operation and mode instead of 3).
# Takes well over half an hour on a 2-core machine; scripts/test.sh is the default run.
# Usage: bash scripts/test-long.sh [pytest args...]    e.g. bash scripts/test-long.sh tests/sim
set -euo pipefail
cd "$(dirname "$0")/.."
export CORRIDOR_LONG_TESTS=1
exec bash scripts/test.sh -m "" "$@"
