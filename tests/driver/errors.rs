#![cfg(feature = "cli")]
//! How the `binary://` driver reports its errors and stops (issue 9, items 13-16): every error
//! goes to stderr, to the system log (`CTRLOG_SYSLOG_SOCKET` stands in for `/dev/log`), to
//! `ctrlog-driver.err` only inside a bundle, and as a `ctrlog:` record into the log file when
//! log-path can be opened; SIGTERM works at every stage; a FIFO at log-path never hangs it.

use crate::driver_util;

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use driver_util::*;

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Whether the SIGTERM bit is set in `/proc/PID/status`'s `SigCgt` (a handler is installed);
/// `None` once the process is gone.
fn catches_sigterm(pid: u32) -> Option<bool> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("SigCgt:"))?;
    let mask = u64::from_str_radix(line["SigCgt:".len()..].trim(), 16).ok()?;
    Some(mask & (1 << (libc::SIGTERM - 1)) != 0)
}

#[test]
fn fifo_at_log_path_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = bundle(dir.path());
    let path = dir.path().join("ctr.log");
    mkfifo(&path);
    let log = Syslog::bind(dir.path());
    let mut d = Spawn::new(&cwd, &["log-path", path.to_str().unwrap()])
        .syslog(&log.path)
        .start();
    // No signal: the driver must give up on its own (the hang guard kills it otherwise).
    assert_eq!(d.wait().code(), Some(2));
    assert_eq!(d.ready_bytes(), b"", "no ready byte");
    let err = err_file(&cwd).unwrap();
    assert!(err.contains(path.to_str().unwrap()), "{err}");
    let lower = err.to_lowercase();
    assert!(
        lower.contains("fifo") || lower.contains("regular"),
        "the reason: {err}"
    );
    let msgs = log.messages();
    assert!(
        msgs.iter().any(|m| m.contains(path.to_str().unwrap())),
        "{msgs:?}"
    );
}

