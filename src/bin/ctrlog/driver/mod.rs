//! `ctrlog driver KEY VALUE…`, and `binary:///path/to/ctrlog?KEY=VALUE&…`: containerd's
//! `binary://` logging driver, writing CRI or Docker json-file records.
//!
//! # Protocol (containerd 1.6 shim runc v2, `pkg/process/io.go` `NewBinaryIO`, as observed in
//! `shared/testdata/real/containerd/binary-logger-bl1.startup.json`)
//!
//! - argv is `[path, k1, v1, k2, v2, …]` from the URI query, in **no fixed order** (containerd
//!   iterates a Go map), an empty value stays an empty argument; no query, no arguments.
//!   So the first argument cannot be a subcommand: `main` calls [`intercept`] before clap and
//!   runs the driver when the first argument is a driver key (`log-path`, `format`, …) or when
//!   `CONTAINER_ID` is set and the first argument is not a `ctrlog` subcommand or flag (that
//!   includes no argument at all, and an unknown key, which is then reported as such).
//!   `ctrlog driver KEY VALUE…` is the same thing, explicit, for manual use.
//! - environment: exactly `CONTAINER_ID` and `CONTAINER_NAMESPACE` (`pkg/process/utils.go`
//!   `NewBinaryCmd`; used for messages and to recognise the bundle).
//! - fd 0-2 are `/dev/null`; fd 3 is the container's stdout (read side of a pipe), fd 4 its
//!   stderr, fd 5 the ready pipe (write side); cwd is the bundle directory,
//!   `<state>/io.containerd.runtime.v2.task/<namespace>/<id>` (containerd starts the shim
//!   there, `runtime/v2/shim/util.go` `Command`, and the shim does not change it for the
//!   logger). SIGPIPE and SIGXFSZ are ignored by the shim, and stay so.
//! - The container start waits until fd 5 is closed. The driver writes one zero byte and closes it
//!   once the output is open (one byte satisfies both the `binary` and the stricter
//!   `binary-v2` shims). When fd 5 is not open on a pipe or socket (manual use), it is left
//!   alone.
//! - EOF on fds 3 and 4 comes when the task is deleted, SIGTERM follows at once (the shim
//!   kills the logger 12 s later if it is still there). If `runc create` fails, runc's error
//!   text arrives on fd 4, then EOF, and no SIGTERM: it is logged like any stderr output.
//!
//! # Keys
//!
//! | key | value | default |
//! |---|---|---|
//! | `log-path` | file to append records to (created 0640) | **required** |
//! | `format` | `cri` or `json-file` | `cri` |
//! | `max-len` | content bytes per record, longer lines become `P` records; `<= 0` unlimited (bounded by a 2 MiB memory cap) | `16384` |
//! | `max-size` | rotate before the file would pass this (Docker decimal size: `10m`) | no rotation |
//! | `max-file` | files kept, the live one included (Docker's) | `1` |
//! | `compress` | gzip rotated files (needs `max-file` ≥ 2 and `max-size`) | `false` |
//! | `naming` | rotated names: `docker`, `kubelet` or `ctrlog` (checked always, used only with rotation) | `docker` |
//! | `utc` | CRI timestamps in UTC instead of local time (json-file is always UTC) | `false` |
//!
//! Booleans take Go's `strconv.ParseBool` spellings (`1 t T TRUE true True`, `0 f F FALSE
//! false False`) and an empty value means `true` (`?utc` in a URI gives `utc ""`).
//!
//! # Error reporting
//!
//! Under containerd the driver's stderr is `/dev/null` and the bundle is deleted with the
//! task, so every error (bad configuration, an output that cannot be opened, records lost to
//! write errors such as `48719 of 50000 records could not be written`, read or close
//! failures, a stop by signal) goes, best effort, to:
//! - **stderr**: `ctrlog driver [NAMESPACE/ID]: MESSAGE`;
//! - **the system log**: one RFC 3164 datagram `<27>Mmm dd hh:mm:ss ctrlog[PID]: driver
//!   [NAMESPACE/ID]: MESSAGE` (facility daemon, severity err) on the Unix socket `/dev/log`
//!   when it exists (journald reads it: `journalctl -t ctrlog`). `CTRLOG_SYSLOG_SOCKET`
//!   overrides the path (empty: off). The send never blocks and its failure is ignored;
//! - **`ctrlog-driver.err`** in the bundle directory, only when the cwd is the bundle of the
//!   container (`CONTAINER_ID` and `CONTAINER_NAMESPACE` set, the cwd named
//!   `…/NAMESPACE/ID` and holding `config.json`). A run by hand writes no file;
//! - **the log file itself**, as a stderr record whose content starts with `ctrlog: `, in the
//!   configured format (so `ctrlog logs` and `kubectl logs` show it), whenever log-path can be
//!   opened: for a configuration error in another key (log-path given once and not empty: it
//!   is opened plain, without rotation, the record appended, nothing else), and at exit for
//!   lost records and read errors (if the disk is still full, that record is lost too).
//!
//! Messages name the key at fault and quote its value (`max-size: '10q' is not a size: …`).
//!
//! # Signals
//!
//! SIGTERM and SIGINT are handled from the first instruction of the driver on (before
//! anything can block), by a watchdog thread ([`stop`]):
//! - before the output is open (configuration, opening log-path, even an `open(2)` that never
//!   returns, recording a configuration error): report and exit 2 at once, no ready byte;
//! - while copying: both streams drain what is already readable without blocking
//!   ([`LogWriter::copy_until`](ctrlog::cri::write::LogWriter::copy_until) with
//!   [`StopPolicy::Drain`](ctrlog::cri::write::StopPolicy::Drain): at most
//!   [`pump::DRAIN_CAP`] bytes each, so a writer that keeps writing cannot keep the driver
//!   alive), write their unterminated tails as `P` records, and the driver closes the output (rotated
//!   sets: waits for pending compressions) and exits. If that is not done within
//!   [`stop::DRAIN_GRACE`] (10 s, under the shim's 12 s; a write blocked on a hung mount, a
//!   long compression) or a second signal comes, the driver reports it and exits 1.
//!
//! The ready byte is written with fd 5 non-blocking (a full pipe cannot hold the driver).
//!
//! # Choices
//!
//! - **Fail fast on configuration.** An unknown key, a repeated key, a key without value, a
//!   bad value, a missing `log-path` or an output that cannot be opened: reported as above,
//!   exit status 2, and **no ready byte**. Running with defaults would write the logs
//!   somewhere nobody looks, or unrotated, and be noticed only when a disk fills up. Without
//!   the byte, a `binary-v2` shim fails the task start ("logging binary did not call ready");
//!   the 1.6 `binary` shim treats the closed pipe as ready, and the container then writes into
//!   pipes nobody reads (EPIPE/SIGPIPE): loud either way, and the system log and the log file
//!   say why.
//! - **`log-path` is required**, no default: the natural default, `<bundle>/container.log`,
//!   is deleted with the task, so the logs would be lost exactly when they are wanted. A
//!   relative path is taken relative to the cwd (the bundle directory under containerd), so
//!   use absolute paths there. Opening it follows the output layer's rules
//!   (`crate::output::Destination::open`).
//! - **One shared output.** Two threads copy fd 3 and fd 4 through one
//!   [`LogWriter`](ctrlog::cri::write::LogWriter) each into one
//!   [`SharedWriter`]; each batch of whole records is written under the lock, so the streams
//!   interleave only at record boundaries (and rotation happens only between records).
//! - **Write errors** (disk full, file too large…) are counted, never stop the draining (a
//!   container blocked on a full pipe must not hang because its log is unwritable); they are
//!   reported on exit, as above.
//!
//! # Limits
//!
//! - Memory per stream: a read buffer of the pipe's size (fds 3 and 4 are grown to 1 MiB when
//!   allowed, [`pump::PIPE_SIZE`]; 64 KiB otherwise) plus the `LogWriter`'s bounded buffers (under
//!   1 MiB with the default `max-len`, a few MiB with `max-len <= 0` and its 2 MiB cap).
//! - A write to the output that blocks (a hung NFS mount) blocks both streams until SIGTERM;
//!   then the driver gives up after [`stop::DRAIN_GRACE`].
//!
//! Exit status: 0 both streams copied; 1 records were lost to write errors, a read failed,
//! closing the output failed, or the drain after a signal did not finish (reported as above);
//! 2 the output was never opened: bad configuration, log-path cannot be opened, or a signal
//! came first (no ready byte).
//!
//! # Differences from containerd's reference logger
//!
//! containerd's helper for logging binaries, `runtime/v2/logging/logging_unix.go`
//! (`logging.Run`), hands the user function fd 3 and fd 4 as readers and a `ready` callback
//! that writes one zero byte to fd 5 and closes it; SIGTERM cancels a context and what happens
//! to unread data is up to the function; an error from it exits 1. ctrlog:
//! - writes the records itself (CRI or json-file, containerd CRI's line splitting: 16 KiB `P`
//!   records, `\r\n` stripped for CRI), both streams into one file, like a CRI log;
//! - validates its configuration before signalling ready and exits 2 (not 1) when it is bad,
//!   so a misconfigured URI is told apart from a runtime failure;
//! - on SIGTERM drains what is already in the pipes, writes the unterminated tail, and closes
//!   the output (pending compressions included) instead of leaving that to the function;
//! - reports its errors to the system log and into the log file (`logging.Run` prints to
//!   stderr, which the shim points at `/dev/null`);
//! - writes the same zero byte to fd 5 (any byte satisfies `binary-v2`).

