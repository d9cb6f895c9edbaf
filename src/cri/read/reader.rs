//! The std adapter: read a log file or rotated set, with tail, since, limit and follow.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::emit::{Flow, LogSink, OutputOptions};
use super::files::{
    base_log_in_dir, list_set, open_ahead, open_as_listed, snapshot, Listed, LogFile,
};
use super::follow::Seen;
use super::pipeline::{Pipeline, ReadStats};
use super::record::RecordParser;
use super::source::{drain, end_fragment, Current};
use super::stream::{read_stream, STDIN};
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
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            tail: None,
            tail_mode: TailMode::Lines,
            output: OutputOptions::default(),
            poll_interval: Duration::from_millis(100),
            max_record_len: 4 << 20,
            read_size: 256 << 10,
            tail_buffer: 64 << 20,
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
        })
    }

    /// The files that will be read, oldest first.
    pub fn files(&self) -> &[LogFile] {
        &self.files
    }

    /// Reads to the end and stops. An unterminated last record is printed as kubelet prints
    /// it (without a newline).
    pub fn read_to<S: LogSink>(&mut self, sink: &mut S) -> Result<ReadStats, ReadError> {
        if self.stream {
            return read_stream(&self.path, &self.opts, sink);
        }
        let (mut p, _) = self.start(false, sink)?;
        let r = self.run(&mut p, sink, None);
        finish(sink, r, p)
    }

    /// Reads to the end, then keeps reading new records until `stop` is set, following
    /// rotation (rename and recreate) and truncation. Half-written records are never
    /// printed. An input that cannot seek (a pipe) is read to its end, as by
    /// [`LogReader::read_to`].
    pub fn follow<S: LogSink>(
        &mut self,
        sink: &mut S,
        stop: &AtomicBool,
    ) -> Result<ReadStats, ReadError> {
        if self.stream {
            // A pipe has no rotation to follow: its end is the end.
            return read_stream(&self.path, &self.opts, sink);
        }
        let (mut p, watcher) = self.start(true, sink)?;
        let r = self.run(&mut p, sink, watcher.as_ref().map(|w| (stop, w)));
        drop(watcher);
        finish(sink, r, p)
    }

    /// Opens the set now (a writer may have rotated since [`LogReader::open`]). A backup
    /// that cannot be opened is reported to `sink` and left out; the live file is the one
    /// the user named: it failing is an error.
    fn open_files<S: LogSink>(&mut self, p: &mut Pipeline, sink: &mut S) -> Result<(), ReadError> {
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
    fn handle_or_warn<S: LogSink>(
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

    fn start<S: LogSink>(
        &mut self,
        follow: bool,
        sink: &mut S,
    ) -> Result<((Pipeline, Pos), Option<Watcher>), ReadError> {
        let mut p = Pipeline::new(self.opts.output);
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
    fn tail_starts<S: LogSink>(
        &self,
        n: u64,
        pipe: &mut Pipeline,
        sink: &mut S,
    ) -> Result<[Pos; 2], ReadError> {
        let mut t = TailCounter::new(n, self.opts.tail_mode);
        let mut parser = RecordParser::new();
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
    fn tail_forward<S: LogSink>(
        &self,
        num: usize,
        t: TailCounter,
        parser: &mut RecordParser,
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
                        let rec = parser.parse(line).ok().map(|(_, r)| (r.stream, r.tag));
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

    fn run<S: LogSink>(
        &mut self,
        p: &mut (Pipeline, Pos),
        sink: &mut S,
        follow: Option<(&AtomicBool, &Watcher)>,
    ) -> Result<(), ReadError> {
        let stop = follow.map(|f| f.0);
        let (pipe, start) = p;
        if *start == NEVER && stop.is_none() {
            return Ok(());
        }
        let last = self.files.len() - 1;
        let first = if *start == NEVER {
            last
        } else {
            start.0.min(last)
        };
        let mut cur: Option<Current> = None;
        let mut read_ids: Vec<Seen> = Vec::new();
        for num in first..=last {
            let f = self.files[num].clone();
            let Some(file) = self.handle_or_warn(num, pipe, sink)? else {
                continue;
            };
            // Read now through `file`: the listing's handle is closed (bounded fds).
            self.opened[num].handle = None;
            let id = self.opened[num].id;
            let off = if *start != NEVER {
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
            let mut c = match Current::new(&f, file, num, id, off, self.line_opts()) {
                Ok(c) => c,
                // The file the user named: an error (a `.gz` without the `gzip` feature).
                Err(e) if f.backup.is_none() => {
                    return Err(if f.gzip && cfg!(not(feature = "gzip")) {
                        ReadError::GzipDisabled { path: f.path }
                    } else {
                        ReadError::io(&f.path, e)
                    });
                }
                Err(e) => {
                    pipe.warn(&f.path, &e, sink);
                    continue;
                }
            };
            pipe.stats.files_read += 1;
            read_ids.push(Seen { id, head: c.head() });
            if drain(pipe, &mut c, sink)? == Flow::LimitReached {
                return Ok(());
            }
            let is_live = num == last && f.backup.is_none();
            if (!is_live || stop.is_none())
                && end_fragment(pipe, &mut c, sink, stop.is_none() && num == last)?
                    == Flow::LimitReached
            {
                return Ok(());
            }
            if num == last {
                cur = Some(c);
            }
        }
        let Some((stop, watcher)) = follow else {
            return Ok(());
        };
        // The last file of the set may be a backup when the live file is missing.
        if cur
            .as_ref()
            .is_some_and(|c| self.files[c.num].backup.is_some())
        {
            cur = None;
        }
        if let Some(c) = &cur {
            read_ids.retain(|i| i.id != c.id);
        }
        self.follow_loop(pipe, cur, read_ids, watcher, sink, stop)
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

fn finish<S: LogSink>(
    sink: &mut S,
    r: Result<(), ReadError>,
    p: (Pipeline, Pos),
) -> Result<ReadStats, ReadError> {
    let flushed = sink.flush().map_err(ReadError::Output);
    r?;
    flushed?;
    Ok(p.0.stats)
}

/// Counts the plain file `file` (number `num`) into `t`, backwards from its end.
fn tail_backward(
    file: &File,
    num: usize,
    t: &mut TailCounter,
    parser: &mut RecordParser,
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
                let rec = parser.parse(line).ok().map(|(_, r)| (r.stream, r.tag));
                t.push(rec, (num, off));
            }
        }
    }
    Ok(())
}
