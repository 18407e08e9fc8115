#!/usr/bin/env bash
# Fuzz smoke run (docs/fuzzing.md): builds the fuzz targets in fuzz/ and runs
# each for a short while (FUZZ_SECS, default 20) on its seeds, its kept
# regressions and whatever corpus fuzz/corpus/<target> already holds. Fails
# on the first crash, leaving the input in fuzz/artifacts/<target>/.
#
# The machine has a stable toolchain only: cargo-fuzz's nightly flags are let
# through with RUSTC_BOOTSTRAP=1, and no sanitizer is used (the code under
# test is safe Rust; a panic or a failed check is the finding).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${FUZZ_SECS:-20}
targets=${FUZZ_TARGETS:-"ws_command sdp_offer demux"}
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked
fi

start=$(date +%s)
cargo fuzz build --sanitizer none
echo "fuzz build: $(( $(date +%s) - start )) s"

for t in $targets; do
  mkdir -p "corpus/$t"
  echo "== fuzz $t for ${secs}s"
  cargo fuzz run --sanitizer none "$t" "corpus/$t" "seeds/$t" "regressions/$t" -- \
    -max_total_time="$secs" -print_final_stats=1
done
echo "fuzz smoke: $(echo $targets | wc -w) targets, no crash"
