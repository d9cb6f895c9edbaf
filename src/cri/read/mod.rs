//! Reading container logs as `kubectl logs` does: parse CRI and Docker json-file records,
//! merge partial lines per stream, tail, since, byte limit, timestamps, rotated sets, follow.
//!
//! Reference: kubelet `pkg/kubelet/kuberuntime/logs/logs.go` (with `pkg/util/tail/tail.go`),
//! and for Docker's files moby `daemon/logger/jsonfilelog` and `daemon/logger/loggerutils`
//! (rotation naming). Its tests port kubelet's `TestReadLogs`, `TestParseLog`,
//! `TestWriteLogs`, `TestWriteLogsWithBytesLimit`, `TestReadLogsLimitsWithTimestamps` and
//! `TestReadRotatedLog` (`tests/cri_read/kubelet.rs`).
//!
//! Layers, each usable alone:
//! * sans-IO parsers: [`parse_cri_record`], [`parse_docker_record`], [`RecordParser`] (per
//!   record format detection); content borrows from the input line;
//! * [`PartialMerger`] (per-stream logical lines, streaming) and [`LineAssembler`] (whole
//!   lines with a cap);
//! * [`Emitter`] applies [`OutputOptions`] (since, limit, timestamps) and writes to a
//!   [`LogSink`] ([`SplitSink`], [`MergedSink`]); a sink can stop the read
//!   ([`LogSink::line_end`]);
//! * `TailCounter` (crate-private) finds where the last N lines start from records fed backwards,
//!   `ForwardTail` the same from records fed forwards (`.gz`, pipes) in memory bounded by N;
//! * [`LineBuffer`](crate::lines::LineBuffer) is the one forward line framer, over any byte
//!   source (`pread` on a file, a gzip decoder, a pipe);
//!   [`BackScanner`](crate::lines::BackScanner) walks a plain file's lines backwards;
//! * [`LogReader`] is the std adapter: files, rotated sets ([`rotated_set`]), tail reading
//!   backwards from the end, pipes and stdin, follow with an inotify watcher thread that
//!   opens each new file of the set at once (`follow.rs` documents the design and its
//!   limits). One producer (`run.rs`, resumable after any record) feeds either output:
//!   bytes to a [`LogSink`] ([`LogReader::read_to`], [`LogReader::follow`]) or structured
//!   [`LogLine`]s (stream, time and its zone, content, complete or not, file, offset)
//!   pulled with [`LogReader::next_line`], which reuses the caller's line, or handed out by
//!   the non-blocking follow step [`Follower::poll_lines`] an event loop drives;
//! * [`PodLogPath`], [`PodDirName`] and [`ContainerLogLink`]: kubelet's log paths;
//! * pods by name in kubelet's tree (`pods` module): [`find_pod`], [`PodDir::container`]
//!   and [`ContainerDir::previous`] (kubectl's `-c` and `-p`), [`read_containers`]
//!   (`--all-containers` merged by timestamp, `--prefix`), [`inventory`] (`ctrlog pods`)
//!   and [`GrowthSampler`] (`ctrlog top`).
//!
//! ```
//! use ctrlog::cri::read::{LogLine, LogReader, ReadOptions, SplitSink};
//! use ctrlog::cri::Stream;
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("0.log");
//! std::fs::write(&path, "2024-01-01T00:00:00Z stdout P hel\n\
//!                        2024-01-01T00:00:01Z stderr F oops\n\
//!                        not a record\n\
//!                        2024-01-01T00:00:02Z stdout F lo\n")?;
//! // Structured: whole lines, with their time, one buffer reused.
//! let mut reader = LogReader::open(&path, ReadOptions::default())?;
//! let mut line = LogLine::new();
//! let mut got = Vec::new();
//! while reader.next_line(&mut line)? {
//!     got.push((line.stream(), line.timestamp().unix_nanos() / 1_000_000_000,
//!               String::from_utf8_lossy(line.content()).into_owned()));
//! }
//! assert_eq!(got, [(Stream::Stderr, 1704067201, "oops".to_string()),
//!                  (Stream::Stdout, 1704067200, "hello".to_string())]);
//! assert_eq!(reader.stats().unwrap().skipped, 1);
//!
//! // Bytes, as `kubectl logs --timestamps` prints them.
//! let mut opts = ReadOptions::default();
//! opts.output.timestamps = true;
//! let mut sink = SplitSink { stdout: Vec::new(), stderr: Vec::new() };
//! let stats = LogReader::open(&path, opts)?.read_to(&mut sink)?;
//! assert_eq!(sink.stdout, b"2024-01-01T00:00:00.000000000Z hello\n");
//! assert_eq!(sink.stderr, b"2024-01-01T00:00:01.000000000Z oops\n");
//! assert_eq!(stats.skipped, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Limits
//! * Memory: one read buffer (256 KiB by default) per open file, grown only for a record
//!   longer than that, up to [`ReadOptions::max_record_len`] (4 MiB by default); longer
//!   records are skipped and counted, never buffered whole. Byte output is streamed piece
//!   by piece, so a logical line of any length costs no memory; a structured line is
//!   handed out in parts past [`ReadOptions::max_line_len`] (1 MiB by default). Tail scans plain files
//!   backwards in 64 KiB blocks.
//! * `.gz` backups (feature `gzip`; without it a `.gz` is skipped with a warning) are
//!   decoded as streams, never written to disk. Tail reads the set newest first and stops
//!   once it has N lines: a `.gz` it must look into is decoded forwards keeping only the
//!   records the count needs (`ForwardTail`, about `2 N + 4` positions, not the lines),
//!   then decoded again from its start for output, lines before the start skipped. A
//!   damaged `.gz` yields what it decodes up to the damage, then a warning.
//! * Tail in [`TailMode::Lines`] must find where each kept line starts; a stream whose last
//!   line began long ago (many pieces, or a lone record far back) makes the backward scan go
//!   that far. It also looks at the record before the first kept line (which may be the
//!   start of the same line), so `--tail N` may open the next older file.
//! * Inputs that cannot seek (`-` for stdin, a FIFO, `/dev/stdin` when it is a pipe) are
//!   read forwards through the same [`LineBuffer`](crate::lines::LineBuffer) as files; there is no rotated set and following stops at
//!   their end. `--tail N` keeps a ring of the lines that may be among the last N (decided
//!   by `ForwardTail`), at most [`ReadOptions::tail_buffer`] bytes (64 MiB by default).
//!   A logical line that does not fit (many `P` pieces) is left out whole, never printed
//!   cut: counted in [`ReadStats::skipped`] ([`SkipReason::TailBuffer`]) and reported by
//!   [`LogSink::warning`]. A file needs no such buffer: tail seeks back and reads whole
//!   lines of any length, as kubelet does. In
//!   [`TailMode::Lines`] unparsable lines of such an input are counted as skipped whether or
//!   not they fall in the tail.
//! * Follow watches the directory with inotify on Linux and polls the set every
//!   [`ReadOptions::poll_interval`] elsewhere and as a fallback. It holds an fd for each file
//!   found and not yet read (at most 512 files and 256 MiB; each pins its disk space once
//!   max-file pruning deletes it) and closes each file once it is read and rotated away. A
//!   file the writer creates and deletes before the watcher thread runs (within max-file
//!   rotation intervals of its creation) is lost and reported as a warning.
//! * Open files: a set of any size is read within the open-files limit. The newest files
//!   (16, or an eighth of `RLIMIT_NOFILE` if less, never under 2) are opened when the set
//!   is listed; older ones are opened when the read gets to them, one at a time, and each
//!   file is closed once read. A file opened late is checked against its listing (inode and
//!   modification time): a Docker backup renamed to the next number meanwhile is found
//!   under its new name, and one that max-file pruning deleted before the read got to it is
//!   reported ("rotated away and deleted before it could be read"). The follower's watcher
//!   holds an fd for the 4 newest files of the set and for each file found and not yet read
//!   (bounded, see below).
//! * Linux/Unix only (`pread`, inode identity).
//!
//! # Errors and warnings
//! * The path given to [`LogReader::open`] must be readable: a missing log is
//!   [`io::ErrorKind::NotFound`]; any other failure (permission denied, a symlink loop, …)
//!   is [`ReadError::Io`] with the path and the OS error itself.
//! * A backup that cannot be read (permission denied, a symlink, a FIFO, a directory, a
//!   damaged `.gz`, deleted before the read got to it) does not stop the read: the other
//!   files are read, [`LogSink::warning`] is called as it happens with a [`FileWarning`]
//!   (file and reason), and [`ReadStats::files_skipped`] / [`ReadStats::warnings`] count it.
//!   One rule for every kind of problem: **only the files the read needs are opened, and
//!   only those are reported**. A backup older than what `--tail` needs is never opened
//!   and never reported, however damaged; the same backup is reported when a read needs
//!   it (a read without `--tail` needs every file).
//! * A directory that cannot be listed (mode 0711, or no fd left for the listing) while the
//!   named file can be opened: the file is read alone and a warning names the directory
//!   ("cannot list the directory, backups not read: …").
//! * Records that are skipped (unparsable, longer than [`ReadOptions::max_record_len`],
//!   half-written at the end of a rotated file) are counted in [`ReadStats::skipped`], the
//!   first one with its file, offset and [`SkipReason`] in [`ReadStats::first_skipped`].
//! * `ctrlog logs` prints each warning as `ctrlog: warning: PATH: REASON`, one summary line
//!   for skipped records, and exits with status 3 when anything was skipped.
//!
//! # Symlinks and special files
//! Only the path the user names is resolved through symlinks: a symlink named by the user
//! (kubelet's `/var/log/containers/*.log`, which points at
//! `/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log`) is resolved once, and the rotated
//! set is the one beside its target. Every file found by listing a directory (backups, the
//! base log of a directory) is opened with `O_NOFOLLOW | O_NONBLOCK` and checked with
//! `fstat`: a symlink or a non-regular file (FIFO, device, socket, directory) is skipped with
//! a warning and never blocks.
//!
//! The path the user names is judged by what it names: a regular file or a directory is a
//! log set; a FIFO or a pipe is read forwards (a FIFO's `open` waits for a writer, as `cat`
//! does); a character or block device or a socket can never be a log and is refused
//! ([`ReadError::BadPath`], "is a character device, not a log file"), so `/dev/zero` is not
//! read for ever. `-` is standard input, read whatever it is (a terminal, `/dev/null`),
//! as `cat -` does; `/dev/stdin` is a path like any other: read when standard input is a
//! pipe or a file, refused with a hint to use `-` when it is a terminal or `/dev/null`. (A symlink to `/etc/shadow` planted among the backups is not
//! printed when ctrlog runs as root.)
//!
//! # Deliberate differences from kubelet
//! 1. **Format per record.** kubelet picks CRI or Docker from the first line and fails the
//!    whole read when that line is garbage (`unsupported log format`); ctrlog decides per
//!    record (`{` starts a Docker record) and skips and counts lines that are neither
//!    ([`ReadStats::skipped`]). kubelet's `TestParseLog` "unsupported log format" case is a
//!    per-line error here.
//! 2. **Per-stream line state.** kubelet's `--timestamps` prefix depends on one "at start of
//!    line" flag shared by stdout and stderr, so an interleaved stderr record between two
//!    pieces of a stdout line is printed without a prefix and the stdout continuation with
//!    one. ctrlog tracks lines per stream ([`PartialMerger`]): every logical line gets
//!    exactly one prefix, the timestamp of its first piece.
//! 3. **`--since` per logical line.** kubelet filters each record by its own timestamp, so a
//!    line whose pieces straddle `since` is printed in part; ctrlog keeps or drops whole
//!    lines by their first piece's timestamp (records at exactly `since` are kept, as in
//!    kubelet).
//! 4. **`--tail` counts logical lines** by default ([`TailMode::Lines`]): a line split into
//!    `P` pieces counts once and is printed whole. kubelet counts physical records
//!    (`FindTailLineStartIndex`) and may start in the middle of a line; that is
//!    [`TailMode::Records`] (which, like kubelet without follow, also prints at most N
//!    records).
//! 5. **Rotated files are read** (oldest to newest) and followed across rotation: kubelet
//!    reads only the live file and, on a rename, reopens the path at once without draining
//!    the old file, which can lose lines, and never reads the backups rotated past in
//!    between. ctrlog opens every new file of the set as soon as it appears (inotify), reads
//!    them in order through those fds (a backup deleted meanwhile is still read), and gives
//!    the writer one poll interval to let go of a file rotated away before finishing it. A
//!    backup that cannot be read is skipped with a warning (see above); only the live file
//!    the user named must be readable.
//! 6. **Half-written records** are never printed while following (kubelet's behaviour too);
//!    when a followed file is rotated away with an unterminated last record, that record is
//!    skipped and counted. Without follow, an unterminated last record of the live file is
//!    printed without a newline, as kubelet does.
//! 7. **Docker records** are decoded by a hand-written fast path for dockerd's member order
//!    (`log`, `stream`, `time`), falling back to `serde_json` for any other shape. A record
//!    without `stream` is skipped (kubelet aborts the whole read with "unexpected stream
//!    type"); one without `time` gets Go's zero time, as kubelet. Invalid UTF-8 inside a
//!    JSON string is passed through byte-exact by the fast path (Go would substitute U+FFFD;
//!    dockerd never writes it).
//! 8. **Record terminator.** [`LogRecord::content`] never includes the `\n` that ends the
//!    record, for either tag (kubelet keeps it in `F` content and strips it from `P`); the
//!    output is the same.
//! 9. **Truncation while following** (copytruncate) restarts at offset 0; what was written
//!    between the last read and the truncation cannot be recovered. kubelet keeps reading at
//!    the old offset and prints nothing until the file grows past it.
//! 10. **Identity of files while following.** A file read to its end is recognised by its
//!     inode *and* its first 256 bytes: Docker's compressed copy of a backup (`name.1.gz`, a
//!     new inode) or a copytruncate copy is not read twice, and a reused inode number with
//!     other content is read as the new file it is. A new file listed before a file already
//!     known is such a copy (or a file missed earlier) and is not read.