mod config;
mod pump;
mod report;
mod stop;
mod syslog;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::ExitCode;

use ctrlog::cri::write::SharedWriter;
use ctrlog::cri::Stream;
use ctrlog::time::Offset;

use crate::output::Destination;
use config::{Config, ConfigError, KEYS};
use pump::{pump_any, PumpResult};
use report::Reporter;
use stop::Signals;

/// Container stdout, stderr and the ready pipe.
const FD_STDOUT: RawFd = 3;
const FD_STDERR: RawFd = 4;
const FD_READY: RawFd = 5;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// KEY VALUE pairs, as containerd passes a `binary://` URI query: log-path PATH,
    /// format cri|json-file, max-len N, max-size SIZE, max-file N, compress BOOL,
    /// naming docker|kubelet|ctrlog, utc BOOL. Reads fd 3 (stdout) and fd 4 (stderr), writes
    /// one byte to fd 5 (if it is a pipe) and closes it once ready.
    #[arg(
        value_name = "KEY VALUE",
        num_args = 0..,
        allow_hyphen_values = true,
        trailing_var_arg = true
    )]
    pairs: Vec<OsString>,
}

pub fn run(args: Args) -> ExitCode {
    drive(&args.pairs)
}

/// Runs the driver if the command line is a `binary://` invocation (see the module docs);
/// `is_subcommand` tells whether a word is one of `ctrlog`'s subcommands.
pub fn intercept(is_subcommand: impl Fn(&str) -> bool) -> Option<ExitCode> {
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let container = std::env::var_os("CONTAINER_ID").is_some();
    is_driver_invocation(
        argv.first().map(OsString::as_os_str),
        container,
        is_subcommand,
    )
    .then(|| drive(&argv))
}

