#!/usr/bin/env bash
# `make load`: Locust's mixed traffic (bench/locustfile.py) for a minute against a local stack:
# `kibeti serve` on PostgreSQL with its in-process queue, scheduler and simulators (Daraja, Africa's
# Talking, chains). Writes var/load/report.html, var/load/stats_*.csv and var/load/metrics.txt (the
# app's /metrics afterwards), and prints the summary. USERS, SPAWN_RATE, DURATION and PORT override.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
USERS=${USERS:-30}
SPAWN_RATE=${SPAWN_RATE:-5}
DURATION=${DURATION:-1m}
PORT=${PORT:-8765}
OUT=var/load
PG_ADMIN=${KIBETI_TEST_PG:-postgresql://postgres@127.0.0.1:5432/test}
DB=kibeti_load

mkdir -p "$OUT"
rm -rf "$OUT/data"
psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export DATABASE_URL="${PG_ADMIN%/*}/$DB"
DATABASE_URL="postgresql+asyncpg://${DATABASE_URL#postgresql://}"
export DATABASE_URL REDIS_URL="" DATA_DIR="$OUT/data" KIBETI_ENV=development
export MPESA_CALLBACK_BASE_URL="http://127.0.0.1:$PORT"

echo "Preparing the database ($DB) ..."
$BIN/kibeti db upgrade >/dev/null
$BIN/kibeti demo >/dev/null
$BIN/kibeti fx refresh >/dev/null

echo "Serving on 127.0.0.1:$PORT ..."
$BIN/kibeti serve --port "$PORT" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { echo "the server did not start; see $OUT/server.log" >&2; exit 1; }

echo "Locust: $USERS users, $SPAWN_RATE/s, for $DURATION (load average before: $(cut -d' ' -f1-3 /proc/loadavg)) ..."
$BIN/locust -f bench/locustfile.py --headless --only-summary -u "$USERS" -r "$SPAWN_RATE" -t "$DURATION" \
  --host "http://127.0.0.1:$PORT" --html "$OUT/report.html" --csv "$OUT/stats" --exit-code-on-error 0 \
  2>&1 | tee "$OUT/locust.txt" | tail -30
curl -fsS "http://127.0.0.1:$PORT/metrics" >"$OUT/metrics.txt"
echo
echo "From /metrics afterwards:"
grep -E '^kibeti_(http_request_duration_seconds_count\{family="ussd"|payouts\{|collections\{|chain_scanner_lag_blocks|ussd_dropped_total)' "$OUT/metrics.txt" || true
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg). Report: $OUT/report.html"
