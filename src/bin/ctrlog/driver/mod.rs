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
//! - environment: exactly `CONTAINER_ID` and `CONTAINER_NAMESPACE` (not used for anything
//!   but messages).
//! - fd 0-2 are `/dev/null`; fd 3 is the container's stdout (read side of a pipe), fd 4 its
//!   stderr, fd 5 the ready pipe (write side); cwd is the bundle directory.
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
//! # Choices
//!
//! - **Fail fast on configuration.** An unknown key, a repeated key, a key without value, a
//!   bad value, a missing `log-path` or an output that cannot be opened: a message on stderr,
//!   the same line appended (best effort) to `ctrlog-driver.err` in the cwd (the bundle
//!   directory: under containerd fd 2 is `/dev/null`), exit status 2, and **no ready byte**.
//!   Running with defaults would write the logs somewhere nobody looks, or unrotated, and be
//!   noticed only when a disk fills up. Without the byte, a `binary-v2` shim fails the task
//!   start ("logging binary did not call ready"); the 1.6 `binary` shim treats the closed pipe
//!   as ready, and the container then writes into pipes nobody reads (EPIPE/SIGPIPE): loud
//!   either way, and `ctrlog-driver.err` says why. Note the bundle directory is removed with
//!   the task.
//! - **`log-path` is required**, no default: the natural default, `<bundle>/container.log`,
//!   is deleted with the task, so the logs would be lost exactly when they are wanted. A
//!   relative path is taken relative to the cwd (the bundle directory under containerd), so
//!   use absolute paths there. Parent directories are not created.
//! - **One shared sink.** Two threads copy fd 3 and fd 4 through one
//!   [`LogWriter`] each into one [`SharedSink`]; each batch of whole records is written under
//!   the lock, so the streams interleave only at record boundaries (and rotation happens only
//!   between records).
//! - **SIGTERM (and SIGINT)** stop the waiting: each thread then drains what is already
//!   readable without blocking (at most [`DRAIN_CAP`] bytes per stream, so a writer that
//!   keeps writing cannot keep the driver alive), writes the unterminated tail as a `P`
//!   record, and the driver closes the output (rotated sets: waits for pending compressions)
//!   and exits. A process in the container that still holds the pipe open cannot keep the
//!   driver alive past SIGTERM.
//! - **Write errors** (disk full, file removed…) are counted, never stop the draining (a
//!   container blocked on a full pipe must not hang because its log is unwritable); they are
//!   reported on exit, on stderr and in `ctrlog-driver.err`.
//!
//! # Limits
//!
//! - Memory per stream: a 64 KiB read buffer plus the [`LogWriter`]'s bounded buffers (under
//!   1 MiB with the default `max-len`, a few MiB with `max-len <= 0` and its 2 MiB cap).
//! - The shim kills the driver 12 s after SIGTERM: a gzip of a large backup still running then
//!   is lost with it (the backup stays raw; see `ctrlog::rotate`).
//! - A write to the output that blocks (a hung NFS mount) blocks both streams; nothing times
//!   out.
//!
//! Exit status: 0 both streams copied; 1 records were lost to write errors, a read failed or
//! closing the output failed (reported as above); 2 bad configuration (no ready byte).
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
//! - writes the same zero byte to fd 5 (any byte satisfies `binary-v2`).

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::ExitCode;

use ctrlog::cri::write::{
    CopySummary, CrPolicy, CriFormat, DockerJsonFormat, LineSplitter, LogWriter, MaxLen,
    RecordFormat, SharedSink, DEFAULT_MEMORY_CAP,
};
use ctrlog::cri::Stream;
use ctrlog::rotate::Naming;
use ctrlog::time::Offset;

use crate::output::{LogOutput, Rotation};

/// The keys the driver understands.
pub const KEYS: &[&str] = &[
    "log-path", "format", "max-len", "max-size", "max-file", "compress", "naming", "utc",
];

/// File in the cwd that configuration errors and lost records are appended to.
pub const ERR_FILE: &str = "ctrlog-driver.err";

