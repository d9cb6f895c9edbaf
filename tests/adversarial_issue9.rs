//! Defects found by an adversarial pass over the issue 9 fixes (release CLI, run as an operator
//! and an attacker would). Each test fails on main and is ignored until its defect is fixed;
//! the comment above each says the expected behaviour.
#![cfg(feature = "cli")]

use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Longest any child may run before it is killed (a hang is a failure, never a stuck test).
const TIMEOUT: Duration = Duration::from_secs(30);

struct Run {
    status: ExitStatus,
    stderr: String,
}

/// How the child is limited.
#[derive(Clone, Copy, Default)]
struct Limits {
    /// `ulimit -f` in bytes.
    fsize: Option<u64>,
    /// Run as this uid/gid (only when the tests run as root).
    user: Option<u32>,
}

fn spawn(args: &[&str], limits: Limits, stdout: Stdio) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ctrlog"));
    cmd.arg("write")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls (setrlimit, setgid, setuid) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(limit) = limits.fsize {
                let lim = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: libc::RLIM_INFINITY,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if let Some(id) = limits.user {
                if libc::setgid(id) != 0 || libc::setuid(id) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.spawn().expect("run ctrlog")
}

/// Waits for `child`, killing it after [`TIMEOUT`]; `None` if it had to be killed.
fn wait(mut child: Child) -> Option<Run> {
    let deadline = Instant::now() + TIMEOUT;
    while child.try_wait().unwrap().is_none() {
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

fn run(args: &[&str], stdin: &[u8], limits: Limits, stdout: Stdio) -> Run {
    let mut child = spawn(args, limits, stdout);
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let run = wait(child).unwrap_or_else(|| panic!("ctrlog write {args:?} hung"));
    feeder.join().unwrap();
    run
}

/// Waits (up to [`TIMEOUT`]) until `cond` holds.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// README ("Output files", for `ctrlog write -o` and the driver's log-path alike): "A live file
/// that is deleted or renamed while writing is replaced by a new one at the path at the first
/// write a second or more later". Only the rotating output does it: the plain output (no
/// `--max-size`) keeps writing into the deleted inode for ever, every later record is lost
/// and the exit status is 0. The driver without rotation keys has the same defect.
/// Expected: the plain output checks the path's identity on the same time basis.
#[test]
#[ignore = "defect: plain `write -o` (and the driver without max-size) never notices a deleted output"]
fn plain_output_deleted_is_replaced_within_the_check_interval() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    let mut child = spawn(
        &["-o", log.to_str().unwrap()],
        Limits::default(),
        Stdio::null(),
    );
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(b"before rm\n").unwrap();
    wait_for("the first record", || {
        std::fs::read(&log).is_ok_and(|b| b.ends_with(b"before rm\n"))
    });
    std::fs::remove_file(&log).unwrap();
    // Past the documented bound (1 s): the next write must check the path.
    std::thread::sleep(Duration::from_millis(1500));
    pipe.write_all(b"after rm\n").unwrap();
    pipe.flush().unwrap();
    drop(pipe);
    let r = wait(child).expect("writer hung");
    assert!(r.status.success(), "{}", r.stderr);
    let text = std::fs::read_to_string(&log)
        .unwrap_or_else(|e| panic!("no new file at {}: {e}", log.display()));
    assert!(text.ends_with("after rm\n"), "{text}");
}

/// `ulimit -f` with stdout redirected to a file: the kernel accepts a short write up to the
/// limit, then EFBIG. ctrlog reports every record of the failing batch as lost, although
/// the records of the short write reached the file (`seq 1 100000 | ctrlog write >o.log`
/// under `ulimit -f 100`: o.log holds 2,300 whole records, stderr says `100000 of 100000
/// records could not be written`). Expected: the count of lost records matches what is
/// missing from the output (at most the records not fully written).
#[test]
#[ignore = "defect: a short write to stdout is counted as a whole batch lost"]
fn stdout_efbig_counts_the_records_that_were_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.log");
    let total = 100_000usize;
    let input: String = (1..=total).map(|i| format!("{i}\n")).collect();
    let file = std::fs::File::create(&out).unwrap();
    let r = run(
        &["--utc"],
        input.as_bytes(),
        Limits {
            fsize: Some(100 * 1024),
            user: None,
        },
        Stdio::from(file),
    );
    assert_eq!(r.status.signal(), None, "killed: {}", r.stderr);
    assert_eq!(r.status.code(), Some(1), "{}", r.stderr);
    let written = std::fs::read(&out).unwrap();
    let whole = written.iter().filter(|&&b| b == b'\n').count();
    assert!(whole > 0, "nothing reached the file");
    // `ctrlog: stdout: N of M records could not be written ...`
    let lost: usize = r
        .stderr
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no count in {:?}", r.stderr));
    assert!(
        lost <= total - whole,
        "{whole} records reached stdout but {lost} of {total} reported lost: {}",
        r.stderr
    );
}

/// A rotating writer that cannot rotate (its directory is not writable, so the rename or
/// unlink fails with EACCES) ignores `--max-size` in silence: the live file grows to 2.2 MB
/// under `--max-size 100k --max-file 3`, nothing on stderr, exit status 0. Expected: a
/// message naming the file and the reason (`rename ... Permission denied`), and a non-zero
/// exit status as for any failed write (README: "Every message names the file and the
/// reason").
#[test]
#[ignore = "defect: a failed rotation (EACCES) is silent and max-size is ignored"]
fn failed_rotation_is_reported() {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("set");
    std::fs::create_dir(&sub).unwrap();
    let log = sub.join("r.log");
    std::fs::write(&log, b"").unwrap();
    use std::os::unix::fs::PermissionsExt;
    let user = if root {
        // The directory stays root's and read-only to others; the live file is the writer's.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&log, Some(65534), Some(65534)).unwrap();
        Some(65534)
    } else {
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o555)).unwrap();
        None
    };
    let input: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
    let r = run(
        &[
            "-o",
            log.to_str().unwrap(),
            "--max-size",
            "100k",
            "--max-file",
            "3",
        ],
        input.as_bytes(),
        Limits { fsize: None, user },
        Stdio::null(),
    );
    if !root {
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(
        r.stderr.contains("r.log") && !r.status.success(),
        "rotation failed in silence (status {:?}, live file {size} bytes, max-size 100k): {:?}",
        r.status,
        r.stderr
    );
}
