#!/usr/bin/env bash
# The README's per-image ladder: tfprep (scripts/ladder) against the seed's Python path
# (scripts/pyref_bench.py) on the same Planet-like chips, one core, interleaved runs, medians;
# then the whole "tfprep convert --spec planet --shards 4" on Prism (a fresh process, wall
# time including start-up and commit), on one core and on two, against the whole Python path
# (its "write" step, one core). Each conversion writes into a directory removed before the
# timer starts, as the Python path writes a new file each run; "convert-2cores-overwrite"
# converts over the previous round's output instead (--overwrite: the commit then also
# deletes the 800 MB it replaces).
#   scripts/bench-ladder.sh [DIR [ROUNDS [N]]]   (defaults: /tmp/tfprep-ladder 5 2000)
set -euo pipefail
dir="${1:-/tmp/tfprep-ladder}"
rounds="${2:-5}"
n="${3:-2000}"
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/ladder" ./scripts/ladder
go build -o "$tmp/tfprep" ./cmd/tfprep
[ -f "$dir/planet.csv" ] || "$tmp/ladder" -make "$dir" -n "$n"
images="$(ls "$dir/images" | wc -l)"
results="$tmp/results"
# convert CPUS GOMAXPROCS STEP: one conversion into $tmp/STEP, its images/s over the wall time as
# a JSON line; the directory is removed first unless STEP ends in -overwrite.
convert() {
  local start end out="$tmp/$3"
  case "$3" in *-overwrite) ;; *) rm -rf "$out" ;; esac
  start="$(date +%s.%N)"
  GOMAXPROCS="$2" taskset -c "$1" "$tmp/tfprep" convert --spec planet --csv "$dir/planet.csv" \
    --images "$dir/images" --out "$out" --shards 4 --overwrite --quiet
  end="$(date +%s.%N)"
  echo "{\"impl\": \"go\", \"step\": \"$3\", \"images_per_s\": $(echo "$images / ($end - $start)" | bc -l)}"
}
convert 0,1 2 convert-2cores-overwrite >/dev/null # so that the first round has an output to replace
for r in $(seq "$rounds"); do
  taskset -c 0 /usr/bin/python3 scripts/pyref_bench.py "$dir" >>"$results"
  GOMAXPROCS=1 taskset -c 0 "$tmp/ladder" -dir "$dir" >>"$results"
  convert 0 1 convert-1core >>"$results"
  convert 0,1 2 convert-2cores >>"$results"
  convert 0,1 2 convert-2cores-overwrite >>"$results"
done
uptime
/usr/bin/python3 - "$results" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs.setdefault((r["impl"], r["step"]), []).append(r["images_per_s"])
steps = ["decode", "resize", "float32", "example", "tfrecord", "write", "crc32c", "sha256", "convert-1core", "convert-2cores", "convert-2cores-overwrite"]
print("| step | Python images/s | tfprep images/s | tfprep / Python |")
print("|---|---|---|---|")
for s in steps:
    # Python has no checksum steps and runs on one core: tfprep's are compared with its whole path.
    py = runs.get(("python", s)) or runs.get(("python", "write"))
    go = runs.get(("go", s))
    pm = statistics.median(py) if py else None
    gm = statistics.median(go) if go else None
    ratio = "%.2fx" % (gm / pm) if pm and gm else ""
    print("| %s | %s | %s | %s |" % (s, "%.0f" % pm if pm else "-", "%.0f" % gm if gm else "-", ratio))
print("(medians of %d interleaved runs each)" % len(runs[("go", "decode")]))
PY
