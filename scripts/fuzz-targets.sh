#!/usr/bin/env bash
# cargo-fuzz targets for a bounded time each (issue 13): the number parsers, the quality-criteria evaluator and the
# CSV importers (ATP sites and configuration). The entry points are crates/mes/src/fuzz.rs and
# crates/atp/src/fuzz.rs; the same entry points run as bounded property tests in `cargo nextest run --workspace`.
# Needs the nightly toolchain and cargo-fuzz (installed with `cargo install cargo-fuzz --locked` when missing).
# Usage: scripts/fuzz-targets.sh [seconds-per-target]   (default 30)
# Writes the executions per target to target/fuzz-targets.json; exits non-zero on any crash (the input is kept in
# fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-30}"
TARGETS=(numbers criteria sites_csv config_csv)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# no sanitizer: the code under test is safe Rust, and the executions go to the parsers; debug assertions catch
# arithmetic overflow
FLAGS=(--sanitizer "${FUZZ_SANITIZER:-none}" --debug-assertions)
cargo +nightly fuzz build "${FLAGS[@]}" >/dev/null 2>&1 || cargo +nightly fuzz build "${FLAGS[@]}"
mkdir -p target
out="target/fuzz-targets.json"
echo "{" >"$out.tmp"
first=1
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log="target/fuzz-$t.log"
  status=0
  cargo +nightly fuzz run "${FLAGS[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  runs=${runs:-0}
  echo "$t: $runs executions in ${SECONDS_PER_TARGET}s, exit $status"
  [ $first = 1 ] || echo "," >>"$out.tmp"
  first=0
  printf '  "%s": {"executions": %s, "seconds": %s, "crashed": %s}' "$t" "$runs" "$SECONDS_PER_TARGET" \
    "$([ $status = 0 ] && echo false || echo true)" >>"$out.tmp"
  if [ $status != 0 ]; then
    tail -40 "$log" >&2
    failed=1
  fi
done
printf '\n}\n' >>"$out.tmp"
mv "$out.tmp" "$out"
[ -z "${failed:-}" ]
