#!/usr/bin/env bash
# Lyceum and Janus side by side: the webinar scenario's str0m peers
# (PUBLISHERS publishing Opus + VP8 simulcast h/m/l, SUBSCRIBERS receiving)
# first against Janus 1.1's VideoRoom (Debian's `janus`, configured from
# deploy/janus), then against Lyceum with the top layer to everyone
# (scripts/bench-sfu.sh with LYCEUM__SFU__BWE=false), SECS seconds each;
# prints both reports and the ratios of datagrams out per second of server
# CPU time (the janus / lyceum process, from /proc).
#
# Janus 1.1 never gathers ICE candidates on a loopback interface (it skips
# every IFF_LOOPBACK interface; with none left, libnice gathers on all the
# others), so `ice_enforce_list = "lo"` alone cannot keep it on loopback.
# Its run therefore happens in a private network namespace (`unshare -n`,
# root): inside there is `lo` and `lo-janus`, a port-less bridge that holds
# 127.0.0.1/32 and nothing else (no IPv6), which the enforce list "lo"
# matches; nothing in that namespace can reach any other address. The
# tester runs in the same namespace. The script fails if Janus listens on
# anything but 127.0.0.1.
#
# Usage: scripts/bench-janus.sh [subscribers] [publishers] [secs]
#   SWEEP="100 200 400 800" scripts/bench-janus.sh - 1 20
#     the subscriber ceiling: every count on both servers, and the largest
#     each sustains with loss under 0.5 % (packets and frames) and every
#     subscriber connected and receiving every publisher.
#   JANUS_EVENT_LOOPS=0  one media thread per handle (Janus's default)
#                        instead of one loop per core.
#   ONLY=janus | ONLY=lyceum  run one of the two.
#   RESULTS=dir  keep the tester's JSON of every run in dir.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "${1:-}" = "--inside-netns" ]; then
  # The Janus run, in its own network namespace: SUBS PUBS SECS OUT.
  SUBS=$2; PUBS=$3; SECS=$4; OUT=$5
  ip link set lo up
  ip link add lo-janus type bridge
  sysctl -qw net.ipv6.conf.lo-janus.disable_ipv6=1
  ip addr add 127.0.0.1/32 dev lo-janus
  ip link set lo-janus up
  DIR=$(mktemp -d /tmp/lyceum-janus-bench.XXXXXX)
  HTTP_PORT=${JANUS_PORT:-18088}
  for f in deploy/janus/*.jcfg; do
    sed -e "s|@CONFIGS@|$DIR|; s|@RTP_PORTS@|30000-59999|; s|@HTTP_PORT@|$HTTP_PORT|; s|@EVENT_LOOPS@|${JANUS_EVENT_LOOPS:-$(nproc)}|" \
      "$f" > "$DIR/$(basename "$f")"
  done
  ulimit -n "$(ulimit -Hn)"
  janus -F "$DIR" -C "$DIR/janus.jcfg" -L "$DIR/janus.log" -N -o >/dev/null 2>&1 &
  PID=$!
  trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
  for _ in $(seq 1 60); do
    curl -sf -X POST -d '{"janus":"info","transaction":"i"}' "http://127.0.0.1:$HTTP_PORT/janus" >/dev/null && break
    sleep 0.5
  done
  echo "janus $(janus --version 2>/dev/null | head -1 | sed 's/.*(\(.*\))/\1/') (pid $PID), event_loops ${JANUS_EVENT_LOOPS:-$(nproc)}; sockets before the run:" >&2
  ss -tulpn | grep "pid=$PID," >&2 || true
  ${TESTER_NICE:+nice -n "$TESTER_NICE"} "${CARGO_TARGET_DIR:-./target}"/release/lyceum-loadtest --json webinar --target janus \
    --janus-url "http://127.0.0.1:$HTTP_PORT/janus" --publishers "$PUBS" --subscribers "$SUBS" \
    --duration "$SECS" --ramp 50 --server-pid "$PID" > "$OUT" &
  TESTER=$!
  # Mid-run, with every handle's ICE agent open: nothing but 127.0.0.1.
  sleep $(( SUBS / 50 + 4 ))
  SOCKETS=$(ss -tulpn | grep "pid=$PID," || true)
  echo "janus sockets during the run: $(echo "$SOCKETS" | grep -c . ) (udp $(echo "$SOCKETS" | grep -c '^udp'))" >&2
  if echo "$SOCKETS" | awk '{print $5}' | grep -v '^127\.0\.0\.1:' | grep -q .; then
    echo "janus listens on an address other than 127.0.0.1:" >&2
    echo "$SOCKETS" >&2
    kill "$TESTER"
    exit 1
  fi
  wait "$TESTER" || true
  grep -E '^\[(ERR|WARN)\]' "$DIR/janus.log" | sort | uniq -c | sort -rn | head -5 >&2 || true
  exit 0
fi

SUBS=${1:-100}; PUBS=${2:-1}; SECS=${3:-20}
COUNTS=${SWEEP:-$SUBS}
if [ -n "${RESULTS:-}" ]; then
  OUT=$RESULTS; mkdir -p "$OUT"        # keep every run's JSON there
else
  OUT=$(mktemp -d /tmp/lyceum-janus-results.XXXXXX)
  trap 'rm -rf "$OUT"' EXIT
fi
command -v janus >/dev/null || { echo "janus is not installed (apt-get install -y janus)" >&2; exit 1; }
cargo build --release -q -p lyceum -p lyceum-loadtest
for n in $COUNTS; do
  if [ "${ONLY:-janus}" = janus ]; then
    echo "== Janus, $n subscribers, $PUBS publisher(s), $SECS s" >&2
    unshare -n "$ROOT/scripts/bench-janus.sh" --inside-netns "$n" "$PUBS" "$SECS" "$OUT/janus-$n.json" || true
  fi
  [ "${ONLY:-lyceum}" = lyceum ] || continue
  echo "== Lyceum (LYCEUM__SFU__BWE=false), $n subscribers, $PUBS publisher(s), $SECS s" >&2
  LYCEUM__SFU__BWE=false JSON=1 scripts/bench-sfu.sh "$n" "$PUBS" "$SECS" > "$OUT/lyceum-$n.txt" 2>"$OUT/lyceum-$n.err" || true
  # bench-sfu.sh prints the tester's JSON, then its own lines.
  awk '/^\{/ {on = 1} on {print} /^\}/ {on = 0}' "$OUT/lyceum-$n.txt" > "$OUT/lyceum-$n.json"
  grep -v '^[{} ]' "$OUT/lyceum-$n.txt" | grep . | sed 's/^/lyceum: /' >&2 || true
done

python3 - "$OUT" $COUNTS <<'EOF'
import json, os, sys
out, counts = sys.argv[1], [int(c) for c in sys.argv[2:]]
def load(target, n):
    try:
        with open(f"{out}/{target}-{n}.json") as f:
            return json.load(f)
    except Exception:
        return None
def loss(r):
    m = r["media"]
    return max(m["packetLoss"], m["frameLoss"])
def good(r):
    s = r["subscribers"]
    return r is not None and s["failed"] == 0 and s["complete"] == s["connected"] == s["requested"] and loss(r) < 0.005
def fmt(x, spec=",.0f"):
    return "-" if x is None else format(x, spec)
rows, notes, best = [], [], {"lyceum": 0, "janus": 0}
print("\n| server | subscribers | connected / complete | packet loss | frame loss | datagrams/s received | server CPU | datagrams out per CPU-second | video latency p50 / p99 | frames per layer | server's own count out/s |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for n in counts:
    per = {}
    for t in ("janus", "lyceum"):
        r = load(t, n)
        if r is None:
            if os.environ.get("ONLY", t) != t:
                continue
            print(f"| {t} | {n} | run failed | | | | | | | | |")
            continue
        m, s = r["media"], r["subscribers"]
        per[t] = r.get("datagramsOutPerCpuSecond")
        cpu = r["server"].get("cpuPercentOfOneCore")
        lv = m["latencyVideoMs"]
        layers = ", ".join(f"{k} {v}" for k, v in sorted(m["framesPerLayer"].items()))
        print(f"| {t} | {n} | {s['connected']} / {s['complete']} | {m['packetLoss']*100:.3f} % | {m['frameLoss']*100:.3f} % | "
              f"{fmt(r['receivedDatagramsPerSecond'])} | {fmt(cpu, '.0f')} % of a core | {fmt(per[t])} | "
              f"{lv['p50']:.1f} / {lv['p99']:.1f} ms | {layers} | {fmt(r['server'].get('sfuDatagramsOutPerSecond'))} |")
        if r["errors"]:
            notes.append(f"{t} at {n}: failed joins {r['errors']}")
        if good(r):
            best[t] = max(best[t], n)
    if per.get("janus") and per.get("lyceum"):
        rows.append((n, per["lyceum"] / per["janus"]))
print()
for line in notes:
    print(line)
for n, ratio in rows:
    print(f"{n} subscribers: Lyceum sends {ratio:.2f}x the datagrams per CPU-second that Janus does")
if len(counts) > 1:
    print(f"ceiling (loss < 0.5 %, everyone connected and complete) among {counts}: "
          f"Lyceum {best['lyceum'] or 'none'}, Janus {best['janus'] or 'none'}"
          + (f"; ratio {best['lyceum'] / best['janus']:.2f}" if best['lyceum'] and best['janus'] else ""))
EOF
