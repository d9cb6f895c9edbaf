//! `ctrlog write`: stdin to CRI or Docker json-file records (containerd's CRI logger).
//!
//! Exit status: 0 all records written; 1 reading stdin or writing records failed (the copy
//! still drained stdin unless `--stop-on-write-error`; one line on stderr names the output and
//! the last error), or a rotation failed (the records went on into the live file, which grew
//! past `--max-size`: a warning at the first failure, one line at exit with the count and the
//! last reason); 2 bad flags, values or output path (a symbolic link, not a regular file, a
//! missing directory, an existing file without any newline for a rotating output, a file locked
//! by another writer).
//!
//! The output (plain or rotating) is opened by `ctrlog::rotate`'s rules: never through a
//! symlink, only a regular file, never blocking, no parent directory created, an advisory
//! `flock`; a failed write (`EFBIG` under `ulimit -f`, `ENOSPC`) leaves no partial record.
//! Without `-o`, stdout is written as it is: when it is a regular file (`> o.log`), a write
//! that fails part way keeps the whole records that reached it and cuts the torn one off;
//! a pipe cannot be cut back, so its reader may get a torn last record. Either way the count
//! of lost records on stderr is exact (the whole records that went through are not in it).
//! SIGXFSZ is ignored (in `main`), so `ulimit -f` makes writes fail instead of killing ctrlog.

use std::fs::File;
use std::io;
use std::num::NonZeroUsize;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use ctrlog::cri::write::{
    CopySummary, CrPolicy, CriEncoder, DockerJsonEncoder, LogWriter, MaxLen, RecordEncoder,
    TimestampPolicy, WriteErrorPolicy, WriterOptions,
};
use ctrlog::cri::Stream;
use ctrlog::rotate::Naming;

use crate::output::{Destination, Rotation, Spelling};
use ctrlog::time::Offset;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `<time> <stream> <P|F> <content>` (containerd, kubelet).
    Cri,
    /// `{"log":...,"stream":...,"time":...}` (dockerd's json-file driver).
    JsonFile,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TimestampPolicyArg {
    PerRead,
    PerRecord,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StreamArg {
    Stdout,
    Stderr,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Record format.
    #[arg(long, value_enum, default_value = "cri")]
    format: Format,
    /// The stream the records are tagged with.
    #[arg(long, value_enum, default_value = "stdout")]
    stream: StreamArg,
    /// Maximum content bytes per record; longer lines are cut into partial records.
    /// 0 or negative: unlimited (bounded by --memory-cap), like containerd's
    /// max_container_log_line_size = -1.
    #[arg(
        long,
        default_value_t = 16384,
        allow_negative_numbers = true,
        value_name = "N"
    )]
    max_len: i64,
    /// When the clock is read for timestamps: once per input read (the default: records of one
    /// read share their time), or once per record, as containerd does.
    #[arg(long, value_enum, default_value = "per-read", value_name = "POLICY")]
    timestamp_policy: TimestampPolicyArg,
    /// Most bytes buffered for one line (Docker RAM size: 2m = 2 MiB); records are never
    /// longer than this.
    #[arg(long, value_name = "SIZE", value_parser = parse_memory_cap)]
    memory_cap: Option<NonZeroUsize>,
    /// Append records to PATH instead of writing to stdout. PATH must be a regular file or
    /// missing (then created with mode 0640); its directory must exist (directories are never
    /// created); a symbolic link is refused. A second writer on the same file fails (flock).
    #[arg(long, short, value_name = "PATH")]
    output: Option<PathBuf>,
    /// Write CRI timestamps in UTC instead of local time (json-file is always UTC).
    #[arg(long)]
    utc: bool,
    /// Stop at the first failed write instead of counting failures and draining stdin.
    #[arg(long)]
    stop_on_write_error: bool,
    /// Rotate the output before it would grow past SIZE (Docker's decimal sizes: 10m =
    /// 10,000,000 bytes). Needs --output.
    #[arg(long, value_name = "SIZE", requires = "output")]
    max_size: Option<String>,
    /// Files kept in all, the live one included (Docker's max-file; default 1). Needs --output.
    #[arg(
        long,
        value_name = "N",
        requires = "output",
        allow_negative_numbers = true
    )]
    max_file: Option<String>,
    /// gzip rotated files (needs --max-file 2 or more and --max-size).
    #[arg(long, requires = "output")]
    compress: bool,
    /// How rotated files are named: docker (name.1 newest), kubelet (name.YYYYMMDD-HHMMSS) or
    /// ctrlog (name.sNNNNNNNN, larger is newer).
    #[arg(
        long,
        value_name = "SCHEME",
        requires = "output",
        default_value = "docker"
    )]
    naming: String,
}