/// Most bytes read per stream after SIGTERM.
pub const DRAIN_CAP: u64 = 64 << 20;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Cri,
    JsonFile,
}

#[derive(Debug)]
struct Config {
    log_path: PathBuf,
    format: Format,
    max_len: MaxLen,
    max_size: Option<String>,
    max_file: Option<String>,
    compress: bool,
    naming: Naming,
    utc: bool,
}

fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "" | "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("{key} {v:?}: not a boolean (true or false)")),
    }
}

fn parse_config(pairs: &[OsString]) -> Result<Config, String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut log_path = None;
    let mut cfg = Config {
        log_path: PathBuf::new(),
        format: Format::Cri,
        max_len: MaxLen::CONTAINERD_DEFAULT,
        max_size: None,
        max_file: None,
        compress: false,
        naming: Naming::Docker,
        utc: false,
    };
    let mut it = pairs.chunks(2);
    for pair in &mut it {
        let (key, value) = match pair {
            [k, v] => (k, v),
            [k] => {
                return Err(format!(
                    "key {k:?} has no value (arguments are KEY VALUE pairs)"
                ))
            }
            _ => continue,
        };
        let Some(key) = key.to_str() else {
            return Err(format!("unknown key {key:?}"));
        };
        let Some(k) = KEYS.iter().copied().find(|k| *k == key) else {
            return Err(format!("unknown key {key:?} (known: {})", KEYS.join(", ")));
        };
        if seen.contains(&k) {
            return Err(format!("key {k} given twice"));
        }
        seen.push(k);
        if k == "log-path" {
            if value.is_empty() {
                return Err("log-path is empty".into());
            }
            log_path = Some(PathBuf::from(value));
            continue;
        }
        let Some(v) = value.to_str() else {
            return Err(format!("{k} {value:?}: not UTF-8"));
        };
        match k {
            "format" => {
                cfg.format = match v {
                    "cri" => Format::Cri,
                    "json-file" => Format::JsonFile,
                    _ => return Err(format!("format {v:?}: expected cri or json-file")),
                }
            }
            "max-len" => {
                let n: i64 = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("max-len {v:?}: not an integer"))?;
                cfg.max_len = MaxLen::from_signed(n);
            }
            "max-size" => cfg.max_size = Some(v.to_owned()),
            "max-file" => cfg.max_file = Some(v.to_owned()),
            "compress" => cfg.compress = parse_bool(k, v)?,
            "naming" => cfg.naming = v.parse().map_err(|e| format!("naming {v:?}: {e}"))?,
            "utc" => cfg.utc = parse_bool(k, v)?,
            _ => return Err(format!("unknown key {k:?}")),
        }
    }
    cfg.log_path = log_path.ok_or("log-path is required (e.g. ?log-path=/var/log/ctr/ID.log)")?;
    Ok(cfg)
}

fn open_output(cfg: &Config) -> Result<LogOutput, String> {
    let rotation = Rotation {
        max_size: cfg.max_size.as_deref(),
        max_file: cfg.max_file.as_deref(),
        compress: cfg.compress,
        naming: cfg.naming,
        prefix: "",
    };
    LogOutput::open(&cfg.log_path, &rotation).map_err(|e| format!("log-path: {e}"))
}

