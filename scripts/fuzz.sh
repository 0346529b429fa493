#!/usr/bin/env bash
# The long fuzz run: schemathesis over the platform API's and the node RPC's OpenAPI
# (tests/fuzz.py), in-process and against live processes (a node, `corridor platform
# serve` on SQLite and on a throw-away PostgreSQL), anonymous, as a customer and as staff,
# EXAMPLES generated requests per operation and mode (the default test run uses 6).
# Fails on any server error, undocumented status or body not matching its schema.
# Usage: bash scripts/fuzz.sh [EXAMPLES] [SEED]     (defaults: 60, 14)
set -euo pipefail
cd "$(dirname "$0")/.."
export CORRIDOR_FUZZ_EXAMPLES="${1:-60}" CORRIDOR_FUZZ_SEED="${2:-14}" CORRIDOR_FUZZ_LIVE=1
exec .venv/bin/pytest -q -s -p no:cacheprovider tests/platform/test_fuzz.py \
  tests/node/test_rpc_fuzz.py