fn parse_memory_cap(s: &str) -> Result<NonZeroUsize, String> {
    let n = ctrlog::size::ram_in_bytes(s).map_err(|e| e.to_string())?;
    usize::try_from(n)
        .ok()
        .and_then(NonZeroUsize::new)
        .ok_or_else(|| format!("memory cap must be at least 1 byte, got {s:?}"))
}

pub fn run(args: Args) -> ExitCode {
    let stream = match args.stream {
        StreamArg::Stdout => Stream::Stdout,
        StreamArg::Stderr => Stream::Stderr,
    };
    let mut opts = WriterOptions::default();
    opts.split.max_len = MaxLen::from_signed(args.max_len);
    opts.timestamps = match args.timestamp_policy {
        TimestampPolicyArg::PerRead => TimestampPolicy::PerRead,
        TimestampPolicyArg::PerRecord => TimestampPolicy::PerRecord,
    };
    if let Some(cap) = args.memory_cap {
        opts.split.memory_cap = cap;
    }
    opts.split.cr_policy = match args.format {
        Format::Cri => CrPolicy::Strip,
        Format::JsonFile => CrPolicy::Keep,
    };
    let naming: Naming = match args.naming.parse() {
        Ok(n) => n,
        Err(e) => return crate::fail(e),
    };
    let rotation = Rotation {
        max_size: args.max_size.as_deref(),
        max_file: args.max_file.as_deref(),
        compress: args.compress,
        naming,
        spelling: Spelling::Flags,
    };
    let rotation = match rotation.options() {
        Ok(r) => r,
        Err(e) => return crate::fail(e),
    };
    let out = match &args.output {
        Some(path) => match Destination::open(path, rotation) {
            Ok(out) => out,
            Err(e) => return crate::fail(e),
        },
        None => match dup(io::stdout().as_fd()) {
            Ok(f) => Destination::stdout(f),
            Err(e) => return crate::fail(format_args!("cannot use stdout: {e}")),
        },
    };
    let input = match dup(io::stdin().as_fd()) {
        Ok(f) => f,
        Err(e) => return crate::fail(format_args!("cannot use stdin: {e}")),
    };
    opts.write_error_policy = if args.stop_on_write_error {
        WriteErrorPolicy::Stop
    } else {
        WriteErrorPolicy::Continue
    };
    let offset = if args.utc { Offset::Utc } else { Offset::Local };
    let (code, out) = match args.format {
        Format::Cri => copy(stream, CriEncoder::new(offset), opts, input, out),
        Format::JsonFile => copy(stream, DockerJsonEncoder::new(), opts, input, out),
    };
    match out.close() {
        Ok(()) => code,
        Err(e) => {
            say!("ctrlog: {e}");
            ExitCode::from(1)
        }
    }
}

/// A `File` on a duplicate of `fd`: unbuffered reads and writes, no `unsafe`.
fn dup(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<File> {
    Ok(File::from(fd.try_clone_to_owned()?))
}

/// Drains `input` into `out`; the exit status, and the output back for closing.
fn copy<F: RecordEncoder>(
    stream: Stream,
    format: F,
    opts: WriterOptions,
    input: File,
    out: Destination,
) -> (ExitCode, Destination) {
    let mut w = LogWriter::with_options(stream, format, out, opts);
    let code = match w.copy_from(input) {
        Ok(summary) => report(&summary, w.get_mut()),
        Err(e) => {
            say!("ctrlog: {}: {e}", w.get_mut().name());
            ExitCode::from(1)
        }
    };
    (code, w.into_inner())
}

/// One line naming the output and the reason when records were lost (a failed write left no
/// partial record: the output was cut back to the record boundary before it).
fn report(s: &CopySummary, out: &Destination) -> ExitCode {
    if s.write_errors == 0 {
        return ExitCode::SUCCESS;
    }
    let reason = match (out.last_error(), s.last_write_error) {
        (Some(e), _) => e.to_string(),
        (None, Some(k)) => io::Error::from(k).to_string(),
        (None, None) => String::new(),
    };
    say!(
        "ctrlog: {}: {} of {} records could not be written ({} failed writes; last: {reason})",
        out.name(),
        s.records_lost,
        s.records + s.records_lost,
        s.write_errors
    );
    ExitCode::from(1)
}
