#!/usr/bin/env bash
# Crash-safety soak: kill -9 a real node under load at least 20 times (CORRIDOR_SOAK_KILLS),
# restarting it on the same home and checking committed history, sequences, balances and
# the state root (against a replay from genesis) after every restart.
#   scripts/soak-node.sh                 # 20 kills, default seed
#   CORRIDOR_SOAK_KILLS=50 CORRIDOR_SOAK_SEED=7 scripts/soak-node.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CORRIDOR_SOAK_KILLS="${CORRIDOR_SOAK_KILLS:-20}"
PYTEST="${PYTEST:-.venv/bin/pytest}"
exec "$PYTEST" tests/node/test_node_process.py -k crash_safety -s -q "$@"
