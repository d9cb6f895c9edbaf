//! The std adapter: read a log file or rotated set, with tail, since, limit and follow.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::emit::{Flow, LogSink, OutputOptions};
use super::files::{base_log_in_dir, identity, plain, rotated_set, snapshot, LogFile, Opened};
use super::follow::{head_of_plain, Seen};
use super::pipeline::{Pipeline, ReadStats, SkipReason};
use super::record::RecordParser;
use super::scan::{BackItem, BackScanner, Chunker, Item, Pos, TailCounter, TailMode, NEVER};
use super::watch::Watcher;
use super::ReadError;

/// Options of [`LogReader`] (`kubectl logs` flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Print only the last `n` lines (`--tail`); `None` prints everything.
    pub tail: Option<u64>,
    /// What `tail` counts.
    pub tail_mode: TailMode,
    /// `--since`, `--limit-bytes`, `--timestamps`.
    pub output: OutputOptions,
    /// How often a follower looks for new data, rotation and truncation.
    pub poll_interval: Duration,
    /// Longest physical record kept; longer ones are skipped and counted (memory cap).
    pub max_record_len: usize,
    /// Bytes per read.
    pub read_size: usize,
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
        }
    }
}

/// The currently open file of a set.
#[derive(Debug)]
pub(super) struct Current {
    pub(super) file: File,
    pub(super) path: PathBuf,
    pub(super) num: usize,
    pub(super) chunker: Chunker,
    pub(super) id: (u64, u64),
}

/// Reads one container log, or a rotated set of them oldest to newest, as `kubectl logs`
/// prints it.
///
/// ```no_run
/// use ctrlog::cri::read::{LogReader, ReadOptions, SplitSink};
/// let opts = ReadOptions { tail: Some(10), ..ReadOptions::default() };
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
    /// The set opened at the start of a read (handles survive renames).
    pub(super) opened: Vec<Opened>,
}

