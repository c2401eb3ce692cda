#!/usr/bin/env bash
# A fuzz pass over the three targets of fuzz/ (cargo-fuzz, stable toolchain, no sanitizer): load_check seeded with the
# ONNX conformance suite's models, then structured, then rules (every rewrite rule, simplify and the variant
# transforms on small structured models), then tflite (the TFLite reader on raw bytes). Usage: ci/fuzz.sh [SECONDS_PER_TARGET] (default 45).
# Any crash fails the script; libFuzzer leaves the input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-45}
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "fuzz: cargo install cargo-fuzz 0.13.2"
  cargo install cargo-fuzz --locked --version 0.13.2
fi
cache=${EDGEBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgebench}
corpus=$(mktemp -d)
mkdir -p "$corpus/seeds"
trap 'rm -rf "$corpus"' EXIT
n=0
for f in "$cache"/onnx-conformance-1.22.0/node/*/model.onnx; do
  [ -f "$f" ] || continue
  n=$((n + 1))
  cp "$f" "$corpus/seeds/$n.onnx"
done
echo "fuzz: seed corpus of $n conformance models; ${secs}s per target"
cd fuzz
cargo fuzz build -s none
run_target() { # name, extra args...
  local name=$1 status=0 log="$corpus/$1.log"
  shift
  cargo fuzz run -s none "$name" "$@" -- -max_total_time="$secs" -rss_limit_mb=4096 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  echo "fuzz: $name: $(grep -E '^stat::number_of_executed_units' "$log" || echo 'no stats')"
  if [ "$status" -ne 0 ]; then
    grep -vE '^"' "$log" | tail -40
    echo "fuzz: $name FAILED (exit $status); the input is in fuzz/artifacts/$name/"
    exit "$status"
  fi
}
run_target load_check "$corpus/seeds"
run_target structured
run_target rules
mkdir -p "$corpus/tflite-seeds"
cache=${EDGEBENCH_CACHE:-$HOME/.cache/edgebench}
if [ -f "$cache/models/selfie_segmentation.tflite" ]; then
  cp "$cache/models/selfie_segmentation.tflite" "$corpus/tflite-seeds/"
fi
run_target tflite "$corpus/tflite-seeds"
echo "fuzz: ok"