/// SIGTERM while the driver is inside the opening stage. Every open of the driver is
/// non-blocking now (a FIFO at log-path is refused at once, see above), so nothing real holds
/// it there long enough to be signalled; debug builds stop there on request
/// (`CTRLOG_DRIVER_PAUSE_OPENING` names a file the driver creates once it is paused, just
/// before it opens log-path). Release builds have no such pause: the test is ignored there.
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "the opening pause exists only in debug builds of the driver"
)]
fn sigterm_while_opening_log_path_exits_2_without_ready() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = bundle(dir.path());
    let path = dir.path().join("ctr.log");
    let paused = dir.path().join("paused");
    let log = Syslog::bind(dir.path());
    let mut d = Spawn::new(&cwd, &["log-path", path.to_str().unwrap()])
        .syslog(&log.path)
        .env("CTRLOG_DRIVER_PAUSE_OPENING", paused.to_str().unwrap())
        .start();
    let start = Instant::now();
    while !paused.exists() {
        if let Some(st) = d.child.try_wait().unwrap() {
            panic!("the driver exited before its opening pause: {st:?}");
        }
        if start.elapsed() > HANG_GUARD {
            let _ = d.child.kill();
            panic!("the driver never reached its opening pause");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // The pause comes after the signal handlers are installed.
    assert_eq!(catches_sigterm(d.child.id()), Some(true));
    d.signal(libc::SIGTERM);
    let st = d.wait();
    assert_eq!(st.code(), Some(2), "{st:?}");
    assert_eq!(d.ready_bytes(), b"", "no ready byte");
    let err = err_file(&cwd).unwrap();
    assert!(err.contains("SIGTERM while opening log-path"), "{err}");
    assert!(err.contains(path.to_str().unwrap()), "{err}");
    assert!(
        log.messages().iter().any(|m| m.contains("SIGTERM")),
        "system log"
    );
    assert!(!path.exists(), "log-path was never opened");
}

/// `ctrlog driver log-path PATH KEY VALUE` by hand: exit status and stderr.
fn bad_key(dir: &Path, key: &str, value: &str, extra: &[&str]) -> String {
    let path = dir.join("x.log");
    let out = Command::new(BIN)
        .args(["driver", "log-path", path.to_str().unwrap(), key, value])
        .args(extra)
        .current_dir(dir)
        .env_clear()
        .env("CTRLOG_SYSLOG_SOCKET", dir.join("none.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{key} {value}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn each_key_is_named_in_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str], &str)] = &[
        ("max-size", "10q", &[], "is not a size"),
        ("max-size", "0", &[], "must be positive"),
        ("max-file", "0", &[], "must be at least 1"),
        ("max-file", "x", &[], "is not an integer"),
        ("max-file", "99999999999999999999", &[], "out of range"),
        ("compress", "true", &[], "needs max-size"),
        ("compress", "maybe", &[], "is not a boolean"),
        ("naming", "weird", &[], "docker, kubelet or ctrlog"),
        ("max-len", "16k", &[], "is not an integer"),
        ("format", "syslog", &[], "cri or json-file"),
        ("utc", "yes", &[], "is not a boolean"),
    ];
    for (key, value, extra, what) in cases {
        let err = bad_key(dir.path(), key, value, extra);
        let want = format!("ctrlog driver: {key}: '{value}' ");
        assert!(
            err.starts_with(&want),
            "{key}: {err:?} should start {want:?}"
        );
        assert!(err.contains(what), "{key}: {err:?} should say {what:?}");
        assert!(
            !err.contains("log-path"),
            "{key}: blamed on log-path: {err:?}"
        );
    }
}

#[test]
fn run_by_hand_writes_no_err_file_in_the_cwd() {
    let dir = tempfile::tempdir().unwrap();
    let err = bad_key(dir.path(), "bogus", "1", &[]);
    assert!(err.contains("unknown key 'bogus'"), "{err}");
    assert!(err_file(dir.path()).is_none(), "wrote {ERR_FILE} by hand");
    // CONTAINER_ID set, but the cwd is no bundle of that container: no file either.
    let mut d = Spawn::new(dir.path(), &["bogus", "1"]).start();
    assert_eq!(d.wait().code(), Some(2));
    assert!(
        err_file(dir.path()).is_none(),
        "wrote {ERR_FILE} outside a bundle"
    );
    // Inside the bundle it is written.
    let cwd = bundle(dir.path());
    let mut d = Spawn::new(&cwd, &["bogus", "1"]).start();
    assert_eq!(d.wait().code(), Some(2));
    assert!(err_file(&cwd).unwrap().contains("unknown key 'bogus'"));
}

/// The syslog messages the driver sent, checked for the RFC 3164 frame.
fn driver_messages(log: &Syslog, pid: u32) -> Vec<String> {
    let msgs = log.messages();
    for m in &msgs {
        // <PRI>Mmm dd hh:mm:ss ctrlog[PID]: MSG, PRI = daemon (3) * 8 + err (3).
        assert!(m.starts_with("<27>"), "{m:?}");
        let stamp = &m[4..19];
        assert_eq!(stamp.as_bytes()[3], b' ', "{m:?}");
        assert_eq!(&stamp[9..10], ":", "{m:?}");
        assert_eq!(&m[19..20], " ", "{m:?}");
        assert!(
            m[20..].starts_with(&format!("ctrlog[{pid}]: ")),
            "{m:?} (pid {pid})"
        );
        assert!(!m.contains('\n'), "{m:?}");
    }
    msgs
}

#[test]
fn configuration_errors_reach_the_system_log() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = bundle(dir.path());
    let log = Syslog::bind(dir.path());
    let mut d = Spawn::new(&cwd, &["format", "cri"])
        .syslog(&log.path)
        .start();
    assert_eq!(d.wait().code(), Some(2));
    let msgs = driver_messages(&log, d.child.id());
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].contains("default/ctr1"), "{msgs:?}");
    assert!(msgs[0].contains("log-path is required"), "{msgs:?}");
    // Run by hand, no container: still reported, without an id.
    let mut d = Spawn::new(
        dir.path(),
        &["driver", "max-len", "x", "log-path", "/nonexistent/y"],
    )
    .container(false)
    .syslog(&log.path)
    .start();
    assert_eq!(d.wait().code(), Some(2));
    let msgs = driver_messages(&log, d.child.id());
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].contains("max-len: 'x'"), "{msgs:?}");
}

#[test]
fn a_system_log_that_does_not_read_never_blocks_the_driver() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = bundle(dir.path());
    let log = Syslog::bind(dir.path());
    assert!(log.fill() > 0);
    let mut d = Spawn::new(&cwd, &["bogus", "1"]).syslog(&log.path).start();
    assert_eq!(d.wait().code(), Some(2));
    assert!(err_file(&cwd).unwrap().contains("unknown key 'bogus'"));
}

