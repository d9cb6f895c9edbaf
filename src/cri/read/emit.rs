//! Output: `--since`, `--limit-bytes` and `--timestamps` applied to pieces, written to a sink.

use std::io::{self, Write};
use std::ops::ControlFlow;

use crate::cri::Stream;
use crate::time::{format_rfc3339nano_fixed, Offset, Timestamp};

use super::merge::Piece;
use super::FileWarning;

/// Where output goes: bytes for one stream at a time.
///
/// The sink owns any buffering; [`LogSink::flush`] is called at the end and whenever a
/// follower goes idle.
///
/// ```
/// use ctrlog::cri::read::{LogReader, LogSink, ReadOptions};
/// use ctrlog::cri::Stream;
///
/// /// Counts the bytes of each stream, keeps nothing.
/// #[derive(Default)]
/// struct Bytes([u64; 2]);
/// impl LogSink for Bytes {
///     fn write_stream(&mut self, s: Stream, data: &[u8]) -> std::io::Result<()> {
///         self.0[s.index()] += data.len() as u64;
///         Ok(())
///     }
/// }
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("0.log");
/// std::fs::write(&path, "2024-01-01T00:00:00Z stdout F hi\n2024-01-01T00:00:00Z stderr F oops\n")?;
/// let mut sink = Bytes::default();
/// LogReader::open(&path, ReadOptions::default())?.read_to(&mut sink)?;
/// assert_eq!(sink.0, [3, 5]); // with their newlines
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait LogSink {
    /// Writes `data`, which belongs to `stream`.
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> io::Result<()>;
    /// Pushes buffered output out.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// A file of the set is skipped or cut short; called as it happens (a follower can
    /// report it at once). The read goes on. [`ReadStats`](super::ReadStats) counts these
    /// too; the default does nothing.
    fn warning(&mut self, warning: &FileWarning) {
        let _ = warning;
    }
    /// A logical line of `stream` has ended (its last piece and newline are written);
    /// return [`ControlFlow::Break`] to stop the read there. The read then returns its
    /// [`ReadStats`](super::ReadStats) with [`stopped`](super::ReadStats::stopped) set, the
    /// sink flushed. The default goes on.
    ///
    /// ```
    /// use std::ops::ControlFlow;
    /// use ctrlog::cri::read::{LogReader, LogSink, ReadOptions};
    /// use ctrlog::cri::Stream;
    ///
    /// /// Keeps the first two lines of stdout.
    /// #[derive(Default)]
    /// struct Head { out: Vec<u8>, lines: usize }
    /// impl LogSink for Head {
    ///     fn write_stream(&mut self, s: Stream, data: &[u8]) -> std::io::Result<()> {
    ///         if s == Stream::Stdout { self.out.extend_from_slice(data) }
    ///         Ok(())
    ///     }
    ///     fn line_end(&mut self, s: Stream) -> ControlFlow<()> {
    ///         self.lines += usize::from(s == Stream::Stdout);
    ///         if self.lines == 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    ///     }
    /// }
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("0.log");
    /// std::fs::write(&path, "2024-01-01T00:00:00Z stdout F a\n\
    ///                        2024-01-01T00:00:01Z stdout F b\n\
    ///                        2024-01-01T00:00:02Z stdout F c\n")?;
    /// let mut head = Head::default();
    /// let stats = LogReader::open(&path, ReadOptions::default())?.read_to(&mut head)?;
    /// assert_eq!(head.out, b"a\nb\n");
    /// assert!(stats.stopped);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    fn line_end(&mut self, stream: Stream) -> ControlFlow<()> {
        let _ = stream;
        ControlFlow::Continue(())
    }

    /// A logical line of `stream` whose first piece is at `timestamp` starts (called before
    /// its first byte, `--timestamps` prefix included): where `--prefix` goes, and the key
    /// of a merge by time. The default does nothing.
    #[inline]
    fn line_start(&mut self, stream: Stream, timestamp: Timestamp) {
        let _ = (stream, timestamp);
    }

    /// Writes `data` of `stream`, as [`LogSink::write_stream`] does, for a sink that can
    /// write without copying: `data` is also `window[at..at + data.len()]` of the read
    /// buffer that the next [`LogSink::release`] call passes, and stays there, unchanged,
    /// until that call. Such a sink may keep only the range `at..at + data.len()` and write
    /// the bytes from the window at `release` (with `writev(2)`, say); every byte it is given
    /// in between, by either method, must come out in call order. The default copies:
    /// `write_stream(stream, data)`.
    ///
    /// The reader calls it for content that lies in its read buffer as it was read (a CRI
    /// record's content and newline; not a `--timestamps` prefix, nor a decoded json-file
    /// `log`), and calls `release` before the buffer changes (before each read into it) and
    /// whenever a read or a step of a follower returns, so before every
    /// [`LogSink::flush`] and [`LogSink::warning`].
    ///
    /// ```
    /// use std::ops::Range;
    /// use ctrlog::cri::read::{LogReader, LogSink, ReadOptions};
    /// use ctrlog::cri::Stream;
    ///
    /// /// Keeps ranges of the read buffer, and copies them all at once when it changes.
    /// #[derive(Default)]
    /// struct Ranges { out: Vec<u8>, pending: Vec<Range<usize>>, calls: usize }
    /// impl LogSink for Ranges {
    ///     fn write_stream(&mut self, _: Stream, data: &[u8]) -> std::io::Result<()> {
    ///         assert!(self.pending.is_empty(), "would come out of order");
    ///         self.out.extend_from_slice(data);
    ///         Ok(())
    ///     }
    ///     fn write_stream_at(&mut self, _: Stream, data: &[u8], at: usize) -> std::io::Result<()> {
    ///         self.pending.push(at..at + data.len());
    ///         Ok(())
    ///     }
    ///     fn release(&mut self, window: &[u8]) -> std::io::Result<()> {
    ///         self.calls += 1;
    ///         for r in self.pending.drain(..) {
    ///             self.out.extend_from_slice(&window[r]);
    ///         }
    ///         Ok(())
    ///     }
    /// }
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("0.log");
    /// std::fs::write(&path, "2024-01-01T00:00:00Z stdout P a\n\
    ///                        2024-01-01T00:00:01Z stdout F b\n")?;
    /// let mut sink = Ranges::default();
    /// LogReader::open(&path, ReadOptions::default())?.read_to(&mut sink)?;
    /// assert_eq!(sink.out, b"ab\n"); // "b\n" as one range
    /// assert!(sink.calls > 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    fn write_stream_at(&mut self, stream: Stream, data: &[u8], at: usize) -> io::Result<()> {
        let _ = at;
        self.write_stream(stream, data)
    }

    /// The read buffer that [`LogSink::write_stream_at`] ranges index is about to change:
    /// `window` is it; write (or copy) the ranges kept from it now. The default does nothing.
    #[inline]
    fn release(&mut self, window: &[u8]) -> io::Result<()> {
        let _ = window;
        Ok(())
    }
}

