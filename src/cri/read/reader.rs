//! The std adapter: read a log file or rotated set, with tail, since, limit and follow.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::decode::{AnyDecoder, ReadFormat, RecordDecoder};
use super::emit::{LogSink, OutputOptions};
use super::files::{
    base_log_in_dir, list_set, open_ahead, open_as_listed, snapshot, Listed, LogFile,
};
use super::follow::FollowCore;
#[cfg(doc)]
use super::follow::Follower;
use super::line::{Lines, LogLine};
use super::pipeline::{Go, Out, Pipeline, ReadStats};
use super::run::Run;
use super::source::Current;
use super::stream::{start_stream, STDIN};
use super::tail::{ForwardTail, TailCounter, TailMode};
use super::tail::{Pos, NEVER};
use super::watch::Watcher;
use super::ReadError;
use crate::lines::{BackScanner, LineItem};
use crate::regular::FileId;
use crate::regular::{open_read, Symlinks};

/// Options of [`LogReader`] (`kubectl logs` flags). `Default` is `kubectl logs` without
/// flags; set fields on it by assignment (the crate's [conventions](crate#conventions)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Print only the last `n` lines (`--tail`); `None` prints everything.
    pub tail: Option<u64>,
    /// What `tail` counts.
    pub tail_mode: TailMode,
    /// `--since`, `--limit-bytes`, `--timestamps`.
    pub output: OutputOptions,
    /// Following: the longest wait between two looks at the stop flag, how often the set is
    /// listed again (the only way to see changes without inotify: not Linux, or inotify
    /// unavailable), and how long a writer may still append to a file rotated away before
    /// it is finished and closed. With inotify, new data and new files are seen at once.
    pub poll_interval: Duration,
    /// Memory cap per record: a physical record of this many bytes or more (its newline not
    /// counted) is skipped and counted in [`ReadStats::skipped`], whatever the read size.
    pub max_record_len: usize,
    /// Structured lines ([`LogReader::next_line`], [`Follower`]): a logical line is handed
    /// out in parts (each not [`complete`](LogLine::complete)) once a part holds this many
    /// bytes, cut where a record ends, so memory per stream is at most this plus one record
    /// (1 MiB by default). The byte output streams lines of any length and ignores it.
    pub max_line_len: usize,
    /// Bytes per read.
    pub read_size: usize,
    /// `tail` on an input that cannot seek (a pipe, `-`): the most bytes of records kept in
    /// memory for the lines that may be among the last N (64 MiB by default; never less than
    /// `max_record_len`). A file is tailed by reading it backwards, whole lines of any
    /// length at no memory cost (as kubelet does); a pipe must be read to its end first.
    /// A logical line that does not fit is left out whole (never printed cut), counted in
    /// [`ReadStats::skipped`] with [`SkipReason::TailBuffer`](super::SkipReason::TailBuffer),
    /// and reported by [`LogSink::warning`].
    pub tail_buffer: usize,
    /// The record format: CRI or Docker json-file decided per line (the default), one of
    /// them only, or a custom [`RecordDecoder`](super::RecordDecoder) ([`ReadFormat`]).
    pub format: ReadFormat,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            tail: None,
            tail_mode: TailMode::Lines,
            output: OutputOptions::default(),
            poll_interval: Duration::from_millis(100),
            max_record_len: 4 << 20,
            max_line_len: 1 << 20,
            read_size: 256 << 10,
            tail_buffer: 64 << 20,
            format: ReadFormat::Auto,
        }
    }
}

