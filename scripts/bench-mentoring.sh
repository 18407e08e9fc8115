#!/usr/bin/env bash
# Mentor matching over N seeded mentors (default 10,000) and the expert
# dashboard of a mentor with 1,000 past sessions, on loopback, tester and
# server side by side: a fresh database on the Postgres at PGHOST:PGPORT
# (default 127.0.0.1:5432, user postgres), the release server against it
# (it migrates), one mentee registered through the API (its password hash
# is every seeded account's), scripts/seed-pages.sql (N mentors with
# profiles, ratings, upcoming slots and bookings) and
# scripts/seed-dashboard.sql ("Busy Mentor": 1,000 past sessions with
# bookings, attendance and reviews), then `lyceum-loadtest pages --site
# mentoring`: RATE requests/s for SECS seconds, open loop, after WARMUP
# seconds of the same load: 50 % `POST /api/matching` as the mentee (eight
# questionnaires), 25 % `GET /api/me/dashboard` and 25 % `/dashboard` as
# the busy mentor. A non-200 answer, or a kind with p99 above MAX_P99_MS,
# fails. The server is stopped and the database dropped after.
# Usage: scripts/bench-mentoring.sh [mentors] [seconds] [rate]
# Environment: MAX_P99_MS (default 50), WARMUP (5), PGHOST, PGPORT, PGUSER, JSON=1
#   BIN (run the release binaries there, without building; default: build, then
#   $CARGO_TARGET_DIR/release or target/release)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
SECS=${2:-30}
RATE=${3:-20}
MAX_P99_MS=${MAX_P99_MS:-50}
WARMUP=${WARMUP:-5}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
for t in psql createdb dropdb curl; do command -v $t >/dev/null || { echo "needs $t (apt-get install postgresql-client curl)"; exit 1; }; done
PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
DATA=$(mktemp -d /tmp/lyceum-mentoring-bench.XXXXXX)
DB=lyceum_mentoring_bench_$$
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
  "$BIN"/lyceum 2>"$DATA/server.log" &
PID=$!
for _ in $(seq 1 120); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.5; done
curl -sf "$BASE/readyz" >/dev/null || { echo "the server did not start:"; tail -20 "$DATA/server.log"; exit 1; }

TEMPLATE=seed-template@bench.example
curl -sf -o /dev/null -X POST "$BASE/api/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$TEMPLATE\",\"password\":\"correct horse battery staple\",\"displayName\":\"Seed Template\",\"role\":\"mentee\"}"
START=$(date +%s%N)
psql -q -d "$DB" -v n="$N" -v template="$TEMPLATE" -f scripts/seed-pages.sql
psql -q -d "$DB" -v template="$TEMPLATE" -f scripts/seed-dashboard.sql
echo "seeded in $(( ($(date +%s%N) - START) / 1000000 )) ms: $(psql -tA -d "$DB" -c \
  "SELECT (SELECT count(*) FROM profiles WHERE is_mentor) || ' mentors, ' || (SELECT count(*) FROM offerings) || ' offerings, '
          || (SELECT count(*) FROM offerings WHERE mentor_id = md5('busy-mentor')::uuid AND ends_at <= now())
          || ' past sessions of the busy mentor, ' || (SELECT count(*) FROM bookings) || ' bookings, '
          || (SELECT count(*) FROM reviews) || ' reviews'")"

echo "== matching and the dashboard: $RATE req/s for ${SECS}s (open loop, after ${WARMUP}s; load: $(cut -d' ' -f1-3 /proc/loadavg))"
"$BIN"/lyceum-loadtest --url "$BASE" ${JSON:+--json} pages --site mentoring \
  --rate "$RATE" --duration "$SECS" --warmup "$WARMUP" --max-p99-ms "$MAX_P99_MS"