impl<S: LogSink + ?Sized> LogSink for &mut S {
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        (**self).write_stream(stream, data)
    }
    fn flush(&mut self) -> io::Result<()> {
        (**self).flush()
    }
    fn warning(&mut self, warning: &FileWarning) {
        (**self).warning(warning)
    }
    #[inline]
    fn line_end(&mut self, stream: Stream) -> ControlFlow<()> {
        (**self).line_end(stream)
    }

    fn line_start(&mut self, stream: Stream, timestamp: Timestamp) {
        (**self).line_start(stream, timestamp)
    }
    #[inline]
    fn write_stream_at(&mut self, stream: Stream, data: &[u8], at: usize) -> io::Result<()> {
        (**self).write_stream_at(stream, data, at)
    }
    #[inline]
    fn release(&mut self, window: &[u8]) -> io::Result<()> {
        (**self).release(window)
    }
}

/// A sink over two writers, one per stream (`kubectl logs` prints stdout records to its
/// stdout and stderr records to its stderr).
#[derive(Debug, Default)]
pub struct SplitSink<O, E> {
    /// Receives stdout records.
    pub stdout: O,
    /// Receives stderr records.
    pub stderr: E,
}

impl<O: Write, E: Write> LogSink for SplitSink<O, E> {
    #[inline]
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        match stream {
            Stream::Stdout => self.stdout.write_all(data),
            Stream::Stderr => self.stderr.write_all(data),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stdout.flush()?;
        self.stderr.flush()
    }
}

/// A sink that writes both streams, in record order, to one writer.
#[derive(Debug, Default)]
pub struct MergedSink<W>(pub W);

