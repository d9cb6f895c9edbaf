#!/usr/bin/env bash
# Whole-process instruction counts of the main jobs (cachegrind: unaffected by machine load,
# so before/after comparisons hold on a busy machine). Usage:
#   python3 ../shared/bench/gen_workloads.py /tmp/wl --scale 0.02
#   CTRLOG_WORKLOADS=/tmp/wl benches/instructions.sh BIN [BIN...]
# prints "job instructions" per binary; run the binaries alternately for before/after.
# BENCHMARKS.md, "Issue 10 as a whole", was measured with it.
set -euo pipefail
W=${CTRLOG_WORKLOADS:?set CTRLOG_WORKLOADS to a gen_workloads.py directory}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for BIN in "$@"; do
  echo "== $BIN"
  run() {
    local name=$1 input=$2; shift 2
    local n
    n=$(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
      "$BIN" "$@" <"$input" 2>&1 >/dev/null | awk '/I *refs/ {gsub(",", "", $NF); print $NF}')
    echo "$name $n"
  }
  run write_cri_short "$W/short.txt" write
  run write_cri_mixed "$W/mixed.txt" write
  run write_json_short "$W/short.txt" write --format json-file
  rm -rf "$out/rot" && mkdir -p "$out/rot"
  run write_rotate_short "$W/short.txt" write -o "$out/rot/c.log" --max-size 1m --max-file 3
  run logs_cri /dev/null logs "$W/cri.log"
  run logs_docker /dev/null logs "$W/docker-json.log"
  run logs_tail10 /dev/null logs --tail 10 "$W/cri.log"
  run last_error /dev/null last-error "$W/nvidia-err-start.json"
  run last_error_compat /dev/null last-error --compat "$W/nvidia-noerr.json"
  run summary /dev/null summary "$W/nvidia-noerr.json"
done
