//! What a read did ([`ReadStats`]) and the per-record path from parsed records to output
//! ([`Pipeline`]), shared by every way of reading (files, compressed streams, pipes).

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use super::decode::{AnyDecoder, RecordDecoder};
use super::emit::{Emitter, Flow, LogSink, OutputOptions, Span};
use super::merge::{PartialMerger, Piece};
use super::record::{InLine, LogRecord, ParseError};
use super::tail::Pos;
use super::FileWarning;

/// How many [`FileWarning`]s [`ReadStats::warnings`] keeps (all are counted).
pub const MAX_WARNINGS: usize = 16;

/// Why a line was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// Not a CRI or Docker json-file record (garbage, an empty line, a bad timestamp…).
    #[error("{0}")]
    Unparsable(ParseError),
    /// Longer than [`ReadOptions::max_record_len`](super::ReadOptions::max_record_len).
    #[error("record longer than the maximum record length")]
    Overlong,
    /// Unterminated at the end of a file that was rotated away, or cut by a damaged `.gz`.
    #[error("half-written record at the end of the file")]
    HalfWritten,
    /// A logical line among the last N of an input that cannot seek (a pipe) that did not
    /// fit in [`ReadOptions::tail_buffer`](super::ReadOptions::tail_buffer): not printed.
    #[error("logical line that did not fit in the --tail buffer of an input that cannot seek")]
    TailBuffer,
}

/// A line a read skipped: where it is and why.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedLine {
    /// The file it is in.
    pub path: PathBuf,
    /// Its offset in the file (in the decompressed data for a `.gz`).
    pub offset: u64,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// What a read did.
///
/// Data that was not printed is always counted: records in [`ReadStats::skipped`] (with the
/// first one in [`ReadStats::first_skipped`]), files in [`ReadStats::files_skipped`] (with
/// the first [`MAX_WARNINGS`] in [`ReadStats::warnings`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadStats {
    /// Records parsed.
    pub records: u64,
    /// Lines skipped because they are not records: garbage, empty, overlong (longer than
    /// `max_record_len`), half-written at the end of a rotated or damaged file.
    pub skipped: u64,
    /// The first skipped line: file, offset (in the decompressed data for a `.gz`) and why.
    pub first_skipped: Option<SkippedLine>,
    /// Files of the set that could not be read, or not to their end (see [`FileWarning`]).
    pub files_skipped: u64,
    /// The first [`MAX_WARNINGS`] of those files, with why.
    pub warnings: Vec<FileWarning>,
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
    /// The sink stopped the read ([`LogSink::line_end`] returned `Break`).
    pub stopped: bool,
}

/// Whether to go on after a record (the internal counterpart of [`Flow`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Go {
    /// Keep going.
    Continue,
    /// `limit_bytes` is used up (or kubelet's record count): the read is over.
    Limit,
    /// The sink asked to stop: the read is over.
    Stop,
    /// A structured line is ready: return it, then resume where this stopped.
    Pause,
}

/// Where a record comes from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Src<'a> {
    pub path: &'a Path,
    /// The file's number in the read.
    pub num: usize,
    /// The record's offset in it.
    pub off: u64,
}

/// An output of the pipeline: the byte sinks (every [`LogSink`]) or the structured lines
/// ([`Lines`](super::line::Lines)). Both apply `since` and `limit_bytes` with the
/// [`Emitter`]'s rules.
pub(crate) trait Out {
    /// One piece, past `--tail`; `newline` is false for an unterminated last record; `span`
    /// says where its bytes lie (an output that writes from the read buffer uses it).
    fn piece(
        &mut self,
        em: &mut Emitter,
        piece: &Piece<'_>,
        newline: bool,
        src: Src<'_>,
        span: Span<'_>,
    ) -> io::Result<Go>;
    fn warning(&mut self, w: &FileWarning);
    fn flush(&mut self) -> io::Result<()>;
    /// [`LogSink::release`] (the default does nothing).
    #[inline]
    fn release(&mut self, window: &[u8]) -> io::Result<()> {
        let _ = window;
        Ok(())
    }
}

impl<S: LogSink> Out for S {
    // Always inlined: it is the whole per-record output path, and with two callers (framed
    // lines and lines decoded in place) it was outlined.
    #[inline(always)]
    fn piece(
        &mut self,
        em: &mut Emitter,
        piece: &Piece<'_>,
        newline: bool,
        _src: Src<'_>,
        span: Span<'_>,
    ) -> io::Result<Go> {
        if em.emit_span(piece, newline, self, span)? == Flow::LimitReached {
            return Ok(Go::Limit);
        }
        if piece.ends_line && !em.dropping(piece.stream) && self.line_end(piece.stream).is_break() {
            return Ok(Go::Stop);
        }
        Ok(Go::Continue)
    }
    fn warning(&mut self, w: &FileWarning) {
        LogSink::warning(self, w)
    }
    fn flush(&mut self) -> io::Result<()> {
        LogSink::flush(self)
    }
    #[inline]
    fn release(&mut self, window: &[u8]) -> io::Result<()> {
        LogSink::release(self, window)
    }
}

