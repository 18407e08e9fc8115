#!/usr/bin/env bash
# One webinar over one shard against two: the same load (one publisher,
# N str0m subscribers, SECS seconds) for each subscriber count in SWEEP and
# each shard count in SHARDS, one line per run: loss, delivery, server CPU.
# The subscriber ceiling of a shard count is the largest N under 0.5 % loss.
# Usage: SWEEP="400 600 800 1000" SHARDS="1 2" scripts/bench-shards.sh [secs]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
SWEEP=${SWEEP:-"400 600 800 1000"}
SHARDS=${SHARDS:-"1 2"}
printf '%-7s %-12s %-44s %-36s %s\n' shards subscribers "packet loss" "frames" "server"
for s in $SHARDS; do
  for n in $SWEEP; do
    out=$(LYCEUM__SFU__SHARDS=$s scripts/bench-sfu.sh "$n" 1 "$SECS" 2>&1 || true)
    loss=$(grep -m1 '^packet loss' <<<"$out" | sed 's/^packet loss *//')
    frames=$(grep -m1 '^frame loss' <<<"$out" | sed 's/^frame loss *//')
    recv=$(grep -m1 '^frames received' <<<"$out" | sed 's/.* by //')
    srv=$(grep -m1 '^server ' <<<"$out" | sed 's/^server *//')
    printf '%-7s %-12s %-44s %-36s %s\n' "$s" "$n" "$loss" "$frames, $recv" "$srv"
  done
done
