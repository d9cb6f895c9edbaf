#!/bin/bash
# The binary:// driver against `cat`, both fed through pipes as containerd's shim feeds a logger
# (fd 3 the container's stdout, fd 4 its stderr, fd 5 the ready pipe; CONTAINER_ID and
# CONTAINER_NAMESPACE set; argv KEY VALUE pairs; cwd a bundle directory), both streams busy.
#
#   CTRLOG_WORKLOADS=DIR benches/driver_pipes.sh [NAME=BIN ...]
#
# DIR holds gen_workloads.py output (`python3 ../shared/bench/gen_workloads.py DIR --scale 0.25`:
# short.txt, 64 MiB, lines of 20..200 bytes). Each run feeds one workload file into fd 3 and the
# same file into fd 4 (two `cat FILE` writers), and times from the first byte offered to the
# reader's exit. Readers: each NAME=BIN given (default: target/release/ctrlog) as the driver,
# and the floor, `cat <&3 >>OUT & cat <&4 >>OUT` (two cats through the same pipes into one file).
# Runs are interleaved (every reader once per round, RUNS rounds, default 5) so that load
# changes hit all readers alike; the medians are reported.
#
# Workloads: `short` (short.txt on both streams) and `yes` (`yes` output, "y\n" lines, YES_MIB
# MiB per stream, default 4). Configurations: format cri and json-file, each plain and rotating
# (max-size 10m, max-file 3). Columns: median wall time, the ratio to the floor's median,
# container output MB/s (input bytes of both streams / wall), CPU ms per MB of container output
# (user+sys of the reader process tree, from wait4), context switches of the reader (voluntary +
# involuntary; each is a wait for a CPU on a loaded machine).
#
# Env: RUNS, YES_MIB, CONFIGS (subset, e.g. "cri json-file cri+rot json-file+rot"),
# WORKLOADS ("short yes"), TMPDIR (output files; keep it off tmpfs to measure a disk's page cache).
set -euo pipefail
W=${CTRLOG_WORKLOADS:?set CTRLOG_WORKLOADS to the gen_workloads.py output dir}
if [ $# -eq 0 ]; then set -- "driver=$(dirname "$0")/../target/release/ctrlog"; fi
echo "machine: $(nproc) cpus, $(uname -r); load: $(uptime | sed 's/.*load/load/')"
exec python3 - "$W" "$@" <<'EOF'
import os, sys, time, tempfile, subprocess, statistics, shutil, fcntl

W = sys.argv[1]
bins = [a.split("=", 1) for a in sys.argv[2:]]
RUNS = int(os.environ.get("RUNS", "5"))
YES_MIB = int(os.environ.get("YES_MIB", "4"))
CONFIGS = os.environ.get("CONFIGS", "cri json-file cri+rot json-file+rot").split()
WORKLOADS = os.environ.get("WORKLOADS", "short yes").split()
tmp = tempfile.mkdtemp(prefix="driver_pipes.")

files = {"short": os.path.join(W, "short.txt")}
yes = os.path.join(tmp, "yes.txt")
with open(yes, "wb") as f:
    f.write(b"y\n" * (YES_MIB << 19))
files["yes"] = yes

bundle = os.path.join(tmp, "state/io.containerd.runtime.v2.task/default/bench1")
os.makedirs(bundle)
open(os.path.join(bundle, "config.json"), "w").write("{}")
out_dir = os.path.join(tmp, "out")

def high(fd):
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 100)
    os.close(fd)
    return new

def once(argv, data):
    """Runs one reader over `data` on both streams: (wall s, cpu s, context switches)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    r3, w3 = map(high, os.pipe())
    r4, w4 = map(high, os.pipe())
    r5, w5 = map(high, os.pipe())
    def child():
        os.dup2(r3, 3); os.dup2(r4, 4); os.dup2(w5, 5)
    env = {"PATH": os.environ["PATH"], "CONTAINER_ID": "bench1",
           "CONTAINER_NAMESPACE": "default", "CTRLOG_SYSLOG_SOCKET": ""}
    devnull = os.open(os.devnull, os.O_RDWR)
    reader = subprocess.Popen(argv, cwd=bundle, env=env, preexec_fn=child, close_fds=False,
                              stdin=devnull, stdout=devnull, stderr=None)
    for fd in (r3, r4, w5):
        os.close(fd)
    os.read(r5, 1)  # the ready byte, or EOF when fd 5 is closed
    os.close(r5)
    t0 = time.perf_counter()
    feeders = [subprocess.Popen(["cat", data], stdout=w) for w in (w3, w4)]
    os.close(w3); os.close(w4); os.close(devnull)
    _, status, ru = os.wait4(reader.pid, 0)
    wall = time.perf_counter() - t0
    reader.returncode = os.waitstatus_to_exitcode(status)
    for f in feeders:
        f.wait()
    if reader.returncode != 0:
        sys.exit(f"{argv[0]} exited {reader.returncode}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_nvcsw + ru.ru_nivcsw

def readers(cfg):
    fmt = cfg.split("+")[0]
    out = os.path.join(out_dir, "c.log")
    args = ["log-path", out, "format", fmt]
    if cfg.endswith("+rot"):
        args += ["max-size", "10m", "max-file", "3"]
    rs = [("cat", ["sh", "-c", f"exec 5>&-; cat <&3 >>{out} & cat <&4 >>{out}; wait"])]
    rs += [(name, [b] + args) for name, b in bins]
    return rs

print(f"runs {RUNS} (interleaved), medians; MB = 10^6 bytes of container output (both streams)")
print(f"{'workload':8} {'config':14} {'reader':10} {'wall s':>8} {'x cat':>6} {'MB/s':>7} {'cpu ms/MB':>9} {'csw':>7}")
for wl in WORKLOADS:
    data = files[wl]
    mb = 2 * os.path.getsize(data) / 1e6
    for cfg in CONFIGS:
        rs = readers(cfg)
        res = {name: [] for name, _ in rs}
        for _ in range(RUNS):
            for name, argv in rs:
                res[name].append(once(argv, data))
        floor = statistics.median(w for w, _, _ in res["cat"])
        for name, _ in rs:
            wall = statistics.median(w for w, _, _ in res[name])
            cpu = statistics.median(c for _, c, _ in res[name])
            csw = statistics.median(s for _, _, s in res[name])
            print(f"{wl:8} {cfg:14} {name:10} {wall:8.3f} {wall/floor:6.2f} {mb/wall:7.0f}"
                  f" {cpu*1e3/mb:9.2f} {csw:7.0f}", flush=True)
shutil.rmtree(tmp)
EOF
