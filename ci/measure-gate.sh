#!/usr/bin/env bash
# Measures the regression gate's quality on real runs of the default plan on this machine (BENCHMARKS.md):
# A runs of the same build (every pair of them is an A/A comparison: false alarms), and runs with the documented
# test knob EDGEBENCH_FAULT=slow:F (each against every A run: detection), per backend.
# usage: ci/measure-gate.sh [A_RUNS=7] [SLOWDOWNS="1.10:3 1.05:2"] [MAX_TIME=0.5]
# With EDGEBENCH_GATE_AB=1: interleaved sessions instead (bench --ab): A_RUNS A/A sessions, and per slowdown F:N,
# N sessions whose side b runs with EDGEBENCH_FAULT=slow:F; each session is one comparison.
# EDGEBENCH_GATE_THRESHOLD (default 5%): the gate's threshold, and in interleaved mode also the sessions' stop rule.
set -euo pipefail
cd "$(dirname "$0")/.."
a_runs=${1:-7}
slowdowns=${2:-"1.10:3 1.05:2"}
max_time=${3:-0.5}
bin=${EDGEBENCH_BIN:-./target/release/edgebench}
out=${EDGEBENCH_GATE_OUT:-/tmp/edgebench-gate-measure}
rm -rf "$out"
mkdir -p "$out"
# Extra bench flags, e.g. EDGEBENCH_GATE_BENCH_ARGS="--processes 5".
read -r -a extra <<< "${EDGEBENCH_GATE_BENCH_ARGS:-}"
plan=(bench --max-time "$max_time" --warmup 0.1 --json "${extra[@]}")
threshold=${EDGEBENCH_GATE_THRESHOLD:-5%}
judge() { "$bin" gate --threshold "$threshold" --baseline "$1" --candidate "$2" --json > "$3" || true; }
if [ -n "${EDGEBENCH_GATE_AB:-}" ]; then
  # Interleaved sessions (bench --ab): each session is one comparison, side a against side b; A/A sessions leave
  # side b as is, slowed sessions give side b the fault knob. Session i of every kind runs before session i + 1 of
  # any (so a change of the machine over the hours hits all kinds alike), and each is judged as soon as it ends (a
  # series stopped early still tallies: run the python block below on "$out").
  session() { "$bin" "${plan[@]}" --ab --threshold "$threshold" "$@" --out "$out/$name" >/dev/null; }
  newest() { find "$out/$name" -mindepth 1 -maxdepth 1 -type d -name '*-a' -newer "$out/.stamp" | head -n 1; }
  most=$a_runs
  for s in $slowdowns; do most=$(( ${s##*:} > most ? ${s##*:} : most )); done
  for i in $(seq 1 "$most"); do
    if [ "$i" -le "$a_runs" ]; then
      touch "$out/.stamp"; name=A; session
      a=$(newest); judge "$a" "${a%-a}-b" "$out/aa-$i.json"
      echo "measure-gate: A/A session $i of $a_runs"
    fi
    for s in $slowdowns; do
      f=${s%%:*}
      n=${s##*:}
      [ "$i" -le "$n" ] || continue
      touch "$out/.stamp"; name=S$f; session --b-env "EDGEBENCH_FAULT=slow:$f"
      a=$(newest); judge "$a" "${a%-a}-b" "$out/s$f-$i.json"
      echo "measure-gate: slow:$f session $i of $n"
    done
  done
else
  for i in $(seq 1 "$a_runs"); do
    "$bin" "${plan[@]}" --out "$out/A" >/dev/null
    echo "measure-gate: A run $i of $a_runs"
  done
  for s in $slowdowns; do
    f=${s%%:*}
    n=${s##*:}
    for i in $(seq 1 "$n"); do
      EDGEBENCH_FAULT="slow:$f" "$bin" "${plan[@]}" --out "$out/S$f" >/dev/null
      echo "measure-gate: slow:$f run $i of $n"
    done
  done
  mapfile -t A < <(find "$out/A" -mindepth 1 -maxdepth 1 -type d | sort)
  k=0
  for ((i = 0; i < ${#A[@]}; i++)); do
    for ((j = i + 1; j < ${#A[@]}; j++)); do
      k=$((k + 1)); judge "${A[$i]}" "${A[$j]}" "$out/aa-$k.json"
    done
  done
  for s in $slowdowns; do
    f=${s%%:*}
    k=0
    while IFS= read -r c; do
      for b in "${A[@]}"; do
        k=$((k + 1)); judge "$b" "$c" "$out/s$f-$k.json"
      done
    done < <(find "$out/S$f" -mindepth 1 -maxdepth 1 -type d | sort)
  done
fi
python3 - "$out" <<'PY'
import glob, json, sys, collections
out = sys.argv[1]
def tally(pattern):
    per = collections.defaultdict(collections.Counter)
    pairs = 0
    for p in sorted(glob.glob(f"{out}/{pattern}")):
        g = json.load(open(p)); pairs += 1
        for c in g["cells"]:
            if c["verdict"] in ("not-timed", "still-failing", "new", "missing"):
                continue
            per[c["backend"]][c["verdict"]] += 1
            per["all"][c["verdict"]] += 1
    return pairs, per
groups = ["aa-*.json"] + sorted({p.split("/")[-1].split("-")[0] + "-*.json" for p in glob.glob(f"{out}/s*.json")})
for pat in groups:
    pairs, per = tally(pat)
    name = "A/A" if pat.startswith("aa") else "slow:" + pat[1:].split("-")[0]
    for b, c in sorted(per.items()):
        n = sum(c.values())
        print(f"{name:10} {b:12} pairs {pairs:3} cells {n:5}  regressed {c['regressed']:4} ({100*c['regressed']/n:5.1f} %)"
              f"  inconclusive {c['inconclusive']:4}  unchanged {c['unchanged']:4}  improved {c['improved']:4}"
              f"  now-failing {c['now-failing']}")
PY
