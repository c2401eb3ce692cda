#!/usr/bin/env bash
# Probes which ONNX ops an ONNX Runtime execution provider takes (`[placement]` of its support table): every ONNX
# conformance node test (`edgebench models fetch onnx-conformance`) whose model is one node, loaded on BACKEND with
# `run --placement` (ONNX Runtime's EP graph assignment info); an op is taken when the provider took its node in
# at least one test, and the tally says in how many. Prints the tally and a TOML `ops = [...]` line.
# usage: ci/probe-ep-placement.sh [BACKEND=ort-openvino] [OUT=/tmp/edgebench-ep-placement]
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-ort-openvino}
out=${2:-/tmp/edgebench-ep-placement}
bin=${EDGEBENCH_BIN:-./target/release/edgebench}
root=$(find "$HOME/.cache/edgebench" -maxdepth 1 -type d -name 'onnx-conformance-*' | sort | tail -n 1)
[ -n "$root" ] || { echo "probe-ep-placement: no conformance tests: run edgebench models fetch onnx-conformance" >&2; exit 3; }
mkdir -p "$out"
: > "$out/rows.jsonl"
for m in "$root"/node/*/model.onnx; do
  t=$(basename "$(dirname "$m")")
  ops=$("$bin" inspect "$m" --json 2>/dev/null | python3 -c "
import json, sys
j = json.load(sys.stdin)
print(' '.join(j['op_histogram']) if j['main_graph_nodes'] == 1 else '')" || true)
  [ -n "$ops" ] || continue
  p=$("$bin" run "$m" --backend "$backend" --placement --json 2>/dev/null \
      | python3 -c "import json, sys; p = json.load(sys.stdin).get('placement'); print(json.dumps(p))" || echo null)
  echo "{\"test\": \"$t\", \"op\": \"$ops\", \"placement\": $p}" >> "$out/rows.jsonl"
done
python3 - "$out/rows.jsonl" <<'PY'
import json, sys, collections
taken = collections.Counter(); seen = collections.Counter(); failed = collections.Counter()
for line in open(sys.argv[1]):
    r = json.loads(line); op = r["op"]; p = r["placement"]
    if p is None:
        failed[op] += 1; continue
    seen[op] += 1
    taken[op] += p["accelerator_ops"] > 0 and not p["on_cpu_kernels"]
ops = sorted(o for o in seen if taken[o])
for o in sorted(set(seen) | set(failed)):
    print(f"{o:28} taken in {taken[o]:3} of {seen[o]:3} loaded tests ({failed[o]} did not load)")
print(f"{len(ops)} ops taken of {len(set(seen) | set(failed))} tried")
print("ops = [" + ", ".join(f'"{o}"' for o in ops) + "]")
PY
