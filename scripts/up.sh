#!/usr/bin/env bash
# Sets up a fresh machine and starts Corridor on its embedded defaults.
# Today "the whole system" is the ledger core, so this runs its demonstration scenario;
# when the node lands this becomes `corridor up` (a local network plus its endpoints).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e .
exec .venv/bin/corridor demo ledger "$@"
