#!/usr/bin/env bash
# Benchmark GET /api/mentors with N seeded mentors (default 10,000) on
# loopback, server and load tool side by side on this machine.
#   1. Latency at a fixed offered load (open loop, hey -q): RATE requests/s
#      spread evenly over eight typical directory queries; p50/p90/p99/max
#      over all requests.
#   2. Throughput at saturation (closed loop, wrk, 16 connections).
# Uses the embedded private Postgres in a scratch data dir, so it needs
# nothing running. Usage: scripts/bench-directory.sh [mentors] [seconds] [rate]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
SECS=${2:-20}
RATE=${3:-200}
PORT=${PORT:-18181}
DATA=$(mktemp -d /tmp/lyceum-bench.XXXXXX)
for t in wrk hey psql; do command -v $t >/dev/null || { echo "needs $t (apt-get install wrk hey postgresql-client)"; exit 1; }; done
cargo build --release -q
LYCEUM__SERVER__PORT=$PORT LYCEUM__SERVER__DATA_DIR=$DATA RUST_LOG=warn "${CARGO_TARGET_DIR:-./target}"/release/lyceum 2>"$DATA/server.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.5; done
psql -q -h "$DATA/postgres/run" -U postgres -d lyceum -v n="$N" -f scripts/seed-mentors.sql
TOKEN=$(curl -sf -X POST "http://127.0.0.1:$PORT/api/auth/register" -H 'content-type: application/json' \
  -d '{"email":"bench@example.org","password":"correct horse battery","displayName":"Bench","role":"mentee"}' \
  | sed -E 's/.*"accessToken":"([^"]+)".*/\1/')
echo "mentors seeded: $(psql -tA -h "$DATA/postgres/run" -U postgres -d lyceum -c 'SELECT count(*) FROM profiles WHERE is_mentor')"

# The same eight queries as scripts/directory.lua.
PATHS=$(sed -n 's/^  "\(\/api\/mentors[^"]*\)",$/\1/p' scripts/directory.lua)
NPATHS=$(echo "$PATHS" | wc -l)
# Warm up (prepared statements, caches).
TOKEN=$TOKEN wrk -t1 -c4 -d3s -s scripts/directory.lua "http://127.0.0.1:$PORT" >/dev/null

echo "== fixed load: $RATE req/s for ${SECS}s over $NPATHS queries"
PER=$(( (RATE + NPATHS - 1) / NPATHS ))
i=0
for p in $PATHS; do
  i=$((i+1))
  hey -z "${SECS}s" -c 2 -q $(( (PER + 1) / 2 )) -o csv -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$PORT$p" > "$DATA/hey.$i.csv" &
done
wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
cat "$DATA"/hey.*.csv | awk -F, '$1 ~ /^[0-9.]+$/ {print $1*1000, $7}' > "$DATA/all"
awk '{print $2}' "$DATA/all" | sort | uniq -c | awk '{printf "status %s: %s\n", $2, $1}'
sort -n "$DATA/all" | awk '{a[NR]=$1} END {
  n=NR; printf "requests %d (%.0f/s)\n", n, n/'"$SECS"';
  printf "p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", a[int(n*0.50)], a[int(n*0.90)], a[int(n*0.99)], a[n] }'

echo "== saturation: wrk, 2 threads, 16 connections, ${SECS}s"
TOKEN=$TOKEN wrk -t2 -c16 -d"${SECS}s" --latency -s scripts/directory.lua "http://127.0.0.1:$PORT"
