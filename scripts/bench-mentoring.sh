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
source scripts/lib/bench-server.sh
bench_init mentoring
bench_build
createdb "$DB"
bench_start LYCEUM__SFU__ENABLED=false

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
