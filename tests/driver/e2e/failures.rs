//! A create failure and a bad URI under a real containerd.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use super::{id, poll, run, uri, Containerd, BIN};

/// A runc that runs the real one and, when it fails, keeps a copy of the `--log` file (the
/// bundle's log.json) in `<keep>/default/<id>/log.json`: the shim removes the bundle of a
/// failed create before the test can look at it.
fn runc_keeping_log(dir: &Path, keep: &Path) -> String {
    let which = run(
        Command::new("sh").args(["-c", "command -v runc"]),
        "find runc",
    );
    let runc = String::from_utf8(which.stdout).unwrap();
    let runc = runc.trim();
    assert!(which.status.success() && !runc.is_empty(), "runc not found");
    let script = format!(
        "#!/bin/sh\n{runc} \"$@\"\nrc=$?\nif [ $rc -ne 0 ]; then\n  prev=\n  for a in \"$@\"; do\n    \
         if [ \"$prev\" = --log ]; then b=$(dirname \"$a\"); \
         d={keep}/$(basename \"$(dirname \"$b\")\")/$(basename \"$b\"); \
         mkdir -p \"$d\" && cp \"$a\" \"$d/log.json\"; fi\n    prev=$a\n  done\nfi\nexit $rc\n",
        keep = keep.display()
    );
    let path = dir.join("runc-keep.sh");
    fs::write(&path, script).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
#[ignore = "needs root, containerd, ctr, runc, busybox-static, python3: \
            CTRLOG_E2E_CONTAINERD=1 cargo test --all-features --test driver e2e:: -- --ignored"]
fn create_failure_reaches_the_log_and_last_error_matches_ctr() {
    let d = Containerd::start();
    // Named as containerd's task directory: `scan --root` takes a state root or a directory
    // so named, nothing else.
    let keep = d.dir().join("kept").join("io.containerd.runtime.v2.task");
    let runc = runc_keeping_log(d.dir(), &keep);
    let log = d.dir().join("fail.log");
    let id = id("fail");
    let uri = uri(&format!("log-path={}&utc", log.display()));
    let out = d.ctr_run(
        &["--rm", "--runc-binary", &runc],
        &uri,
        &id,
        &["/bin/no-such-program"],
    );
    assert!(!out.status.success(), "{out:?}");
    let ctr_err = String::from_utf8_lossy(&out.stderr).into_owned();
    // runc's error text came on fd 4: the driver logged it as stderr records.
    let text = poll(20, "runc's error in the log", || {
        let t = fs::read_to_string(&log).unwrap_or_default();
        (t.contains("no-such-program"), t)
    });
    for l in text.lines() {
        assert!(l.split(' ').nth(1) == Some("stderr"), "{l}");
    }

    // containerd's message is getLastRuntimeError's string from log.json, and that is what
    // `last-error --compat` prints.
    let json = keep.join("default").join(&id).join("log.json");
    let out = run(
        Command::new(BIN)
            .args(["last-error", "--compat"])
            .arg(&json),
        "ctrlog last-error --compat",
    );
    assert!(out.status.success(), "{out:?}");
    let compat = String::from_utf8(out.stdout).unwrap();
    let compat = compat.trim_end_matches('\n');
    assert!(compat.contains("no-such-program"), "{compat:?}");
    // The shim's `runtimeError`: "OCI runtime create failed: " + getLastRuntimeError; the
    // gRPC code follows.
    assert!(
        ctr_err.contains(&format!("OCI runtime create failed: {compat}: unknown")),
        "ctr said {ctr_err:?}, last-error --compat {compat:?}"
    );
    // runc printed the same text to the container's stderr (fd 4 of the driver).
    let contents: Vec<&str> = text
        .lines()
        .filter_map(|l| l.splitn(4, ' ').nth(3))
        .collect();
    assert_eq!(contents, [compat], "{text}");

    // `scan` on a task root holding that log.json reports the same last error.
    let out = run(
        Command::new(BIN)
            .args(["scan", "--json", "--root"])
            .arg(&keep),
        "ctrlog scan",
    );
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["id"], id.as_str(), "{v}");
    let last = v[0]["last_error"].as_str().unwrap();
    assert_eq!(last, compat, "{v}");
}

/// A datagram socket bound at `/dev/log` for the test, when the machine has no system log
/// there (never replaces a real one); removed on drop. Under containerd 1.6 the logger's
/// environment is only CONTAINER_ID and CONTAINER_NAMESPACE, so `CTRLOG_SYSLOG_SOCKET`
/// cannot be passed: the driver sends to `/dev/log`.
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

#[test]
#[ignore = "needs root, containerd, ctr, runc, busybox-static, python3: \
            CTRLOG_E2E_CONTAINERD=1 cargo test --all-features --test driver e2e:: -- --ignored"]
fn bad_uri_reason_in_log_file_bundle_and_system_log() {
    let d = Containerd::start();
    // A bad key: no ready byte, exit 2; the 1.6 shim starts the container anyway (EOF counts
    // as ready there). log-path is usable, so the reason is recorded there as a stderr record.
    let syslog = DevLog::bind();
    let bad = d.dir().join("bad.log");
    let id = id("baduri");
    let uri = uri(&format!("bogus=1&log-path={}", bad.display()));
    // Kept (no --rm) to look at the bundle.
    let ran = d.ctr_run(&["-d"], &uri, &id, &["/bin/seq.sh", "3"]);
    assert!(ran.status.success(), "{ran:?}");
    d.wait_stopped(&id);
    let recorded = fs::read_to_string(&bad).unwrap();
    let lines: Vec<&str> = recorded.lines().collect();
    assert_eq!(lines.len(), 1, "{recorded}");
    assert!(
        lines[0].contains(" stderr F ctrlog: unknown key 'bogus'"),
        "{recorded}"
    );
    if let Some(syslog) = &syslog {
        let want = format!(": driver [default/{id}]: unknown key 'bogus'");
        let msgs = poll(5, "system log message", || {
            let m = syslog.messages();
            (
                m.iter().any(|m| m.starts_with("<27>") && m.contains(&want)),
                m,
            )
        });
        assert!(!msgs.is_empty());
    }
    drop(syslog);
    let err = fs::read_to_string(
        d.tasks()
            .join("default")
            .join(&id)
            .join("ctrlog-driver.err"),
    )
    .unwrap();
    assert!(
        err.starts_with(&format!(
            "ctrlog driver [default/{id}]: unknown key 'bogus'"
        )),
        "{err}"
    );
    d.remove(&id);
}
