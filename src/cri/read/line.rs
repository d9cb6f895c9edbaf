//! Structured lines: [`LogLine`] (what [`LogReader::next_line`](super::LogReader::next_line)
//! and [`Follower::poll_lines`](super::Follower::poll_lines) fill) and the collector that
//! builds them from the same pieces the byte output writes.
//!
//! One producer, two outputs: the pipeline (parse, merge `P` pieces, `--tail`, `since`,
//! `limit_bytes`) hands each piece to an output. The byte sinks ([`LogSink`]) get the
//! piece's bytes at once, prefix and newline included; [`Lines`] appends them to the open
//! line of their stream and hands the line out when it ends. Both apply `since` and
//! `limit_bytes` through the same [`Emitter`] rules, so per stream the concatenation of
//! the lines' contents, each followed by `\n` when [`LogLine::complete`], is exactly what
//! [`SplitSink`](super::SplitSink) receives without `timestamps`.
//!
//! # Limits
//! * A logical line longer than [`ReadOptions::max_line_len`](super::ReadOptions::max_line_len)
//!   (many `P` pieces) is handed out in parts, each marked not complete, cut where a record
//!   ends once the part holds that many bytes: memory per stream is at most that plus one
//!   record.
//! * The read runs ahead of the caller by a batch: up to 64 ended lines or 64 KiB of them
//!   (more for one longer line) are held before `next_line` returns, so that pausing the
//!   read costs little per line.
//! * Lines are handed out when they end, so a stderr line that ends between two pieces of a
//!   stdout line comes out before it (the byte output interleaves their pieces).

use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::cri::Stream;
use crate::time::{Offset, Timestamp};

use super::emit::{Emitter, Span};
use super::merge::Piece;
use super::pipeline::{Go, Out, Src};
use super::FileWarning;

/// One logical line of a log, owned: filled again by each call of
/// [`LogReader::next_line`](super::LogReader::next_line), reusing its buffers (as csv's
/// `read_record` does), so a pull loop allocates nothing per line.
///
/// ```
/// use ctrlog::cri::read::{LogLine, LogReader, ReadOptions};
/// use ctrlog::cri::Stream;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("0.log");
/// std::fs::write(&path, "2024-01-01T00:00:00+02:00 stdout P hel\n\
///                        2024-01-01T00:00:01Z stderr F oops\n\
///                        2024-01-01T00:00:02Z stdout F lo\n")?;
/// let mut reader = LogReader::open(&path, ReadOptions::default())?;
/// let mut line = LogLine::new();
/// let mut got = Vec::new();
/// while reader.next_line(&mut line)? {
///     got.push((line.stream(), line.content().to_vec(), line.utc_offset(), line.offset()));
/// }
/// // Lines come out when they end: stderr's first.
/// assert_eq!(got, [
///     (Stream::Stderr, b"oops".to_vec(), 0, 39),
///     (Stream::Stdout, b"hello".to_vec(), 7200, 0),
/// ]);
/// assert!(line.complete());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(into = "LineRepr", from = "LineRepr")
)]
#[non_exhaustive]
pub struct LogLine {
    stream: Stream,
    timestamp: Timestamp,
    utc_offset: i32,
    content: Vec<u8>,
    complete: bool,
    file: usize,
    /// Shared by the lines of a file: set by a pointer copy, compared by address.
    path: Option<Arc<Path>>,
    offset: u64,
}

impl Default for LogLine {
    fn default() -> Self {
        Self::new()
    }
}

impl LogLine {
    /// An empty line, to pass to [`LogReader::next_line`](super::LogReader::next_line).
    pub fn new() -> Self {
        LogLine {
            stream: Stream::Stdout,
            timestamp: Timestamp::default(),
            utc_offset: 0,
            content: Vec::new(),
            complete: false,
            file: 0,
            path: None,
            offset: 0,
        }
    }

    /// Its stream.
    pub fn stream(&self) -> Stream {
        self.stream
    }

    /// The timestamp of its first record (what `--timestamps` prints).
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// The zone offset its first record's timestamp was written with, in seconds east of
    /// UTC (as [`ParsedTime::utc_offset`](crate::time::ParsedTime::utc_offset)).
    pub fn utc_offset(&self) -> i32 {
        self.utc_offset
    }