/// Reads one container log, or a rotated set of them oldest to newest, as `kubectl logs`
/// prints it.
///
/// ```no_run
/// use ctrlog::cri::read::{LogReader, ReadOptions, SplitSink};
/// let mut opts = ReadOptions::default();
/// opts.tail = Some(10);
/// let mut reader = LogReader::open("/var/log/pods/ns_pod_uid/app/0.log", opts)?;
/// let mut sink = SplitSink { stdout: std::io::stdout().lock(), stderr: std::io::stderr().lock() };
/// let stats = reader.read_to(&mut sink)?;
/// eprintln!("{} lines, {} garbage lines skipped", stats.lines_out, stats.skipped);
/// # Ok::<(), ctrlog::cri::read::ReadError>(())
/// ```
#[derive(Debug)]
pub struct LogReader {
    pub(super) path: PathBuf,
    pub(super) opts: ReadOptions,
    pub(super) files: Vec<LogFile>,
    single: bool,
    /// `path` cannot seek (stdin, a FIFO, a device): read forwards only.
    stream: bool,
    /// The set listed at the start of a read, the newest files opened with the listing
    /// (handles survive renames), older ones opened when read.
    pub(super) opened: Vec<Listed>,
    /// The read [`LogReader::next_line`] is doing.
    pull: Option<Box<Pull>>,
}

/// A read driven by [`LogReader::next_line`], between two calls.
#[derive(Debug)]
struct Pull {
    run: Run,
    lines: Lines,
}

impl LogReader {
    /// Opens `path`: a log file (its rotated backups beside it are read first), a directory
    /// holding one rotated set, or an input that cannot seek (`-` for standard input, a FIFO,
    /// `/dev/stdin` when it is a pipe), which is read forwards only. A character or block
    /// device or a socket is refused ([`ReadError::BadPath`], "is a character device, not a
    /// log file"); `-` reads standard input whatever it is.
    pub fn open(path: impl AsRef<Path>, opts: ReadOptions) -> Result<Self, ReadError> {
        let named = path.as_ref();
        if named == Path::new(STDIN) {
            return Ok(Self::stream(named, opts));
        }
        // The one symlink followed is the path the user named (kubelet's
        // /var/log/containers/*.log links): the set is the one beside its target.
        let (path, meta) = match fs::symlink_metadata(named) {
            Ok(m) if m.file_type().is_symlink() => {
                let m = fs::metadata(named).map_err(|e| ReadError::io(named, e))?;
                refuse_non_log(named, &m)?;
                if !m.is_file() && !m.is_dir() {
                    // /dev/stdin, a link to a FIFO: no set, and /proc's links to pipes do
                    // not canonicalize.
                    return Ok(Self::stream(named, opts));
                }
                let target = fs::canonicalize(named).map_err(|e| ReadError::io(named, e))?;
                (target, Some(m))
            }
            Ok(m) => (named.to_path_buf(), Some(m)),
            // The live file may be missing while its backups are there.
            Err(e) if e.kind() == io::ErrorKind::NotFound => (named.to_path_buf(), None),
            Err(e) => return Err(ReadError::io(named, e)),
        };
        if let Some(m) = &meta {
            refuse_non_log(&path, m)?;
            if !m.is_file() && !m.is_dir() {
                return Ok(Self::stream(&path, opts));
            }
        }
        let missing = meta.is_none();
        let path = match meta {
            Some(m) if m.is_dir() => base_log_in_dir(&path)?,
            _ => path,
        };
        // A directory that cannot be listed is reported when the set is read.
        let files = match list_set(&path) {
            // Its directory is missing too: the log is.
            Err(ReadError::Io { source, .. })
                if missing && source.kind() == io::ErrorKind::NotFound =>
            {
                Vec::new()
            }
            r => r?.0,
        };
        if files.is_empty() {
            return Err(ReadError::io(
                &path,
                io::Error::new(io::ErrorKind::NotFound, "no such log file"),
            ));
        }
        Ok(LogReader {
            path,
            opts,
            files,
            single: false,
            stream: false,
            opened: Vec::new(),
            pull: None,
        })
    }

    /// A reader of an input that cannot seek.
    fn stream(path: &Path, opts: ReadOptions) -> Self {
        LogReader {
            path: path.to_path_buf(),
            opts,
            files: vec![LogFile {
                path: path.to_path_buf(),
                backup: None,
                gzip: false,
            }],
            single: true,
            stream: true,
            opened: Vec::new(),
            pull: None,
        }
    }

