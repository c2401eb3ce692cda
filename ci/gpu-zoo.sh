#!/usr/bin/env bash
# On a machine with an NVIDIA GPU (issue #24): the zoo through ONNX Runtime's CUDA and TensorRT providers, what
# BENCHMARKS.md records about them. Writes into OUT_DIR: nvidia-smi.txt (GPU, driver), doctor.json (library versions,
# each backend's facts or reason), check-verify.json (placement predicted by the support tables and verified against
# ONNX Runtime's assignment info, per model), runs/ (bench: ort-cuda, ort-tensorrt where TensorRT loads, ONNX
# Runtime's CPU provider and tract, with per-op profiles that name each kernel's provider), and a summary on stdout.
# usage: ci/gpu-zoo.sh OUT_DIR [EXTRA_MODEL.onnx...]   (extra models: check --verify only)
# EDGEBENCH_BIN (default ./target/release/edgebench); the GPU library from --ort-gpu-lib's sources
# (EDGEBENCH_ORT_GPU_LIB or .venv-gpu, which ci/setup.sh creates where nvidia-smi works); EDGEBENCH_GPU_MAX_TIME
# (seconds of sampling per cell, default 3).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${1:?usage: ci/gpu-zoo.sh OUT_DIR [EXTRA_MODEL.onnx...]}
shift
extra=("$@")
bin=${EDGEBENCH_BIN:-./target/release/edgebench}
zoo=(silero_vad_v6 ppocrv4_det ppocr_mobile_v2_cls pplcnet_orientation magika_standard_v3_3 minilm_l6_v2_int8w
  oww_hello_deepa_mlp)
mkdir -p "$out"
if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-zoo: no NVIDIA GPU here (nvidia-smi -L fails): ort-cuda and ort-tensorrt cannot run" >&2
  exit 3
fi
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
  nvidia-smi
} >"$out/nvidia-smi.txt" 2>&1
head -n 2 "$out/nvidia-smi.txt"
"$bin" doctor --json >"$out/doctor.json" 2>"$out/doctor.err"
gpu=$(python3 - "$out/doctor.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for b in d["backends"]:
    if b["name"].startswith("ort"):
        print(f"doctor: {b['name']}: {b.get('version') or ''} {b.get('reason') or 'available'}", file=sys.stderr)
print(" ".join(b["name"] for b in d["backends"] if b["name"] in ("ort-cuda", "ort-tensorrt") and b["available"]))
PY
)
[ -n "$gpu" ] || { echo "gpu-zoo: neither ort-cuda nor ort-tensorrt is available (doctor.json says why)" >&2; exit 4; }
backends=()
for b in $gpu; do backends+=(--backend "$b"); done
"$bin" check "${zoo[@]}" "${extra[@]}" "${backends[@]}" --verify --json >"$out/check-verify.json" \
  2>"$out/check-verify.err"
echo "gpu-zoo: check --verify exited $? (7, 8: a model does not run / a prediction was wrong)"
python3 - "$out/check-verify.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for m in d["models"]:
    for b in m["backends"]:
        p = b.get("placement")
        why = json.dumps(p)[:500] if p else (b.get("error") or b.get("detail") or "")[:300]
        print(f"  {m['model'].split('/')[-1][:30]:30} {b['backend']:13} {b['verdict']:22} {b.get('verification')} {why}")
print("verify_summary:", d.get("verify_summary"))
PY
# Latency against ONNX Runtime's CPU provider and tract, each cell in its own process; no address-space limit
# applies to the GPU cells (a GPU driver reserves more virtual memory than the machine has).
"$bin" bench "${zoo[@]}" "${backends[@]}" --backend ort --backend tract \
  --max-time "${EDGEBENCH_GPU_MAX_TIME:-3}" --profile --out "$out/runs" 2>"$out/bench.err"
echo "gpu-zoo: bench exited $?"
run=$(find "$out/runs" -mindepth 1 -maxdepth 1 -type d | sort | tail -n 1)
[ -n "$run" ] && "$bin" report "$run" --format markdown 2>/dev/null | head -n 80
exit 0
