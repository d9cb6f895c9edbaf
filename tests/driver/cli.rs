#![cfg(feature = "cli")]
//! `ctrlog` as containerd's `binary://` logger: argv KEY VALUE pairs in any order, fds 3/4
//! (container stdout/stderr), fd 5 (ready pipe), env CONTAINER_ID/CONTAINER_NAMESPACE, cwd the
//! bundle directory; exactly as containerd 1.6's shim starts it.

use crate::driver_util;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use driver_util::*;

fn spawn_in(dir: &Path, args: &[&str], container: bool) -> Driver {
    Spawn::new(dir, args).container(container).start()
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("out").join("ctr1.log")
}

#[test]
fn ready_first_then_both_streams_with_pairs_in_any_order() {
    let orders: [&[usize]; 4] = [&[0, 1, 2, 3], &[3, 2, 1, 0], &[1, 3, 0, 2], &[2, 0, 3, 1]];
    for (i, order) in orders.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("out")).unwrap();
        let path = log_path(dir.path());
        let pairs = [
            ["log-path", path.to_str().unwrap()],
            ["format", "cri"],
            ["utc", ""],
            ["max-len", "8"],
        ];
        let args: Vec<&str> = order.iter().flat_map(|&j| pairs[j]).collect();
        let mut d = spawn_in(dir.path(), &args, true);
        // Ready comes before the container wrote anything: one byte, then closed.
        assert_eq!(d.ready_bytes(), [0], "order {i}");
        assert!(path.exists(), "the output is open once ready");
        d.stdout
            .as_mut()
            .unwrap()
            .write_all(b"hello\nworld 123456789\n")
            .unwrap();
        // runc's error text arrives on fd 4 without a final newline.
        d.stderr
            .as_mut()
            .unwrap()
            .write_all(b"oops\r\nlast")
            .unwrap();
        d.close_streams();
        assert!(d.wait().success());
        let recs = cri_records(&path);
        assert_eq!(
            of(&recs, "stdout"),
            ["F hello", "P world 12", "F 3456789"],
            "order {i}"
        );
        assert_eq!(of(&recs, "stderr"), ["F oops", "P last"], "order {i}");
        assert!(recs.iter().all(|r| r.0 == "stdout" || r.0 == "stderr"));
        assert!(err_file(dir.path()).is_none());
    }
}

#[test]
fn utc_times_end_in_z_and_json_file_format() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("out")).unwrap();
    let path = log_path(dir.path());
    let p = path.to_str().unwrap();
    let mut d = spawn_in(dir.path(), &["format", "json-file", "log-path", p], true);
    assert_eq!(d.ready_bytes(), [0]);
    d.stderr.as_mut().unwrap().write_all(b"<err>\n").unwrap();
    d.stdout.as_mut().unwrap().write_all(b"a\tb\n").unwrap();
    d.close_streams();
    assert!(d.wait().success());
    let text = fs::read_to_string(&path).unwrap();
    let mut lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|v| v["stream"].as_str().unwrap().to_owned());
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["stream"], "stderr");
    assert_eq!(lines[0]["log"], "<err>\n");
    assert_eq!(lines[1]["stream"], "stdout");
    assert_eq!(lines[1]["log"], "a\tb\n");
    assert!(
        text.contains("\\u003cerr\\u003e"),
        "Docker's escaping: {text}"
    );
    assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn streams_interleave_only_at_record_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("out")).unwrap();
    let path = log_path(dir.path());
    let mut d = spawn_in(
        dir.path(),
        &["utc", "true", "log-path", path.to_str().unwrap()],
        true,
    );
    assert_eq!(d.ready_bytes(), [0]);
    const N: usize = 20_000;
    let mut out = d.stdout.take().unwrap();
    let mut err = d.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        for i in 0..N {
            writeln!(out, "stdout line {i:06} {}", "o".repeat(i % 97)).unwrap();
        }
    });
    let t2 = std::thread::spawn(move || {
        for i in 0..N {
            writeln!(err, "stderr line {i:06} {}", "e".repeat(i % 89)).unwrap();
        }
    });
    t1.join().unwrap();
    t2.join().unwrap();
    assert!(d.wait().success());
    let recs = cri_records(&path);
    assert_eq!(recs.len(), 2 * N);
    for (stream, fill) in [("stdout", "o"), ("stderr", "e")] {
        let got = of(&recs, stream);
        assert_eq!(got.len(), N);
        let m = if stream == "stdout" { 97 } else { 89 };
        for (i, g) in got.iter().enumerate() {
            assert_eq!(*g, format!("F {stream} line {i:06} {}", fill.repeat(i % m)));
        }
    }
}

