//! `ctrlog last-error` and `ctrlog summary`: output and exit codes.
#![cfg(feature = "cli")]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ctrlog");
const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/real/");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn temp(content: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, content).unwrap();
    f
}

#[test]
fn last_error_found_none_and_failure() {
    let p = format!("{REAL}runc/shim-lifecycle-exec-missing-x5.log.json");
    assert_eq!(
        run(&["last-error", &p]),
        (0, "container not running\n".into(), String::new())
    );
    assert_eq!(
        run(&["last-error", "--compat", &p]),
        (0, "container not running\n".into(), String::new())
    );
    let ok = format!("{REAL}runc/run-ok-debug.log.json");
    assert_eq!(run(&["last-error", &ok]), (1, String::new(), String::new()));
    // compat: containerd returns "" -> empty line, exit 0.
    assert_eq!(
        run(&["last-error", "--compat", &ok]),
        (0, "\n".into(), String::new())
    );
    let (code, out, err) = run(&["last-error", "/nonexistent/log.json"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("/nonexistent/log.json"), "{err}");
}

#[test]
fn last_error_text_log_and_torn_record() {
    let text = format!("{REAL}runc/state-nonexistent.text.log");
    assert_eq!(run(&["last-error", &text]).0, 1);
    let (code, out, err) = run(&["last-error", "--compat", &text]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("invalid character 'i'"), "{err}");
    let torn = temp(b"{\"level\":\"error\",\"msg\":\"boom\"}\n{\"level\":\"inf");
    let p = torn.path().to_str().unwrap();
    assert_eq!(run(&["last-error", p]), (0, "boom\n".into(), String::new()));
    let (code, out, err) = run(&["last-error", "--compat", p]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("unexpected EOF"), "{err}");
}

#[test]
fn last_error_stdin_stream() {
    let mut child = Command::new(BIN)
        .args(["last-error", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        b"{\"level\":\"error\",\"msg\":\"from pipe\"}\n{\"level\":\"info\",\"msg\":\"x\"}\n",
    )
    .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"from pipe\n");
}

#[test]
fn summary_text_and_json() {
    let mut log = Vec::new();
    for i in 0..30 {
        log.extend_from_slice(format!("{{\"level\":\"info\",\"msg\":\"Running with config:\\n{{}}\",\"time\":\"2024-01-20T16:00:{i:02}+08:00\"}}\n").as_bytes());
    }
    log.extend_from_slice(
        b"{\"level\":\"error\",\"msg\":\"boom\",\"time\":\"2024-01-20T16:01:00+08:00\"}\n",
    );
    let f = temp(&log);
    let p = f.path().to_str().unwrap();
    let (code, out, _) = run(&["summary", p]);
    assert_eq!(code, 0);
    assert!(out.contains("records: 31"), "{out}");
    assert!(out.contains("levels: info 30, error 1"), "{out}");
    assert!(
        out.contains("2024-01-20T16:00:00+08:00 .. 2024-01-20T16:01:00+08:00"),
        "{out}"
    );
    assert!(
        out.contains("30 x [info] \"Running with config:\\n{}\""),
        "{out}"
    );
    let (code, out, _) = run(&["summary", "--json", p]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["stats"]["records"], 31);
    assert_eq!(v["top_messages"][0]["count"], 30);
    assert_eq!(v["levels"][0][0], "info");
    assert_eq!(run(&["summary", "/nonexistent"]).0, 2);
    // Not a terminal: plain text, no sparkline characters, same JSON keys.
    let (_, plain, _) = run(&["summary", p]);
    assert!(!plain.contains('▁') && !plain.contains('█'), "{plain}");
    assert!(!out.contains("timeline"), "{out}");
}

#[test]
fn summary_sparklines_show_a_burst() {
    // One record a second for a minute, then 300 of one warning within 4 seconds.
    let mut log = String::new();
    for i in 0..60 {
        log += &format!(
            "{{\"level\":\"info\",\"msg\":\"tick\",\"time\":\"2024-01-20T16:00:{i:02}Z\"}}\n"
        );
    }
    for i in 0..300 {
        log += &format!(
            "{{\"level\":\"warning\",\"msg\":\"hook spam\",\"time\":\"2024-01-20T16:00:{:02}Z\"}}\n",
            40 + i % 4
        );
    }
    let f = temp(log.as_bytes());
    let (code, out, _) = run(&[
        "summary",
        "--sparkline",
        "always",
        f.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    // 60 seconds over 32 bars: 2 s per bar; the burst is bars 20 and 21.
    assert!(out.contains("(2 s per bar)"), "{out}");
    let row = |msg: &str| {
        let l = out
            .lines()
            .find(|l| l.contains(msg))
            .unwrap_or_else(|| panic!("{out}"));
        l.split_whitespace()
            .next()
            .unwrap()
            .chars()
            .collect::<Vec<_>>()
    };
    let spam = row("hook spam");
    assert_eq!(spam.len(), 30, "{out}");
    for (i, c) in spam.iter().enumerate() {
        assert_eq!(*c == '█', i == 20 || i == 21, "bar {i}: {out}");
        assert_eq!(*c == '▁', i != 20 && i != 21, "bar {i}: {out}");
    }
    // The steady message is level all along (two a bar), on the same grid.
    let tick = row("tick");
    assert_eq!(tick.len(), 30, "{out}");
    assert!(tick.iter().all(|&c| c == '█'), "{out}");
    assert_eq!(
        run(&[
            "summary",
            "--sparkline",
            "sometimes",
            f.path().to_str().unwrap()
        ])
        .0,
        2
    );
}

/// Runs the CLI with a deadline: a command that blocks or never ends is killed and the test
/// fails instead of hanging.
fn run_with_deadline(args: &[&str], secs: u64) -> (i32, String, String) {
    use std::time::{Duration, Instant};
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("ctrlog {args:?} still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Issue 9 item 20: `/dev/zero` was read forever and a FIFO blocked in open().
#[test]
fn non_regular_paths_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("log.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let fifo = fifo.to_str().unwrap();
    for args in [
        vec!["last-error", "/dev/zero"],
        vec!["last-error", "--compat", "/dev/zero"],
        vec!["last-error", fifo],
        vec!["last-error", "--compat", fifo],
        vec!["summary", fifo],
        vec!["last-error", dir.path().to_str().unwrap()],
    ] {
        let (code, out, err) = run_with_deadline(&args, 20);
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}: {err}");
        let path = args.last().unwrap();
        assert!(
            err.contains(path) && err.contains("not a regular file"),
            "{args:?}: {err}"
        );
    }
    // `-` still reads stdin on purpose.
    let out = Command::new(BIN)
        .args(["last-error", "-"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
