#!/bin/bash
# Counts the statements PostgreSQL executes for one annotation create (issue 20): a scratch
# database that logs every statement, a server on it, a project with 12 tasks and one
# webhook to a receiver on loopback, then 10 creates between two marker queries.
#
#   BIN=target/release/labelhook bench/count-statements.sh
#
# Needs PostgreSQL at 127.0.0.1:5432 (trust auth, user postgres), its log readable at
# $PGLOG (default /var/log/postgresql/postgresql-15-main.log, log_line_prefix with %d)
# and python3 (the receiver). HOOKS=0 leaves the webhook out.
set -euo pipefail
BIN=${BIN:-target/release/labelhook}
PGLOG=${PGLOG:-/var/log/postgresql/postgresql-15-main.log}
DB=lh_count_$$
PORT=${PORT:-18930}
RXPORT=$((PORT + 1))
OUT=$(mktemp -d)
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $DB" -c "ALTER DATABASE $DB SET log_statement = 'all'"
python3 - "$RXPORT" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('content-length', 0)))
        self.send_response(200); self.send_header('content-length', '0'); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
RX=$!
DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB LABELHOOK_ADMIN_TOKEN=count-token-0123456789 \
  SSRF_PROTECTION_ENABLED=false LABELHOOK_LOG=warn "$BIN" serve --bind 127.0.0.1:$PORT >"$OUT/server.log" 2>&1 &
SRV=$!
trap 'kill $SRV $RX 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:$PORT/health >/dev/null && break; sleep 0.2; done
API=http://127.0.0.1:$PORT/api
H=(-s -H "Authorization: Token count-token-0123456789" -H "Content-Type: application/json")
CONFIG='<View><Text name=\"text\" value=\"$text\"/><Choices name=\"label\" toName=\"text\"><Choice value=\"pos\"/></Choices></View>'
P=$(curl "${H[@]}" -X POST $API/projects/ -d "{\"title\":\"count\",\"label_config\":\"$CONFIG\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
curl "${H[@]}" -X POST $API/projects/$P/import -d "[$(for i in $(seq 1 12); do printf '{"text":"t%s"},' $i; done | sed 's/,$//')]" >/dev/null
if [ "${HOOKS:-1}" = 1 ]; then
  curl "${H[@]}" -X POST $API/webhooks/ -d "{\"url\":\"http://127.0.0.1:$RXPORT/h\",\"project\":$P,\"send_payload\":true,\"send_for_all_actions\":true}" >/dev/null
fi
TASKS=$(curl "${H[@]}" "$API/tasks/?project=$P&page_size=100" | python3 -c 'import json,sys; d=json.load(sys.stdin); d=d.get("tasks", d.get("results", d)); print(" ".join(str(t["id"]) for t in d))')
BODY='{"result":[{"from_name":"label","to_name":"text","type":"choices","value":{"choices":["pos"]}}]}'
set -- $TASKS
# The first create warms the statement caches.
curl "${H[@]}" -X POST $API/tasks/$1/annotations/ -d "$BODY" >/dev/null
shift
sleep 1
psql -h 127.0.0.1 -U postgres -d $DB -qAtc "SELECT 'MARK_START'" >/dev/null
for t in $(echo "$@" | cut -d' ' -f1-10); do
  curl "${H[@]}" -X POST $API/tasks/$t/annotations/ -d "$BODY" >/dev/null
done
sleep 1.5
psql -h 127.0.0.1 -U postgres -d $DB -qAtc "SELECT 'MARK_END'" >/dev/null
kill $SRV $RX 2>/dev/null || true
wait $SRV 2>/dev/null || true
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $DB WITH (FORCE)"
grep "@$DB " "$PGLOG" | sed -n '/MARK_START/,/MARK_END/p' | sed -E 's/^.*(LOG|DETAIL): +//' \
  | grep -v '^parameters:' >"$OUT/statements.txt"
echo "statements between the markers, 10 creates and the dispatcher's own ($OUT/statements.txt):"
# Divide by 10: a create's statements appear 10 times (BEGIN/COMMIT also count the
# dispatcher's transactions, which use SET LOCAL synchronous_commit = off).
sed -E 's/^execute [^:]*: //' "$OUT/statements.txt" | cut -c1-110 | sort | uniq -c | sort -rn