/// Records -> merged pieces -> output, with the tail cut-off per stream.
#[derive(Debug)]
pub(crate) struct Pipeline {
    parser: AnyDecoder,
    merger: PartialMerger,
    emitter: Emitter,
    pub(crate) stream_start: [Pos; 2],
    /// kubelet's record-count limit in `TailMode::Records` without follow.
    pub(crate) max_records: Option<u64>,
    pub stats: ReadStats,
    /// (file, reason) already reported (bounded).
    warned: HashSet<(PathBuf, String)>,
    /// Lines to frame before [`Pipeline::line_in`] is tried again (`u32::MAX`: the decoder
    /// never decodes in line).
    in_line_wait: u32,
}

/// Lines framed after one that [`Pipeline::line_in`] did not take, before it tries again.
const IN_LINE_WAIT: u32 = 32;

/// The stages of a [`Pipeline`] after its decoder.
struct Stages<'p> {
    merger: &'p mut PartialMerger,
    emitter: &'p mut Emitter,
    stats: &'p mut ReadStats,
    stream_start: &'p [Pos; 2],
    max_records: &'p mut Option<u64>,
    in_line_wait: &'p mut u32,
}

impl Stages<'_> {
    /// A decoded record of the line at `pos`, whose content lies where `span` says: merged,
    /// emitted, counted.
    #[inline(always)]
    fn record<S: Out>(
        self,
        rec: &LogRecord<'_>,
        path: &Path,
        pos: Pos,
        terminated: bool,
        sink: &mut S,
        span: Span<'_>,
    ) -> io::Result<Go> {
        if pos < self.stream_start[rec.stream.index()] {
            return Ok(Go::Continue);
        }
        self.stats.records += 1;
        if let Some(m) = self.max_records {
            if *m == 0 {
                return Ok(Go::Limit);
            }
            *m -= 1;
        }
        let piece = self.merger.push(rec);
        let src = Src {
            path,
            num: pos.0,
            off: pos.1,
        };
        let go = sink.piece(self.emitter, &piece, terminated, src, span)?;
        // `lines_out` and `bytes_out` are copied from the emitter when a line or a drain
        // returns ([`Pipeline::sync_out`]), not here: read back per record, the counters the
        // emitter had just stored made a 16-byte load wait on two 8-byte stores.
        match go {
            Go::Limit if self.emitter.exhausted() => self.stats.limit_reached = true,
            Go::Stop => self.stats.stopped = true,
            _ => {}
        }
        Ok(go)
    }
}

/// Counts a skipped line, keeping the first.
fn skip(stats: &mut ReadStats, path: &Path, off: u64, why: SkipReason) {
    stats.skipped += 1;
    if stats.first_skipped.is_none() {
        stats.first_skipped = Some(SkippedLine {
            path: path.to_path_buf(),
            offset: off,
            reason: why,
        });
    }
}

impl Pipeline {
    pub(crate) fn new(output: OutputOptions, parser: AnyDecoder) -> Self {
        let in_line_wait = if parser.decodes_in_line() {
            0
        } else {
            u32::MAX
        };
        Pipeline {
            in_line_wait,
            parser,
            merger: PartialMerger::new(),
            emitter: Emitter::new(output),
            stream_start: [(0, 0); 2],
            max_records: None,
            stats: ReadStats::default(),
            warned: HashSet::new(),
        }
    }

    pub(crate) fn skip(&mut self, path: &Path, off: u64, why: SkipReason) {
        skip(&mut self.stats, path, off, why)
    }