    /// Reads only `path`, ignoring backups beside it. `-` is standard input.
    pub fn open_single(path: impl AsRef<Path>, opts: ReadOptions) -> Result<Self, ReadError> {
        let path = path.as_ref().to_path_buf();
        if path == Path::new(STDIN) {
            return Ok(Self::stream(&path, opts));
        }
        let meta = fs::metadata(&path).map_err(|e| ReadError::io(&path, e))?;
        refuse_non_log(&path, &meta)?;
        if !meta.is_file() && !meta.is_dir() {
            return Ok(Self::stream(&path, opts));
        }
        let files = vec![LogFile {
            gzip: path.extension().is_some_and(|e| e == "gz"),
            path: path.clone(),
            backup: None,
        }];
        Ok(LogReader {
            path,
            opts,
            files,
            single: true,
            stream: false,
            opened: Vec::new(),
            pull: None,
        })
    }

    /// The files that will be read, oldest first.
    pub fn files(&self) -> &[LogFile] {
        &self.files
    }

    /// Reads to the end and stops (or until the sink stops it, [`LogSink::line_end`]). An
    /// unterminated last record is printed as kubelet prints it (without a newline).
    pub fn read_to<S: LogSink>(&mut self, sink: &mut S) -> Result<ReadStats, ReadError> {
        let mut run = self.begin(false, sink)?.0;
        let r = run.step(self, sink).map(|_| ());
        finish(sink, r, run.pipe)
    }

