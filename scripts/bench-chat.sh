#!/usr/bin/env bash
# Chat fan-out on loopback with lyceum-loadtest: one room of MEMBERS members,
# SENDERS of them sending RATE messages/s in total for SECS seconds. Starts a
# release server with its embedded Postgres in a scratch dir and limits
# opened for the run. Usage: scripts/bench-chat.sh [members] [senders] [rate] [secs]
# ROOM_SIZE=K spreads the members over rooms of K (one room each) instead of
# one room of everyone; RAMP sets new connections per second.
set -euo pipefail
cd "$(dirname "$0")/.."
MEMBERS=${1:-200}; SENDERS=${2:-4}; RATE=${3:-100}; SECS=${4:-20}
PORT=${PORT:-18191}
DATA=$(mktemp -d /tmp/lyceum-chat-bench.XXXXXX)
cargo build --release -q -p lyceum -p lyceum-loadtest
LYCEUM__SERVER__PORT=$PORT LYCEUM__SERVER__DATA_DIR=$DATA RUST_LOG=warn \
  LYCEUM__RATE_LIMIT__REGISTER_PER_IP_PER_HOUR=1000000 \
  LYCEUM__CHAT__MESSAGES_PER_SECOND=1000 LYCEUM__CHAT__MESSAGE_BURST=1000 \
  "${CARGO_TARGET_DIR:-./target}"/release/lyceum 2>"$DATA/server.log" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.5; done
"${CARGO_TARGET_DIR:-./target}"/release/lyceum-loadtest --url "http://127.0.0.1:$PORT" ${CHART:+--chart "$CHART"} chat \
  --mentees "$MEMBERS" --senders "$SENDERS" --rate "$RATE" --duration "$SECS" --server-pid "$PID" \
  ${ROOM_SIZE:+--room-size "$ROOM_SIZE"} ${RAMP:+--ramp "$RAMP"}
echo "server RSS after the run: $(ps -o rss= -p $PID) KiB"
