//! Each job as a whole process: this `ctrlog` binary spawned as a user or containerd would
//! start it, timed from spawn to exit, its peak RSS from `wait4`'s rusage.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ctrlog::bench::RUNC_ERROR_MSG;

use super::jobs::{fresh_out, pipe, rotate_max_size, Job, Kind};

/// One whole-process run.
pub struct ProcRun {
    pub wall: Duration,
    /// Peak resident set of the process (and its children, if any), KiB.
    pub maxrss_kib: u64,
}

/// Waits for `pid` (a child of ours) and returns its exit status and resource usage.
fn wait4(pid: u32) -> io::Result<(i32, libc::rusage)> {
    let pid = pid as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; all-zero is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to a status int and a rusage for the duration of the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            return Ok((status, ru));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The last few hundred bytes of a child's stderr file, for an error message.
fn stderr_tail(path: &Path) -> String {
    let text = fs::read(path).unwrap_or_default();
    let tail = &text[text.len().saturating_sub(400)..];
    String::from_utf8_lossy(tail).trim().replace('\n', " | ")
}

/// Makes `cmd` spawn by fork and exec, not by `posix_spawn`.
///
/// A process's peak RSS (`ru_maxrss`) starts from what it held before its exec: glibc's
/// `posix_spawn` shares the bench's memory (`CLONE_VM`), so the child would report the bench's
/// own peak; a forked child starts from the bench's current anonymous pages only (a few MiB
/// at most: the bench holds no workload in memory). A `pre_exec` hook makes std fork.
fn force_fork(cmd: &mut Command) {
    // SAFETY: the hook does nothing.
    unsafe {
        cmd.pre_exec(|| Ok(()));
    }
}

/// Hands the bench's freed heap back to the system before a spawn, so that the forked child
/// starts from as little of the bench's memory as possible (see [`force_fork`]): in-process
/// runs before leave freed buffers that glibc keeps, which a forked child would count.
fn shed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Spawns `cmd` (stderr to `dir/stderr.txt`), waits, and fails unless it exits 0.
pub(super) fn timed(name: &str, mut cmd: Command, dir: &Path) -> io::Result<ProcRun> {
    let err_path = dir.join("stderr.txt");
    cmd.stderr(File::create(&err_path)?);
    spawn_timed(name, cmd, &err_path)
}

/// [`timed`] with stderr thrown away, for a job whose stderr is output (a log's stderr
/// records): `cat`, its floor, writes nothing, and a file there costs a read of the CRI
/// workload about half as much again. A failed run is run again by `again` with stderr
/// kept, so that the error says why.
fn timed_quiet(
    name: &str,
    mut cmd: Command,
    dir: &Path,
    again: impl FnOnce() -> Command,
) -> io::Result<ProcRun> {
    cmd.stderr(Stdio::null());
    match spawn_timed(name, cmd, &dir.join("stderr.txt")) {
        Ok(run) => Ok(run),
        Err(first) => match timed(name, again(), dir) {
            Err(why) => Err(why),
            Ok(_) => Err(io::Error::other(format!(
                "{first} (stderr was not kept; run again, it passed)"
            ))),
        },
    }
}

fn spawn_timed(name: &str, mut cmd: Command, err_path: &Path) -> io::Result<ProcRun> {
    force_fork(&mut cmd);
    shed_memory();
    let start = Instant::now();
    let child = cmd.spawn()?;
    finish(name, child.id(), start, err_path, || Ok(()))
}

/// Runs `between` (feeding the child), then waits for the child; fails unless it exits 0.
fn finish(
    name: &str,
    pid: u32,
    start: Instant,
    err_path: &Path,
    between: impl FnOnce() -> io::Result<()>,
) -> io::Result<ProcRun> {
    let fed = between();
    let (status, ru) = wait4(pid)?;
    let wall = start.elapsed();
    fed?;
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(io::Error::other(format!(
            "{name}: the process failed (wait status {status}): {}",
            stderr_tail(err_path)
        )));
    }
    Ok(ProcRun {
        wall,
        // ru_maxrss is in KiB on Linux (bytes on macOS; not converted there).
        maxrss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
    })
}

