#!/usr/bin/env bash
# Sets up a fresh machine and starts Corridor on its embedded defaults: `corridor up` runs a
# one-validator network in .corridor/local (created on first run with demo issuers,
# currencies and wallets) and the platform API on it. Each step says what it does: the
# first install takes about a minute and shows pip's progress.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
step() { printf '==> %s\n' "$*" >&2; }
if [ ! -x .venv/bin/python ]; then
  step "creating the virtual environment in .venv ($PY)"
  "$PY" -m venv .venv
fi
# Debian build dependencies of PyICU (scripts/system-deps.sh)
source scripts/system-deps.sh
if [ ! -x .venv/bin/corridor ]; then
  step "installing Corridor and its dependencies into .venv (first time: about a minute)"
  .venv/bin/python -m pip install --disable-pip-version-check --progress-bar off -e . \
    | grep --line-buffered -E '^(Collecting|Installing|Successfully)' >&2 || true
  [ -x .venv/bin/corridor ] || { step "the installation failed: run '.venv/bin/python -m pip install -e .' to see why"; exit 1; }
else
  step "checking .venv is up to date"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
step "starting: corridor up $*"
exec .venv/bin/corridor up "$@"
