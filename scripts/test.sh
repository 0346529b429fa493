#!/usr/bin/env bash
# Installs what the tests need into .venv and runs every check: lint, types, layer rules, tests.
# The default run (what CI calls; under ~15 minutes on 2 cores): pytest leaves out the tests
# marked `slow` and runs the simulations and property tests at their default size;
# scripts/test-long.sh runs everything at full size.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# Debian build dependencies of PyICU (scripts/system-deps.sh)
source scripts/system-deps.sh
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev,bench]'

# The platform tests also run on a throw-away PostgreSQL server (tests/platform/pg.py), so
# they need its binaries; as root with apt-get we install them. CORRIDOR_TEST_PG=0 skips them.
find_initdb() {
  if [ -n "${CORRIDOR_PG_BIN:-}" ] && [ -x "$CORRIDOR_PG_BIN/initdb" ]; then
    echo "$CORRIDOR_PG_BIN/initdb"; return
  fi
  command -v initdb || ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1
}
if [ "${CORRIDOR_TEST_PG:-1}" = 0 ]; then
  echo "== PostgreSQL: skipped (CORRIDOR_TEST_PG=0)"
else
  INITDB=$(find_initdb || true)
  if [ -z "$INITDB" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing PostgreSQL (apt-get install postgresql)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql >/dev/null \
      || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }
    INITDB=$(find_initdb || true)
  fi
  if [ -n "$INITDB" ]; then
    echo "== PostgreSQL: $("$INITDB" --version | sed 's/^initdb (PostgreSQL) //') ($(dirname "$(readlink -f "$INITDB")"))"
  else
    echo "== PostgreSQL: not found; the PostgreSQL test variants will fail (install it, or CORRIDOR_TEST_PG=0)"
  fi
fi

# The browser tests (tests/web/test_browser.py) drive Debian's Chromium through Playwright
# (Playwright's own browser download cannot be used here); CJK fonts make the Chinese
# pages' screenshots readable. As root with apt-get we install what is missing.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "== installing Chromium and CJK fonts (apt-get install chromium fonts-noto-cjk)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium fonts-noto-cjk >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q chromium fonts-noto-cjk >/dev/null; }
fi
if [ -x /usr/bin/chromium ]; then
  echo "== Chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
else
  echo "== Chromium: not found; the browser tests will fail (apt-get install chromium)"
fi

echo "== ruff"; .venv/bin/ruff check src tests
echo "== mypy"; .venv/bin/mypy
echo "== import contracts"; .venv/bin/lint-imports
echo "== pytest"; .venv/bin/pytest "$@"