fn is_driver_invocation(
    first: Option<&OsStr>,
    container_id_set: bool,
    is_subcommand: impl Fn(&str) -> bool,
) -> bool {
    let Some(first) = first else {
        return container_id_set;
    };
    let Some(first) = first.to_str() else {
        return container_id_set;
    };
    if KEYS.contains(&first) {
        return true;
    }
    container_id_set && !first.starts_with('-') && first != "help" && !is_subcommand(first)
}

/// Opens log-path: plain, or the rotating set the keys asked for (parsed in [`config`]).
fn open_output(cfg: &Config) -> Result<Destination, String> {
    Destination::open(&cfg.log_path, cfg.rotation.clone()).map_err(|e| format!("log-path: {e}"))
}

/// A configuration error: reported, and recorded in log-path when that can be opened (plain,
/// no rotation: only one short record is appended, and the rotation keys may be the bad ones).
fn config_error(reporter: &Reporter, e: &ConfigError) -> ExitCode {
    reporter.report(&e.message);
    if let Some(path) = &e.log_path {
        if let Ok(mut out) = Destination::open(path, None) {
            let msg = format!("{}; the logging driver did not start", e.message);
            let _ = report::record(&mut out, e.format, e.utc, &msg);
            let _ = out.close();
        }
    }
    ExitCode::from(2)
}

