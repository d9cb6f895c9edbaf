#![cfg(feature = "cli")]
//! End to end: a real containerd (a private instance per test, its state in a tempdir) runs
//! busybox containers with `--log-uri binary:///…/ctrlog?…`, following `shared/e2e/README.md`.
//!
//! Ignored by default: it needs root, `containerd`, `ctr`, `runc`, `busybox-static` and
//! `python3` (Debian: `apt-get install containerd runc busybox-static`). Run it with
//! `CTRLOG_E2E_CONTAINERD=1 cargo test --all-features --test driver e2e:: -- --ignored`
//! (`.ci/run` does). Without that variable an explicit `--ignored` run fails at once, naming
//! it: a machine without containerd must not report these tests as passed. With it, a missing
//! tool or a containerd that does not start fails the test with the reason.
//!
//! Each test starts its own containerd (about a second) so that none can disturb another:
//! [`restart`] stops and restarts its daemon, and container ids (cgroup paths) are unique.
//!
//! - [`streams`]: both streams byte-exact in cri and json-file (a line over 16 KiB, CRLF,
//!   invalid UTF-8, an unterminated last line); rotation with compress.
//! - [`failures`]: a create failure (runc's error on fd 4; `last-error --compat` against
//!   `ctr`), a bad URI (the reason in the log file, the bundle and the system log).
//! - [`node`]: containerd restarted under a running container; `scan` finding a live bundle;
//!   `scan --cap` on a live bundle's log.json.

mod failures;
mod node;
mod streams;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_ctrlog");
const IMAGE: &str = "docker.io/local/busybox:1";
/// The switch: set to `1` to run these tests (they are also `#[ignore]`d).
const SWITCH: &str = "CTRLOG_E2E_CONTAINERD";
const IGNORED: &str = "needs root, containerd, ctr, runc, busybox-static, python3: \
                       CTRLOG_E2E_CONTAINERD=1 cargo test --all-features --test driver e2e:: -- --ignored";

/// Builds an OCI image-layout tarball from a rootfs directory (deterministic); the
/// containerd bench (`benches/driver_containerd.sh`) runs the same script.
const BUILD_IMAGE: &str = include_str!("e2e/oci_image.py");

/// The container programs, in `/bin` of the image.
const PROGRAMS: &[(&str, &str)] = &[
    // The exact bytes of /data/out and /data/err, one stream each.
    ("streams.sh", "#!/bin/sh\ncat /data/out\ncat /data/err >&2\n"),
    ("seq.sh", "#!/bin/sh\nseq 1 \"$1\"\n"),
    // One line every 20 ms for $1 lines: output spans a containerd restart.
    (
        "slow.sh",
        "#!/bin/sh\ni=1\nwhile [ $i -le \"$1\" ]; do echo \"line $i\"; i=$((i+1)); sleep 0.02; done\n",
    ),
];

/// What `streams.sh` writes to stdout: a line over 16 KiB (two `P` records and an `F`), a
/// CRLF line, invalid UTF-8, a `\r` inside a line and an unterminated last line.
fn stdout_bytes() -> Vec<u8> {
    let mut v = b"first line\n".to_vec();
    v.extend_from_slice(&[b'x'; 40_000]);
    v.extend_from_slice(b"\ncrlf line\r\nbad \xff\xfe utf8\nin\rside\nno newline at the end");
    v
}

/// What `streams.sh` writes to stderr.
fn stderr_bytes() -> Vec<u8> {
    let mut v = b"err one\r\n".to_vec();
    v.extend_from_slice(&[b'y'; 16_385]);
    v.extend_from_slice(b"\n\xc3( lone lead byte\nerr tail");
    v
}

/// Fails unless [`SWITCH`] is set and the tools are there: these tests never pass without
/// running.
fn require() {
    assert_eq!(
        std::env::var(SWITCH).as_deref(),
        Ok("1"),
        "{SWITCH}=1 is not set: these tests need a real containerd ({IGNORED})"
    );
    let path = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<&str> = ["containerd", "ctr", "runc", "python3"]
        .into_iter()
        .filter(|t| !std::env::split_paths(&path).any(|d| d.join(t).is_file()))
        .collect();
    assert!(missing.is_empty(), "not in PATH: {missing:?} ({IGNORED})");
    assert!(
        Path::new("/bin/busybox").is_file(),
        "no /bin/busybox (busybox-static) ({IGNORED})"
    );
}

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
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    wait_timeout(child, what)
}

