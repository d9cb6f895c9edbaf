#![cfg(feature = "cli")]
//! `ctrlog` as containerd's `binary://` logger: argv KEY VALUE pairs in any order, fds 3/4
//! (container stdout/stderr), fd 5 (ready pipe), env CONTAINER_ID/CONTAINER_NAMESPACE, cwd the
//! bundle directory; exactly as containerd 1.6's shim starts it.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ctrlog");

/// A pipe `(read, write)`, both ends close-on-exec, moved to fds >= 100 so that placing them
/// on 3, 4 and 5 in the child never clobbers one another.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let high = |fd: RawFd| {
        // SAFETY: `fd` was just returned by pipe2 and is owned here.
        let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100) };
        assert!(new >= 100);
        // SAFETY: `fd` is ours; `new` is a fresh descriptor we now own.
        unsafe {
            libc::close(fd);
            OwnedFd::from_raw_fd(new)
        }
    };
    (high(fds[0]), high(fds[1]))
}

/// A running driver and the container's side of its pipes.
struct Driver {
    child: Child,
    stdout: Option<File>,
    stderr: Option<File>,
    ready: File,
}

fn spawn_in(dir: &Path, args: &[&str], container: bool) -> Driver {
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let (ready_r, ready_w) = pipe();
    let (a, b, c) = (out_r.as_raw_fd(), err_r.as_raw_fd(), ready_w.as_raw_fd());
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if container {
        cmd.env("CONTAINER_ID", "ctr1")
            .env("CONTAINER_NAMESPACE", "default");
    }
    // SAFETY: only async-signal-safe calls (dup2) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for (src, dst) in [(a, 3), (b, 4), (c, 5)] {
                if libc::dup2(src, dst) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawn ctrlog");
    // The driver's ends live only in the child now.
    drop((out_r, err_r, ready_w));
    Driver {
        child,
        stdout: Some(File::from(out_w)),
        stderr: Some(File::from(err_w)),
        ready: File::from(ready_r),
    }
}

impl Driver {
    /// Everything the driver wrote on fd 5, up to its closing.
    fn ready_bytes(&mut self) -> Vec<u8> {
        let mut v = Vec::new();
        self.ready.read_to_end(&mut v).unwrap();
        v
    }

    /// Waits for the exit (killing the driver and failing after a generous hang guard).
    fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = self.child.kill();
                panic!("the driver did not exit");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn close_streams(&mut self) {
        self.stdout = None;
        self.stderr = None;
    }
}

/// `(stream, tag, content)` of every CRI record.
fn cri_records(path: &Path) -> Vec<(String, String, String)> {
    let text = fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            let mut it = l.splitn(4, ' ');
            let ts = it.next().unwrap();
            assert!(
                ctrlog::time::parse_rfc3339nano(ts.as_bytes()).is_ok(),
                "bad time in {l:?}"
            );
            let stream = it.next().unwrap().to_owned();
            let tag = it.next().unwrap().to_owned();
            let content = it.next().unwrap_or("").to_owned();
            (stream, tag, content)
        })
        .collect()
}

fn of(records: &[(String, String, String)], stream: &str) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.0 == stream)
        .map(|r| format!("{} {}", r.1, r.2))
        .collect()
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
        assert!(!dir.path().join("ctrlog-driver.err").exists());
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
    let cases: [&[&str]; 6] = [
        &["bogus", "1", "log-path", "/tmp/x"],
        &["format", "cri"],
        &["log-path", "LOG", "format", "syslog"],
        &["max-file", "0", "log-path", "LOG"],
        &["log-path", "LOG", "utc", "maybe"],
        &["log-path", "LOG", "max-len"],
    ];
    for (i, case) in cases.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
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
        let mut d = spawn_in(dir.path(), &args, true);
        assert_eq!(d.ready_bytes(), b"", "case {i}: no ready byte");
        let st = d.wait();
        assert_eq!(st.code(), Some(2), "case {i}");
        let err = fs::read_to_string(dir.path().join("ctrlog-driver.err")).unwrap();
        assert!(err.starts_with("ctrlog driver [default/ctr1]: "), "{err}");
        assert!(!path.exists(), "case {i}: no output opened");
    }
    // The message names the problem.
    let dir = tempfile::tempdir().unwrap();
    let mut d = spawn_in(dir.path(), &["bogus", "", "log-path", "/tmp/x"], true);
    assert_eq!(d.wait().code(), Some(2));
    let err = fs::read_to_string(dir.path().join("ctrlog-driver.err")).unwrap();
    assert!(err.contains("unknown key \"bogus\""), "{err}");
}

#[test]
fn unopenable_output_exits_2_without_ready() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("ctr.log");
    let mut d = spawn_in(dir.path(), &["log-path", path.to_str().unwrap()], true);
    assert_eq!(d.ready_bytes(), b"");
    assert_eq!(d.wait().code(), Some(2));
    let err = fs::read_to_string(dir.path().join("ctrlog-driver.err")).unwrap();
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
    let mut d = spawn_in(dir.path(), &["log-path", "/dev/full"], true);
    assert_eq!(d.ready_bytes(), [0]);
    // Far more than a pipe holds: these writes complete only if the driver keeps reading
    // although every write to /dev/full fails (ENOSPC).
    let mut out = d.stdout.take().unwrap();
    for i in 0..20_000 {
        writeln!(out, "line {i:06} {}", "x".repeat(40)).unwrap();
    }
    drop(out);
    d.close_streams();
    assert_eq!(d.wait().code(), Some(1));
    let err = fs::read_to_string(dir.path().join("ctrlog-driver.err")).unwrap();
    assert!(err.contains("stdout: "), "{err}");
    assert!(
        err.contains("records could not be written to /dev/full"),
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