    /// The next logical line, into `line` (its buffers reused: no allocation per line once
    /// they have grown); `false` at the end of the read. The same read as
    /// [`LogReader::read_to`], with the same `--tail`, `since` and `limit_bytes`; per stream,
    /// the lines' contents, each followed by `\n` when [`LogLine::complete`], are exactly the
    /// bytes `read_to` gives a [`SplitSink`](super::SplitSink) without `timestamps`.
    ///
    /// The line carries its time ([`LogLine::timestamp`], [`LogLine::utc_offset`]):
    /// formatting it is the caller's, so [`OutputOptions::timestamps`] and
    /// [`OutputOptions::timestamp_offset`] do not apply, and `limit_bytes` counts content
    /// and newlines only (as `read_to` counts them without `timestamps`). Lines are handed
    /// out when they end: see [`LogLine`] for the order and the parts of a line longer than
    /// [`ReadOptions::max_line_len`]. A backup that cannot be read is skipped and reported
    /// in [`LogReader::stats`], as `read_to` reports it; an error ends the read (the next
    /// call returns `false`).
    ///
    /// ```
    /// use ctrlog::cri::read::{LogLine, LogReader, ReadOptions};
    /// use ctrlog::time::format_rfc3339nano;
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("0.log");
    /// std::fs::write(&path, "2024-01-01T00:00:00Z stdout F a\n\
    ///                        2024-01-01T00:00:01+01:00 stdout F b\n")?;
    /// let mut opts = ReadOptions::default();
    /// opts.tail = Some(1);
    /// let mut reader = LogReader::open(&path, opts)?;
    /// let mut line = LogLine::new();
    /// let mut out = Vec::new();
    /// while reader.next_line(&mut line)? {
    ///     // The record's own zone, as `--timestamps` prints it.
    ///     format_rfc3339nano(line.timestamp(), line.offset_zone(), &mut out);
    ///     out.push(b' ');
    ///     out.extend_from_slice(line.content());
    ///     out.push(b'\n');
    /// }
    /// assert_eq!(out, b"2024-01-01T00:00:01+01:00 b\n");
    /// assert_eq!(reader.stats().unwrap().lines_out, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_line(&mut self, line: &mut LogLine) -> Result<bool, ReadError> {
        let mut pull = match self.pull.take() {
            Some(p) => p,
            None => {
                let mut lines = Lines::new(self.opts.max_line_len);
                let run = match self.begin(false, &mut lines) {
                    Ok((run, _)) => run,
                    Err(e) => {
                        // Nothing more after an error.
                        let run = Run::new(
                            Pipeline::new(self.opts.output, self.opts.format.decoder()),
                            NEVER,
                            false,
                        );
                        self.pull = Some(Box::new(Pull { run, lines }));
                        return Err(e);
                    }
                };
                Box::new(Pull { run, lines })
            }
        };
        let r = loop {
            if pull.lines.take(line) {
                break Ok(true);
            }
            match pull.run.step(self, &mut pull.lines) {
                Ok(Go::Pause) => {}
                // Over: the lines left open come out too (not complete).
                Ok(_) if !pull.lines.finished => pull.lines.finish(),
                Ok(_) => break Ok(false),
                Err(e) => {
                    pull.lines.finish();
                    break Err(e);
                }
            }
        };
        self.pull = Some(pull);
        r
    }

    /// What [`LogReader::next_line`] read so far (`None` before its first call): records,
    /// lines, skipped records and files (with their warnings).
    pub fn stats(&self) -> Option<&ReadStats> {
        self.pull.as_ref().map(|p| &p.run.pipe.stats)
    }

    /// Reads to the end, then keeps reading new records until `stop` is set (or the sink
    /// stops it), following rotation (rename and recreate) and truncation. Half-written
    /// records are never printed. An input that cannot seek (a pipe) is read to its end,
    /// as by [`LogReader::read_to`]. A loop over the step [`Follower::poll_lines`] takes,
    /// waiting for the watcher between steps.
    pub fn follow<S: LogSink>(
        &mut self,
        sink: &mut S,
        stop: &AtomicBool,
    ) -> Result<ReadStats, ReadError> {
        let (run, watcher) = self.begin(true, sink)?;
        let mut core = FollowCore::new(run, watcher);
        let r = core.run_until(self, sink, stop);
        let pipe = core.into_pipeline();
        finish(sink, r, pipe)
    }

    /// Starts a read: the set opened and `--tail` found (an input that cannot seek opened,
    /// and for `--tail` read to its end); following, the watcher started first.
    pub(super) fn begin<S: Out>(
        &mut self,
        follow: bool,
        sink: &mut S,
    ) -> Result<(Run, Option<Watcher>), ReadError> {
        if self.stream {
            // A pipe has no rotation to follow: its end is the end.
            let mut p = Pipeline::new(self.opts.output, self.opts.format.decoder());
            let (c, replay) = start_stream(&self.path, &self.opts, &mut p, sink)?;
            return Ok((Run::stream(p, c, replay), None));
        }
        let ((p, start), watcher) = self.start(follow, sink)?;
        Ok((Run::new(p, start, follow), watcher))
    }

    /// Opens the set now (a writer may have rotated since [`LogReader::open`]). A backup
    /// that cannot be opened is reported to `sink` and left out; the live file is the one
    /// the user named: it failing is an error.
    fn open_files<S: Out>(&mut self, p: &mut Pipeline, sink: &mut S) -> Result<(), ReadError> {
        if self.single {
            let f = self.files[0].clone();
            // Classified when the reader was made, opened again now: whatever is there by
            // now (a FIFO would block `open(2)`, `/dev/zero` be read for ever) must be a
            // regular file.
            let h = open_read(&f.path, Symlinks::Follow)
                .map_err(|e| ReadError::io(&f.path, e.into()))?;
            let id = FileId::of_file(&h).map_err(|e| ReadError::io(&f.path, e))?;
            self.opened = vec![Listed {
                file: f,
                id,
                mtime: (0, 0),
                handle: Some(h),
            }];
        } else {
            let snap = snapshot(&self.path, open_ahead())?;
            if let Some((dir, e)) = &snap.list_error {
                p.warn(dir, e, sink);
            }
            self.opened = snap.files;
            if self.opened.is_empty() {
                return Err(ReadError::io(
                    &self.path,
                    io::Error::new(io::ErrorKind::NotFound, "no such log file"),
                ));
            }
            self.files = self.opened.iter().map(|o| o.file.clone()).collect();
        }
        Ok(())
    }

    /// (read size, record cap) for a [`Current`].
    pub(super) fn line_opts(&self) -> (usize, usize) {
        (self.opts.read_size, self.opts.max_record_len)
    }

    /// A handle on file `num` of the set, to read it: a second handle on one opened with the
    /// listing, else the file opened now (found again if a rotation renamed it).
    fn handle(&self, num: usize) -> io::Result<File> {
        let l = &self.opened[num];
        match &l.handle {
            Some(h) => h.try_clone(),
            None => open_as_listed(&self.path, l),
        }
    }

    /// [`LogReader::handle`]; a backup that cannot be opened is reported to `sink` (`None`),
    /// the live file failing is an error.
    fn handle_or_warn<S: Out>(
        &self,
        num: usize,
        pipe: &mut Pipeline,
        sink: &mut S,
    ) -> Result<Option<File>, ReadError> {
        let f = &self.opened[num].file;
        match self.handle(num) {
            Ok(h) => Ok(Some(h)),
            Err(e) if f.backup.is_none() => Err(ReadError::io(&f.path, e)),
            Err(e) => {
                pipe.warn(&f.path, &e, sink);
                Ok(None)
            }
        }
    }

    fn start<S: Out>(
        &mut self,
        follow: bool,
        sink: &mut S,
    ) -> Result<((Pipeline, Pos), Option<Watcher>), ReadError> {
        let mut p = Pipeline::new(self.opts.output, self.opts.format.decoder());
        self.open_files(&mut p, sink)?;
        // Following: the watch (and its count of new files) starts right after the listing,
        // before the tail scan, so that files created and pruned meanwhile are not lost
        // unreported.
        let watcher = if follow {
            Some(self.start_watcher()?)
        } else {
            None
        };
        let mut start = (0, 0);
        if let Some(n) = self.opts.tail {
            let mut starts = self.tail_starts(n, &mut p, sink)?;
            start = starts[0].min(starts[1]);
            // A stream with no kept line starts at the end of the set (new records while
            // following are kept).
            let last = self.files.len() - 1;
            let end = match self.handle(last).and_then(|h| h.metadata()) {
                Ok(m) if !self.files[last].gzip => m.len(),
                _ => u64::MAX,
            };
            for s in &mut starts {
                if *s == NEVER {
                    *s = (last, end);
                }
            }
            p.stream_start = starts;
            if self.opts.tail_mode == TailMode::Records && !follow {
                p.max_records = Some(n);
            }
        }
        Ok(((p, start), watcher))
    }

    /// Where the last `n` lines start: the set is read newest first and only as far back as
    /// needed; a plain file backwards from its end, a `.gz` forwards through its decoder
    /// with a bounded `ForwardTail`. A backup that cannot be read is a warning.
    fn tail_starts<S: Out>(
        &self,
        n: u64,
        pipe: &mut Pipeline,
        sink: &mut S,
    ) -> Result<[Pos; 2], ReadError> {
        let mut t = TailCounter::new(n, self.opts.tail_mode);
        let mut parser = self.opts.format.decoder();
        for num in (0..self.files.len()).rev() {
            if t.done() {
                break;
            }
            let f = &self.files[num];
            if f.gzip {
                t = self.tail_forward(num, t, &mut parser, pipe, sink)?;
                continue;
            }
            let Some(file) = self.handle_or_warn(num, pipe, sink)? else {
                continue;
            };
            if let Err(e) = tail_backward(&file, num, &mut t, &mut parser, &self.opts) {
                if f.backup.is_none() {
                    return Err(ReadError::io(&f.path, e));
                }
                pipe.warn(&f.path, &e, sink);
            }
        }
        Ok(t.finish())
    }

    /// Counts file `num` (read forwards: a `.gz`) into `t`.
    fn tail_forward<S: Out>(
        &self,
        num: usize,
        t: TailCounter,
        parser: &mut AnyDecoder,
        pipe: &mut Pipeline,
        sink: &mut S,
    ) -> Result<TailCounter, ReadError> {
        let Some(handle) = self.handle_or_warn(num, pipe, sink)? else {
            return Ok(t);
        };
        let Listed { file: f, id, .. } = &self.opened[num];
        let mut c = match Current::new(f, handle, num, *id, 0, self.line_opts()) {
            Ok(c) => c,
            Err(e) => {
                pipe.warn(&f.path, &e, sink);
                return Ok(t);
            }
        };
        let mut ft = ForwardTail::new(t);
        loop {
            loop {
                match c.line_buf.next_line() {
                    Some(LineItem::Line {
                        offset: off,
                        bytes: line,
                    }) => {
                        let rec = parser.decode(line).ok().map(|r| (r.stream, r.tag));
                        ft.push((num, off), rec);
                    }
                    Some(LineItem::Overlong { offset: off, .. }) => ft.push((num, off), None),
                    None => break,
                }
            }
            match c.fill() {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    pipe.warn(&f.path, &e, sink);
                    break;
                }
            }
        }
        Ok(ft.finish())
    }

    /// File `num` of the set opened to read from where `start` says, or `None` when it is
    /// a backup that cannot be read (reported to `sink`); the live file the user named
    /// failing is an error.
    pub(super) fn open_for_run<S: Out>(
        &mut self,
        num: usize,
        start: Pos,
        pipe: &mut Pipeline,
        sink: &mut S,
    ) -> Result<Option<Current>, ReadError> {
        let f = self.files[num].clone();
        let Some(file) = self.handle_or_warn(num, pipe, sink)? else {
            return Ok(None);
        };
        // Read now through `file`: the listing's handle is closed (bounded fds).
        self.opened[num].handle = None;
        let id = self.opened[num].id;
        let off = if start != NEVER {
            if num == start.0 {
                start.1
            } else {
                0
            }
        } else if f.gzip {
            u64::MAX
        } else {
            file.metadata()
                .map_err(|e| ReadError::io(&f.path, e))?
                .len()
        };
        match Current::new(&f, file, num, id, off, self.line_opts()) {
            Ok(c) => Ok(Some(c)),
            // The file the user named: an error (a `.gz` without the `gzip` feature).
            Err(e) if f.backup.is_none() => Err(if f.gzip && cfg!(not(feature = "gzip")) {
                ReadError::GzipDisabled { path: f.path }
            } else {
                ReadError::io(&f.path, e)
            }),
            Err(e) => {
                pipe.warn(&f.path, &e, sink);
                Ok(None)
            }
        }
    }
}

