#!/usr/bin/env bash
# edgebench's litert p50 against ai_edge_litert's Python Interpreter loop on the same models and threads
# (BENCHMARKS.md, "LiteRT"). Needs the release binary and a Python with ai-edge-litert==2.3.0 and numpy:
#   python3 -m venv /tmp/litert-py && /tmp/litert-py/bin/pip install ai-edge-litert==2.3.0 numpy
# usage: ci/bench/litert-fidelity.sh PYTHON [THREADS] [ROUNDS] [SECONDS]
# Rounds alternate the two loops (this machine's speed drifts over seconds); compare the medians of the rounds.
set -euo pipefail
cd "$(dirname "$0")/../.."
py=$1
threads=${2:-2}
rounds=${3:-3}
secs=${4:-5}
eb=./target/release/edgebench
out=$(mktemp -d)
# MODELS (space-separated) overrides the list.
for m in ${MODELS:-hand_landmark_lite hand_landmark_full selfie_segmentation pose_landmark_lite tflite_cnn}; do
  path=$($eb models list --json | "$py" -c "import json,sys; d=[x for x in json.load(sys.stdin) if x['name']=='$m']; print(d[0]['cached'] if d else '')")
  if [ -z "$path" ]; then path="$HOME/.cache/edgebench/fixtures/$m.tflite"; fi
  for r in $(seq "$rounds"); do
    p=$("$py" ci/bench/litert-python-loop.py "$path" "$threads" "$secs" 2>/dev/null | cut -d' ' -f1)
    $eb bench "$m" --backend litert --threads "$threads" --max-time "$secs" --ci 0.001 --out "$out/$m-$r" --json >"$out/$m-$r.json" 2>/dev/null
    e=$("$py" -c "import json; d=json.load(open('$out/$m-$r.json')); print(d['cells'][0]['latency']['p50_ns']/1000)" 2>/dev/null || echo nan)
    echo "$m round $r: python ${p} us, edgebench ${e} us"
  done
done
