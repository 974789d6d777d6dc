#!/usr/bin/env bash
# Runs the label-studio-sdk compatibility suite against a labelhook binary.
#   LABELHOOK_BIN                path of the binary (default: <repo>/target/debug/labelhook)
#   COMPAT_VENV                  virtualenv to create/reuse (default: /tmp/labelhook-compat-venv)
#   LABELHOOK_TEST_DATABASE_URL  optional: run against this database instead of a fresh SQLite
# Extra arguments go to pytest (e.g. -k webhook, -x).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${COMPAT_VENV:-/tmp/labelhook-compat-venv}"
export LABELHOOK_BIN="${LABELHOOK_BIN:-$repo/target/debug/labelhook}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

cd "$here"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" "$here"