    /// That zone as an [`Offset`], to format the time as it was written
    /// ([`format_rfc3339nano`](crate::time::format_rfc3339nano)).
    pub fn offset_zone(&self) -> Offset {
        Offset::east(self.utc_offset)
    }

    /// Its bytes, without a newline (the records' contents joined).
    pub fn content(&self) -> &[u8] {
        &self.content
    }

    /// Its bytes, to take or reuse (the next call of `next_line` clears it first).
    pub fn content_mut(&mut self) -> &mut Vec<u8> {
        &mut self.content
    }

    /// Whether the line ended with an `F` record and its newline is output. `false` for a
    /// part of a line longer than
    /// [`ReadOptions::max_line_len`](super::ReadOptions::max_line_len) (more follows), a line
    /// cut by `limit_bytes`, an unterminated last record, or a line still open (`P` records
    /// and no `F`) at the end of the read.
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// The number of the file its first record is in, in the order the read opened them:
    /// an index into [`LogReader::files`](super::LogReader::files) for the set read at the
    /// start; files found later while following get the next numbers.
    pub fn file_index(&self) -> usize {
        self.file
    }

    /// The path of the file its first record is in (as listed; a backup renamed since keeps
    /// the name it was found under).
    pub fn path(&self) -> &Path {
        self.path.as_deref().unwrap_or(Path::new(""))
    }

    /// The byte offset of its first record in that file (in the decompressed data for a
    /// `.gz`).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Starts the line (or a part of it) at `piece` from `src`, whose path is `path`.
    #[inline]
    fn start(&mut self, piece: &Piece<'_>, src: &Src<'_>, path: &Arc<Path>) {
        self.stream = piece.stream;
        self.timestamp = piece.line_timestamp;
        self.utc_offset = piece.line_utc_offset;
        self.content.clear();
        self.complete = false;
        self.file = src.num;
        self.offset = src.off;
        // Most lines come from the file the previous one did: no copy, no count then.
        if !self.path.as_ref().is_some_and(|p| Arc::ptr_eq(p, path)) {
            self.path = Some(path.clone());
        }
    }
}

/// The structured output: builds [`LogLine`]s from pieces, per stream, and hands out each
/// as it ends. Lines are swapped in and out, never copied: steady state allocates nothing.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    /// Every line the collector holds (open, ready, or spare), addressed by index: lines
    /// are built in place and only moved by the swap that hands one out.
    slots: Vec<LogLine>,
    /// Per stream, the slot of the line being built.
    open: [Option<u32>; 2],
    /// Slots of the lines ended and not handed out yet, in the order they ended.
    ready: VecDeque<u32>,
    /// Slots free to fill again.
    spare: Vec<u32>,
    /// Hand a line out in parts from this many bytes on.
    max_line: usize,
    /// Warnings not taken yet (by a follower's caller).
    pub(crate) warnings: Vec<FileWarning>,
    /// The read is over: the lines left open were moved to `ready`.
    pub(crate) finished: bool,
    /// Content bytes of the lines ended since the last pause.
    ready_bytes: usize,
    /// The path of the file last read, by its number in the read (unique within a read).
    path: Option<(usize, Arc<Path>)>,
}

/// A pause once this many lines are ready…
const READY_LINES: usize = 64;
/// …or this many bytes of them.
const READY_BYTES: usize = 64 << 10;

impl Lines {
    pub(crate) fn new(max_line: usize) -> Self {
        Lines {
            max_line: max_line.max(1),
            ..Default::default()
        }
    }

    /// Whether a line is ready.
    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The next line that ended, swapped into `line` (its old buffers are kept for reuse).
    pub(crate) fn take(&mut self, line: &mut LogLine) -> bool {
        let Some(i) = self.ready.pop_front() else {
            return false;
        };
        std::mem::swap(line, &mut self.slots[i as usize]);
        self.spare.push(i);
        true
    }

    /// Calls `f` with each line that ended, in order.
    pub(crate) fn each_ready(&mut self, mut f: impl FnMut(&LogLine)) {
        while let Some(i) = self.ready.pop_front() {
            f(&self.slots[i as usize]);
            self.spare.push(i);
        }
    }

