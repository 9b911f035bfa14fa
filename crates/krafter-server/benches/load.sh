#!/usr/bin/env bash
# `just load`: the summary under load, next to the HTTP stack alone and the database alone.
#
# Seeds a project of 1,000,000 findings (`krafter demo`, the bulk path) in a database of its own
# on DATABASE_URL's server, starts a release `krafter serve` (no workers, no rate limit, the
# default key and project cache), and runs `wrk -t2 -c64` for LOAD_SECONDS (default 30) each
# against `/healthz`, the default summary and the 366-day summary, then the same two summaries
# with the cache off (KRAFTER_AUTH_CACHE_SECONDS=0: the key and project read on every request),
# and pgbench (64 clients, 2 threads) on the summary's own query. Prints every figure; the
# database is dropped afterwards. Needs wrk and pgbench (Debian: wrk, postgresql-15 or
# postgresql-client).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
: "${DATABASE_URL:=postgres://postgres@127.0.0.1:5432/postgres}"
admin_url=$DATABASE_URL
seconds=${LOAD_SECONDS:-30}
findings=${LOAD_FINDINGS:-1000000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"

pgbench=$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | sort -V | tail -n 1)
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
[ -x "$pgbench" ] || { echo "pgbench is missing (apt-get install postgresql-client)" >&2; exit 1; }

cargo build --release --bin krafter
krafter="$CARGO_TARGET_DIR/release/krafter"

work=$(mktemp -d)
db="krafter_load_$(date -u +%Y%m%d%H%M%S)_$$"
base=${admin_url%%\?*}
case "${base#*://}" in
  */*) db_url="${base%/*}/$db" ;;
  *) db_url="$base/$db" ;;
esac
server_pid=
cleanup() {
  [ -z "$server_pid" ] || kill -TERM "$server_pid" 2>/dev/null || true
  [ -z "$server_pid" ] || wait "$server_pid" 2>/dev/null || true
  psql "$admin_url" -qAt -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$admin_url" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$db\"" >/dev/null
export DATABASE_URL="$db_url"
"$krafter" migrate >/dev/null

started=$SECONDS
"$krafter" demo --findings "$findings" >"$work/demo" 2>/dev/null
echo "seeded $findings findings in $((SECONDS - started)) s"
key=$(sed -n 1p "$work/demo")
path=$(grep -o '/api/v1/[^ ]*' "$work/demo")
slug=${path#*/projects/}
slug=${slug%%/*}
project_id=$(psql "$db_url" -qAt -c "SELECT id FROM projects WHERE slug = '$slug'")
psql "$db_url" -qAt -c "VACUUM ANALYZE" >/dev/null

serve() {
  env KRAFTER_BIND=127.0.0.1:0 KRAFTER_WORKERS=0 KRAFTER_RATE_LIMIT=0 RUST_LOG=warn,krafter=info \
    "$@" "$krafter" serve --no-migrate >"$work/server.stdout" 2>"$work/server.stderr" &
  server_pid=$!
  address=
  for _ in $(seq 300); do
    address=$(grep -o 'address=127\.0\.0\.1:[0-9]*' "$work/server.stderr" | sed -n 1p | cut -d= -f2) || true
    [ -n "$address" ] && break
    sleep 0.1
  done
  [ -n "$address" ] || { cat "$work/server.stderr" >&2; exit 1; }
}
stop() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=
}
today=$(date -u +%F)
year_ago=$(date -u -d "$today - 365 days" +%F)
run() {
  local name=$1 url=$2
  shift 2
  echo "== $name: wrk -t2 -c64 -d${seconds}s --latency"
  wrk -t2 -c64 -d"${seconds}s" --latency "$@" "$url" |
    grep -E 'Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors|requests in'
}

serve env
summary="http://$address$path"
run "/healthz (the HTTP stack alone)" "http://$address/healthz"
run "summary, default window (cache on)" "$summary" -H "Authorization: Bearer $key"
run "summary, 366 days (cache on)" "$summary?date_from=$year_ago&date_to=$today" -H "Authorization: Bearer $key"
stop
serve env KRAFTER_AUTH_CACHE_SECONDS=0
summary="http://$address$path"
run "summary, default window (cache off)" "$summary" -H "Authorization: Bearer $key"
run "summary, 366 days (cache off)" "$summary?date_from=$year_ago&date_to=$today" -H "Authorization: Bearer $key"
stop

# The database alone: the summary's one query (as krafter-postgres sends it), 64 clients.
week_ago=$(date -u -d "$today - 6 days" +%F)
for window in "$week_ago:default window" "$year_ago:366 days"; do
  from=${window%%:*}
  cat >"$work/summary.sql" <<SQL
SELECT NULL::date AS day, COALESCE(sum(open_risk_score), 0)::bigint, COALESCE(sum(open_findings), 0)::bigint,
       COALESCE(sum(terminal_findings), 0)::bigint, COALESCE(sum(open_regressions), 0)::bigint,
       COALESCE(sum(verifications), 0)::bigint, COALESCE(sum(verifications_passed), 0)::bigint,
       COALESCE(sum(returned_findings), 0)::bigint
  FROM project_daily_totals WHERE project_id = '$project_id' AND day < '$from'
UNION ALL
SELECT day, open_risk_score, open_findings, terminal_findings, open_regressions, verifications,
       verifications_passed, returned_findings
  FROM project_daily_totals WHERE project_id = '$project_id' AND day >= '$from' AND day <= '$today'
   AND (open_risk_score, open_findings, terminal_findings, open_regressions, verifications,
        verifications_passed, returned_findings) <> (0, 0, 0, 0, 0, 0, 0)
 ORDER BY day ASC NULLS FIRST;
SQL
  echo "== pgbench, the summary's query, ${window#*:}: -c64 -j2 -T$seconds -M prepared"
  "$pgbench" -n -c 64 -j 2 -T "$seconds" -M prepared -f "$work/summary.sql" "$db_url" 2>&1 |
    grep -E '^tps|latency average'
done
