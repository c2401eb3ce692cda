#!/usr/bin/env bash
# Measures change-point detection on a real history of this machine (BENCHMARKS.md, issue #23): RUNS runs of a
# plan of the six fixtures and three zoo models (pplcnet_orientation, ppocr_mobile_v2_cls, hand_landmark_lite) on
# tract, ONNX Runtime and LiteRT (`--processes 3 --max-time 3`, as a main-branch job would bench), each added to a
# fresh history; from run STEP_AT on, the documented test knob slows four cells by STEP
# (EDGEBENCH_FAULT=slow:F@BACKEND/MODEL,...).
# Then `history show --json` and a tally: for each stepped cell, whether a change point lies within 5 runs of the
# step; for every other series (an A/A history), the false change points per 100 runs.
# usage: ci/measure-history.sh [RUNS=30] [STEP_AT=16] [STEP=1.05]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
step_at=${2:-16}
step=${3:-1.05}
bin=${EDGEBENCH_BIN:-./target/release/edgebench}
out=${EDGEBENCH_HISTORY_OUT:-/tmp/edgebench-history-measure}
stepped=(ort/small_cnn tract/attention_block litert/tflite_cnn ort/pplcnet_orientation)
rm -rf "$out"
mkdir -p "$out/runs"
fault=""
for c in "${stepped[@]}"; do fault="${fault:+$fault,}slow:$step@$c"; done
for i in $(seq 1 "$runs"); do
  f=""
  [ "$i" -ge "$step_at" ] && f=$fault
  touch "$out/.stamp"
  EDGEBENCH_FAULT=$f "$bin" bench tiny_mlp small_cnn attention_block tflite_cnn tflite_cnn_fp16 tflite_cnn_int8 \
    pplcnet_orientation ppocr_mobile_v2_cls hand_landmark_lite \
    --backend tract --backend ort --backend litert --processes 3 --max-time 3 --warmup 0.1 --threads 1 \
    --out "$out/runs" --json >/dev/null
  run=$(find "$out/runs" -mindepth 1 -maxdepth 1 -type d -newer "$out/.stamp" | head -n 1)
  "$bin" history add "$run" --db "$out/history.sqlite" >/dev/null
  echo "measure-history: run $i of $runs${f:+ (stepped)}"
done
"$bin" history show --json --db "$out/history.sqlite" > "$out/show.json"
python3 - "$out/show.json" "$step_at" "${stepped[*]}" <<'PY'
import json, sys
series = json.load(open(sys.argv[1])); step_at = int(sys.argv[2]); stepped = sys.argv[3].split()
at = step_at - 1  # index of the first stepped run
found = missed = false = aa_points = 0
for s in series:
    name = f"{s['backend']}/{s['model']}"
    idx = [c["index"] for c in s["changes"]]
    if name in stepped:
        hit = [i for i in idx if at <= i <= at + 5]
        found += bool(hit); missed += not hit
        false += len([i for i in idx if not (at <= i <= at + 5)])
        print(f"stepped {name:28} changes at {idx} -> {'found' if hit else 'MISSED'}"
              + "".join(f"  {c['change']*100:+.1f} % (p {c['p']:.3f})" for c in s["changes"]))
    else:
        false += len(idx); aa_points += len(s["points"])
        print(f"A/A     {name:28} {len(s['points'])} runs, changes at {idx}")
print(f"steps found within 5 runs: {found} of {found + missed}; false change points: {false} in {aa_points} A/A runs "
      f"({100 * false / max(aa_points, 1):.2f} per 100 runs)")
PY
