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
source scripts/lib/bench-server.sh
bench_init fanout
bench_build
createdb "$DB"
bench_start LYCEUM__SFU__ENABLED=false \
  LYCEUM__RATE_LIMIT__REGISTER_PER_IP_PER_HOUR=1000000 \
  LYCEUM__RATE_LIMIT__BOARD_POSTS_PER_USER_PER_MINUTE=100000
# The one category, as an admin's POST /api/boards/categories writes it.
psql -q -d "$DB" -c "INSERT INTO board_categories (id, slug, name, description, visibility)
  VALUES (gen_random_uuid(), 'placements', 'Placements', 'Interviews, offers and placement seasons', 'public')"

echo "== board fan-out: $WATCHERS watchers, $REPLIES replies every $INTERVAL_MS ms (load: $(cut -d' ' -f1-3 /proc/loadavg))"
"$BIN"/lyceum-loadtest --url "$BASE" ${JSON:+--json} board-fanout \
  --watchers "$WATCHERS" --replies "$REPLIES" --interval-ms "$INTERVAL_MS" --max-p99-ms "$MAX_P99_MS"
echo "server RSS after the run: $(ps -o rss= -p $PID) KiB"
