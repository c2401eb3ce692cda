#!/usr/bin/env bash
# Measures README's rewrite table: for every fixture, zoo model and light model, on wonnx:
#   before  - does the original run on wonnx, and agree with ONNX Runtime?
#   rewrite - `edgebench rewrite --for wonnx`: the check after, and whether wonnx runs the result and agrees
#   split   - does `wonnx+tract` (else `wonnx+ort`) run the original and agree; partitions per backend
# Prints one Markdown row per model. Usage: ci/measure-wonnx.sh [EDGEBENCH [MODEL...]] > rows.md
set -uo pipefail
eb=${1:-target/release/edgebench}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
light=${EDGEBENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgebench}/onnx-conformance-1.22.0/light

# "runs, agrees" / "runs, differs (max abs X)" / "fails: reason"
verdict() {
    local log=$1
    if grep -q "same argmax" "$log"; then
        local worst
        worst=$(grep "max abs err" "$log" | awk '{print $5}' | sort -g | tail -1)
        if awk -v w="$worst" 'BEGIN { exit !(w <= 1e-4) }'; then
            echo "runs, agrees"
        else
            echo "runs, differs (max abs $worst)"
        fi
    else
        echo "fails"
    fi
}

models=(tiny_mlp small_cnn attention_block oww_hello_deepa_mlp ppocr_mobile_v2_cls pplcnet_orientation
    magika_standard_v3_3 minilm_l6_v2_int8w ppocrv4_det silero_vad_v6)
for f in "$light"/light_*.onnx; do models+=("$f"); done
if [ $# -gt 1 ]; then models=("${@:2}"); fi

for m in "${models[@]}"; do
    name=$(basename "$m" .onnx)
    "$eb" run "$m" --backend wonnx --compare ort > "$out/before.log" 2>&1
    before=$(verdict "$out/before.log")
    rm -f "$out/rw.onnx"
    "$eb" rewrite "$m" --for wonnx -o "$out/rw.onnx" --json > "$out/rw.json" 2> "$out/rw.err"
    if [ -s "$out/rw.json" ]; then
        after=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["after"])' "$out/rw.json")
        rules=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(", ".join(dict.fromkeys(s["rule"] for s in r["log"] if s["status"]=="applied")) or "none")' "$out/rw.json")
        # The rewritten file has the feed's shapes pinned; integer inputs get the default fill (0..10).
        if [ "$after" = runs ]; then
            "$eb" run "$out/rw.onnx" --backend wonnx --compare ort > "$out/after.log" 2>&1
            rewritten=$(verdict "$out/after.log")
        else
            rewritten="-"
        fi
    else
        after="error"; rules="-"; rewritten="-"
    fi
    split="-"
    for sb in wonnx+tract wonnx+ort; do
        "$eb" -vv run "$m" --backend "$sb" --compare ort > "$out/split.log" 2>&1
        s=$(verdict "$out/split.log")
        if [ "$s" != fails ]; then
            w=$(grep -c "split: partition .* on wonnx" "$out/split.log")
            o=$(grep -c "split: partition .* on \(tract\|ort\)" "$out/split.log")
            split="$sb: $s; $w wonnx + $o ${sb#wonnx+} partitions"
            break
        fi
    done
    echo "| $name | $before | $rules | $after | $rewritten | $split |"
done
