//! `ctrlog logs`: print a container log (CRI or Docker json-file) as `kubectl logs` does.
//!
//! Problems that do not stop the read are reported on stderr and change the exit status:
//! each file of the set that the read needs and that cannot be read, or not to its end, as
//! `ctrlog: warning: PATH: REASON` when it happens (a backup older than what `--tail` needs
//! is not opened and not reported); a directory that cannot be listed (its backups are not
//! read); skipped records (unparsable, overlong, half-written, a line too long for the
//! `--tail` buffer of a pipe) as one line at the end, `ctrlog: N records skipped (first: PATH
//! offset OFF: REASON)`.
//!
//! Exit status: 0 everything was read; 3 the output was produced but some data was skipped
//! (files or records, reported on stderr); 2 nothing could be read (bad usage, the named log
//! missing or unreadable); 1 writing the output failed.

mod fd_sink;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ctrlog::cri::read::{
    find_pod, read_containers, ContainerDir, ContainerSource, LogReader, PodDir, PodDirName,
    PodError, ReadError, ReadOptions, ReadStats, SkippedLine, TailMode,
};
use ctrlog::time::{parse_rfc3339nano, Clock, SystemClock, Timestamp};

#[derive(clap::Args)]
#[command(
    after_help = "Warnings go to stderr: `ctrlog: warning: PATH: REASON` for each file of \
the set that cannot be read (or not to its end), and one line at the end for skipped records.\n\n\
Exit status: 0 all read; 3 output produced but some data skipped (see stderr); \
2 bad usage or the log cannot be read; 1 writing the output failed."
)]
pub struct Args {
    /// Keep printing new records; follows rotation and truncation. Stops on SIGINT/SIGTERM.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Print only the last N logical lines (-1: all).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    tail: Option<i64>,
    /// Make --tail count physical records, as kubelet does (a long line split into pieces
    /// counts once per piece).
    #[arg(long)]
    tail_records: bool,
    /// Only lines at or after this time: RFC 3339 (2024-01-02T15:04:05Z) or a duration ago
    /// (10s, 5m, 2h, 1h30m).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Prefix each line with its timestamp (RFC 3339, nine fraction digits).
    #[arg(long)]
    timestamps: bool,
    /// Stop after printing N bytes (both streams together, prefixes included).
    #[arg(long, value_name = "N")]
    limit_bytes: Option<u64>,
    /// Read only PATH, not the rotated backups beside it.
    #[arg(long)]
    no_backups: bool,
    /// The pod to read, by name, under --pods-root (kubelet's
    /// <namespace>_<pod>_<uid>/<container>/<restart>.log tree), as `kubectl logs POD`.
    #[arg(long, value_name = "NAME", conflicts_with = "path")]
    pod: Option<String>,
    /// The pod's namespace.
    #[arg(short = 'n', long, value_name = "NAMESPACE", default_value = "default")]
    namespace: String,
    /// The container of the pod (needed when it has several).
    #[arg(
        short = 'c',
        long,
        value_name = "NAME",
        conflicts_with = "all_containers"
    )]
    container: Option<String>,
    /// Read the restart before the newest (the previous terminated container).
    #[arg(short = 'p', long)]
    previous: bool,
    /// Every container of the pod, merged by the time of each line (--tail, --since and
    /// --limit-bytes apply per container, as in kubectl; with -f, lines print as written).
    #[arg(long)]
    all_containers: bool,
    /// Prefix each line with [pod/<pod>/<container>], as kubectl does.
    #[arg(long)]
    prefix: bool,
    /// kubelet's pod log directory, where --pod is looked up.
    #[arg(long, value_name = "DIR", default_value = ctrlog::cri::read::POD_LOGS_ROOT)]
    pods_root: PathBuf,
    /// A log file (its backups are read first), a directory holding one rotated set, a pod
    /// directory (<namespace>_<pod>_<uid>, read as --pod), or `-` (standard input; a pipe or
    /// FIFO is read forwards, --tail keeps the last lines in a 64 MiB buffer). A device or
    /// socket is refused.
    #[arg(required_unless_present = "pod")]
    path: Option<PathBuf>,
}

/// What to read: one log (a path), or containers of a pod.
enum Target {
    Path(PathBuf),
    Pod(PodDir),
}

