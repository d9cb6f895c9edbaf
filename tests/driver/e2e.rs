#![cfg(feature = "cli")]
//! End to end: a real containerd (private instance, its state in a tempdir) runs a busybox
//! container with `--log-uri binary:///…/ctrlog?…`, following `shared/e2e/README.md`.
//!
//! Ignored by default: it needs root, `containerd`, `ctr`, `runc`, `busybox-static` and
//! `python3` (`apt-get install containerd runc busybox-static`). Run it with
//! `cargo test --all-features --test driver e2e:: -- --ignored`.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ctrlog");
const IMAGE: &str = "docker.io/local/busybox:1";

/// Builds an OCI image-layout tarball from a rootfs directory (deterministic).
const BUILD_IMAGE: &str = r#"
import hashlib, io, json, os, sys, tarfile
rootfs, out = sys.argv[1], sys.argv[2]
def tar_bytes(add):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        add(t)
    return buf.getvalue()
def layer(t):
    for dirpath, dirnames, filenames in os.walk(rootfs):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            ti = t.gettarinfo(full, os.path.relpath(full, rootfs))
            ti.uid = ti.gid = 0; ti.uname = ti.gname = ""; ti.mtime = 0
            if ti.isfile():
                with open(full, "rb") as f:
                    t.addfile(ti, f)
            else:
                t.addfile(ti)
blobs = {}
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    blobs[d] = data
    return {"digest": "sha256:" + d, "size": len(data)}
lay = tar_bytes(layer)
cfg = blob(json.dumps({"architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(lay).hexdigest()]}}).encode())
man = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": dict(cfg, mediaType="application/vnd.oci.image.config.v1+json"),
    "layers": [dict(blob(lay), mediaType="application/vnd.oci.image.layer.v1.tar")]}).encode())
index = {"schemaVersion": 2, "manifests": [dict(man, mediaType="application/vnd.oci.image.manifest.v1+json",
    annotations={"io.containerd.image.name": sys.argv[3], "org.opencontainers.image.ref.name": "1"})]}
def outer(t):
    def put(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 0
        t.addfile(ti, io.BytesIO(data))
    put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    put("index.json", json.dumps(index).encode())
    for d in sorted(blobs):
        put("blobs/sha256/" + d, blobs[d])
with open(out, "wb") as f:
    f.write(tar_bytes(outer))
"#;

const PROG: &str =
    "#!/bin/sh\necho 'out one'\necho 'err one' >&2\necho 'out two'\nprintf 'no newline'\n";

fn wait_timeout(mut child: Child, what: &str) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("{what}: timed out");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run(cmd: &mut Command, what: &str) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    wait_timeout(child, what)
}