/// Polls `f` every 50 ms for up to `secs` seconds; panics with `what` and the last value.
fn poll<T: std::fmt::Debug>(secs: u64, what: &str, mut f: impl FnMut() -> (bool, T)) -> T {
    let start = Instant::now();
    loop {
        let (done, v) = f();
        if done {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{what}: timed out; last {v:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A private containerd, its state under a tempdir, with the test image imported.
struct Containerd {
    child: Option<Child>,
    tmp: TempDir,
    sock: PathBuf,
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // Leave no task behind (a shim and a logger would outlive the test), then stop.
        if self.child.is_some() {
            let ls = self.ctr(&["tasks", "ls", "-q"]);
            for id in String::from_utf8_lossy(&ls.stdout).split_whitespace() {
                self.ctr(&["tasks", "kill", "-s", "SIGKILL", id]);
                let _ = poll(10, "task deleted", || {
                    let out = self.ctr(&["tasks", "delete", id]);
                    (out.status.success(), out)
                });
            }
        }
        self.stop();
    }
}

impl Containerd {
    /// Starts containerd and imports the image; any failure panics with the reason.
    fn start() -> Containerd {
        require();
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
            "build image (python3)",
        );
        assert!(out.status.success(), "build image: {out:?}");
        let sock = t.join("containerd.sock");
        let config = format!(
            "version = 2\nroot = \"{t}/root\"\nstate = \"{t}/state\"\n[grpc]\n  address = \"{s}\"\n\
             [ttrpc]\n  address = \"{s}.ttrpc\"\n\
             [plugins.\"io.containerd.grpc.v1.cri\".containerd]\n  snapshotter = \"native\"\n\
             [plugins.\"io.containerd.grpc.v1.cri\"]\n  restrict_oom_score_adj = true\n",
            t = t.display(),
            s = sock.display()
        );
        fs::write(t.join("config.toml"), config).unwrap();
        let mut d = Containerd {
            child: None,
            tmp,
            sock,
        };
        d.launch();
        let out = d.ctr(&[
            "images",
            "import",
            "--snapshotter",
            "native",
            image.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "image import: {out:?}");
        d
    }

    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// containerd's state directory for runtime v2 tasks.
    fn tasks(&self) -> PathBuf {
        self.dir().join("state/io.containerd.runtime.v2.task")
    }

    fn launch(&mut self) {
        let t = self.dir();
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(t.join("containerd.log"))
            .unwrap();
        let mut cmd = Command::new("containerd");
        cmd.arg("--config")
            .arg(t.join("config.toml"))
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
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run containerd ({IGNORED}): {e}"));
        self.child = Some(child);
        let start = Instant::now();
        while !self.ctr(&["version"]).status.success() {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("containerd exited ({st}): {}", self.daemon_log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "containerd not up in 30 s: {}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn daemon_log(&self) -> String {
        fs::read_to_string(self.dir().join("containerd.log")).unwrap_or_default()
    }

    /// SIGTERM to containerd and wait (the shims and loggers live on: own sessions).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// Starts a stopped containerd again, same configuration and state.
    fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    fn ctr(&self, args: &[&str]) -> Output {
        run(
            Command::new("ctr").arg("-a").arg(&self.sock).args(args),
            &format!("ctr {args:?}"),
        )
    }

    /// `ctr run --snapshotter native --log-uri URI [EXTRA…] IMAGE ID ARGS…`.
    fn ctr_run(&self, extra: &[&str], uri: &str, id: &str, args: &[&str]) -> Output {
        let mut a = vec!["run", "--snapshotter", "native", "--log-uri", uri];
        a.extend_from_slice(extra);
        a.extend_from_slice(&[IMAGE, id]);
        a.extend_from_slice(args);
        self.ctr(&a)
    }

    /// Waits until task `id` is STOPPED (a detached run).
    fn wait_stopped(&self, id: &str) {
        poll(60, &format!("task {id} stopped"), || {
            let ls = self.ctr(&["tasks", "ls"]);
            let ls = String::from_utf8_lossy(&ls.stdout).into_owned();
            let done = ls
                .lines()
                .any(|l| l.split_whitespace().next() == Some(id) && l.contains("STOPPED"));
            (done, ls)
        });
    }

    /// Deletes task and container `id`.
    fn remove(&self, id: &str) {
        let out = self.ctr(&["tasks", "delete", id]);
        assert!(out.status.success(), "{out:?}");
        let out = self.ctr(&["containers", "delete", id]);
        assert!(out.status.success(), "{out:?}");
    }
}

/// A `binary://` URI for the driver with `query`.
fn uri(query: &str) -> String {
    format!("binary://{BIN}?{query}")
}

/// A unique container id: ids name cgroups, which all containerd instances share.
fn id(name: &str) -> String {
    format!("ctrlog-e2e-{name}-{}", std::process::id())
}

fn rootfs(dir: &Path) {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy("/bin/busybox", bin.join("busybox"))
        .unwrap_or_else(|e| panic!("/bin/busybox (busybox-static): {e}"));
    for l in ["sh", "echo", "cat", "printf", "head", "yes", "sleep", "seq"] {
        std::os::unix::fs::symlink("busybox", bin.join(l)).unwrap();
    }
    for d in ["proc", "sys", "dev", "tmp", "etc", "data"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    for (name, text) in PROGRAMS {
        let prog = bin.join(name);
        fs::write(&prog, text).unwrap();
        fs::set_permissions(&prog, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::write(dir.join("data/out"), stdout_bytes()).unwrap();
    fs::write(dir.join("data/err"), stderr_bytes()).unwrap();
}
