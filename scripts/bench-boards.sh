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
source scripts/lib/bench-server.sh
bench_init boards
# KEEP_DB=1: seed a database once and keep it for the next runs (it is
# seeded again only when it does not exist; drop it by hand when done).
if [ -n "${KEEP_DB:-}" ]; then DB=lyceum_boards_bench_kept BENCH_KEEP_DB=1; fi
bench_build
SEED=1
if [ -n "${KEEP_DB:-}" ] && psql -d "$DB" -c 'SELECT 1' >/dev/null 2>&1; then SEED=; else createdb "$DB"; fi
bench_start LYCEUM__SFU__ENABLED=false

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
