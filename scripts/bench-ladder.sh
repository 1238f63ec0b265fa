#!/usr/bin/env bash
# The README's per-image ladder: tfprep (scripts/ladder) against the seed's Python path
# (scripts/pyref_bench.py) on the same Planet-like chips, one core, interleaved runs, medians.
#   scripts/bench-ladder.sh [DIR [ROUNDS [N]]]   (defaults: /tmp/tfprep-ladder 5 2000)
set -euo pipefail
dir="${1:-/tmp/tfprep-ladder}"
rounds="${2:-5}"
n="${3:-2000}"
cd "$(dirname "$0")/.."
bin="$(mktemp -d)/ladder"
go build -o "$bin" ./scripts/ladder
[ -f "$dir/planet.csv" ] || "$bin" -make "$dir" -n "$n"
results="$(mktemp)"
for r in $(seq "$rounds"); do
  taskset -c 0 /usr/bin/python3 scripts/pyref_bench.py "$dir" >>"$results"
  GOMAXPROCS=1 taskset -c 0 "$bin" -dir "$dir" >>"$results"
done
/usr/bin/python3 - "$results" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs.setdefault((r["impl"], r["step"]), []).append(r["images_per_s"])
steps = ["decode", "resize", "float32", "example", "tfrecord", "write", "sha256"]
print("| step | Python images/s | tfprep images/s | tfprep / Python |")
print("|---|---|---|---|")
for s in steps:
    py = runs.get(("python", s)); go = runs.get(("go", s))
    pm = statistics.median(py) if py else None
    gm = statistics.median(go) if go else None
    ratio = "%.2fx" % (gm / pm) if pm and gm else ""
    print("| %s | %s | %s | %s |" % (s, "%.0f" % pm if pm else "-", "%.0f" % gm if gm else "-", ratio))
print("(medians of %d interleaved runs each)" % len(runs[("go", "decode")]))
PY
rm -f "$results" "$bin"
