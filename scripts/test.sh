#!/usr/bin/env bash
# The test command: set up, make sure PostgreSQL is up, lint, run the default (non-slow) test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m slow`, `bash scripts/test.sh -n 0 tests/test_nik.py`).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev || { echo "setup failed" >&2; exit 1; }

# The browser tests drive Debian's Chromium through Playwright (no `playwright install`: offline).
if ! command -v chromium >/dev/null 2>&1; then
  echo "chromium is missing: installing Debian's package for the browser tests"
  if [ "$(id -u)" = "0" ]; then
    apt-get update && apt-get install -y chromium
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update && sudo apt-get install -y chromium
  fi
  command -v chromium >/dev/null 2>&1 || echo "warning: chromium could not be installed; browser tests will be skipped (failed under CI=true)" >&2
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "PostgreSQL is down: starting cluster ${version}/main"
    pg_ctlcluster --skip-systemctl-redirect "${version}" main start || true
    for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
fi
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if [ "${CI:-}" = "true" ]; then
    echo "PostgreSQL at 127.0.0.1:5432 is not reachable and CI=true: failing (it may not be skipped in CI)" >&2
    exit 1
  fi
  echo "warning: PostgreSQL is not reachable; PostgreSQL tests will be skipped" >&2
fi

.venv/bin/ruff check src tests || exit 1
.venv/bin/ruff format --check src tests || exit 1
# Dead code: vulture over src/dtsen (scripts/deadcode.py says what counts; framework-called names are in
# scripts/deadcode_whitelist.py).
.venv/bin/python scripts/deadcode.py || exit 1

# Two pytest-xdist workers, one per core of the CI machine (more would only share the same cores, and each
# worker may hold a Spark JVM, a Chromium and DuckDB's memory). Whole files go to one worker (pyproject:
# --dist loadfile), longest first (tests/heaviest_first.py). DTSEN_TEST_WORKERS=0 (or `-n 0` among the
# arguments, which come last and win) runs in this process, e.g. for --pdb.
.venv/bin/python -m pytest -n "${DTSEN_TEST_WORKERS:-2}" "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: treating that as a failure" >&2
  exit 1
fi
exit "$rc"
