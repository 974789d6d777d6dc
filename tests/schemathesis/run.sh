#!/usr/bin/env bash
# Runs schemathesis against a running labelhook: every operation of /api/schema/ gets
# generated valid and invalid requests; the run fails on any 5xx and on any response whose
# status, content type or body contradicts the schema.
#
#   run.sh [BASE_URL]            default http://127.0.0.1:8080
#   LABELHOOK_TOKEN              API token (required)
#   SCHEMATHESIS_VENV            virtualenv to create/reuse (default /tmp/labelhook-schemathesis-venv)
#   SCHEMATHESIS_MAX_EXAMPLES    test cases per operation and phase (default 15)
#   SCHEMATHESIS_SEED            random seed (default fixed, so CI runs are repeatable;
#                                `random` lets schemathesis pick one, printed in its summary)
#   SCHEMATHESIS_SEED_DATA       0 to skip creating the objects the schema's examples name
# Extra arguments go to `schemathesis run` (e.g. --include-path-regex '^/api/webhooks').
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
base="${1:-http://127.0.0.1:8080}"
base="${base%/}"
[ $# -gt 0 ] && shift
token="${LABELHOOK_TOKEN:?set LABELHOOK_TOKEN to an API token of the server}"
venv="${SCHEMATHESIS_VENV:-/tmp/labelhook-schemathesis-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

if [ "${SCHEMATHESIS_SEED_DATA:-1}" != 0 ]; then
    "$venv/bin/python" "$here/seed.py" "$base" "$token"
fi

seed=()
case "${SCHEMATHESIS_SEED:-20261123}" in
    random) ;;
    *) seed=(--seed "${SCHEMATHESIS_SEED:-20261123}") ;;
esac

# One worker: Python 3.11's ast.parse is not thread-safe ("AST constructor recursion depth
# mismatch" from hypothesis in a second worker), and the server shares the machine's 2 cores.
# Reports and hypothesis' example database go to a scratch directory, not the work tree.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
exec "$venv/bin/schemathesis" run "$base/api/schema/" \
    --header "Authorization: Token $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-15}" \
    "${seed[@]}" \
    --workers 1 \
    --request-timeout 30 \
    --wait-for-schema 30 \
    --generation-database none \
    --no-color \
    "$@"
