#!/usr/bin/env bash
# The write jobs of `ctrlog bench` with their output thrown away (`> /dev/null`), next to
# `cat FILE > /dev/null`: what encoding costs without the page-cache write of the output.
# Median of RUNS interleaved runs (default 5), whole processes, workloads from
# `ctrlog bench --keep` (scale 1 unless SCALE is set).
#
#   benches/write_devnull.sh            (builds the release CLI first)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
cargo build --release --quiet --features cli,gzip
bin=$PWD/target/release/ctrlog
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir=$("$bin" bench --scale "${SCALE:-1}" --jobs cri-write-short,cri-write-mixed,cri-write-long \
    --dir "$work" --generate-only 2> "$work/log")
python3 - "$bin" "$dir" "$runs" <<'PY'
import statistics, subprocess, sys, time
bin, d, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
cases = [
    ("cri short", "short.txt", ["write", "--max-len=16384"]),
    ("cri short, per-record", "short.txt", ["write", "--max-len=16384", "--timestamp-policy", "per-record"]),
    ("json-file short", "short.txt", ["write", "--format", "json-file", "--max-len=16384"]),
    ("cri mixed", "mixed.txt", ["write", "--max-len=16384"]),
    ("cri long", "long.txt", ["write", "--max-len=16384"]),
]
def run(cmd, src):
    with open(src, "rb") as f:
        t = time.perf_counter()
        subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - t
print(f"| job (output to /dev/null) | time | cat | × cat |")
print(f"|---|---:|---:|---:|")
for name, file, args in cases:
    src = f"{d}/{file}"
    mine, cat = [], []
    for _ in range(runs):
        cat.append(run(["cat"], src))
        mine.append(run([bin] + args, src))
    m, c = statistics.median(mine), statistics.median(cat)
    print(f"| {name} | {m*1e3:.1f} ms | {c*1e3:.1f} ms | {m/c:.2f} |")
PY
