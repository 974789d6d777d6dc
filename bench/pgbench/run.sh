#!/bin/bash
# PostgreSQL's side of an annotation create, replayed by pgbench beside its TPC-B (issue
# 20; figures in docs/scaling.md). old*.sql: the statements of aed8c2e (17 with a webhook,
# 13 without; the *0.sql write no event, as before the event stream); new*.sql: those of
# now (8 and 7); fold.sql: the statistics fold, mixed in
# at 1 in 400 as the server's 250 ms folder. 16 clients, 2 threads, T seconds (20).
#
#   BIN=target/release/labelhook bench/pgbench/run.sh
#
# Needs PostgreSQL at 127.0.0.1:5432 (trust auth, user postgres), pgbench, curl, python3.
set -euo pipefail
cd "$(dirname "$0")"
BIN=${BIN:-../../target/release/labelhook}
U=postgres://postgres@127.0.0.1:5432
T=${T:-20}
DB=lh_pgbench_create
# The server migrates the database and fills it: a project, 20,000 tasks, one webhook.
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
DATABASE_URL=$U/$DB LABELHOOK_ADMIN_TOKEN=pgbench-token-0123456789 SSRF_PROTECTION_ENABLED=false \
  LABELHOOK_LOG=warn "$BIN" serve --bind 127.0.0.1:18960 >/dev/null 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18960/health >/dev/null && break; sleep 0.3; done
H=(-s -o /dev/null -H "Authorization: Token pgbench-token-0123456789" -H "Content-Type: application/json")
CONFIG='<View><Text name=\"text\" value=\"$text\"/><Choices name=\"label\" toName=\"text\"><Choice value=\"pos\"/><Choice value=\"neg\"/></Choices></View>'
curl "${H[@]}" -X POST http://127.0.0.1:18960/api/projects/ -d "{\"title\":\"pgbench\",\"label_config\":\"$CONFIG\"}"
TASKS=$(python3 -c "import json; print(json.dumps([{'text': 'task %d' % i} for i in range(5000)]))")
for _ in 1 2 3 4; do curl "${H[@]}" -X POST http://127.0.0.1:18960/api/projects/1/import -d "$TASKS"; done
curl "${H[@]}" -X POST http://127.0.0.1:18960/api/webhooks/ -d '{"url":"http://127.0.0.1:9/h","project":1,"send_payload":true,"send_for_all_actions":true}'
kill $SRV; wait $SRV 2>/dev/null || true
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS lh_pgbench_tpcb" -c "CREATE DATABASE lh_pgbench_tpcb"
pgbench -i -q $U/lh_pgbench_tpcb >/dev/null 2>&1
# Without a webhook (and without the event row, as before the event stream): the same
# sequences less the statements of the event and its deliveries.
grep -v -E "WHERE t.id IN \(:task\)|nextval|INSERT INTO events|INSERT INTO deliveries" old.sql >old0.sql
grep -v "WITH e AS" new.sql >new0.sql
trap 'kill $SRV 2>/dev/null || true; rm -f old0.sql new0.sql' EXIT
tps() { grep -m1 "^tps" | awk '{print $3}'; }
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "TPC-B (scale 1)  $(pgbench -n -c 16 -j 2 -T "$T" $U/lh_pgbench_tpcb 2>&1 | tps)"
for s in old new old0 new0; do
  echo "$s.sql  $(pgbench -n -M prepared -c 16 -j 2 -T "$T" -f $s.sql@400 -f fold.sql@1 $U/$DB 2>&1 | tps)"
done
echo "TPC-B (scale 1)  $(pgbench -n -c 16 -j 2 -T "$T" $U/lh_pgbench_tpcb 2>&1 | tps)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE $DB WITH (FORCE)" -c "DROP DATABASE lh_pgbench_tpcb WITH (FORCE)"
