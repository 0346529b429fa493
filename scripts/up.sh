#!/usr/bin/env bash
# Sets up a fresh machine and starts Corridor on its embedded defaults.
# Today "the whole system" is a one-validator network in .corridor/local (created on first
# run with demo issuers, currencies and wallets); the platform joins it in later issues.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/corridor up "$@"