impl<W: Write> LogSink for MergedSink<W> {
    #[inline]
    fn write_stream(&mut self, _stream: Stream, data: &[u8]) -> io::Result<()> {
        self.0.write_all(data)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The output options of `kubectl logs` (`--since`, `--limit-bytes`, `--timestamps`), part of
/// [`ReadOptions`](super::ReadOptions) or given to an [`Emitter`]. `Default` prints every
/// line as is; set fields on it by assignment (the crate's [conventions](crate#conventions)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutputOptions {
    /// Keep only lines whose first piece is at or after this instant (kubelet keeps records
    /// at exactly `since`).
    pub since: Option<Timestamp>,
    /// Stop after this many output bytes, prefixes included, counted across both streams
    /// (a line may be cut).
    pub limit_bytes: Option<u64>,
    /// Prefix each logical line with its first piece's timestamp, nine fraction digits.
    pub timestamps: bool,
    /// The zone for `timestamps`: `None` prints each record's own zone, as kubelet does.
    pub timestamp_offset: Option<Offset>,
}

/// Whether to go on after a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep going.
    Continue,
    /// `limit_bytes` is used up: stop reading.
    LimitReached,
}

/// Where a piece's bytes lie besides [`Piece::content`], as the pipeline knows from the
/// physical line: what lets the [`Emitter`] write a record in one sink call, without a copy.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Span<'a> {
    /// The content and the newline that ends its line, when they are contiguous (a CRI
    /// record's content ends right before its `\n`; a decoded json-file `log` is followed by
    /// its decoded `\n` in the decoder's scratch buffer).
    pub with_newline: Option<&'a [u8]>,
    /// Where the content starts in the window the next [`LogSink::release`] passes.
    pub at: Option<usize>,
}

impl<'a> Span<'a> {
    /// The span of `content` in the physical `line`, which starts at `line_at` in the read
    /// window (`None`: not in it). Content that is not a part of `line` (a decoded json-file
    /// `log`) has none. Addresses are compared, never dereferenced.
    #[inline]
    pub(crate) fn of(line: &'a [u8], content: &[u8], line_at: Option<usize>) -> Self {
        let (l, c) = (line.as_ptr() as usize, content.as_ptr() as usize);
        if c < l || c + content.len() > l + line.len() {
            return Span::default();
        }
        let start = c - l;
        let end = start + content.len();
        Span {
            with_newline: (line.get(end) == Some(&b'\n') && end + 1 == line.len())
                .then(|| &line[start..]),
            at: line_at.map(|a| a + start),
        }
    }
}

/// Applies [`OutputOptions`] to pieces and writes them to a [`LogSink`].
#[derive(Debug)]
pub struct Emitter {
    opts: OutputOptions,
    remain: u64,
    /// Per stream: the open line was dropped by `since`.
    dropping: [bool; 2],
    prefix: Vec<u8>,
    /// Bytes written (prefixes and newlines included).
    pub bytes_out: u64,
    /// Logical lines started in the output.
    pub lines_out: u64,
}

impl Emitter {
    /// An emitter with the given options.
    pub fn new(opts: OutputOptions) -> Self {
        Emitter {
            opts,
            remain: opts.limit_bytes.unwrap_or(u64::MAX),
            dropping: [false; 2],
            prefix: Vec::with_capacity(40),
            bytes_out: 0,
            lines_out: 0,
        }
    }

    /// Whether the open line of `stream` is dropped by `since`.
    #[inline]
    pub(crate) fn dropping(&self, stream: Stream) -> bool {
        self.dropping[stream.index()]
    }

    /// Whether the byte limit is used up.
    pub fn exhausted(&self) -> bool {
        self.remain == 0
    }

    /// How many of the next `len` output bytes fit under `limit_bytes`; they are counted
    /// as written. The one byte-limit rule of both the byte output ([`Emitter::emit`]) and
    /// the structured lines ([`LogReader::next_line`](super::LogReader::next_line)).
    #[inline]
    pub(crate) fn budget(&mut self, len: usize) -> usize {
        // A real clamp: `remain` is `u64::MAX` without a limit, more than a `usize` holds on
        // 32-bit targets.
        let n = usize::try_from(self.remain).unwrap_or(usize::MAX).min(len);
        self.remain -= n as u64;
        self.bytes_out += n as u64;
        n
    }

