#!/usr/bin/env bash
# The preamble the server benchmarks share (scripts/bench-fanout.sh,
# bench-mentoring.sh, bench-boards.sh, bench-pages.sh): sourced from the
# repository's root after `set -euo pipefail`, it defines
#   bench_init NAME   checks for psql, createdb, dropdb and curl; exports
#                     PGHOST, PGPORT, PGUSER (default 127.0.0.1:5432, postgres);
#                     sets PORT (a free one unless given), DATA (a scratch
#                     dir /tmp/lyceum-NAME-bench.XXXXXX), DB
#                     (lyceum_NAME_bench_<pid>), BASE and PID, and traps EXIT
#                     to stop the server, drop DB (not when BENCH_KEEP_DB is
#                     set) and remove DATA;
#   bench_build       unless BIN is set, builds the release server and tester;
#                     then BIN is where they are ($CARGO_TARGET_DIR/release or
#                     target/release);
#   bench_start [VAR=value ...]  starts "$BIN"/lyceum on PORT with DATA, against
#                     DB, RUST_LOG=warn and the given settings, logging to
#                     $DATA/server.log, and waits for /readyz (60 s; else it
#                     shows the log's tail and exits 1).
# The caller makes the database (createdb "$DB") before bench_start.

bench_init() {
  local name=$1
  export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres}
  for t in psql createdb dropdb curl; do command -v $t >/dev/null || { echo "needs $t (apt-get install postgresql-client curl)"; exit 1; }; done
  # A free port: the kernel picks one for a moment's listener.
  PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
  DATA=$(mktemp -d "/tmp/lyceum-$name-bench.XXXXXX")
  DB=lyceum_${name}_bench_$$
  BASE="http://127.0.0.1:$PORT"
  PID=
  trap bench_cleanup EXIT
}

bench_cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  if [ -z "${BENCH_KEEP_DB:-}" ]; then dropdb --if-exists "$DB" 2>/dev/null || true; fi
  rm -rf "$DATA"
}

# With BIN set, its binaries are run as they are (nothing is built).
bench_build() {
  if [ -z "${BIN:-}" ]; then nice -n 10 cargo build --release -q -p lyceum -p lyceum-loadtest; fi
  BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release}
}

bench_start() {
  env LYCEUM__SERVER__PORT="$PORT" LYCEUM__SERVER__DATA_DIR="$DATA" \
    LYCEUM__DATABASE__URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB" \
    RUST_LOG=warn "$@" \
    "$BIN"/lyceum 2>"$DATA/server.log" &
  PID=$!
  for _ in $(seq 1 120); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.5; done
  curl -sf "$BASE/readyz" >/dev/null || { echo "the server did not start:"; tail -20 "$DATA/server.log"; exit 1; }
}