/// The floor as a whole process: `cat INPUT… > /dev/null`, the input named `copies` times.
pub fn cat_floor(input: &Path, copies: usize, dir: &Path) -> io::Result<ProcRun> {
    let mut cmd = Command::new("cat");
    for _ in 0..copies {
        cmd.arg(input);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    timed("cat (the floor)", cmd, dir)
        .map_err(|e| io::Error::new(e.kind(), format!("running cat for the floor: {e}")))
}

/// The output floor as a whole process: `cat OUTPUT… > DEST` (`dest` removed after).
pub fn cat_copy_floor(files: &[PathBuf], dest: &Path, dir: &Path) -> io::Result<ProcRun> {
    let mut cmd = Command::new("cat");
    cmd.args(files)
        .stdin(Stdio::null())
        .stdout(File::create(dest)?);
    let run = timed("cat (the output floor)", cmd, dir)
        .map_err(|e| io::Error::new(e.kind(), format!("running cat for the output floor: {e}")));
    fs::remove_file(dest)?;
    run
}

/// Runs `job` as a whole `exe` process on `input`, scratch space in `dir`.
pub fn run_process(exe: &Path, job: &Job, input: &Path, dir: &Path) -> io::Result<ProcRun> {
    let name = format!("{} (process)", job.name);
    let mut cmd = Command::new(exe);
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    match job.kind {
        Kind::Write {
            format,
            max_len,
            rotate,
            per_record,
        } => {
            let out = fresh_out(dir)?.join("c.log");
            cmd.arg("write")
                .args(["--format", format.word()])
                .arg(format!("--max-len={max_len}"))
                .arg("-o")
                .arg(&out)
                .stdin(File::open(input)?);
            if rotate {
                let size = rotate_max_size(fs::metadata(input)?.len());
                cmd.args(["--max-size", &size, "--max-file", "3"]);
            }
            if per_record {
                cmd.args(["--timestamp-policy", "per-record"]);
            }
            timed(&name, cmd, dir)
        }
        Kind::LastError { compat } => {
            let out_path = dir.join("stdout.txt");
            cmd.arg("last-error").arg(input);
            if compat {
                cmd.arg("--compat");
            }
            cmd.stdout(File::create(&out_path)?);
            let run = timed(&name, cmd, dir)?;
            let got = fs::read_to_string(&out_path)?;
            if got.trim_end_matches('\n') != RUNC_ERROR_MSG {
                return Err(io::Error::other(format!(
                    "{name}: printed {got:?}, not the error entry"
                )));
            }
            Ok(run)
        }
        Kind::Read { tail } => {
            let logs = || {
                let mut cmd = Command::new(exe);
                cmd.stdin(Stdio::null()).stdout(Stdio::null());
                cmd.arg("logs").arg(input);
                if let Some(n) = tail {
                    cmd.arg(format!("--tail={n}"));
                }
                cmd
            };
            timed_quiet(&name, logs(), dir, logs)
        }
        Kind::Driver { format } => driver(exe, &name, format.word(), input, dir),
    }
}

/// A bundle directory as containerd's runc v2 shim gives it to a `binary://` logger.
fn bundle(dir: &Path) -> io::Result<PathBuf> {
    let b = dir.join("state/io.containerd.runtime.v2.task/default/bench");
    fs::create_dir_all(&b)?;
    fs::write(b.join("config.json"), b"{}")?;
    Ok(b)
}

/// The driver as containerd 1.6's shim starts it (see `ctrlog driver`'s docs and
/// `benches/driver_pipes.sh`): argv KEY VALUE pairs, fd 3 and 4 the container's stdout and
/// stderr (pipes), fd 5 the ready pipe, `CONTAINER_ID` and `CONTAINER_NAMESPACE` set, cwd the
/// bundle. Once the driver is ready, `input` is written into both streams at once; after EOF
/// on both comes SIGTERM, as the shim sends it when the task is deleted.
fn driver(exe: &Path, name: &str, format: &str, input: &Path, dir: &Path) -> io::Result<ProcRun> {
    let out = fresh_out(dir)?.join("c.log");
    let cwd = bundle(dir)?;
    let err_path = dir.join("stderr.txt");
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (ready_r, ready_w) = pipe()?;
    let fds = [
        (out_r.as_raw_fd(), 3),
        (err_r.as_raw_fd(), 4),
        (ready_w.as_raw_fd(), 5),
    ];
    let mut cmd = Command::new(exe);
    cmd.arg("log-path")
        .arg(&out)
        .args(["format", format])
        .current_dir(&cwd)
        .env_clear()
        .env("CONTAINER_ID", "bench")
        .env("CONTAINER_NAMESPACE", "default")
        // No system log: a benchmark writes nothing to the machine's /dev/log.
        .env("CTRLOG_SYSLOG_SOCKET", "")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&err_path)?);
    // SAFETY: only dup2, async-signal-safe, between fork and exec; the sources are >= 100, so
    // no dup2 clobbers a later source.
    unsafe {
        cmd.pre_exec(move || {
            for (src, dst) in fds {
                if libc::dup2(src, dst) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    shed_memory();
    let start = Instant::now();
    let child = cmd.spawn()?;
    // The driver's ends live only in the child now.
    drop((out_r, err_r, ready_w));
    let pid = child.id();
    finish(name, pid, start, &err_path, move || {
        // The ready byte, or EOF when the driver closes fd 5 (or failed).
        let mut ready = File::from(ready_r);
        let mut byte = [0u8; 8];
        while ready.read(&mut byte)? > 0 {}
        let feeders: Vec<_> = [out_w, err_w]
            .into_iter()
            .map(|w| {
                let src = input.to_owned();
                thread::spawn(move || io::copy(&mut File::open(src)?, &mut File::from(w)))
            })
            .collect();
        let mut result = Ok(());
        for f in feeders {
            match f.join() {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(io::Error::other("a feeder thread panicked")),
            }
        }
        // SAFETY: kill(2) on our own child, not yet waited for (its pid cannot be reused).
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        result.map_err(|e| io::Error::new(e.kind(), format!("{name}: feeding the pipes: {e}")))
    })
}