    /// `since` for a piece: whether it is output (a line is kept or dropped whole, by its
    /// first piece's timestamp); counts the lines kept. The one `since` rule of both outputs.
    #[inline]
    pub(crate) fn keep(&mut self, piece: &Piece<'_>) -> bool {
        let i = piece.stream.index();
        if piece.starts_line {
            self.dropping[i] = matches!(self.opts.since, Some(s) if piece.line_timestamp < s);
            if !self.dropping[i] {
                self.lines_out += 1;
            }
        }
        !self.dropping[i]
    }

    #[inline]
    fn put<S: LogSink>(&mut self, sink: &mut S, stream: Stream, data: &[u8]) -> io::Result<Flow> {
        self.put_at(sink, stream, data, None)
    }

    /// `put`, through [`LogSink::write_stream_at`] when `data` lies in the read window at
    /// `at`. Always inlined: called per piece with a constant `at` or none, it folds into
    /// the caller's one sink call (not inlined, it cost the json-file read 5% more
    /// instructions).
    #[inline(always)]
    fn put_at<S: LogSink>(
        &mut self,
        sink: &mut S,
        stream: Stream,
        data: &[u8],
        at: Option<usize>,
    ) -> io::Result<Flow> {
        if !data.is_empty() {
            let n = self.budget(data.len());
            match at {
                Some(at) => sink.write_stream_at(stream, &data[..n], at)?,
                None => sink.write_stream(stream, &data[..n])?,
            }
        }
        Ok(if self.remain == 0 {
            Flow::LimitReached
        } else {
            Flow::Continue
        })
    }

    /// Writes one piece; `newline` says whether an ending piece gets its `\n` (`false` only
    /// for an unterminated last record at the end of a file, printed as kubelet prints it).
    #[inline]
    pub fn emit<S: LogSink>(
        &mut self,
        piece: &Piece<'_>,
        newline: bool,
        sink: &mut S,
    ) -> io::Result<Flow> {
        self.emit_span(piece, newline, sink, Span::default())
    }

    /// [`Emitter::emit`], knowing where the piece's bytes lie ([`Span`]): the same output,
    /// in fewer sink calls, without a copy for a sink that can.
    // Always inlined: the per-record output path, with two callers in the pipeline (framed
    // lines and lines decoded in place); outlined, its arguments went through the stack.
    #[inline(always)]
    pub(crate) fn emit_span<S: LogSink>(
        &mut self,
        piece: &Piece<'_>,
        newline: bool,
        sink: &mut S,
        span: Span<'_>,
    ) -> io::Result<Flow> {
        if self.remain == 0 {
            return Ok(Flow::LimitReached);
        }
        if !self.keep(piece) {
            return Ok(Flow::Continue);
        }
        if piece.starts_line {
            sink.line_start(piece.stream, piece.line_timestamp);
        }
        if piece.starts_line && self.opts.timestamps {
            self.prefix.clear();
            let off = self
                .opts
                .timestamp_offset
                .unwrap_or(Offset::Fixed(piece.line_utc_offset));
            format_rfc3339nano_fixed(piece.line_timestamp, off, &mut self.prefix);
            self.prefix.push(b' ');
            let prefix = std::mem::take(&mut self.prefix);
            let r = self.put(sink, piece.stream, &prefix);
            self.prefix = prefix;
            if r? == Flow::LimitReached {
                return Ok(Flow::LimitReached);
            }
        }
        if piece.ends_line && newline {
            if let Some(body) = span.with_newline {
                // One call for the content and its newline: the bytes `put` then `\n` give,
                // cut by the limit at the same place.
                return self.put_at(sink, piece.stream, body, span.at);
            }
        }
        if self.put_at(sink, piece.stream, piece.content, span.at)? == Flow::LimitReached {
            return Ok(Flow::LimitReached);
        }
        if piece.ends_line && newline {
            // Not `put`: its cut `&data[..n]` has a length unknown to the sink, whose copy of
            // this one byte then became a `memset` call per record.
            if self.budget(1) == 1 {
                sink.write_stream(piece.stream, b"\n")?;
            }
            return Ok(if self.remain == 0 {
                Flow::LimitReached
            } else {
                Flow::Continue
            });
        }
        Ok(Flow::Continue)
    }
}