/// `msg` on stderr and, best effort, appended to [`ERR_FILE`] in the cwd.
fn report(msg: &str) {
    let id = std::env::var("CONTAINER_ID").unwrap_or_default();
    let ns = std::env::var("CONTAINER_NAMESPACE").unwrap_or_default();
    let who = if id.is_empty() {
        String::new()
    } else {
        format!(" [{ns}/{id}]")
    };
    let line = format!("ctrlog driver{who}: {msg}\n");
    let _ = io::stderr().write_all(line.as_bytes());
    if let Ok(mut f) = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(ERR_FILE)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

fn fail(msg: &str) -> ExitCode {
    report(msg);
    ExitCode::from(2)
}

/// Takes `fd` if it is open.
fn take_fd(fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: F_GETFD only inspects the descriptor table.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return None;
    }
    // SAFETY: `fd` is open, and nothing else in this process owns it: the driver is the only
    // user of fds 3-5, which were inherited from the parent and never opened by ctrlog.
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

/// Drives a container's log: `pairs` are the KEY VALUE arguments.
fn drive(pairs: &[OsString]) -> ExitCode {
    let cfg = match parse_config(pairs) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let Some(stdout) = take_fd(FD_STDOUT) else {
        return fail(
            "fd 3 (container stdout) is not open: run me as containerd's binary:// logger",
        );
    };
    let Some(stderr) = take_fd(FD_STDERR) else {
        return fail(
            "fd 4 (container stderr) is not open: run me as containerd's binary:// logger",
        );
    };
    let ready = is_pipe(FD_READY).then(|| take_fd(FD_READY)).flatten();
    // The stop pipe: a byte arrives on SIGTERM/SIGINT; nobody reads it, so it stays readable
    // for both threads.
    let (stop_r, stop_w) = match UnixStream::pair() {
        Ok(p) => p,
        Err(e) => return fail(&format!("cannot create the signal pipe: {e}")),
    };
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        let w = match stop_w.try_clone() {
            Ok(w) => w,
            Err(e) => return fail(&format!("cannot create the signal pipe: {e}")),
        };
        if let Err(e) = signal_hook::low_level::pipe::register(sig, w) {
            return fail(&format!("cannot handle signal {sig}: {e}"));
        }
    }
    drop(stop_w);
    let sink = match open_output(&cfg) {
        Ok(s) => SharedSink::new(s),
        Err(e) => return fail(&e),
    };
    if let Some(ready) = ready {
        let mut f = File::from(ready);
        // Best effort: a shim that stopped waiting is no reason not to log.
        let _ = f.write_all(&[0]);
        drop(f);
    }
    let offset = if cfg.utc { Offset::Utc } else { Offset::Local };
    let stop = stop_r.as_raw_fd();
    let (format, max_len) = (cfg.format, cfg.max_len);
    let out = std::thread::scope(|s| {
        let spawn = |fd: OwnedFd, stream: Stream| {
            let sink = sink.clone();
            s.spawn(move || pump_any(fd, stream, format, max_len, offset, sink, stop))
        };
        let a = spawn(stdout, Stream::Stdout);
        let b = spawn(stderr, Stream::Stderr);
        [a.join(), b.join()]
    });
    drop(stop_r);
    let mut code = ExitCode::SUCCESS;
    for (name, r) in ["stdout", "stderr"].iter().zip(out) {
        match r {
            Ok(r) => {
                if let Some(e) = r.read_error {
                    report(&format!("reading container {name}: {e}"));
                    code = ExitCode::from(1);
                }
                let s = &r.summary;
                if s.write_errors > 0 {
                    let kind = s
                        .last_write_error
                        .map(|k| io::Error::from(k).to_string())
                        .unwrap_or_default();
                    report(&format!(
                        "{name}: {} of {} records could not be written to {} ({} failed writes; last: {kind})",
                        s.records_lost,
                        s.records.saturating_add(s.records_lost),
                        cfg.log_path.display(),
                        s.write_errors
                    ));
                    code = ExitCode::from(1);
                }
            }
            Err(_) => {
                report(&format!("the {name} thread panicked"));
                code = ExitCode::from(1);
            }
        }
    }
    match sink.try_into_inner() {
        Ok(s) => {
            if let Err(e) = s.close() {
                report(&format!("closing {}: {e}", cfg.log_path.display()));
                code = ExitCode::from(1);
            }
        }
        Err(_) => {
            report("internal: the output is still shared at exit");
            code = ExitCode::from(1);
        }
    }
    code
}

struct PumpResult {
    summary: CopySummary,
    read_error: Option<io::Error>,
}