mod decode;
mod emit;
#[cfg(unix)]
mod files;
#[cfg(unix)]
mod follow;
#[cfg(all(test, unix))]
mod in_line_tests;
#[cfg(unix)]
mod line;
mod merge;
mod owned;
mod paths;
#[cfg(unix)]
mod pods;
// The sans-IO record-to-output path; off Unix nothing drives it yet (the file reader is
// Unix-only).
#[cfg_attr(not(unix), allow(dead_code, unused_imports))]
mod pipeline;
#[cfg(unix)]
mod reader;
mod record;
#[cfg(unix)]
mod run;
#[cfg(unix)]
mod source;
#[cfg(unix)]
mod stream;
// Sans-IO too; off Unix only `TailMode` is used (the file reader drives the rest).
#[cfg_attr(not(unix), allow(dead_code))]
mod tail;
#[cfg(test)]
mod tail_tests;
#[cfg(unix)]
mod watch;

use std::io;
#[cfg(unix)]
use std::path::Path;
use std::path::PathBuf;

pub use decode::{CriDecoder, DecoderFactory, DockerJsonDecoder, ReadFormat, RecordDecoder};
pub use emit::{Emitter, Flow, LogSink, MergedSink, OutputOptions, SplitSink};
#[cfg(unix)]
pub use files::{base_log_in_dir, parse_rotation_suffix, rotated_set, LogFile};
#[cfg(unix)]
pub use follow::{FollowPoll, Follower};
#[cfg(unix)]
pub use line::LogLine;
pub use merge::{AssembledLines, Line, LineAssembler, PartialMerger, Piece};
pub use owned::OwnedLogRecord;
pub use paths::{
    parse_restart_file, ContainerLogLink, PodDirName, PodLogPath, PodPathError,
    CONTAINER_LOGS_ROOT, POD_LOGS_ROOT,
};
pub use pipeline::{ReadStats, SkipReason, SkippedLine, MAX_WARNINGS};
#[cfg(unix)]
pub use pods::{
    count_newlines, find_pod, inventory, list_pods, read_containers, stat_container, ContainerDir,
    ContainerKey, ContainerRow, ContainerSource, FileStat, Growth, GrowthSampler, Inventory,
    LinkState, PodDir, PodError, PodList, Problem, Rate,
};
#[cfg(unix)]
pub use reader::{LogReader, ReadOptions};
pub use record::{
    parse_cri_record, parse_docker_record, LogFormat, LogRecord, ParseError, RecordParser,
};
pub use tail::TailMode;

