#!/usr/bin/env bash
# End-to-end test of the report side on real runs: a plan with two targets (host and the aarch64 runner under
# qemu), three backends, an fp16 variant and a cell that fails (attention_block on wonnx), run twice (the second with
# the documented EDGEBENCH_FAULT=slow:3.0 test knob, and --profile: the gate must ignore the profiles); then the gate (must exit 10: 3x is beyond the up-to-2x speed changes of this VM), the Markdown and JUnit formats,
# and the HTML report (with trend charts from a history of the two runs) opened in headless chromium from file://
# (ci/browser/report-test.mjs). The screenshot and
# the report are kept in reports/ci-artifacts/ for CI to upload.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./target/debug/edgebench
out=reports/ci-artifacts
rm -rf "$out"
mkdir -p "$out/runs"
plan=(bench tiny_mlp attention_block --target host --target pi4-qemu --variants fp16 --max-time 0.3 --warmup 0.05
  --out "$out/runs" --json)
"$bin" "${plan[@]}" >"$out/base.json"
EDGEBENCH_FAULT=slow:3.0 "$bin" "${plan[@]}" --profile >"$out/cand.json"
base=$(find "$out/runs" -mindepth 1 -maxdepth 1 -type d | sort | sed -n 1p)
cand=$(find "$out/runs" -mindepth 1 -maxdepth 1 -type d | sort | sed -n 2p)
set +e
"$bin" gate --baseline "$base" --candidate "$cand" --markdown "$out/summary.md" --junit "$out/junit.xml"
rc=$?
set -e
if [ "$rc" -ne 10 ]; then echo "report-test: gate exited $rc on a 3x slowdown, expected 10" >&2; exit 1; fi
grep -q "regressed" "$out/summary.md"
grep -q "<failure" "$out/junit.xml"
# Both runs in a fresh history: the report draws a trend per cell from it.
"$bin" history add "$base" "$cand" --db "$out/history.sqlite" >/dev/null
"$bin" report "$cand" --baseline "$base" --history "$out/history.sqlite" -o "$out/report.html"
node ci/browser/report-test.mjs "$out/report.html" "$out/report.png" --expect-gate --expect-trends
echo "report-test: ok ($out)"