impl LogReader {
    /// Opens `path`: a log file (its rotated backups beside it are read first) or a directory
    /// holding one rotated set.
    pub fn open(path: impl AsRef<Path>, opts: ReadOptions) -> Result<Self, ReadError> {
        let named = path.as_ref();
        // The one symlink followed is the path the user named (kubelet's
        // /var/log/containers/*.log links): the set is the one beside its target.
        let (path, meta) = match fs::symlink_metadata(named) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::canonicalize(named).map_err(|e| ReadError::io(named, e))?;
                let m = fs::metadata(&target).map_err(|e| ReadError::io(named, e))?;
                (target, Some(m))
            }
            Ok(m) => (named.to_path_buf(), Some(m)),
            // The live file may be missing while its backups are there.
            Err(e) if e.kind() == io::ErrorKind::NotFound => (named.to_path_buf(), None),
            Err(e) => return Err(ReadError::io(named, e)),
        };
        let missing = meta.is_none();
        let path = match meta {
            Some(m) if m.is_dir() => base_log_in_dir(&path)?,
            _ => path,
        };
        let files = match rotated_set(&path) {
            // Its directory is missing too: the log is.
            Err(ReadError::Io { source, .. })
                if missing && source.kind() == io::ErrorKind::NotFound =>
            {
                Vec::new()
            }
            r => r?,
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
            opened: Vec::new(),
        })
    }

    /// Reads only `path`, ignoring backups beside it.
    pub fn open_single(path: impl AsRef<Path>, opts: ReadOptions) -> Result<Self, ReadError> {
        let path = path.as_ref().to_path_buf();
        fs::metadata(&path).map_err(|e| ReadError::io(&path, e))?;
        let files = vec![LogFile {
            gzip: path.extension().is_some_and(|e| e == "gz"),
            path: path.clone(),
            scheme: None,
        }];
        Ok(LogReader {
            path,
            opts,
            files,
            single: true,
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
        let mut p = self.start(false, sink)?;
        let r = self.run(&mut p, sink, None);
        finish(sink, r, p)
    }

    /// Reads to the end, then keeps reading new records until `stop` is set, following
    /// rotation (rename and recreate) and truncation. Half-written records are never
    /// printed.
    pub fn follow<S: LogSink>(
        &mut self,
        sink: &mut S,
        stop: &AtomicBool,
    ) -> Result<ReadStats, ReadError> {
        let mut p = self.start(true, sink)?;
        let watcher = self.start_watcher()?;
        let r = self.run(&mut p, sink, Some((stop, &watcher)));
        drop(watcher);
        finish(sink, r, p)
    }

    /// Opens the set now (a writer may have rotated since [`LogReader::open`]). A backup
    /// that cannot be opened is reported to `sink` and left out; the live file is the one
    /// the user named: it failing is an error.
    fn open_files<S: LogSink>(&mut self, p: &mut Pipeline, sink: &mut S) -> Result<(), ReadError> {
        if self.single {
            let f = self.files[0].clone();
            let h = File::open(&f.path).map_err(|e| ReadError::io(&f.path, e))?;
            let id = identity(&h).map_err(|e| ReadError::io(&f.path, e))?;
            self.opened = vec![(f, h, id)];
        } else {
            let snap = snapshot(&self.path)?;
            for (f, e) in snap.problems {
                if f.scheme.is_none() {
                    return Err(ReadError::io(&f.path, e));
                }
                p.warn(&f.path, &e, sink);
            }
            self.opened = snap.files;
            if self.opened.is_empty() {
                return Err(ReadError::io(
                    &self.path,
                    io::Error::new(io::ErrorKind::NotFound, "no such log file"),
                ));
            }
            self.files = self.opened.iter().map(|o| o.0.clone()).collect();
        }
        Ok(())
    }

    fn plain_file(&self, num: usize) -> Result<File, ReadError> {
        let (f, h, _) = &self.opened[num];
        let h = h.try_clone().map_err(|e| ReadError::io(&f.path, e))?;
        plain(h, f)
    }

    fn start<S: LogSink>(
        &mut self,
        follow: bool,
        sink: &mut S,
    ) -> Result<(Pipeline, Pos), ReadError> {
        let mut p = Pipeline::new(self.opts.output);
        self.open_files(&mut p, sink)?;
        let mut start = (0, 0);
        if let Some(n) = self.opts.tail {
            let mut starts = self.tail_starts(n)?;
            start = starts[0].min(starts[1]);
            // A stream with no kept line starts at the end of the set (new records while
            // following are kept).
            let last = self.files.len() - 1;
            let end = match self.opened[last].1.metadata() {
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
        Ok((p, start))
    }

    fn tail_starts(&self, n: u64) -> Result<[Pos; 2], ReadError> {
        let mut t = TailCounter::new(n, self.opts.tail_mode);
        let mut parser = RecordParser::new();
        for num in (0..self.files.len()).rev() {
            if t.done() {
                break;
            }
            let f = &self.files[num];
            let file = self.plain_file(num)?;
            let size = file
                .metadata()
                .map_err(|e| ReadError::io(&f.path, e))?
                .len();
            let block = self.opts.read_size.clamp(16, 64 << 10);
            let mut back = BackScanner::new(&file, size, block, self.opts.max_record_len)
                .map_err(|e| ReadError::io(&f.path, e))?;
            while !t.done() {
                match back.prev().map_err(|e| ReadError::io(&f.path, e))? {
                    None => break,
                    Some(BackItem::Overlong(off)) => t.push(None, (num, off)),
                    Some(BackItem::Line(off, line)) => {
                        let rec = parser.parse(line).ok().map(|(_, r)| (r.stream, r.tag));
                        t.push(rec, (num, off));
                    }
                }
            }
        }
        Ok(t.finish())
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
            let file = self.plain_file(num)?;
            let id = self.opened[num].2;
            let off = if *start == NEVER {
                file.metadata()
                    .map_err(|e| ReadError::io(&f.path, e))?
                    .len()
            } else if num == start.0 {
                start.1
            } else {
                0
            };
            let mut c = Current {
                file,
                path: f.path.clone(),
                num,
                chunker: Chunker::new(off, self.opts.read_size, self.opts.max_record_len),
                id,
            };
            pipe.stats.files_read += 1;
            read_ids.push(Seen {
                id,
                head: head_of_plain(&c.file),
            });
            if drain(pipe, &mut c, sink)? == Flow::LimitReached {
                return Ok(());
            }
            let is_live = num == last && f.scheme.is_none();
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
            .is_some_and(|c| self.files[c.num].scheme.is_some())
        {
            cur = None;
        }
        if let Some(c) = &cur {
            read_ids.retain(|i| i.id != c.id);
        }
        self.follow_loop(pipe, cur, read_ids, watcher, sink, stop)
    }
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

/// Reads and processes every complete line now in the file.
pub(super) fn drain<S: LogSink>(
    pipe: &mut Pipeline,
    c: &mut Current,
    sink: &mut S,
) -> Result<Flow, ReadError> {
    loop {
        loop {
            match c.chunker.next_line() {
                Item::Line(off, line) => {
                    let flow = pipe
                        .line(&c.path, line, (c.num, off), true, sink)
                        .map_err(ReadError::Output)?;
                    if flow == Flow::LimitReached {
                        return Ok(Flow::LimitReached);
                    }
                }
                Item::Overlong(off) => {
                    let path = c.path.clone();
                    pipe.skip(&path, off, SkipReason::Overlong);
                }
                Item::NeedData => break,
            }
        }
        let n = c
            .chunker
            .fill(&c.file)
            .map_err(|e| ReadError::io(&c.path, e))?;
        if n == 0 {
            return Ok(Flow::Continue);
        }
    }
}

/// The unterminated bytes at the end of a file: printed (`print`) or skipped and counted.
pub(super) fn end_fragment<S: LogSink>(
    pipe: &mut Pipeline,
    c: &mut Current,
    sink: &mut S,
    print: bool,
) -> Result<Flow, ReadError> {
    if c.chunker.fragment().is_empty() {
        return Ok(Flow::Continue);
    }
    let off = c.chunker.consumed_off();
    let frag = c.chunker.fragment().to_vec();
    c.chunker.reset(c.chunker.read_off);
    if print {
        return pipe
            .line(&c.path, &frag, (c.num, off), false, sink)
            .map_err(ReadError::Output);
    }
    let path = c.path.clone();
    pipe.skip(&path, off, SkipReason::HalfWritten);
    Ok(Flow::Continue)
}
