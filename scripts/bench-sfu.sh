#!/usr/bin/env bash
# The SFU on loopback with lyceum-loadtest's webinar scenario: PUBLISHERS
# str0m peers publish Opus + VP8 (simulcast h/m/l) to SUBSCRIBERS str0m peers
# (ICE, DTLS, SRTP) for SECS seconds. Starts a release server with its
# embedded Postgres in a scratch dir and limits opened for the run, then
# prints the SFU-added latency (packet in to packet out, from the server's
# /metrics histogram) next to the tester's own figures.
# Usage: scripts/bench-sfu.sh [subscribers] [publishers] [secs]
#   SERVER=path/to/lyceum  runs that server binary (an older build, for a
#                          side-by-side run) with this tree's tester;
#   SERVER_CWD=dir         from that directory (the older tree, whose
#                          config/default.toml the older binary reads).
set -euo pipefail
cd "$(dirname "$0")/.."
SUBS=${1:-100}; PUBS=${2:-1}; SECS=${3:-20}
PORT=${PORT:-18291}
DATA=$(mktemp -d /tmp/lyceum-sfu-bench.XXXXXX)
cargo build --release -q -p lyceum -p lyceum-loadtest
SERVER=$(realpath "${SERVER:-${CARGO_TARGET_DIR:-./target}/release/lyceum}")
cd "${SERVER_CWD:-.}"
LYCEUM__SERVER__PORT=$PORT LYCEUM__SERVER__DATA_DIR=$DATA RUST_LOG=warn \
  LYCEUM__RATE_LIMIT__REGISTER_PER_IP_PER_HOUR=1000000 \
  LYCEUM__RATE_LIMIT__LOGIN_PER_IP_PER_MINUTE=1000000 \
  "$SERVER" 2>"$DATA/server.log" &
cd - >/dev/null
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.5; done
${TESTER_NICE:+nice -n "$TESTER_NICE"} "${CARGO_TARGET_DIR:-./target}"/release/lyceum-loadtest --url "http://127.0.0.1:$PORT" ${CHART:+--chart "$CHART"} ${JSON:+--json} webinar \
  --publishers "$PUBS" --subscribers "$SUBS" --duration "$SECS" --ramp 50 --server-pid "$PID"
# The SFU-added latency histogram, all shards together.
curl -s "http://127.0.0.1:$PORT/metrics" | awk '
  /^lyceum_sfu_forward_latency_seconds_bucket/ {
    match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5); n[le] += $NF; if (!(le in seen)) { order[++k] = le; seen[le] = 1 } }
  /^lyceum_sfu_datagrams_out_total/ { out += $NF }
  /^lyceum_sfu_busy_seconds_total/ { busy += $NF }
  /^lyceum_sfu_gso_messages_total/ { gsom += $NF }
  /^lyceum_sfu_gso_datagrams_total/ { gsod += $NF }
  /^lyceum_sfu_timeout_rounds_total/ { rounds += $NF }
  END {
    total = n["+Inf"]; if (total == 0) { print "no latency samples"; exit }
    split("0.5 0.9 0.99 0.999", qs, " ")
    for (i = 1; i <= 4; i++) { q = qs[i]; for (j = 1; j <= k; j++) if (n[order[j]] >= q * total) { printf "SFU-added latency p%s <= %s ms\n", q * 100, (order[j] == "+Inf" ? "inf" : order[j] * 1000); break } }
    split("0.001 0.002 0.005", ms, " ")
    for (i = 1; i <= 3; i++) if (ms[i] in n) printf "SFU-added latency <= %s ms: %.2f %% of the packets\n", ms[i] * 1000, n[ms[i]] * 100 / total
    printf "frames timed: %d; datagrams out: %d; shard busy: %.2f s (%.1f us per datagram out)\n", total, out, busy, busy * 1e6 / out
    if (out > 0) printf "timeout rounds: %d (%.2f per datagram out)\n", rounds, rounds / out
    if (out > 0) printf "UDP GSO: %d of the datagrams out (%.1f %%) left in %d GSO messages\n", gsod, gsod * 100 / out, gsom }'
echo "server RSS after the run: $(ps -o rss= -p $PID) KiB"