/// Takes `fd` if it is open.
fn take_fd(fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: F_GETFD only inspects the descriptor table.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return None;
    }
    // SAFETY: `fd` is open, and nothing else in this process owns it: the driver is the only
    // user of fds 3-5, which were inherited from the parent, and takes them before it creates
    // any descriptor of its own.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether `fd` is open on a pipe or socket (the ready pipe; anything else is left alone, so
/// a manual run never writes a byte into an unrelated file that happens to be fd 5).
fn is_pipe(fd: RawFd) -> bool {
    // SAFETY: an all-zero `stat` is a valid value; fstat only writes into it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable stat buffer.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return false;
    }
    matches!(st.st_mode & libc::S_IFMT, libc::S_IFIFO | libc::S_IFSOCK)
}

/// One zero byte on the ready pipe, then closed. Non-blocking: a pipe nobody empties must not
/// hold the driver (the byte is then dropped; the close still tells the shim).
fn signal_ready(ready: OwnedFd) {
    let fd = ready.as_raw_fd();
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
    }
    // Best effort: a shim that stopped waiting is no reason not to log.
    let _ = File::from(ready).write_all(&[0]);
}

/// Drives a container's log: `pairs` are the KEY VALUE arguments.
fn drive(pairs: &[OsString]) -> ExitCode {
    // The inherited descriptors first, before this process creates any of its own: in a run
    // by hand without fds 3-5, a descriptor of ours would land there and be taken for the
    // container's. (fcntl and fstat do not block.)
    let stdout = take_fd(FD_STDOUT);
    let stderr = take_fd(FD_STDERR);
    let ready = is_pipe(FD_READY).then(|| take_fd(FD_READY)).flatten();
    // Then the signals: from here on SIGTERM/SIGINT are never lost and never ignored.
    let installed = Signals::install();
    let reporter = Reporter::from_env();
    let (mut signals, pending) = match installed {
        Ok(s) => s,
        Err(e) => {
            reporter.report(&format!("cannot handle SIGTERM: {e}"));
            return ExitCode::from(2);
        }
    };
    let parsed = config::parse(pairs);
    let opening = match &parsed {
        Ok(c) => format!("opening log-path {}", c.log_path.display()),
        Err(ConfigError {
            log_path: Some(p), ..
        }) => format!("recording a configuration error in {}", p.display()),
        Err(_) => "reporting a configuration error".to_owned(),
    };
    if let Err(e) = pending.watch(reporter.clone(), opening) {
        reporter.report(&format!("cannot start the signal thread: {e}"));
        return ExitCode::from(2);
    }
    let cfg = match parsed {
        Ok(c) => c,
        Err(e) => return config_error(&reporter, &e),
    };
    let fail = |msg: &str| {
        reporter.report(msg);
        ExitCode::from(2)
    };
    let Some(stdout) = stdout else {
        return fail(
            "fd 3 (container stdout) is not open: run me as containerd's binary:// logger",
        );
    };
    let Some(stderr) = stderr else {
        return fail(
            "fd 4 (container stderr) is not open: run me as containerd's binary:// logger",
        );
    };
    #[cfg(debug_assertions)]
    pause_opening_for_tests();
    let output = match open_output(&cfg) {
        Ok(s) => SharedWriter::new(s),
        Err(e) => return fail(&e),
    };
    if !signals.running() {
        // A signal came while opening: the watchdog reports it and exits 2.
        signals.halt();
    }
    if let Some(ready) = ready {
        signal_ready(ready);
    }
    let offset = if cfg.utc { Offset::Utc } else { Offset::Local };
    let stop = signals.stop.as_fd();
    let enc = pump::Encoding {
        format: cfg.format,
        max_len: cfg.max_len,
        offset,
        timestamps: cfg.timestamps,
    };
    let out = std::thread::scope(|s| {
        let spawn = |fd: OwnedFd, stream: Stream| {
            let output = output.clone();
            s.spawn(move || pump_any(fd, stream, enc, output, stop))
        };
        let a = spawn(stdout, Stream::Stdout);
        let b = spawn(stderr, Stream::Stderr);
        [a.join(), b.join()]
    });
    let mut problems = Vec::new();
    for (name, r) in ["stdout", "stderr"].iter().zip(out) {
        match r {
            Ok(r) => problems.extend(pump_problems(name, &r, &cfg)),
            Err(_) => problems.push(format!("the {name} thread panicked")),
        }
    }
    for p in &problems {
        reporter.report(p);
        // Into the log too, where the lost records were expected (it may fail the same way).
        let _ = report::record(output.clone(), cfg.format, cfg.utc, p);
    }
    let mut code = if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    match output.try_into_inner() {
        Ok(s) => {
            if let Err(e) = s.close() {
                reporter.report(&format!("closing {}: {e}", cfg.log_path.display()));
                code = ExitCode::from(1);
            }
        }
        Err(_) => {
            reporter.report("internal: the output is still shared at exit");
            code = ExitCode::from(1);
        }
    }
    signals.done();
    code
}