#[test]
fn a_configuration_error_is_recorded_in_the_log_file() {
    // log-path is usable, another key is bad: the reason is a stderr record in the file, in
    // the format asked for (CRI unless the format key itself is the bad one).
    let dir = tempfile::tempdir().unwrap();
    let cwd = bundle(dir.path());
    let cri = dir.path().join("cri.log");
    let mut d = Spawn::new(
        &cwd,
        &[
            "max-len",
            "16k",
            "log-path",
            cri.to_str().unwrap(),
            "utc",
            "1",
        ],
    )
    .start();
    assert_eq!(d.wait().code(), Some(2));
    assert_eq!(d.ready_bytes(), b"");
    let recs = cri_records(&cri);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0].0, "stderr");
    assert_eq!(recs[0].1, "F");
    assert!(
        recs[0]
            .2
            .starts_with("ctrlog: max-len: '16k' is not an integer"),
        "{recs:?}"
    );
    // `ctrlog logs` shows it (on its stderr: the record's stream, as `kubectl logs`).
    let out = Command::new(BIN)
        .args(["logs", cri.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ctrlog: max-len: '16k'"),
        "{out:?}"
    );

    let json = dir.path().join("json.log");
    let mut d = Spawn::new(
        &cwd,
        &[
            "format",
            "json-file",
            "log-path",
            json.to_str().unwrap(),
            "max-size",
            "10q",
        ],
    )
    .start();
    assert_eq!(d.wait().code(), Some(2));
    let text = fs::read_to_string(&json).unwrap();
    let recs: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 1, "{text}");
    assert_eq!(recs[0]["stream"], "stderr");
    let msg = recs[0]["log"].as_str().unwrap();
    assert!(
        msg.starts_with("ctrlog: max-size: '10q' is not a size"),
        "{msg:?}"
    );
    assert!(msg.ends_with('\n'), "{msg:?}");
}

#[test]
fn write_failures_reach_the_system_log_and_the_log_file() {
    // `ulimit -f 64k` with SIGXFSZ ignored (as the shim leaves it): one record too large to
    // fit fails with EFBIG and is cut back; the records around it, and the summary, fit.
    let dir = tempfile::tempdir().unwrap();
    let cwd = bundle(dir.path());
    let path = dir.path().join("ctr.log");
    let log = Syslog::bind(dir.path());
    let mut d = Spawn::new(
        &cwd,
        &[
            "log-path",
            path.to_str().unwrap(),
            "max-size",
            "1m",
            "max-len",
            "-1",
            "utc",
            "",
        ],
    )
    .file_size_limit(64 * 1024)
    .syslog(&log.path)
    .start();
    assert_eq!(d.ready_bytes(), [0]);
    let mut out = d.stdout.take().unwrap();
    out.write_all(b"before\n").unwrap();
    out.write_all(&[b'z'; 100_000]).unwrap();
    out.write_all(b"\nafter\n").unwrap();
    drop(out);
    d.close_streams();
    assert_eq!(d.wait().code(), Some(1));
    let msgs = driver_messages(&log, d.child.id());
    let lost: Vec<&String> = msgs
        .iter()
        .filter(|m| m.contains("records could not be written"))
        .collect();
    assert_eq!(lost.len(), 1, "{msgs:?}");
    assert!(lost[0].contains("default/ctr1"), "{msgs:?}");
    assert!(lost[0].contains("stdout: "), "{msgs:?}");
    let recs = cri_records(&path);
    let notes: Vec<&(String, String, String)> = recs
        .iter()
        .filter(|r| r.2.starts_with("ctrlog: "))
        .collect();
    assert_eq!(notes.len(), 1, "{recs:?}");
    assert_eq!(notes[0].0, "stderr");
    assert!(
        notes[0].2.contains("records could not be written"),
        "{notes:?}"
    );
    // Nothing torn: every record is whole, and the big one is not there.
    assert!(recs.iter().all(|r| r.2.len() < 1000), "{}", recs.len());
}

#[test]
fn run_by_hand_without_fds_3_to_5_says_so() {
    // The driver creates descriptors of its own (signals, system log); they must never be
    // taken for the container's streams when fds 3-5 are closed.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.log");
    let mut cmd = Command::new(BIN);
    cmd.args(["driver", "log-path", path.to_str().unwrap()])
        .current_dir(dir.path())
        .env_clear()
        .env("CTRLOG_SYSLOG_SOCKET", dir.path().join("none.sock"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // SAFETY: close(2) is async-signal-safe.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            for fd in 3..=5 {
                libc::close(fd);
            }
            Ok(())
        });
    }
    let mut d = Driver {
        child: cmd.spawn().unwrap(),
        stdout: None,
        stderr: None,
        ready: fs::File::open("/dev/null").unwrap(),
    };
    assert_eq!(d.wait().code(), Some(2));
    let err = d.stderr_text();
    assert!(err.contains("fd 3 (container stdout) is not open"), "{err}");
}