struct Containerd {
    child: Child,
    sock: PathBuf,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Containerd {
    fn start(tmp: &Path) -> Containerd {
        let sock = tmp.join("containerd.sock");
        let config = format!(
            "version = 2\nroot = \"{t}/root\"\nstate = \"{t}/state\"\n[grpc]\n  address = \"{s}\"\n\
             [ttrpc]\n  address = \"{s}.ttrpc\"\n\
             [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"native\"\n\
             [plugins.\"io.containerd.grpc.v1.cri\"]\n  restrict_oom_score_adj = true\n",
            t = tmp.display(),
            s = sock.display()
        );
        fs::write(tmp.join("config.toml"), config).unwrap();
        let log = fs::File::create(tmp.join("containerd.log")).unwrap();
        let mut cmd = Command::new("containerd");
        cmd.arg("--config")
            .arg(tmp.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: setsid and close are async-signal-safe. No descriptor beyond 0-2 may leak
        // to containerd: the shim and the logger would inherit it.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                for fd in 3..1024 {
                    libc::close(fd);
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("containerd");
        let d = Containerd { child, sock };
        let start = Instant::now();
        while !d.ctr(&["version"]).status.success() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "containerd not up"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    fn ctr(&self, args: &[&str]) -> Output {
        run(
            Command::new("ctr").arg("-a").arg(&self.sock).args(args),
            &format!("ctr {args:?}"),
        )
    }
}

/// A datagram socket bound at `/dev/log` for the test, when the machine has no system log
/// there (never replaces a real one); removed on drop.
struct DevLog(std::os::unix::net::UnixDatagram);

impl DevLog {
    fn bind() -> Option<DevLog> {
        if Path::new("/dev/log").symlink_metadata().is_ok() {
            eprintln!("note: /dev/log exists; the system log is not checked");
            return None;
        }
        let s = match std::os::unix::net::UnixDatagram::bind("/dev/log") {
            Ok(s) => s,
            Err(e) => {
                eprintln!("note: cannot bind /dev/log ({e}); the system log is not checked");
                return None;
            }
        };
        s.set_nonblocking(true).unwrap();
        Some(DevLog(s))
    }

    fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = self.0.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }
}

impl Drop for DevLog {
    fn drop(&mut self) {
        let _ = fs::remove_file("/dev/log");
    }
}

fn rootfs(dir: &Path) {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    for l in ["sh", "echo", "cat", "printf", "head", "yes", "sleep", "seq"] {
        std::os::unix::fs::symlink("busybox", bin.join(l)).unwrap();
    }
    for d in ["proc", "sys", "dev", "tmp", "etc"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    let prog = bin.join("prog.sh");
    fs::write(&prog, PROG).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&prog, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
#[ignore = "needs root and a real containerd, ctr, runc, busybox-static: \
            cargo test --all-features --test driver e2e:: -- --ignored"]
fn real_containerd_runs_ctrlog_as_binary_logger() {
    let tmp = tempfile::Builder::new()
        .prefix("ctrlog-e2e")
        .tempdir_in("/tmp")
        .unwrap();
    let t = tmp.path();
    rootfs(&t.join("rootfs"));
    let image = t.join("image.tar");
    let out = run(
        Command::new("python3")
            .arg("-c")
            .arg(BUILD_IMAGE)
            .arg(t.join("rootfs"))
            .arg(&image)
            .arg(IMAGE),
        "build image",
    );
    assert!(out.status.success(), "{out:?}");
    let d = Containerd::start(t);
    let out = d.ctr(&[
        "images",
        "import",
        "--snapshotter",
        "native",
        image.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");

    let logs = t.join("logs");
    fs::create_dir(&logs).unwrap();
    let log = logs.join("e2e1.log");
    let uri = format!(
        "binary://{BIN}?utc=&log-path={}&format=cri&max-len=4",
        log.display()
    );
    let out = d.ctr(&[
        "run",
        "--rm",
        "--snapshotter",
        "native",
        "--log-uri",
        &uri,
        IMAGE,
        "e2e1",
        "/bin/prog.sh",
    ]);
    assert!(out.status.success(), "{out:?}");
    // The shim waits for the logger after SIGTERM; poll briefly anyway.
    let start = Instant::now();
    let want_out = [
        "P out ", "F one", "P out ", "F two", "P no n", "P ewli", "P ne",
    ];
    let (stdout, stderr) = loop {
        let text = fs::read_to_string(&log).unwrap_or_default();
        let mut o = Vec::new();
        let mut e = Vec::new();
        for l in text.lines() {
            let mut it = l.splitn(4, ' ');
            let ts = it.next().unwrap();
            assert!(ts.ends_with('Z'), "utc: {l}");
            let s = it.next().unwrap();
            let rec = format!("{} {}", it.next().unwrap(), it.next().unwrap_or(""));
            if s == "stdout" {
                o.push(rec)
            } else {
                e.push(rec)
            }
        }
        if o.len() >= want_out.len() || start.elapsed() > Duration::from_secs(20) {
            break (o, e);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("{}", fs::read_to_string(&log).unwrap_or_default());
    assert_eq!(stdout, want_out);
    assert_eq!(stderr, ["P err ", "F one"]);

    // A bad key: no ready byte, exit 2; the 1.6 shim starts the container anyway (EOF counts
    // as ready there). The reason is recorded in the log file (log-path is usable) as a
    // stderr record, and in the bundle directory.
    // Kept (no --rm) to look at the bundle, and to scan it.
    // The system log: under containerd 1.6 the logger's environment is only CONTAINER_ID and
    // CONTAINER_NAMESPACE, so it sends to /dev/log. Stand in for it when the machine has none.
    let syslog = DevLog::bind();
    let bad = logs.join("e2e2.log");
    let uri = format!("binary://{BIN}?bogus=1&log-path={}", bad.display());
    let ran = d.ctr(&[
        "run",
        "-d",
        "--snapshotter",
        "native",
        "--log-uri",
        &uri,
        IMAGE,
        "e2e2",
        "/bin/prog.sh",
    ]);
    assert!(ran.status.success(), "{ran:?}");
    // Detached: the task (and its bundle) stays until deleted; wait until it stopped.
    let start = Instant::now();
    loop {
        let ls = d.ctr(&["tasks", "ls"]);
        let ls = String::from_utf8_lossy(&ls.stdout).into_owned();
        if ls
            .lines()
            .any(|l| l.starts_with("e2e2") && l.contains("STOPPED"))
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{ls}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let recorded = fs::read_to_string(&bad).unwrap();
    let lines: Vec<&str> = recorded.lines().collect();
    assert_eq!(lines.len(), 1, "{recorded}");
    assert!(
        lines[0].contains(" stderr F ctrlog: unknown key 'bogus'"),
        "{recorded}"
    );
    if let Some(syslog) = &syslog {
        let msgs = syslog.messages();
        assert!(
            msgs.iter().any(|m| m.starts_with("<27>")
                && m.contains(": driver [default/e2e2]: unknown key 'bogus'")),
            "{msgs:?}"
        );
    }
    drop(syslog);
    let tasks = t.join("state/io.containerd.runtime.v2.task");
    let err = fs::read_to_string(tasks.join("default/e2e2/ctrlog-driver.err")).unwrap();
    assert!(
        err.starts_with("ctrlog driver [default/e2e2]: unknown key 'bogus'"),
        "{err}"
    );
    let out = run(
        Command::new(BIN)
            .args(["scan", "--json", "--root"])
            .arg(&tasks),
        "ctrlog scan",
    );
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["e2e2"], "{v}");
    assert!(d.ctr(&["tasks", "delete", "e2e2"]).status.success());
    assert!(d.ctr(&["containers", "delete", "e2e2"]).status.success());
    let out = d.ctr(&["tasks", "ls", "-q"]);
    assert!(String::from_utf8_lossy(&out.stdout).trim().is_empty());
}