/// Debug builds only: when `CTRLOG_DRIVER_PAUSE_OPENING` names a path, creates that file and
/// then waits forever in the opening stage (signal handlers installed, log-path not opened).
/// Every open of the driver is non-blocking, so this is the only way a test can signal the
/// driver in that stage deterministically (`tests/driver/errors.rs`); the watchdog ends the
/// process. Release builds do not have it.
#[cfg(debug_assertions)]
fn pause_opening_for_tests() {
    let Some(marker) = std::env::var_os("CTRLOG_DRIVER_PAUSE_OPENING") else {
        return;
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    let _ = ctrlog::regular::open_regular(
        std::path::Path::new(&marker),
        &opts,
        ctrlog::regular::Symlinks::Refuse,
    );
    loop {
        std::thread::park();
    }
}

/// What went wrong in one stream's copy, one message each.
fn pump_problems(name: &str, r: &PumpResult, cfg: &Config) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(e) = &r.read_error {
        v.push(format!("reading container {name}: {e}"));
    }
    let s = &r.summary;
    if s.write_errors > 0 {
        let kind = s
            .last_write_error
            .map(|k| std::io::Error::from(k).to_string())
            .unwrap_or_default();
        v.push(format!(
            "{name}: {} of {} records could not be written to {} ({} failed writes; last: {kind})",
            s.records_lost,
            s.records.saturating_add(s.records_lost),
            cfg.log_path.display(),
            s.write_errors
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_driver_invocations() {
        let sub = |s: &str| s == "write" || s == "driver";
        assert!(is_driver_invocation(Some("format".as_ref()), false, sub));
        assert!(is_driver_invocation(Some("log-path".as_ref()), false, sub));
        assert!(!is_driver_invocation(Some("write".as_ref()), false, sub));
        assert!(!is_driver_invocation(Some("write".as_ref()), true, sub));
        assert!(!is_driver_invocation(Some("--help".as_ref()), true, sub));
        assert!(!is_driver_invocation(Some("help".as_ref()), true, sub));
        assert!(is_driver_invocation(Some("bogus".as_ref()), true, sub));
        assert!(!is_driver_invocation(Some("bogus".as_ref()), false, sub));
        assert!(is_driver_invocation(None, true, sub));
        assert!(!is_driver_invocation(None, false, sub));
    }
}
