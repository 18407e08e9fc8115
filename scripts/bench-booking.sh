#!/usr/bin/env bash
# Booking storm on loopback with lyceum-loadtest: MENTEES mentees book one
# SEATS-seat slot at once while all of them watch the mentor's calendar.
# Starts a release server with its embedded Postgres in a scratch dir.
# Usage: scripts/bench-booking.sh [mentees] [seats]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}; SEATS=${2:-10}
PORT=${PORT:-18192}
DATA=$(mktemp -d /tmp/lyceum-booking-bench.XXXXXX)
cargo build --release -q -p lyceum -p lyceum-loadtest
LYCEUM__SERVER__PORT=$PORT LYCEUM__SERVER__DATA_DIR=$DATA RUST_LOG=warn \
  LYCEUM__RATE_LIMIT__REGISTER_PER_IP_PER_HOUR=1000000 LYCEUM__DATABASE__MAX_CONNECTIONS=32 \
  "${CARGO_TARGET_DIR:-./target}"/release/lyceum 2>"$DATA/server.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.5; done
ulimit -n 65536 2>/dev/null || true
"${CARGO_TARGET_DIR:-./target}"/release/lyceum-loadtest --url "http://127.0.0.1:$PORT" booking --mentees "$N" --seats "$SEATS" --watchers "$N"