#[test]
fn sigterm_drains_what_is_readable_and_exits_without_eof() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("out")).unwrap();
    let path = log_path(dir.path());
    let mut d = spawn_in(dir.path(), &["log-path", path.to_str().unwrap()], true);
    assert_eq!(d.ready_bytes(), [0]);
    // Written before the signal, so it is readable when the signal arrives; the write ends
    // stay open (a process in the container still holds them), so no EOF ever comes.
    d.stdout
        .as_mut()
        .unwrap()
        .write_all(b"one\ntwo\npart")
        .unwrap();
    d.stderr.as_mut().unwrap().write_all(b"warn\n").unwrap();
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(d.child.id() as i32, libc::SIGTERM) }, 0);
    let st = d.wait();
    assert!(st.success(), "{st:?}");
    let recs = cri_records(&path);
    assert_eq!(of(&recs, "stdout"), ["F one", "F two", "P part"]);
    assert_eq!(of(&recs, "stderr"), ["F warn"]);
    drop(d);
}

#[test]
fn bad_configuration_exits_2_without_ready() {
    // (arguments, whether log-path is usable: then the reason is also recorded there)
    let cases: [(&[&str], bool); 6] = [
        (&["bogus", "1", "log-path", "LOG"], true),
        (&["format", "cri"], false),
        (&["log-path", "LOG", "format", "syslog"], true),
        (&["max-file", "0", "log-path", "LOG"], true),
        (&["log-path", "LOG", "utc", "maybe"], true),
        (&["log-path", "LOG", "max-len"], true),
    ];
    for (i, (case, recorded)) in cases.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = bundle(dir.path());
        let path = dir.path().join("ctr.log");
        let args: Vec<&str> = case
            .iter()
            .map(|a| {
                if *a == "LOG" {
                    path.to_str().unwrap()
                } else {
                    a
                }
            })
            .collect();
        let mut d = spawn_in(&cwd, &args, true);
        assert_eq!(d.ready_bytes(), b"", "case {i}: no ready byte");
        let st = d.wait();
        assert_eq!(st.code(), Some(2), "case {i}");
        let err = err_file(&cwd).unwrap();
        assert!(err.starts_with("ctrlog driver [default/ctr1]: "), "{err}");
        if *recorded {
            // One stderr record, the reason, and nothing else.
            let recs = cri_records(&path);
            assert_eq!(recs.len(), 1, "case {i}: {recs:?}");
            assert_eq!(recs[0].0, "stderr");
            assert!(recs[0].2.starts_with("ctrlog: "), "case {i}: {recs:?}");
        } else {
            assert!(!path.exists(), "case {i}: no output opened");
        }
    }
    // The message names the problem.
    let dir = tempfile::tempdir().unwrap();
    let cwd = bundle(dir.path());
    let mut d = spawn_in(&cwd, &["bogus", "", "log-path", "/nonexistent/x"], true);
    assert_eq!(d.wait().code(), Some(2));
    let err = err_file(&cwd).unwrap();
    assert!(err.contains("unknown key 'bogus'"), "{err}");
}

#[test]
fn unopenable_output_exits_2_without_ready() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = bundle(dir.path());
    let path = dir.path().join("missing-dir").join("ctr.log");
    let mut d = spawn_in(&cwd, &["log-path", path.to_str().unwrap()], true);
    assert_eq!(d.ready_bytes(), b"");
    assert_eq!(d.wait().code(), Some(2));
    let err = err_file(&cwd).unwrap();
    assert!(err.contains("cannot open"), "{err}");
}

#[test]
fn rotation_keys_produce_a_capped_set() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("out")).unwrap();
    let path = log_path(dir.path());
    let mut d = spawn_in(
        dir.path(),
        &[
            "max-file",
            "3",
            "naming",
            "docker",
            "log-path",
            path.to_str().unwrap(),
            "max-size",
            "1k",
        ],
        true,
    );
    assert_eq!(d.ready_bytes(), [0]);
    let mut out = d.stdout.take().unwrap();
    for i in 0..500 {
        writeln!(out, "line {i:04}").unwrap();
    }
    drop(out);
    d.close_streams();
    assert!(d.wait().success());
    let mut names: Vec<String> = fs::read_dir(dir.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["ctr1.log", "ctr1.log.1", "ctr1.log.2"]);
    for n in &names {
        let len = fs::metadata(dir.path().join("out").join(n)).unwrap().len();
        assert!(len <= 1000, "{n} is {len} bytes");
    }
    // The newest records are in the live file, whole; backups hold older ones, in order.
    let live = of(&cri_records(&path), "stdout");
    assert_eq!(live.last().unwrap(), "F line 0499");
    let b1 = of(&cri_records(&dir.path().join("out/ctr1.log.1")), "stdout");
    assert!(b1.last().unwrap() < live.first().unwrap());
}

