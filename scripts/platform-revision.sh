#!/usr/bin/env bash
# Autogenerates a platform database migration from the models (every table imported via
# src/corridor/platform/adapters/tables.py), against a scratch SQLite database upgraded to
# the newest revision. Writes src/corridor/platform/adapters/migrations/versions/NNNN_<slug>.py;
# review it before committing (autogenerate cannot see renames or data moves), then run
# `.venv/bin/pytest tests/platform/test_migrations.py` (SQLite and PostgreSQL).
# Usage: bash scripts/platform-revision.sh "add kyc tables"
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: bash scripts/platform-revision.sh \"what the revision does\"" >&2
  exit 2
fi
exec .venv/bin/python -m corridor.platform.adapters.migrate revision "$1"