/// A named path that can never be a log: a character or block device (`/dev/zero` would be
/// read for ever) or a socket. A FIFO or a pipe (`/dev/stdin` when standard input is one) is
/// read forwards on purpose; `-` is standard input whatever it is (`cat` reads a terminal
/// too), while `/dev/stdin` is judged by what it names, so a terminal or `/dev/null` there
/// is refused with a hint.
fn refuse_non_log(path: &Path, m: &fs::Metadata) -> Result<(), ReadError> {
    use std::os::unix::fs::FileTypeExt;
    let ft = m.file_type();
    if !(ft.is_char_device() || ft.is_block_device() || ft.is_socket()) {
        return Ok(());
    }
    let hint = if path.starts_with("/dev/stdin")
        || path.starts_with("/dev/fd")
        || path.starts_with("/proc/self/fd")
    {
        " (use `-` to read standard input whatever it is)"
    } else {
        ""
    };
    Err(ReadError::BadPath {
        path: path.to_path_buf(),
        reason: format!("is {}, not a log file{hint}", crate::regular::kind_name(ft)),
    })
}

fn finish<S: Out>(
    sink: &mut S,
    r: Result<(), ReadError>,
    p: Pipeline,
) -> Result<ReadStats, ReadError> {
    let flushed = sink.flush().map_err(ReadError::Output);
    r?;
    flushed?;
    Ok(p.stats)
}

/// Counts the plain file `file` (number `num`) into `t`, backwards from its end.
fn tail_backward(
    file: &File,
    num: usize,
    t: &mut TailCounter,
    parser: &mut AnyDecoder,
    opts: &ReadOptions,
) -> io::Result<()> {
    let size = file.metadata()?.len();
    let block = opts.read_size.clamp(16, 64 << 10);
    let mut back = BackScanner::new(file, size, block, opts.max_record_len)?;
    while !t.done() {
        match back.prev()? {
            None => break,
            Some(LineItem::Overlong { offset: off, .. }) => t.push(None, (num, off)),
            Some(LineItem::Line {
                offset: off,
                bytes: line,
            }) => {
                let rec = parser.decode(line).ok().map(|r| (r.stream, r.tag));
                t.push(rec, (num, off));
            }
        }
    }
    Ok(())
}
