#!/bin/bash
# The binary:// driver under a real containerd, against containerd's own file:// logger: a
# private containerd (as ../shared/e2e/README.md and tests/driver/e2e.rs set it up), one busybox
# container per run that writes a workload file to stdout and to stderr at once (`cat FILE &
# cat FILE >&2`), logged with --log-uri file://LOG, and with binary://BIN?format=cri|json-file.
#
#   CTRLOG_WORKLOADS=DIR benches/driver_containerd.sh [NAME=BIN ...]
#
# Needs root, containerd, ctr, runc, busybox-static and python3 (Debian: apt-get install
# containerd runc busybox-static). DIR holds gen_workloads.py output (short.txt: lines of
# 20..200 bytes); `yes` is YES_MIB MiB (default 8) of "y\n" per stream (its json-file log is
# ~36 times that: a run that would leave under 2 GB free is refused). Each stream writes
# short.txt REPEAT times (default 3: 403 MB a run at --scale 0.25), so that a run lasts
# long enough for the 10 ms clock. The workloads are bind-mounted read-only at
# /data; /out (bind-mounted) receives the container's start and end times, read from
# /proc/uptime inside it (10 ms resolution, the host's clock).
#
# Per run: MB/s = container output (both streams, 10^6 bytes) / (end - start), the time the
# container took to push everything into its pipes, which a slow logger holds back (the last
# pipeful, at most 2 MiB, may still be unread then). CPU ms/MB: utime+stime (/proc/PID/stat,
# 10 ms ticks) of the shim (containerd-shim-runc-v2 of that container) and of the logger
# process, from a pause before the container writes (it waits 1 s first) to 0.5 s after its
# writes are done (the logger drains meanwhile; the container then sleeps 2 s more, so the
# shim and the logger are still there). With file:// the shim is the logger (it copies the
# container's pipes into the file).
# Runs are interleaved (each logger once per round, RUNS rounds, default 5); medians reported.
#
# Env: RUNS, YES_MIB, REPEAT, WORKLOADS ("short yes"), FORMATS ("cri json-file"), TMPDIR
# (the logs and containerd's state; keep it off tmpfs to measure a disk's page cache).
set -euo pipefail
W=${CTRLOG_WORKLOADS:?set CTRLOG_WORKLOADS to the gen_workloads.py output dir}
if [ $# -eq 0 ]; then set -- "driver=$(dirname "$0")/../target/release/ctrlog"; fi
echo "machine: $(nproc) cpus, $(uname -r); load: $(uptime | sed 's/.*load/load/'); $(containerd --version | cut -d' ' -f3); runc $(runc --version | head -1 | cut -d' ' -f3)"
OCI_IMAGE="$(dirname "$0")/../tests/driver/e2e/oci_image.py"
exec python3 - "$W" "$OCI_IMAGE" "$@" <<'EOF'
import os, shutil, signal, statistics, subprocess, sys, tempfile, time

W = os.path.abspath(sys.argv[1])
# The image builder the e2e tests use.
OCI_IMAGE = os.path.abspath(sys.argv[2])
bins = [(n, os.path.abspath(b)) for n, b in (a.split("=", 1) for a in sys.argv[3:])]
RUNS = int(os.environ.get("RUNS", "5"))
YES_MIB = int(os.environ.get("YES_MIB", "8"))
REPEAT = int(os.environ.get("REPEAT", "3"))
WORKLOADS = os.environ.get("WORKLOADS", "short yes").split()
FORMATS = os.environ.get("FORMATS", "cri json-file").split()
IMAGE = "docker.io/local/ctrlog-bench:1"
HZ = os.sysconf("SC_CLK_TCK")

for tool in ("containerd", "ctr", "runc"):
    if not shutil.which(tool):
        sys.exit(f"{tool} not in PATH (apt-get install containerd runc busybox-static)")
if os.geteuid() != 0 or not os.path.isfile("/bin/busybox"):
    sys.exit("needs root and /bin/busybox (busybox-static)")

tmp = tempfile.mkdtemp(prefix="driver_containerd.")
data = os.path.join(tmp, "data")
os.makedirs(data)
files = {}
if "short" in WORKLOADS:
    # A hard link (a symlink would point outside the container), else a copy.
    try:
        os.link(os.path.join(W, "short.txt"), os.path.join(data, "short.txt"))
    except OSError:
        shutil.copy(os.path.join(W, "short.txt"), os.path.join(data, "short.txt"))
    files["short"] = "short.txt"
if "yes" in WORKLOADS:
    with open(os.path.join(data, "yes.txt"), "wb") as f:
        f.write(b"y\n" * (YES_MIB << 19))
    files["yes"] = "yes.txt"

# The rootfs and its image (an OCI layout tarball, built by the e2e tests' script).
rootfs = os.path.join(tmp, "rootfs")
os.makedirs(os.path.join(rootfs, "bin"))
shutil.copy("/bin/busybox", os.path.join(rootfs, "bin/busybox"))
for l in ("sh", "cat", "sleep"):
    os.symlink("busybox", os.path.join(rootfs, "bin", l))
for d in ("proc", "sys", "dev", "tmp", "etc", "data", "out"):
    os.makedirs(os.path.join(rootfs, d), exist_ok=True)
with open(os.path.join(rootfs, "bin/load.sh"), "w") as f:
    # /out/ready, then a pause in which the CPU counters are read before any output.
    f.write('#!/bin/sh\n: >/out/ready\nsleep 1\nread up _ </proc/uptime; echo "$up" >/out/start\n'
            'cat "$@" &\ncat "$@" >&2\nwait\n'
            'read up _ </proc/uptime; echo "$up" >/out/end\n'
            # Alive a while longer: the CPU of the shim and the logger is read meanwhile.
            'sleep 2\n')
os.chmod(os.path.join(rootfs, "bin/load.sh"), 0o755)

image = os.path.join(tmp, "image.tar")
subprocess.run(["python3", OCI_IMAGE, rootfs, image, IMAGE], check=True)

# A private containerd (no descriptor beyond 0-2 may leak to it: shims and loggers inherit).
sock = os.path.join(tmp, "containerd.sock")
with open(os.path.join(tmp, "config.toml"), "w") as f:
    f.write(f'version = 2\nroot = "{tmp}/root"\nstate = "{tmp}/state"\n[grpc]\n  address = "{sock}"\n'
            f'[ttrpc]\n  address = "{sock}.ttrpc"\n'
            '[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "native"\n'
            '[plugins."io.containerd.grpc.v1.cri"]\n  restrict_oom_score_adj = true\n')
log = open(os.path.join(tmp, "containerd.log"), "ab")
daemon = subprocess.Popen(["containerd", "--config", os.path.join(tmp, "config.toml")],
                          stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                          start_new_session=True, close_fds=True)

def ctr(*args, check=True):
    r = subprocess.run(["ctr", "-a", sock, *args], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=300)
    if check and r.returncode != 0:
        sys.exit(f"ctr {args}: {r.stderr.decode(errors='replace')}")
    return r

def cleanup():
    daemon.send_signal(signal.SIGTERM)
    daemon.wait()
    shutil.rmtree(tmp, ignore_errors=True)

try:
    for _ in range(300):
        if ctr("version", check=False).returncode == 0:
            break
        if daemon.poll() is not None:
            sys.exit("containerd exited: " + open(os.path.join(tmp, "containerd.log")).read())
        time.sleep(0.1)
    ctr("images", "import", "--snapshotter", "native", image)

    def cpu_of(match):
        """utime+stime (s) of the processes whose argv contains every string of `match`."""
        total, n = 0.0, 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
                if not all(any(m.encode() in a for a in argv) for m in match):
                    continue
                st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
                total += (int(st[11]) + int(st[12])) / HZ
                n += 1
            except OSError:
                pass
        return total if n else float("nan")

    out = os.path.join(tmp, "out")
    counter = [0]
    repeat = {"short": REPEAT, "yes": 1}
    # A json-file record of "y\n" is ~36 times its input: refuse to fill the disk.
    for wl in WORKLOADS:
        need = 2 * repeat[wl] * os.path.getsize(os.path.join(data, files[wl])) * (40 if wl == "yes" else 3)
        st = os.statvfs(tmp)
        if st.f_bavail * st.f_frsize < need + (2 << 30):
            sys.exit(f"{wl}: a run writes up to {need / 1e9:.1f} GB of logs; {tmp} has "
                     f"{st.f_bavail * st.f_frsize / 1e9:.1f} GB free (2 GB are kept free)")
    def once(wl, uri_of):
        """One container: (MB/s, shim cpu s, logger cpu s, log bytes)."""
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        logf = os.path.join(out, "c.log")
        counter[0] += 1
        cid = f"ctrlog-bench-{os.getpid()}-{counter[0]}"
        uri = uri_of(logf)
        p = subprocess.Popen(["ctr", "-a", sock, "run", "--rm", "--snapshotter", "native",
                              "--log-uri", uri,
                              "--mount", f"type=bind,src={data},dst=/data,options=rbind:ro",
                              "--mount", f"type=bind,src={out},dst=/out,options=rbind:rw",
                              IMAGE, cid, "/bin/load.sh", *["/data/" + files[wl]] * repeat[wl]],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        def wait_for(name, nonempty):
            path = os.path.join(out, name)
            deadline = time.monotonic() + 600
            while not os.path.exists(path) or (nonempty and os.path.getsize(path) == 0):
                if p.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"{uri}: the container did not finish: {p.stdout.read().decode(errors='replace')}")
                time.sleep(0.01)
            return path
        def cpu():
            shim = cpu_of(["containerd-shim-runc-v2", cid])
            return shim, cpu_of([logf]) if uri.startswith("binary:") else shim
        wait_for("ready", False)
        shim0, logger0 = cpu()
        end = wait_for("end", True)
        time.sleep(0.5)  # the logger drains the last pipefuls
        shim, logger = cpu()
        shim, logger = shim - shim0, logger - logger0
        o, _ = p.communicate(timeout=300)
        if p.returncode != 0:
            sys.exit(f"{uri}: ctr run exited {p.returncode}: {o.decode(errors='replace')}")
        t = float(open(end).read()) - float(open(os.path.join(out, "start")).read())
        mb = 2 * repeat[wl] * os.path.getsize(os.path.join(data, files[wl])) / 1e6
        if os.path.getsize(logf) < mb * 1e6:
            sys.exit(f"{uri}: the log holds {os.path.getsize(logf)} bytes, under the {mb * 1e6:.0f} written")
        return mb / max(t, 0.01), shim, logger, os.path.getsize(logf), mb

    loggers = [("file://", lambda l: "file://" + l)]
    for name, b in bins:
        for fmt in FORMATS:
            loggers.append((f"{name} {fmt}", lambda l, b=b, fmt=fmt: f"binary://{b}?format={fmt}&log-path={l}"))
    print(f"runs {RUNS} (interleaved), medians; MB = 10^6 bytes of container output (both streams)")
    print(f"{'workload':8} {'logger':22} {'MB/s':>7} {'shim ms/MB':>10} {'logger ms/MB':>12} {'log MB':>8}")
    for wl in WORKLOADS:
        res = {n: [] for n, _ in loggers}
        for _ in range(RUNS):
            for n, u in loggers:
                res[n].append(once(wl, u))
        for n, _ in loggers:
            rs = res[n]
            mb = rs[0][4]
            med = lambda k: statistics.median(r[k] for r in rs)
            print(f"{wl:8} {n:22} {med(0):7.0f} {med(1)*1e3/mb:10.2f} {med(2)*1e3/mb:12.2f} {med(3)/1e6:8.1f}", flush=True)
finally:
    cleanup()
EOF