/// Errors of [`LogReader`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// Reading a log file (or its directory) failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Writing output failed.
    #[error("writing output: {0}")]
    Output(#[source] io::Error),
    /// The path does not name a log or a directory with one rotated set.
    #[error("{}: {reason}", path.display())]
    BadPath {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A `.gz` file in the set, without the `gzip` feature.
    #[error("{}: compressed backup needs ctrlog's `gzip` feature", path.display())]
    GzipDisabled {
        /// The file.
        path: PathBuf,
    },
}

/// A file of a set that could not be read, or not to its end: a backup that cannot be
/// opened (permission denied, a symlink, a FIFO or other non-regular file) or a damaged
/// `.gz` backup. The read goes on with the other files; [`LogSink::warning`] is called as it
/// happens and [`ReadStats`] counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileWarning {
    /// The file.
    pub path: PathBuf,
    /// Why it was skipped or cut short (the OS error, or the decoder's).
    pub reason: String,
}

impl std::fmt::Display for FileWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl ReadError {
    #[cfg(unix)]
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        ReadError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

// Test support, not API: compiled only with the internal `__fuzz` feature.
#[cfg(feature = "__fuzz")]
mod fuzz;
#[cfg(all(unix, any(test, feature = "__fuzz")))]
mod recording_sink;
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub use fuzz::{fuzz_cri_record, fuzz_docker_record, fuzz_merge_reader};