/// `--pod`, or a PATH that is a pod directory (named `<namespace>_<pod>_<uid>`, holding
/// container directories); anything else is a log path.
fn target(args: &Args) -> Result<Target, String> {
    if let Some(pod) = &args.pod {
        return find_pod(&args.pods_root, &args.namespace, pod)
            .map(Target::Pod)
            .map_err(|e| e.to_string());
    }
    let path = args.path.clone().unwrap_or_default();
    let named_as_pod = path.is_dir()
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(PodDirName::parse)
            .is_some();
    if named_as_pod {
        match PodDir::open(&path) {
            Ok(pod) if !pod.containers.is_empty() => return Ok(Target::Pod(pod)),
            // A set kept in a directory that only looks like a pod's: read as before.
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    if args.container.is_some() || args.previous || args.all_containers || args.prefix {
        return Err(format!(
            "{}: -c, -p, --all-containers and --prefix need --pod or a pod directory",
            path.display()
        ));
    }
    Ok(Target::Path(path))
}

/// The containers to read and the live file of each (`-p`: the restart before).
fn pod_logs(args: &Args, pod: &PodDir) -> Result<Vec<(String, PathBuf)>, PodError> {
    let chosen: Vec<&ContainerDir> = if args.all_containers && !pod.containers.is_empty() {
        pod.containers.iter().collect()
    } else {
        // Also the error for a pod without containers.
        vec![pod.container(args.container.as_deref())?]
    };
    chosen
        .into_iter()
        .map(|c| {
            let path = if args.previous {
                c.previous(&pod.name.pod)?
            } else {
                c.current(&pod.name.pod)?
            };
            Ok((c.name.clone(), path))
        })
        .collect()
}

/// Parses `1h30m`, `10s`, `250ms`, `2h` into nanoseconds.
fn parse_duration(s: &str) -> Option<i128> {
    let mut total: i128 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i128 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let mult: i128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(n.checked_mul(mult)?)?;
    }
    Some(total)
}

fn parse_since(s: &str) -> Result<Timestamp, String> {
    if let Ok(ts) = parse_rfc3339nano(s.as_bytes()) {
        return Ok(ts);
    }
    match parse_duration(s) {
        Some(d) => Ok(SystemClock.now().add_nanos(-d)),
        None => Err(format!(
            "invalid --since {s:?}: want an RFC 3339 time (2024-01-02T15:04:05Z) or a duration (10s, 5m, 2h)"
        )),
    }
}

/// Exit status when the read went through but data was skipped.
const SKIPPED: u8 = 3;

/// The end-of-read summary of skipped records, and the exit status.
fn report(stats: &ReadStats) -> ExitCode {
    if let Some(SkippedLine {
        path,
        offset: off,
        reason: why,
        ..
    }) = &stats.first_skipped
    {
        say!(
            "ctrlog: {} records skipped (first: {} offset {off}: {why})",
            stats.skipped,
            path.display()
        );
    }
    if stats.skipped > 0 || stats.files_skipped > 0 {
        ExitCode::from(SKIPPED)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn run(args: Args) -> ExitCode {
    let since = match args.since.as_deref().map(parse_since).transpose() {
        Ok(s) => s,
        Err(msg) => return crate::fail(msg),
    };
    let tail = match args.tail {
        None => None,
        Some(n) if n < 0 => None,
        Some(n) => Some(n.unsigned_abs()),
    };
    let mut opts = ReadOptions::default();
    opts.tail = tail;
    opts.tail_mode = if args.tail_records {
        TailMode::Records
    } else {
        TailMode::Lines
    };
    opts.output.since = since;
    opts.output.limit_bytes = args.limit_bytes;
    opts.output.timestamps = args.timestamps;
    let open = |path: &PathBuf| {
        if args.no_backups {
            LogReader::open_single(path, opts.clone())
        } else {
            LogReader::open(path, opts.clone())
        }
    };
    let (single, pod) = match target(&args) {
        Ok(Target::Path(p)) => (Some(p), None),
        Ok(Target::Pod(pod)) => match pod_logs(&args, &pod) {
            // One container, no prefix: exactly the read of its file.
            Ok(logs) if logs.len() == 1 && !args.prefix => (Some(logs[0].1.clone()), None),
            Ok(logs) => (None, Some((pod.name.pod, logs))),
            Err(e) => return crate::fail(e),
        },
        Err(msg) => return crate::fail(msg),
    };
    let stop = if args.follow {
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
                return crate::fail(format!("cannot handle signal {sig}: {e}"));
            }
        }
        Some(stop)
    } else {
        None
    };
    let mut sink = fd_sink::fd_sink();
    let result = if let Some((pod, logs)) = pod {
        let mut sources = Vec::with_capacity(logs.len());
        for (container, path) in &logs {
            match open(path) {
                Ok(r) => sources.push(ContainerSource::new(&pod, container, r)),
                Err(e) => return crate::fail(e),
            }
        }
        read_containers(sources, args.prefix, stop, &mut sink)
    } else {
        let mut reader = match open(&single.unwrap_or_default()) {
            Ok(r) => r,
            Err(e) => return crate::fail(e),
        };
        match &stop {
            Some(stop) => reader.follow(&mut sink, stop),
            None => reader.read_to(&mut sink),
        }
    };
    match result {
        Ok(stats) => report(&stats),
        Err(ReadError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(ReadError::Output(e)) => {
            say!("ctrlog: writing output: {e}");
            ExitCode::from(1)
        }
        Err(e) => crate::fail(e),
    }
}
