//! The std adapter: read a log file or rotated set, with tail, since, limit and follow.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::emit::{Emitter, Flow, LogSink, OutputOptions};
use super::files::{base_log_in_dir, identity, plain, rotated_set, snapshot, LogFile, Opened};
use super::follow::{head_of_plain, Seen};
use super::merge::{idx, PartialMerger};
use super::record::{ParseError, RecordParser};
use super::scan::{BackItem, BackScanner, Chunker, Item, Pos, TailCounter, TailMode, NEVER};
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

/// What a read did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Records parsed.
    pub records: u64,
    /// Lines skipped because they are not records (garbage, empty, overlong, half-written
    /// at the end of a rotated file).
    pub skipped: u64,
    /// The first skipped line: file, offset and why (`None` for overlong/half-written).
    pub first_skipped: Option<(PathBuf, u64, Option<ParseError>)>,
    /// Logical lines started in the output.
    pub lines_out: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// `limit_bytes` was reached.
    pub limit_reached: bool,
    /// Files read (including ones found by following rotations).
    pub files_read: u64,
    /// Rotations followed.
    pub rotations: u64,
    /// Truncations seen while following.
    pub truncations: u64,
}

/// Records -> merged pieces -> output, with the tail cut-off per stream.
#[derive(Debug)]
pub(crate) struct Pipeline {
    parser: RecordParser,
    merger: PartialMerger,
    emitter: Emitter,
    stream_start: [Pos; 2],
    /// kubelet's record-count limit in `TailMode::Records` without follow.
    max_records: Option<u64>,
    pub stats: ReadStats,
}

impl Pipeline {
    pub(crate) fn new(output: OutputOptions) -> Self {
        Pipeline {
            parser: RecordParser::new(),
            merger: PartialMerger::new(),
            emitter: Emitter::new(output),
            stream_start: [(0, 0); 2],
            max_records: None,
            stats: ReadStats::default(),
        }
    }

    pub(super) fn skip(&mut self, path: &Path, off: u64, why: Option<ParseError>) {
        self.stats.skipped += 1;
        if self.stats.first_skipped.is_none() {
            self.stats.first_skipped = Some((path.to_path_buf(), off, why));
        }
    }

    /// One physical line. `terminated` is false for an unterminated last record.
    #[inline]
    pub(crate) fn line<S: LogSink>(
        &mut self,
        path: &Path,
        line: &[u8],
        pos: Pos,
        terminated: bool,
        sink: &mut S,
    ) -> io::Result<Flow> {
        let rec = match self.parser.parse(line) {
            Ok((_, r)) => r,
            Err(e) => {
                self.skip(path, pos.1, Some(e));
                return Ok(Flow::Continue);
            }
        };
        if pos < self.stream_start[idx(rec.stream)] {
            return Ok(Flow::Continue);
        }
        self.stats.records += 1;
        if let Some(m) = &mut self.max_records {
            if *m == 0 {
                return Ok(Flow::LimitReached);
            }
            *m -= 1;
        }
        let piece = self.merger.push(&rec);
        let flow = self.emitter.emit(&piece, terminated, sink)?;
        self.stats.lines_out = self.emitter.lines_out;
        self.stats.bytes_out = self.emitter.bytes_out;
        if flow == Flow::LimitReached && self.emitter.exhausted() {
            self.stats.limit_reached = true;
        }
        Ok(flow)
    }

    /// Feeds a whole in-memory log (sans-IO entry point; used by the fuzz target and tests).
    pub(crate) fn feed_bytes<S: LogSink>(&mut self, data: &[u8], sink: &mut S) -> io::Result<()> {
        let path = Path::new("<memory>");
        let mut off = 0usize;
        while off < data.len() {
            let (line, terminated) = match memchr::memchr(b'\n', &data[off..]) {
                Some(i) => (&data[off..off + i + 1], true),
                None => (&data[off..], false),
            };
            let flow = self.line(path, line, (0, off as u64), terminated, sink)?;
            off += line.len();
            if flow == Flow::LimitReached {
                break;
            }
        }
        Ok(())
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
    opened: Vec<Opened>,
}

impl LogReader {
    /// Opens `path`: a log file (its rotated backups beside it are read first) or a directory
    /// holding one rotated set.
    pub fn open(path: impl AsRef<Path>, opts: ReadOptions) -> Result<Self, ReadError> {
        let path = path.as_ref();
        let meta = fs::metadata(path);
        let path = match meta {
            Ok(m) if m.is_dir() => base_log_in_dir(path)?,
            _ => path.to_path_buf(),
        };
        let files = match rotated_set(&path) {
            Err(_) if !path.exists() => Vec::new(),
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
        let mut p = self.start(false)?;
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
        let mut p = self.start(true)?;
        let r = self.run(&mut p, sink, Some(stop));
        finish(sink, r, p)
    }

    /// Opens the set now (a writer may have rotated since [`LogReader::open`]).
    fn open_files(&mut self) -> Result<(), ReadError> {
        if self.single {
            let f = self.files[0].clone();
            let h = File::open(&f.path).map_err(|e| ReadError::io(&f.path, e))?;
            let id = identity(&h).map_err(|e| ReadError::io(&f.path, e))?;
            self.opened = vec![(f, h, id)];
        } else {
            self.opened = snapshot(&self.path)?;
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

    fn start(&mut self, follow: bool) -> Result<(Pipeline, Pos), ReadError> {
        self.open_files()?;
        let mut p = Pipeline::new(self.opts.output);
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
        stop: Option<&AtomicBool>,
    ) -> Result<(), ReadError> {
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
        let Some(stop) = stop else { return Ok(()) };
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
        self.follow_loop(pipe, cur, read_ids, sink, stop)
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
                    pipe.skip(&path, off, None);
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
    pipe.skip(&path, off, None);
    Ok(Flow::Continue)
}
