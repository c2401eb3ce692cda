#!/usr/bin/env bash
# Measures the gate as a CI job sees it (BENCHMARKS.md, issue #23): whole interleaved sessions of the default plan
# with the settings docs/gate.md recommends for CI (`bench --ab --threads 1 --ci 0.03 --max-time 60 --warmup 0.1`,
# confirmation on), each judged by `gate` as a job would: exit 10 fails the job. SESSIONS A/A sessions (nothing
# changed: a failed job is a false alarm) alternate with SESSIONS sessions whose side b slows ONE cell by SLOW
# (EDGEBENCH_FAULT=slow:F@BACKEND/MODEL), the slowed cell taken in turn from the plan's timed cells; a job that
# fails on that cell caught the slowdown. Per-cell detail (first-stage flags, confirmed, cleared, not gateable)
# in the tally. A series stopped early still tallies: run the python block on "$out".
# usage: ci/measure-gate-runs.sh [SESSIONS=20] [SLOW=1.10]
set -euo pipefail
cd "$(dirname "$0")/.."
sessions=${1:-20}
slow=${2:-1.10}
bin=${EDGEBENCH_BIN:-./target/release/edgebench}
out=${EDGEBENCH_GATE_OUT:-/tmp/edgebench-gate-runs}
mkdir -p "$out"
flags=(bench --ab --threads 1 --ci 0.03 --max-time 60 --warmup 0.1 --json)
session() { # NAME [bench flags...]: runs a session, judges it; writes NAME.json (gate) and NAME.rc
  local name=$1; shift
  touch "$out/.stamp"
  "$bin" "${flags[@]}" "$@" --out "$out/runs" >/dev/null
  local a
  a=$(find "$out/runs" -mindepth 1 -maxdepth 1 -type d -name '*-a' ! -name '*-confirm*' -newer "$out/.stamp" | head -n 1)
  set +e
  "$bin" gate --baseline "$a" --candidate "${a%-a}-b" --json > "$out/$name.json" 2>/dev/null
  echo $? > "$out/$name.rc"
  set -e
}
for i in $(seq 1 "$sessions"); do
  [ -f "$out/aa-$i.rc" ] || session "aa-$i"
  echo "measure-gate-runs: A/A session $i of $sessions: gate exit $(cat "$out/aa-$i.rc")"
  if [ ! -f "$out/cells.txt" ]; then
    # The plan's timed cells, from the first session, in a fixed shuffled order.
    python3 -c "
import json, random; g = json.load(open('$out/aa-1.json'))
cells = sorted(f\"{c['backend']}/{c['model']}\" for c in g['cells'] if c.get('ratio') is not None)
random.Random(23).shuffle(cells); print('\n'.join(cells))" > "$out/cells.txt"
  fi
  n=$(wc -l < "$out/cells.txt")
  cell=$(sed -n "$(( (i - 1) % n + 1 ))p" "$out/cells.txt")
  echo "$cell" > "$out/s-$i.cell"
  [ -f "$out/s-$i.rc" ] || session "s-$i" --b-env "EDGEBENCH_FAULT=slow:$slow@$cell"
  echo "measure-gate-runs: slow:$slow@$cell session $i of $sessions: gate exit $(cat "$out/s-$i.rc")"
done
python3 - "$out" <<'PY'
import glob, json, os, sys, collections
out = sys.argv[1]
def load(name):
    return json.load(open(f"{out}/{name}.json")), int(open(f"{out}/{name}.rc").read())
aa = sorted(glob.glob(f"{out}/aa-*.rc")); ss = sorted(glob.glob(f"{out}/s-*.rc"))
fails = 0; flagged = collections.Counter(); cleared = collections.Counter(); ng = collections.Counter()
confirmed = collections.Counter()
for p in aa:
    name = os.path.basename(p)[:-3]; g, rc = load(name)
    fails += rc == 10
    for c in g["cells"]:
        cid = f"{c['backend']}/{c['model']}"
        if c["verdict"] in ("regressed", "accuracy-regressed") or c.get("confirmation"):
            flagged[cid] += 1
        if c["verdict"] == "cleared": cleared[cid] += 1
        if c["verdict"] in ("regressed", "accuracy-regressed", "now-failing"): confirmed[cid] += 1
        if c["verdict"] == "not-gateable": ng[cid] += 1
    print(f"A/A {name}: gate exit {rc}" + "".join(f"; {c['backend']}/{c['model']} {c['verdict']}" for c in g["cells"]
          if c["verdict"] in ("regressed", "cleared", "not-gateable", "now-failing", "accuracy-regressed")))
print(f"A/A sessions: {len(aa)}, jobs failed: {fails}")
print(f"  first-stage flags: {dict(flagged)}; cleared by confirmation: {dict(cleared)}; failing: {dict(confirmed)}")
print(f"  not gateable: {dict(ng)}")
caught = 0; judged = 0
for p in ss:
    name = os.path.basename(p)[:-3]; g, rc = load(name)
    cell = open(f"{out}/{name}.cell").read().strip()
    v = next((c for c in g["cells"] if f"{c['backend']}/{c['model']}" == cell), None)
    verdict = v["verdict"] if v else "absent"
    first = (v or {}).get("confirmation", {}).get("flagged", verdict)
    ok = rc == 10 and verdict == "regressed"
    judged += verdict != "not-gateable"; caught += ok
    others = [f"{c['backend']}/{c['model']} {c['verdict']}" for c in g["cells"]
              if f"{c['backend']}/{c['model']}" != cell and c["verdict"] in ("regressed", "cleared", "not-gateable")]
    ratio = f"{v['ratio']:.3f}" if v and v.get("ratio") else "-"
    print(f"slowed {name}: {cell}: first stage {first}, final {verdict} (ratio {ratio}), gate exit {rc}"
          + (f"; others: {', '.join(others)}" if others else ""))
print(f"slowed sessions: {len(ss)}, jobs failed on the slowed cell: {caught} (of {judged} where it was gateable)")
PY