    /// At the end of the read: the lines still open, not complete, in the order they
    /// started.
    pub(crate) fn finish(&mut self) {
        self.finished = true;
        let [a, b] = &mut self.open;
        let mut open: Vec<u32> = a.take().into_iter().chain(b.take()).collect();
        open.sort_by_key(|&i| (self.slots[i as usize].file, self.slots[i as usize].offset));
        self.ready.extend(open);
    }

    fn end(&mut self, stream: usize, complete: bool) {
        if let Some(i) = self.open[stream].take() {
            let l = &mut self.slots[i as usize];
            l.complete = complete;
            self.ready_bytes += l.content.len();
            self.ready.push_back(i);
        }
    }

    /// After a line ended: pause the read once a batch is ready. Returning to the caller
    /// costs more than a short line itself; a batch of lines bounded in count and bytes
    /// (unless one line is longer) makes that cost small per line, memory bounded.
    #[inline]
    fn pause(&mut self) -> Go {
        if self.ready.len() >= READY_LINES || self.ready_bytes >= READY_BYTES {
            self.ready_bytes = 0;
            Go::Pause
        } else {
            Go::Continue
        }
    }
}

impl Out for Lines {
    #[inline]
    fn piece(
        &mut self,
        em: &mut Emitter,
        piece: &Piece<'_>,
        newline: bool,
        src: Src<'_>,
        _span: Span<'_>,
    ) -> io::Result<Go> {
        if em.exhausted() {
            return Ok(Go::Limit);
        }
        if !em.keep(piece) {
            return Ok(Go::Continue);
        }
        let i = piece.stream.index();
        let slot = match self.open[i] {
            Some(slot) => slot,
            None => {
                let path = match &self.path {
                    Some((num, p)) if *num == src.num => p,
                    _ => &self.path.insert((src.num, Arc::from(src.path))).1,
                };
                let slot = match self.spare.pop() {
                    Some(slot) => slot,
                    None => {
                        self.slots.push(LogLine::new());
                        (self.slots.len() - 1) as u32
                    }
                };
                self.slots[slot as usize].start(piece, &src, path);
                self.open[i] = Some(slot);
                slot
            }
        };
        let line = &mut self.slots[slot as usize];
        // The same cut as the byte output's: content, then the newline, while the limit
        // lasts.
        let n = em.budget(piece.content.len());
        line.content.extend_from_slice(&piece.content[..n]);
        if em.exhausted() {
            self.end(i, false);
            return Ok(Go::Limit);
        }
        if piece.ends_line {
            let complete = newline && em.budget(1) == 1;
            self.end(i, complete);
            return Ok(if em.exhausted() {
                Go::Limit
            } else {
                self.pause()
            });
        }
        if line.content.len() >= self.max_line {
            self.end(i, false);
            return Ok(self.pause());
        }
        Ok(Go::Continue)
    }

    fn warning(&mut self, w: &FileWarning) {
        // Bounded: a caller that never looks keeps the first few (ReadStats counts all).
        if self.warnings.len() < super::MAX_WARNINGS {
            self.warnings.push(w.clone());
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// [`LogLine`] as serde sees it (feature `serde`): `{"stream","timestamp","utc_offset",
/// "content","complete","file","path","offset"}`, the time as RFC3339Nano text, the content as
/// a string when it is UTF-8, else bytes.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct LineRepr {
    stream: Stream,
    timestamp: Timestamp,
    utc_offset: i32,
    #[serde(with = "super::owned::content_serde")]
    content: Vec<u8>,
    complete: bool,
    file: usize,
    path: Option<std::path::PathBuf>,
    offset: u64,
}

#[cfg(feature = "serde")]
impl From<LogLine> for LineRepr {
    fn from(l: LogLine) -> Self {
        LineRepr {
            stream: l.stream,
            timestamp: l.timestamp,
            utc_offset: l.utc_offset,
            content: l.content,
            complete: l.complete,
            file: l.file,
            path: l.path.map(|p| p.to_path_buf()),
            offset: l.offset,
        }
    }
}

#[cfg(feature = "serde")]
impl From<LineRepr> for LogLine {
    fn from(r: LineRepr) -> Self {
        LogLine {
            stream: r.stream,
            timestamp: r.timestamp,
            utc_offset: r.utc_offset,
            content: r.content,
            complete: r.complete,
            file: r.file,
            path: r.path.map(Arc::from),
            offset: r.offset,
        }
    }
}
