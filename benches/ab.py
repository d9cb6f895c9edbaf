#!/usr/bin/env python3
"""Two ctrlog binaries side by side on the same workloads, next to `cat FILE > /dev/null`.

    benches/ab.py BEFORE AFTER [RUNS]

Runs each case RUNS times (default 9), interleaved: cat, BEFORE, AFTER, so that the machine's
drift hits all three alike, and prints the medians as a Markdown table. Both streams of every
job go to /dev/null (the write jobs' output floor is `ctrlog bench`'s `× in+out`). The
workloads come from `AFTER bench --scale ${SCALE:-1} --generate-only` (removed at the end);
set WORKLOADS=DIR to reuse a kept directory instead, and ONLY=TEXT to run only the jobs whose
name contains TEXT.
"""
import os, shutil, statistics, subprocess, sys, time

before, after = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 9
made = None
work = os.environ.get("WORKLOADS")
if not work:
    work = made = subprocess.run(
        [after, "bench", "--scale", os.environ.get("SCALE", "1"), "--generate-only",
         "--jobs", "cri-write-short,cri-write-mixed,cri-write-long,cri-read,json-read"],
        check=True, capture_output=True, text=True).stdout.strip()
cases = [
    ("CRI write short", "short.txt", ["write", "--max-len=16384"], True),
    ("CRI write short, per-record", "short.txt",
     ["write", "--max-len=16384", "--timestamp-policy", "per-record"], True),
    ("json-file write short", "short.txt", ["write", "--format", "json-file", "--max-len=16384"], True),
    ("CRI write mixed", "mixed.txt", ["write", "--max-len=16384"], True),
    ("CRI write long", "long.txt", ["write", "--max-len=16384"], True),
    ("CRI read", "cri.log", ["logs", "{f}"], False),
    ("json-file read", "docker-json.log", ["logs", "{f}"], False),
]

def run(cmd, src, stdin):
    inp = open(src, "rb") if stdin else subprocess.DEVNULL
    t = time.perf_counter()
    subprocess.run(cmd, stdin=inp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    t = time.perf_counter() - t
    if stdin:
        inp.close()
    return t

try:
    print("| job (both streams to /dev/null) | cat | before | after | before × cat | after × cat |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, file, args, stdin in cases:
        if os.environ.get("ONLY", "") not in name:
            continue
        src = os.path.join(work, file)
        t = {"cat": [], "before": [], "after": []}
        for _ in range(runs):
            t["cat"].append(run(["cat", src], src, False))
            for key, exe in (("before", before), ("after", after)):
                t[key].append(run([exe] + [a.replace("{f}", src) for a in args], src, stdin))
        m = {k: statistics.median(v) for k, v in t.items()}
        print(f"| {name} | {m['cat']*1e3:.1f} ms | {m['before']*1e3:.1f} ms | {m['after']*1e3:.1f} ms "
              f"| {m['before']/m['cat']:.2f} | {m['after']/m['cat']:.2f} |")
finally:
    if made:
        shutil.rmtree(made)
