//! `ctrlog write -o` against a hostile or unlucky file system (issue 9, items 8-11, 13, 17):
//! symlinks and FIFOs at the output path, missing parent directories, a second writer,
//! `ulimit -f` (SIGXFSZ), and the live file deleted under the writer. Both outputs are tested:
//! the plain file (no rotation flag) and the rotating set (`--max-size`).
#![cfg(feature = "cli")]

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Longest any child may run before it is killed (a hang is a failure, never a stuck test).
const TIMEOUT: Duration = Duration::from_secs(30);

struct Run {
    status: ExitStatus,
    stderr: String,
}

fn spawn(args: &[&str], fsize: Option<u64>) -> Child {
    spawn_with(args, fsize, Stdio::piped())
}

fn spawn_with(args: &[&str], fsize: Option<u64>, stderr: Stdio) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ctrlog"));
    cmd.arg("write")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(stderr);
    if let Some(limit) = fsize {
        // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: libc::RLIM_INFINITY,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    cmd.spawn().expect("run ctrlog")
}

/// Waits for `child`, killing it after [`TIMEOUT`]; `None` if it had to be killed.
fn wait(mut child: Child) -> Option<Run> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Some(Run {
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

fn run_limited(args: &[&str], stdin: &[u8], fsize: Option<u64>) -> Run {
    let mut child = spawn(args, fsize);
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let run = wait(child).unwrap_or_else(|| panic!("ctrlog write {args:?} hung"));
    feeder.join().unwrap();
    run
}

fn run(args: &[&str], stdin: &[u8]) -> Run {
    run_limited(args, stdin, None)
}

/// The two outputs: plain, and rotating.
fn modes(path: &Path) -> [Vec<String>; 2] {
    let p = path.to_str().unwrap().to_owned();
    [
        vec!["-o".into(), p.clone()],
        vec!["-o".into(), p, "--max-size".into(), "1m".into()],
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Waits (up to [`TIMEOUT`]) until `cond` holds.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Item 8: `ln -s victim c.log; echo hi | ctrlog write -o c.log --max-size 1m` used to cut the
/// victim after its last newline. Now both outputs refuse the symlink and leave the victim alone.
#[test]
fn symlink_at_output_is_refused_and_victim_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    let victim_bytes = b"line one\nline two\nno newline at the end";
    let log = dir.path().join("c.log");
    std::os::unix::fs::symlink(&victim, &log).unwrap();
    for args in modes(&log) {
        std::fs::write(&victim, victim_bytes).unwrap();
        let r = run(&strs(&args), b"hi\n");
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr
                .contains("is a symbolic link, refusing to write through it"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(r.stderr.contains(log.to_str().unwrap()), "{}", r.stderr);
        assert_eq!(std::fs::read(&victim).unwrap(), victim_bytes, "{args:?}");
    }
}

/// Item 13 (the output side): a FIFO at the path is refused at once, without blocking in
/// `open()` (a plain output used to block forever waiting for a reader).
#[test]
fn fifo_at_output_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    let c = std::ffi::CString::new(log.to_str().unwrap()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for args in modes(&log) {
        let r = run(&strs(&args), b"hi\n");
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("is a FIFO, not a regular file"),
            "{args:?}: {}",
            r.stderr
        );
    }
}

/// Item 17: neither output creates missing parent directories (a typo run as root must not
/// create trees); the message names the directory.
#[test]
fn missing_parent_directory_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("typo").join("sub").join("c.log");
    for args in modes(&log) {
        let r = run(&strs(&args), b"hi\n");
        assert_eq!(r.status.code(), Some(2), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("does not exist") && r.stderr.contains("typo"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(!dir.path().join("typo").exists(), "{args:?} created it");
    }
}

/// Item 11: the plain output takes the same `flock` as the rotating writer, so two writers on
/// one file (in either order) cannot interleave: the second fails fast.
#[test]
fn second_writer_on_one_file_fails_fast_in_both_orders() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    let [plain, rotating] = modes(&log);
    for (first, second) in [(&plain, &rotating), (&rotating, &plain), (&plain, &plain)] {
        let _ = std::fs::remove_file(&log);
        let mut holder = spawn(&strs(first), None);
        let mut pipe = holder.stdin.take().unwrap();
        pipe.write_all(b"from the first writer\n").unwrap();
        // The first writer holds the lock once its record is in the file.
        wait_for("the first record", || {
            std::fs::read(&log).is_ok_and(|b| b.ends_with(b"from the first writer\n"))
        });
        let r = run(&strs(second), b"from the second writer\n");
        assert_eq!(
            r.status.code(),
            Some(2),
            "{first:?} then {second:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("locked by another writer"),
            "{}",
            r.stderr
        );
        drop(pipe);
        let first_run = wait(holder).expect("first writer hung");
        assert!(first_run.status.success(), "{}", first_run.stderr);
        let text = String::from_utf8(std::fs::read(&log).unwrap()).unwrap();
        assert!(!text.contains("second"), "{text}");
    }
}

/// Item 9: under `ulimit -f` the kernel sends SIGXFSZ; ctrlog ignores it, so the write fails
/// with EFBIG, the file is cut back to the last whole record and the exit status is 1 with a
/// message naming the file (it used to die of the signal, status 153 in a shell, mid-record).
#[test]
fn ulimit_f_cuts_back_to_a_record_boundary_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    // Whole records already there, then a limit that a batch of new records crosses.
    let seed: Vec<u8> = (0..10)
        .flat_map(|i| format!("2016-10-06T00:17:09.669794202Z stdout F seed {i}\n").into_bytes())
        .collect();
    let input: String = (0..200).map(|i| format!("new line {i}\n")).collect();
    let limit = seed.len() as u64 + 1000;
    for args in modes(&log) {
        std::fs::write(&log, &seed).unwrap();
        let r = run_limited(&strs(&args), input.as_bytes(), Some(limit));
        assert_eq!(
            r.status.signal(),
            None,
            "{args:?}: killed by a signal: {}",
            r.stderr
        );
        assert_eq!(r.status.code(), Some(1), "{args:?}: {}", r.stderr);
        let bytes = std::fs::read(&log).unwrap();
        assert!(bytes.len() as u64 <= limit);
        assert!(bytes.starts_with(&seed), "{args:?}: seed damaged");
        assert!(bytes.ends_with(b"\n"), "{args:?}: torn record left");
        assert!(
            r.stderr.contains(log.to_str().unwrap()) && r.stderr.contains("too large"),
            "{args:?}: {}",
            r.stderr
        );
    }
}

/// The same failure with stderr full as well (`2>/dev/full`): its message cannot be written,
/// and the status is still the documented 1, not a panic's 101.
#[test]
fn ulimit_f_with_stderr_full_still_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut child = spawn_with(&["-o", log.to_str().unwrap()], Some(1000), full.into());
    let mut pipe = child.stdin.take().unwrap();
    let input: String = (0..200).map(|i| format!("new line {i}\n")).collect();
    let feeder = std::thread::spawn(move || {
        let _ = pipe.write_all(input.as_bytes());
    });
    let r = wait(child).expect("ctrlog write hung");
    feeder.join().unwrap();
    assert_eq!(r.status.code(), Some(1), "{:?}", r.status);
}

/// Item 10: a deleted live file is noticed by time (at most one check interval, 1 s), not
/// after some count of records: the first record written a second after `rm` lands in a new
/// file at the path.
#[test]
fn deleted_output_is_replaced_within_the_check_interval() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    let mut child = spawn(&["-o", log.to_str().unwrap(), "--max-size", "1g"], None);
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(b"before rm\n").unwrap();
    wait_for("the first record", || {
        std::fs::read(&log).is_ok_and(|b| b.ends_with(b"before rm\n"))
    });
    std::fs::remove_file(&log).unwrap();
    // Past the documented bound: the next write must check the path.
    std::thread::sleep(Duration::from_millis(1100));
    pipe.write_all(b"after rm\n").unwrap();
    wait_for("a new file at the path", || {
        std::fs::read(&log).is_ok_and(|b| b.ends_with(b"after rm\n"))
    });
    drop(pipe);
    let r = wait(child).expect("writer hung");
    assert!(r.status.success(), "{}", r.stderr);
    let text = String::from_utf8(std::fs::read(&log).unwrap()).unwrap();
    assert!(!text.contains("before rm"), "{text}");
}

/// Under `ulimit -f`, EFBIG is a per-file limit, not a full disk: deleting backups frees
/// nothing. It used to delete the oldest backup at every failed batch until none was left.
#[test]
fn ulimit_f_never_deletes_backups() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    let backups = ["c.log.1", "c.log.2", "c.log.3"];
    for b in backups {
        std::fs::write(dir.path().join(b), format!("{b}\n")).unwrap();
    }
    std::fs::write(&log, b"seed\n").unwrap();
    let input: String = (0..500).map(|i| format!("new line {i}\n")).collect();
    let args = [
        "-o",
        log.to_str().unwrap(),
        "--max-size",
        "1m",
        "--max-file",
        "4",
    ];
    for _ in 0..4 {
        let r = run_limited(&args, input.as_bytes(), Some(512));
        assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    }
    for b in backups {
        assert_eq!(
            std::fs::read(dir.path().join(b)).unwrap(),
            format!("{b}\n").as_bytes(),
            "{b}"
        );
    }
    assert_eq!(std::fs::read(&log).unwrap(), b"seed\n");
}
