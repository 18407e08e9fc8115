#!/usr/bin/env bash
# One board event to many online watchers, on loopback, tester and server
# side by side: a fresh database on the Postgres at PGHOST:PGPORT (default
# 127.0.0.1:5432, user postgres), the release server against it (it
# migrates; sign-up and board-post limits opened for the run), one public
# board category, then `lyceum-loadtest board-fanout`: WATCHERS members sign
# up, each opens a WebSocket and watches one new thread (`watch_thread`),
# and its author posts REPLIES replies, one every INTERVAL_MS; every
# watcher times each reply's `thread_updated` frame from the reply's 201.
# A lost frame, a refused reply or a p99 above MAX_P99_MS fails. The server
# is stopped and the database dropped after.
# Usage: scripts/bench-fanout.sh [watchers] [replies] [interval_ms]
# Environment: MAX_P99_MS (default 50), PGHOST, PGPORT, PGUSER, JSON=1
#   BIN (run the release binaries there, without building; default: build, then
#   $CARGO_TARGET_DIR/release or target/release)
set -euo pipefail
cd "$(dirname "$0")/.."
WATCHERS=${1:-1000}
REPLIES=${2:-20}
INTERVAL_MS=${3:-500}
MAX_P99_MS=${MAX_P99_MS:-50}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
for t in psql createdb dropdb curl; do command -v $t >/dev/null || { echo "needs $t (apt-get install postgresql-client curl)"; exit 1; }; done
PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
DATA=$(mktemp -d /tmp/lyceum-fanout-bench.XXXXXX)
DB=lyceum_fanout_bench_$$
BASE="http://127.0.0.1:$PORT"
PID=
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  dropdb --if-exists "$DB" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

# With BIN set, its binaries are run as they are (nothing is built).
if [ -z "${BIN:-}" ]; then nice -n 10 cargo build --release -q -p lyceum -p lyceum-loadtest; fi
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
createdb "$DB"
LYCEUM__SERVER__PORT=$PORT LYCEUM__SERVER__DATA_DIR=$DATA \
  LYCEUM__DATABASE__URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB" \
  LYCEUM__SFU__ENABLED=false RUST_LOG=warn \
  LYCEUM__RATE_LIMIT__REGISTER_PER_IP_PER_HOUR=1000000 \
  LYCEUM__RATE_LIMIT__BOARD_POSTS_PER_USER_PER_MINUTE=100000 \
  "$BIN"/lyceum 2>"$DATA/server.log" &
PID=$!
for _ in $(seq 1 120); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.5; done
curl -sf "$BASE/readyz" >/dev/null || { echo "the server did not start:"; tail -20 "$DATA/server.log"; exit 1; }
# The one category, as an admin's POST /api/boards/categories writes it.
psql -q -d "$DB" -c "INSERT INTO board_categories (id, slug, name, description, visibility)
  VALUES (gen_random_uuid(), 'placements', 'Placements', 'Interviews, offers and placement seasons', 'public')"

echo "== board fan-out: $WATCHERS watchers, $REPLIES replies every $INTERVAL_MS ms (load: $(cut -d' ' -f1-3 /proc/loadavg))"
"$BIN"/lyceum-loadtest --url "$BASE" ${JSON:+--json} board-fanout \
  --watchers "$WATCHERS" --replies "$REPLIES" --interval-ms "$INTERVAL_MS" --max-p99-ms "$MAX_P99_MS"
echo "server RSS after the run: $(ps -o rss= -p $PID) KiB"
