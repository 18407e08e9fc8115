#!/usr/bin/env bash
# The boards with N seeded threads (default 100,000 questions, and one more
# thread with 500 replies), on loopback, tester and server side by side:
# a fresh database on the Postgres at PGHOST:PGPORT (default 127.0.0.1:5432,
# user postgres), the release server against it (it migrates), one account
# registered through the API (its password hash is the seeded authors'),
# scripts/seed-boards.sql, then `lyceum-loadtest pages --site boards`: RATE
# requests/s for SECS seconds, open loop, after WARMUP seconds of the same
# load: the 500-reply thread (API and page), other threads' pages, ranked
# searches and the latest list. A non-200 answer, or a kind with p99 above
# MAX_P99_MS, fails. The server is stopped and the database dropped after.
# Usage: scripts/bench-boards.sh [threads] [seconds] [rate]
# Environment: MAX_P99_MS (default 30), WARMUP (5), PGHOST, PGPORT, PGUSER, JSON=1, KEEP_DB=1
#   BIN (run the release binaries there, without building; default: build, then
#   $CARGO_TARGET_DIR/release or target/release)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
SECS=${2:-30}
RATE=${3:-100}
MAX_P99_MS=${MAX_P99_MS:-30}
WARMUP=${WARMUP:-5}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
for t in psql createdb dropdb curl; do command -v $t >/dev/null || { echo "needs $t (apt-get install postgresql-client curl)"; exit 1; }; done
PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
DATA=$(mktemp -d /tmp/lyceum-boards-bench.XXXXXX)
DB=lyceum_boards_bench_$$
# KEEP_DB=1: seed a database once and keep it for the next runs (it is
# seeded again only when it does not exist; drop it by hand when done).
if [ -n "${KEEP_DB:-}" ]; then DB=lyceum_boards_bench_kept; fi
BASE="http://127.0.0.1:$PORT"
PID=
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  if [ -z "${KEEP_DB:-}" ]; then dropdb --if-exists "$DB" 2>/dev/null || true; fi
  rm -rf "$DATA"
}
trap cleanup EXIT

# With BIN set, its binaries are run as they are (nothing is built).
if [ -z "${BIN:-}" ]; then nice -n 10 cargo build --release -q -p lyceum -p lyceum-loadtest; fi
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
SEED=1
if [ -n "${KEEP_DB:-}" ] && psql -d "$DB" -c 'SELECT 1' >/dev/null 2>&1; then SEED=; else createdb "$DB"; fi
LYCEUM__SERVER__PORT=$PORT LYCEUM__SERVER__DATA_DIR=$DATA \
  LYCEUM__DATABASE__URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB" \
  LYCEUM__SFU__ENABLED=false RUST_LOG=warn \
  "$BIN"/lyceum 2>"$DATA/server.log" &
PID=$!
for _ in $(seq 1 120); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.5; done
curl -sf "$BASE/readyz" >/dev/null || { echo "the server did not start:"; tail -20 "$DATA/server.log"; exit 1; }

TEMPLATE=seed-template@bench.example
if [ -n "$SEED" ]; then
  curl -sf -o /dev/null -X POST "$BASE/api/auth/register" -H 'content-type: application/json' \
    -d "{\"email\":\"$TEMPLATE\",\"password\":\"correct horse battery staple\",\"displayName\":\"Seed Template\",\"role\":\"mentee\"}"
  START=$(date +%s%N)
  psql -q -d "$DB" -v n="$N" -v template="$TEMPLATE" -f scripts/seed-boards.sql
  echo "seeded in $(( ($(date +%s%N) - START) / 1000000 )) ms: $(psql -tA -d "$DB" -c \
    "SELECT (SELECT count(*) FROM board_threads) || ' threads, ' || (SELECT count(*) FROM board_posts) || ' posts'")"
fi

echo "== boards: $RATE req/s for ${SECS}s (open loop, after ${WARMUP}s of warm-up; load: $(cut -d" " -f1-3 /proc/loadavg))"
"$BIN"/lyceum-loadtest --url "$BASE" ${JSON:+--json} pages --site boards \
  --rate "$RATE" --duration "$SECS" --warmup "$WARMUP" --max-p99-ms "$MAX_P99_MS"