fn pump_any(
    fd: OwnedFd,
    stream: Stream,
    format: Format,
    max_len: MaxLen,
    offset: Offset,
    sink: SharedSink<LogOutput>,
    stop: RawFd,
) -> PumpResult {
    let cap = NonZeroUsize::new(DEFAULT_MEMORY_CAP).unwrap_or(NonZeroUsize::MIN);
    let cr = match format {
        Format::Cri => CrPolicy::Strip,
        Format::JsonFile => CrPolicy::Keep,
    };
    let splitter = LineSplitter::new(max_len)
        .with_memory_cap(cap)
        .with_cr_policy(cr);
    match format {
        Format::Cri => pump(fd, stream, CriFormat::new(offset), splitter, sink, stop),
        Format::JsonFile => pump(fd, stream, DockerJsonFormat::new(), splitter, sink, stop),
    }
}

/// Readiness of `fd` (POLLIN, POLLHUP or POLLERR) within `timeout` ms; `stop` too if given.
/// Returns (fd ready, stop ready).
fn wait(fd: RawFd, stop: Option<RawFd>, timeout: libc::c_int) -> io::Result<(bool, bool)> {
    let mut fds = [
        libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: stop.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        // SAFETY: `fds` is a valid array of two pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        if n >= 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let any = libc::POLLIN | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;
    Ok((fds[0].revents & any != 0, fds[1].revents & any != 0))
}

/// Copies `fd` into `sink` until EOF, or until `stop` is readable (then drains without
/// blocking).
fn pump<F: RecordFormat>(
    fd: OwnedFd,
    stream: Stream,
    format: F,
    splitter: LineSplitter,
    sink: SharedSink<LogOutput>,
    stop: RawFd,
) -> PumpResult {
    let raw = fd.as_raw_fd();
    let mut input = File::from(fd);
    let mut w = LogWriter::new(stream, format, sink).with_splitter(splitter);
    let mut buf = vec![0u8; 64 * 1024];
    let mut read_error = None;
    let mut draining: Option<u64> = None;
    loop {
        let ready = match draining {
            None => match wait(raw, Some(stop), -1) {
                // The signal first: a writer that never pauses must not keep us here.
                Ok((_, true)) => {
                    draining = Some(0);
                    continue;
                }
                Ok((true, false)) => true,
                Ok((false, false)) => continue,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            },
            Some(done) if done >= DRAIN_CAP => break,
            Some(_) => match wait(raw, None, 0) {
                Ok((r, _)) => r,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            },
        };
        if !ready {
            break;
        }
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // Write errors are counted in the summary (policy Continue), never fatal.
                let _ = w.write_chunk(buf.get(..n).unwrap_or(&buf));
                if let Some(d) = draining.as_mut() {
                    *d = d.saturating_add(n as u64);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
    }
    let summary = match w.finish() {
        Ok(s) => s,
        Err(_) => w.summary().clone(),
    };
    PumpResult {
        summary,
        read_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

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

    #[test]
    fn parses_pairs_in_any_order() {
        let c = parse_config(&os(&[
            "utc",
            "",
            "format",
            "json-file",
            "log-path",
            "/x",
            "max-len",
            "-1",
        ]))
        .unwrap();
        assert_eq!(c.log_path, PathBuf::from("/x"));
        assert_eq!(c.format, Format::JsonFile);
        assert_eq!(c.max_len, MaxLen::Unlimited);
        assert!(c.utc);
        let c = parse_config(&os(&[
            "max-len", "100", "naming", "kubelet", "log-path", "y",
        ]))
        .unwrap();
        assert_eq!(c.max_len, MaxLen::from_signed(100));
        assert_eq!(c.naming, Naming::Kubelet);
        assert!(!c.utc);
    }

    #[test]
    fn rejects_bad_configurations() {
        for bad in [
            &["format", "cri"][..],
            &["log-path", ""],
            &["log-path", "/x", "bogus", "1"],
            &["log-path", "/x", "format"],
            &["log-path", "/x", "format", "syslog"],
            &["log-path", "/x", "log-path", "/y"],
            &["log-path", "/x", "utc", "yes"],
            &["log-path", "/x", "max-len", "16k"],
            &["log-path", "/x", "naming", "weird"],
        ] {
            assert!(parse_config(&os(bad)).is_err(), "{bad:?}");
        }
    }
}
