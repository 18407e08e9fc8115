#!/usr/bin/env bash
# The server-rendered pages with N seeded mentors (default 10,000), on
# loopback, tester and server side by side on this machine:
#   1. builds the release server and tester;
#   2. makes a fresh database on the Postgres at PGHOST:PGPORT (default
#      127.0.0.1:5432, user postgres) and starts the release server on a free
#      port with a scratch data dir against it (it migrates the database);
#   3. registers one account through the API, whose password hash every
#      seeded account shares, and seeds N mentors with profiles, slots and
#      bookings (scripts/seed-pages.sql);
#   4. checks the first visit's weight: the CSS and JavaScript that /,
#      /mentors and /mentors/{id} load (and the modules those import), over
#      MAX_ASSET_KB (default 100) fails;
#   5. runs `lyceum-loadtest pages`: RATE requests/s for SECS seconds, open
#      loop, after WARMUP seconds of the same load, over the directory (no
#      query, searches, filters, later pages) and random mentors' pages;
#      a non-200 answer or a page kind with p99 above MAX_P99_MS fails;
# then stops the server and drops the database, whatever happened.
# Usage: scripts/bench-pages.sh [mentors] [seconds] [rate]
# Environment: MAX_P99_MS (default 20), MAX_ASSET_KB (100), WARMUP (5),
#   TESTER_NICE (a nice level for the tester), PGHOST, PGPORT, PGUSER, JSON=1 (the tester's report as JSON), CHART=file.html
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
SECS=${2:-30}
RATE=${3:-100}
MAX_P99_MS=${MAX_P99_MS:-20}
MAX_ASSET_KB=${MAX_ASSET_KB:-100}
WARMUP=${WARMUP:-5}
source scripts/lib/bench-server.sh
bench_init pages
bench_build   # BIN: the release binaries (built unless BIN is given; $CARGO_TARGET_DIR honoured)
createdb "$DB"
bench_start

# One account through the API: its argon2 hash is the seeded accounts' hash.
TEMPLATE=seed-template@bench.example
curl -sf -o /dev/null -X POST "$BASE/api/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$TEMPLATE\",\"password\":\"correct horse battery staple\",\"displayName\":\"Seed Template\",\"role\":\"mentee\"}"
START=$(date +%s%N)
psql -q -d "$DB" -v n="$N" -v template="$TEMPLATE" -f scripts/seed-pages.sql
echo "seeded in $(( ($(date +%s%N) - START) / 1000000 )) ms: $(psql -tA -d "$DB" -c \
  "SELECT count(*) FILTER (WHERE is_mentor) || ' mentors, ' || (SELECT count(*) FROM offerings) || ' slots, '
          || (SELECT count(*) FROM bookings) || ' bookings' FROM profiles")"

# The first visit's weight: every /assets/ file a page links, and what those import.
echo "== first visit: CSS and JavaScript"
curl -sf "$BASE/sitemap.xml" -o "$DATA/sitemap.xml"
MENTOR=$(grep -o '/mentors/[0-9a-f-]\{36\}' "$DATA/sitemap.xml" | sed -n 1p)
WEIGHT_OK=1
for page in / /mentors "$MENTOR"; do
  curl -sf "$BASE$page" -o "$DATA/page.html"
  todo=$(grep -oE '(href|src)="/assets/[^"]+"' "$DATA/page.html" | sed -E 's/.*"(\/assets\/[^"]+)"/\1/' || true)
  seen=" "; total=0; gz=0; list=""
  while [ -n "$todo" ]; do
    a=$(sed -n 1p <<<"$todo"); todo=$(sed 1d <<<"$todo")
    case "$seen" in *" $a "*) continue ;; esac
    seen="$seen$a "
    curl -sf "$BASE$a" -o "$DATA/asset"
    bytes=$(wc -c <"$DATA/asset")
    # As sent with Accept-Encoding: gzip (the same as bytes if the server does not compress).
    sent=$(curl -sf -H 'Accept-Encoding: gzip, br' "$BASE$a" -o /dev/null -w '%{size_download}')
    total=$((total + bytes)); gz=$((gz + sent)); list="$list ${a#/assets/}:$bytes"
    # Static imports: import ... from '/assets/x.js' (or a relative './x.js').
    todo="$todo
$(grep -oE "(from|import)[[:space:]]*['\"][^'\"]+\.js['\"]" "$DATA/asset" | sed -E "s/.*['\"]([^'\"]+)['\"]/\1/; s#^\./#/assets/#" || true)"
    todo=$(echo "$todo" | sed '/^$/d')
  done
  printf '%-12s %6d bytes (%d as sent):%s\n' "$( [ "$page" = "$MENTOR" ] && echo /mentors/{id} || echo "$page")" "$total" "$gz" "$list"
  [ "$total" -le $((MAX_ASSET_KB * 1000)) ] || { echo "  over the ${MAX_ASSET_KB} KB limit"; WEIGHT_OK=0; }
done

echo "== pages: $RATE req/s for ${SECS}s (open loop, after ${WARMUP}s of warm-up)"
STATUS=0
${TESTER_NICE:+nice -n "$TESTER_NICE"} "$BIN"/lyceum-loadtest --url "$BASE" ${JSON:+--json} ${CHART:+--chart "$CHART"} pages \
  --rate "$RATE" --duration "$SECS" --warmup "$WARMUP" --max-p99-ms "$MAX_P99_MS" || STATUS=$?
echo "server RSS after the run: $(ps -o rss= -p "$PID") KiB"
[ "$WEIGHT_OK" = 1 ] || { echo "first-visit weight over ${MAX_ASSET_KB} KB"; STATUS=1; }
exit "$STATUS"