#[test]
fn explicit_subcommand_without_container_env() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manual.log");
    let mut d = spawn_in(
        dir.path(),
        &["driver", "log-path", path.to_str().unwrap(), "utc", "1"],
        false,
    );
    assert_eq!(d.ready_bytes(), [0]);
    d.stdout.as_mut().unwrap().write_all(b"manual\n").unwrap();
    d.close_streams();
    assert!(d.wait().success());
    assert_eq!(of(&cri_records(&path), "stdout"), ["F manual"]);
}

#[test]
fn subcommands_still_win_with_container_env() {
    // CONTAINER_ID set and a real subcommand first: the normal CLI runs.
    let out = Command::new(BIN)
        .args(["scan", "--root", "/nonexistent/ctrlog-test"])
        .env("CONTAINER_ID", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ctrlog-test"));
    let out = Command::new(BIN)
        .arg("--version")
        .env("CONTAINER_ID", "x")
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn fd_5_that_is_not_a_pipe_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("in"), b"x\n").unwrap();
    fs::write(dir.path().join("f5"), b"keep").unwrap();
    let st = Command::new("/bin/sh")
        .arg("-c")
        .arg("exec \"$0\" driver log-path out.log 3<in 4</dev/null 5>>f5")
        .arg(BIN)
        .current_dir(dir.path())
        .env_clear()
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(fs::read(dir.path().join("f5")).unwrap(), b"keep");
    assert_eq!(
        of(&cri_records(&dir.path().join("out.log")), "stdout"),
        ["F x"]
    );
}

#[test]
fn write_errors_are_counted_and_never_stop_the_draining() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = bundle(dir.path());
    let path = dir.path().join("full.log");
    // `ulimit -f 4k`: every write past 4096 bytes fails (EFBIG), like a full disk.
    let mut d = Spawn::new(&cwd, &["log-path", path.to_str().unwrap()])
        .file_size_limit(4096)
        .start();
    assert_eq!(d.ready_bytes(), [0]);
    // Far more than a pipe holds: these writes complete only if the driver keeps reading
    // although writing the records fails.
    let mut out = d.stdout.take().unwrap();
    for i in 0..20_000 {
        writeln!(out, "line {i:06} {}", "x".repeat(40)).unwrap();
    }
    drop(out);
    d.close_streams();
    assert_eq!(d.wait().code(), Some(1));
    let err = err_file(&cwd).unwrap();
    assert!(err.contains("stdout: "), "{err}");
    assert!(
        err.contains(&format!(
            "records could not be written to {}",
            path.display()
        )),
        "{err}"
    );
    assert!(err.contains("of 20000 records"), "{err}");
}

#[test]
fn sigterm_stops_even_a_writer_that_never_pauses() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.log");
    let mut d = spawn_in(dir.path(), &["log-path", path.to_str().unwrap()], true);
    assert_eq!(d.ready_bytes(), [0]);
    let mut out = d.stdout.take().unwrap();
    // Writes until the driver is gone (EPIPE: the test harness ignores SIGPIPE).
    let writer = std::thread::spawn(move || {
        let line = [b'y'; 4095];
        let mut n = 0u64;
        while out
            .write_all(&line)
            .and_then(|_| out.write_all(b"\n"))
            .is_ok()
        {
            n += 1;
        }
        n
    });
    // Some records first, so the signal lands while the pipe is busy. (Whether the pipe is
    // non-empty at every poll depends on scheduling, so this does not prove the signal is
    // checked before the data; the code does it anyway.)
    while fs::metadata(&path).map(|m| m.len()).unwrap_or(0) < 1 << 20 {
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: plain kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(d.child.id() as i32, libc::SIGTERM) }, 0);
    assert!(d.wait().success());
    let written = writer.join().unwrap();
    let recs = cri_records(&path);
    assert!(!recs.is_empty());
    assert!(recs.len() as u64 <= written + 1);
    // Only the last record may be a cut tail.
    assert!(recs[..recs.len() - 1]
        .iter()
        .all(|r| r.1 == "F" && r.2.len() == 4095));
}