    /// A file skipped or cut short: counted, kept (the first few) and reported to the sink.
    /// A follower lists a set again at each rotation; the same problem with the same file is
    /// reported once.
    pub(crate) fn warn<S: Out>(&mut self, path: &Path, reason: &io::Error, sink: &mut S) {
        let w = FileWarning {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        if self.warned.len() >= 4096 {
            self.warned.clear();
        }
        if !self.warned.insert((w.path.clone(), w.reason.clone())) {
            return;
        }
        self.stats.files_skipped += 1;
        sink.warning(&w);
        if self.stats.warnings.len() < MAX_WARNINGS {
            self.stats.warnings.push(w);
        }
    }

    /// One physical line. `terminated` is false for an unterminated last record.
    #[inline]
    pub(crate) fn line<S: Out>(
        &mut self,
        path: &Path,
        line: &[u8],
        pos: Pos,
        terminated: bool,
        sink: &mut S,
    ) -> io::Result<Go> {
        let go = self.line_at(path, line, pos, terminated, sink, None);
        self.sync_out();
        go
    }

    /// Copies the emitter's output counters into [`ReadStats`]: done whenever the pipeline
    /// hands control back ([`Pipeline::line`], the end of a drain), so the stats are current
    /// wherever they are read, without a copy per record.
    #[inline]
    pub(crate) fn sync_out(&mut self) {
        self.stats.lines_out = self.emitter.lines_out;
        self.stats.bytes_out = self.emitter.bytes_out;
    }

    /// [`Pipeline::line`] for a line that lies at `at` in the window the next
    /// [`Out::release`] passes (`None`: elsewhere). Its caller calls [`Pipeline::sync_out`]
    /// before the stats are read.
    #[inline]
    pub(crate) fn line_at<S: Out>(
        &mut self,
        path: &Path,
        line: &[u8],
        pos: Pos,
        terminated: bool,
        sink: &mut S,
        at: Option<usize>,
    ) -> io::Result<Go> {
        let (parser, stages) = self.split();
        match parser.decode(line) {
            Ok(rec) => {
                let span = Span::of(line, rec.content, at);
                stages.record(&rec, path, pos, terminated, sink, span)
            }
            Err(e) => {
                skip(stages.stats, path, pos.1, SkipReason::Unparsable(e));
                Ok(Go::Continue)
            }
        }
    }

    /// The line at the start of `buf` (the read buffer from a line's start, lying at `at` in
    /// the window the next [`Out::release`] passes), when the decoder finds its end as it
    /// decodes it ([`AnyDecoder::decode_in_line`]): what [`Pipeline::line_at`] does with that
    /// line, and its length (to consume, also after an error, as a framed line is). `None`:
    /// nothing done; frame the line and call `line_at`.
    ///
    /// Call it only when [`Pipeline::in_line_ready`]. After a line it does not take, the next
    /// [`IN_LINE_WAIT`] framed lines make it not ready ([`Pipeline::in_line_framed`]): a file
    /// whose records are in another shape pays a wasted attempt every few lines, not on each.
    #[inline]
    pub(crate) fn line_in<S: Out>(
        &mut self,
        path: &Path,
        buf: &[u8],
        pos: Pos,
        sink: &mut S,
        at: Option<usize>,
    ) -> Option<(io::Result<Go>, usize)> {
        let (parser, stages) = self.split();
        let Some(InLine {
            rec,
            len,
            with_newline,
        }) = parser.decode_in_line(buf)
        else {
            *stages.in_line_wait = IN_LINE_WAIT;
            return None;
        };
        let line = &buf[..len];
        let span = match with_newline {
            Some(w) => Span {
                with_newline: Some(w),
                at: None,
            },
            None => Span::of(line, rec.content, at),
        };
        Some((stages.record(&rec, path, pos, true, sink, span), len))
    }

    /// Whether to try [`Pipeline::line_in`] on the next line.
    #[inline(always)]
    pub(crate) fn in_line_ready(&self) -> bool {
        self.in_line_wait == 0
    }

    /// The read buffer holds no whole line: [`Pipeline::line_in`] is tried on the next one
    /// (a line it did not take may have been one cut by the end of a read).
    #[inline]
    pub(crate) fn in_line_retry(&mut self) {
        if self.in_line_wait <= IN_LINE_WAIT {
            self.in_line_wait = 0;
        }
    }

    /// A line was framed: one fewer to wait before [`Pipeline::line_in`] tries again (a
    /// decoder that never decodes in line waits for ever).
    #[inline(always)]
    pub(crate) fn in_line_framed(&mut self) {
        if self.in_line_wait.wrapping_sub(1) < IN_LINE_WAIT {
            self.in_line_wait -= 1;
        }
    }

    /// The decoder, and the stages after it, borrowed apart (a record borrows the decoder).
    #[inline(always)]
    fn split(&mut self) -> (&mut AnyDecoder, Stages<'_>) {
        (
            &mut self.parser,
            Stages {
                merger: &mut self.merger,
                emitter: &mut self.emitter,
                stats: &mut self.stats,
                stream_start: &self.stream_start,
                max_records: &mut self.max_records,
                in_line_wait: &mut self.in_line_wait,
            },
        )
    }

    /// Feeds a whole in-memory log (sans-IO entry point; used by the fuzz target and tests).
    #[cfg(feature = "__fuzz")]
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
            if flow != Go::Continue {
                break;
            }
        }
        Ok(())
    }
}
