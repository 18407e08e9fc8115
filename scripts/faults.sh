#!/usr/bin/env bash
# Fault injection under a chat load (docs/reliability.md). Starts a server
# with its own private Postgres in a scratch directory under /tmp (never the
# machine's shared Postgres), runs `lyceum-loadtest faults` against it and,
# while it sends:
#   kill  - kill -9 the server FAULT_AT s into the sending and start it again
#           at once on the same data directory;
#   pg    - stop the private Postgres (pg_ctl -m fast) FAULT_AT s in, keep it
#           down PG_DOWN s, start it again; the server is not restarted.
# The load tester reconnects, resumes, re-sends unacked messages and at the
# end checks every acked message is stored, gapless; it exits non-zero if not.
#
# Usage: scripts/faults.sh [kill|pg|both]
# Environment: PROFILE (debug|release), MENTEES, ROOM_SIZE, SENDERS, RATE,
# SECS, FAULT_AT, PG_DOWN, PG_STOP_MODE (fast|immediate), MAX_PROBE_MS (the
# slowest HTTP refusal, a 503, the pg run accepts: 5000), PORT, OUT (where
# the JSON results and server logs are kept), NO_BUILD=1 to use the binaries
# already built.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-both}
PROFILE=${PROFILE:-debug}
MENTEES=${MENTEES:-1000}; ROOM_SIZE=${ROOM_SIZE:-50}; SENDERS=${SENDERS:-40}
RATE=${RATE:-100}; SECS=${SECS:-40}; FAULT_AT=${FAULT_AT:-10}; PG_DOWN=${PG_DOWN:-10}
PG_STOP_MODE=${PG_STOP_MODE:-fast}
PORT=${PORT:-18391}
OUT=${OUT:-/tmp/lyceum-faults-results}
mkdir -p "$OUT"

if [ -n "${NO_BUILD:-}" ]; then
  :
elif [ "$PROFILE" = release ]; then
  cargo build --release -q -p lyceum -p lyceum-loadtest
else
  cargo build -q -p lyceum -p lyceum-loadtest
fi
BIN=./target/$PROFILE
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PG_BIN/pg_ctl" ] || PG_BIN=$(dirname "$(command -v pg_ctl)")
DATA=$(mktemp -d /tmp/lyceum-faults.XXXXXX)
chmod 755 "$DATA"
CLUSTER=$DATA/postgres/cluster
ulimit -n 65536 2>/dev/null || true

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
as_pg() {
  # The cluster belongs to the postgres user when we are root (like the server does it).
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

SERVER=
start_server() {
  LYCEUM__SERVER__PORT=$PORT LYCEUM__SERVER__DATA_DIR=$DATA RUST_LOG=${RUST_LOG:-warn} \
    LYCEUM__RATE_LIMIT__REGISTER_PER_IP_PER_HOUR=1000000 \
    LYCEUM__CHAT__MESSAGES_PER_SECOND=1000 LYCEUM__CHAT__MESSAGE_BURST=1000 \
    "$BIN/lyceum" 2>>"$DATA/server.log" &
  SERVER=$!
  local t; t=$(now)
  for _ in $(seq 1 1200); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && { echo "server ready in $(since "$t") s (pid $SERVER)"; return; }
    kill -0 "$SERVER" 2>/dev/null || { echo "server exited; see $OUT/server.log"; cp "$DATA/server.log" "$OUT/"; exit 1; }
    sleep 0.1
  done
  echo "server not ready after 120 s"; exit 1
}
cleanup() {
  [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  cp "$DATA/server.log" "$OUT/server.log" 2>/dev/null || true
  cp "$DATA/postgres/server.log" "$OUT/postgres.log" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

# Runs the load in the background; waits until it is sending.
LT=
# $2: the slowest HTTP probe allowed, ms (0: report only).
start_load() {
  rm -f "$DATA/sending"
  "$BIN/lyceum-loadtest" --url "http://127.0.0.1:$PORT" --json faults \
    --mentees "$MENTEES" --room-size "$ROOM_SIZE" --senders "$SENDERS" --rate "$RATE" \
    --duration "$SECS" --ready-file "$DATA/sending" --max-probe-ms "$2" \
    >"$OUT/$1.json" 2>"$OUT/$1.stderr" &
  LT=$!
  for _ in $(seq 1 6000); do
    [ -e "$DATA/sending" ] && return
    kill -0 "$LT" 2>/dev/null || { echo "load tester exited early:"; cat "$OUT/$1.stderr"; exit 1; }
    sleep 0.1
  done
  echo "the load did not start sending within 10 minutes"; exit 1
}
finish_load() {
  local rc=0
  wait "$LT" || rc=$?
  echo "load tester exit code $rc; result in $OUT/$1.json"
  cat "$OUT/$1.json"
  return $rc
}

status=0
start_server
if [ "$MODE" = kill ] || [ "$MODE" = both ]; then
  echo "== kill -9 of the server under load ($MENTEES mentees)"
  # While the server is down and its 1,000 connections come back, requests
  # may be slow; what must hold here is the data (reported, not failed on).
  start_load kill 0
  sleep "$FAULT_AT"
  t=$(now)
  kill -9 "$SERVER"; wait "$SERVER" 2>/dev/null || true
  echo "server killed (kill -9) at $(date -u +%T)"
  start_server
  echo "killed to ready again: $(since "$t") s"
  finish_load kill || status=1
fi
if [ "$MODE" = pg ] || [ "$MODE" = both ]; then
  echo "== private Postgres stopped for $PG_DOWN s under load ($MENTEES mentees)"
  # While Postgres is down every request must be refused quickly (a 503).
  start_load pg "${MAX_PROBE_MS:-5000}"
  sleep "$FAULT_AT"
  as_pg "$PG_BIN/pg_ctl" -D "$CLUSTER" -m "$PG_STOP_MODE" -w stop
  echo "Postgres stopped ($PG_STOP_MODE) at $(date -u +%T)"
  sleep "$PG_DOWN"
  t=$(now)
  as_pg "$PG_BIN/pg_ctl" -D "$CLUSTER" -l "$DATA/postgres/server.log" -w start >/dev/null
  echo "Postgres started again at $(date -u +%T)"
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
    sleep 0.1
  done
  echo "server ready again $(since "$t") s after Postgres came back (same process: $(kill -0 "$SERVER" && echo yes))"
  finish_load pg || status=1
fi
exit $status
