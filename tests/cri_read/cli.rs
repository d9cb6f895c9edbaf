//! `ctrlog logs` end to end.
#![cfg(feature = "cli")]

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ctrlog");
const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/real/");

fn logs(args: &[&str]) -> std::process::Output {
    Command::new(BIN).arg("logs").args(args).output().unwrap()
}

#[test]
fn real_files_split_streams() {
    for f in ["conmon/gen.k8s-file.log", "docker/gen-json.log"] {
        let o = logs(&[&format!("{REAL}{f}")]);
        assert!(o.status.success(), "{f}");
        assert_eq!(
            o.stdout,
            fs::read(format!("{REAL}expected/gen.stdout.bin")).unwrap(),
            "{f}"
        );
        assert_eq!(
            o.stderr,
            fs::read(format!("{REAL}expected/gen.stderr.bin")).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn tail_since_timestamps_limit() {
    let f = format!("{REAL}containerd/cri-seq-1-5000.log");
    let o = logs(&["--tail", "2", &f]);
    assert_eq!(o.stdout, b"4999\n5000\n");
    let o = logs(&["--tail=-1", "--limit-bytes", "4", &f]);
    assert_eq!(o.stdout, b"1\n2\n");
    let o = logs(&["--tail", "1", "--timestamps", &f]);
    let s = String::from_utf8(o.stdout).unwrap();
    assert!(
        s.starts_with("2026-11-23T") && s.ends_with("Z 5000\n") && s.len() == 36,
        "{s:?}"
    );
    // --since in the future: nothing.
    let o = logs(&["--since", "2099-01-01T00:00:00Z", &f]);
    assert!(o.status.success() && o.stdout.is_empty());
    // --tail-records counts pieces (kubelet): the last physical line of conmon's gen log is
    // the unterminated stdout piece.
    let o = logs(&[
        "--tail",
        "1",
        "--tail-records",
        &format!("{REAL}conmon/gen.k8s-file.log"),
    ]);
    assert_eq!(o.stdout, b"no newline at end of stdout");
}

#[test]
fn bad_input_exits_2_with_a_message() {
    for (args, msg) in [
        (vec!["/nonexistent/x.log"], "/nonexistent/x.log"),
        (vec!["--since", "yesterday", "x.log"], "invalid --since"),
        (vec!["--tail", "abc", "x.log"], "invalid value"),
        (vec![], "PATH"),
    ] {
        let o = logs(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.log"), "").unwrap();
    fs::write(d.path().join("b.log"), "").unwrap();
    let o = logs(&[d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pass one file"));
}

#[test]
fn directory_holding_a_rotated_set() {
    let d = tempfile::tempdir().unwrap();
    let rec = |c: &str| format!("2024-01-01T00:00:00Z stdout F {c}\n");
    fs::write(d.path().join("0.log.20240101-000000"), rec("old")).unwrap();
    fs::write(d.path().join("0.log"), rec("new")).unwrap();
    let o = logs(&[d.path().to_str().unwrap()]);
    assert_eq!(o.stdout, b"old\nnew\n");
    let o = logs(&["--no-backups", d.path().join("0.log").to_str().unwrap()]);
    assert_eq!(o.stdout, b"new\n");
}

#[test]
fn follow_then_sigterm_exits_0() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("0.log");
    fs::write(&p, "2024-01-01T00:00:00Z stdout F first\n").unwrap();
    let child = Command::new(BIN)
        .args(["logs", "-f", p.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
    f.write_all(b"2024-01-01T00:00:01Z stderr F second\n2024-01-01T00:00:02Z stdout P half")
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    // SAFETY: plain kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let t = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"first\n");
    assert_eq!(out.stderr, b"second\n");
}
