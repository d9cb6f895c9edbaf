//! The std adapter: drain a `Read` (a pipe, a FIFO) through splitter and format into a record writer,
//! to end of input or until stopped (see [`super::cancel`]).

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::cancel::{CopyEnd, NoStop, StopPolicy, StopSignal, Wake};
#[cfg(target_arch = "x86_64")]
use super::split::Avx2Newlines;
use super::split::{Baseline, NewlineMask};
use super::{LineSplitter, PartialWrite, RecordEncoder, RecordWriter, SplitOptions, WriteError};
use crate::cri::{Stream, Tag};
use crate::time::{Clock, SystemClock};

/// Default size of one `read` in [`LogWriter::copy_from`]: 256 KiB.
pub const DEFAULT_READ_SIZE: usize = 256 * 1024;

/// Default size at which encoded records are handed to the output mid-chunk: 512 KiB.
pub const DEFAULT_FLUSH_SIZE: usize = 512 * 1024;

/// When a [`LogWriter`] reads the clock for its records' timestamps.
///
/// containerd's CRI logger stamps every line as it reads it (`time.Now()` per line, in
/// `redirectLogs`). ctrlog by default stamps once per read: every record of one read arrived
/// in the same `read(2)`, so they share one instant, and the formatter rewrites the time only
/// once per read. On short lines that is a few records per timestamp from a pipe (short.txt's
/// 2.4 M records got 4,098 distinct times from a pipe, 1,025 from a file); `PerRecord` reads
/// the clock for each record, as containerd does. `BENCHMARKS.md` states the cost of each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TimestampPolicy {
    /// One clock reading per input read (per chunk given to [`LogWriter::write_chunk`]).
    #[default]
    PerRead,
    /// One clock reading per record, as containerd.
    PerRecord,
}

/// What a [`LogWriter`] does when its output fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum WriteErrorPolicy {
    /// Count the failure in [`CopySummary`], drop that batch, and keep draining the input
    /// (containerd: a container blocked on a full pipe must never hang because its log file is
    /// unwritable).
    #[default]
    Continue,
    /// Return [`WriteError::Write`] at once.
    Stop,
}

/// What a copy did. Counts are cumulative over the writer's life.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopySummary {
    /// Input bytes consumed.
    pub bytes_read: u64,
    /// Records the output accepted.
    pub records: u64,
    /// Of those, `P` records (of batches the output took whole).
    pub partial_records: u64,
    /// Encoded bytes the output accepted.
    pub bytes_written: u64,
    /// Failed output writes (each loses one batch).
    pub write_errors: u64,
    /// Records in failed batches that did not reach the output (a record writer that failed part way
    /// through a batch reports how far it got, see [`PartialWrite`]: its whole records count
    /// as written).
    pub records_lost: u64,
    /// The kind of the last output error, if any.
    pub last_write_error: Option<io::ErrorKind>,
}

/// `content` and the bytes after it in `chunk` when `content` lies in `chunk` (found by
/// address, no `unsafe`), else `content` alone: what [`RecordEncoder::encode_ahead`] may read.
#[inline(always)]
fn lookahead<'a>(chunk: &'a [u8], content: &'a [u8]) -> &'a [u8] {
    let off = (content.as_ptr() as usize).wrapping_sub(chunk.as_ptr() as usize);
    match chunk.get(off..) {
        Some(text) if text.len() >= content.len() => text,
        _ => content,
    }
}

/// Encoded records waiting for the output, plus the bookkeeping of what reached it.
#[derive(Debug)]
struct Output<K> {
    output: K,
    buf: Vec<u8>,
    pending: u64,
    pending_partial: u64,
    flush_size: usize,
    policy: WriteErrorPolicy,
    summary: CopySummary,
}

impl<K: RecordWriter> Output<K> {
    /// Encodes one record; `chunk` is the input chunk, which holds `content` unless the
    /// splitter carried it over from earlier chunks.
    #[inline(always)]
    fn push<F: RecordEncoder>(
        &mut self,
        format: &F,
        tag: Tag,
        content: &[u8],
        chunk: &[u8],
    ) -> Result<(), WriteError> {
        if !self.buf.is_empty() && self.buf.len().saturating_add(content.len()) > self.flush_size {
            self.flush()?;
        }
        format.encode_ahead(tag, lookahead(chunk, content), content.len(), &mut self.buf);
        self.pending += 1;
        if tag == Tag::Partial {
            self.pending_partial += 1;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), WriteError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = self.output.write_records(&self.buf);
        let (records, partial, bytes) = (self.pending, self.pending_partial, self.buf.len());
        // A record writer that failed part way says how much went through: its whole records are
        // written, not lost (a torn one after them is lost).
        let through = match &result {
            Ok(()) => (0, 0),
            Err(e) => {
                // A clamp, not an invariant: the count comes from the caller's writer.
                let n = PartialWrite::written(e).min(self.buf.len());
                let written = &self.buf[..n];
                let whole = memchr::memrchr(b'\n', written).map_or(0, |i| i + 1);
                let n = memchr::memchr_iter(b'\n', written).count() as u64;
                (n.min(records), whole as u64)
            }
        };
        self.buf.clear();
        self.pending = 0;
        self.pending_partial = 0;
        let s = &mut self.summary;
        match result {
            Ok(()) => {
                s.records += records;
                s.partial_records += partial;
                s.bytes_written += bytes as u64;
                Ok(())
            }
            Err(e) => {
                s.write_errors += 1;
                // `partial_records` counts only batches written whole (which records of a
                // batch were `P` is the format's business).
                s.records += through.0;
                s.bytes_written += through.1;
                s.records_lost += records - through.0;
                s.last_write_error = Some(e.kind());
                match self.policy {
                    WriteErrorPolicy::Continue => Ok(()),
                    WriteErrorPolicy::Stop => Err(WriteError::Write {
                        offset: s.bytes_read,
                        source: e,
                    }),
                }
            }
        }
    }
}

/// Turns one stream of a container's output into records in a record writer: containerd's
/// `redirectLogs` over any [`Read`], or fed chunk by chunk ([`write_chunk`](Self::write_chunk),
/// or as an [`io::Write`]).
///
/// Per input chunk, the clock is read once and the chunk's records are encoded into one
/// buffer, handed to the output in one call (or every [`DEFAULT_FLUSH_SIZE`] bytes, whichever
/// comes first). Nothing is allocated per record.
///
/// Settings are a [`WriterOptions`] given to [`with_options`](Self::with_options)
/// ([`new`](Self::new) takes the defaults); the clock, a type parameter, is set with
/// [`with_clock`](Self::with_clock).
///
/// # Memory
///
/// Bounded for every input: the read buffer ([`DEFAULT_READ_SIZE`]), the splitter's
/// carry-over (at most `max_record_len + 1` bytes, see [`MaxLen`](super::MaxLen)) and the
/// output buffer (about [`DEFAULT_FLUSH_SIZE`] plus one encoded record; a CRI record is its
/// content plus ~45 bytes, a Docker json-file record at most six times its content). With
/// the defaults and a 16 KiB limit that is under 1 MiB; with
/// [`MaxLen::Unlimited`](super::MaxLen::Unlimited) and the 2 MiB memory cap, a few MiB.
/// [`buffer_capacity`](Self::buffer_capacity) reports the current total.
///
/// # Errors
///
/// A read error ends the copy like end of input (the unterminated tail is written as `P`
/// records, as containerd does) and is returned. Output errors follow the
/// [`WriteErrorPolicy`]; with `Continue` (the default) they are only counted.
///
/// ```
/// use ctrlog::cri::write::{CriEncoder, LogWriter};
/// use ctrlog::cri::Stream;
/// use ctrlog::time::{FixedClock, Offset, Timestamp};
///
/// let mut w = LogWriter::new(Stream::Stdout, CriEncoder::new(Offset::Utc), Vec::new())
///     .with_clock(FixedClock(Timestamp::new(0, 0)));
/// let summary = w.copy_from(&b"hello\r\nworld"[..]).unwrap();
/// assert_eq!(summary.records, 2);
/// assert_eq!(
///     w.into_inner(),
///     b"1970-01-01T00:00:00Z stdout F hello\n1970-01-01T00:00:00Z stdout P world\n"
/// );
/// ```
#[derive(Debug)]
pub struct LogWriter<F, K, C = SystemClock> {
    stream: Stream,
    splitter: LineSplitter,
    format: F,
    clock: C,
    out: Output<K>,
    read_size: usize,
    read_buf: Vec<u8>,
    timestamps: TimestampPolicy,
}

/// Settings of a [`LogWriter`], given to [`LogWriter::with_options`]. `Default` is containerd's
/// (what [`LogWriter::new`] uses); set fields on it by assignment (see the crate's
/// [conventions](crate#conventions)).
///
/// ```
/// use ctrlog::cri::write::{CriEncoder, LogWriter, MaxLen, WriteErrorPolicy, WriterOptions};
/// use ctrlog::cri::Stream;
/// use ctrlog::time::Offset;
///
/// let mut opts = WriterOptions::default();
/// opts.split.max_len = MaxLen::from_signed(8);
/// opts.write_error_policy = WriteErrorPolicy::Stop;
/// let w = LogWriter::with_options(Stream::Stdout, CriEncoder::new(Offset::Utc), Vec::new(), opts);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WriterOptions {
    /// Line length, memory cap and `\r` policy ([`SplitOptions`]). Default: containerd's
    /// 16 KiB lines, `\r\n` stripped.
    pub split: SplitOptions,
    /// What an output failure does. Default: [`WriteErrorPolicy::Continue`].
    pub write_error_policy: WriteErrorPolicy,
    /// Size of one read in [`LogWriter::copy_from`] (at least 1 byte is used). Default:
    /// [`DEFAULT_READ_SIZE`].
    pub read_size: usize,
    /// Encoded bytes at which records are handed to the output mid-chunk (at least 1 byte is
    /// used). Default: [`DEFAULT_FLUSH_SIZE`].
    pub flush_size: usize,
    /// When the clock is read for timestamps. Default: [`TimestampPolicy::PerRead`].
    pub timestamps: TimestampPolicy,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            split: SplitOptions::default(),
            write_error_policy: WriteErrorPolicy::Continue,
            read_size: DEFAULT_READ_SIZE,
            flush_size: DEFAULT_FLUSH_SIZE,
            timestamps: TimestampPolicy::PerRead,
        }
    }
}

impl<F: RecordEncoder, K: RecordWriter> LogWriter<F, K, SystemClock> {
    /// A writer for `stream` with containerd's defaults ([`WriterOptions::default`]): 16 KiB
    /// lines, `\r\n` stripped, system clock, write errors counted.
    pub fn new(stream: Stream, format: F, output: K) -> Self {
        Self::with_options(stream, format, output, WriterOptions::default())
    }

    /// A writer for `stream` with `opts`, reading the system clock.
    pub fn with_options(stream: Stream, format: F, output: K, opts: WriterOptions) -> Self {
        LogWriter {
            stream,
            splitter: LineSplitter::with_options(opts.split),
            format,
            clock: SystemClock,
            out: Output {
                output,
                buf: Vec::new(),
                pending: 0,
                pending_partial: 0,
                flush_size: opts.flush_size.max(1),
                policy: opts.write_error_policy,
                summary: CopySummary::default(),
            },
            read_size: opts.read_size.max(1),
            read_buf: Vec::new(),
            timestamps: opts.timestamps,
        }
    }
}

impl<F: RecordEncoder, K: RecordWriter, C: Clock> LogWriter<F, K, C> {
    /// Uses `clock` for timestamps. The one builder method of the writer: the clock is a type
    /// parameter (a [`SystemClock`] costs nothing to hold), so it cannot be a field of
    /// [`WriterOptions`] without making every caller name its type.
    #[must_use]
    pub fn with_clock<C2: Clock>(self, clock: C2) -> LogWriter<F, K, C2> {
        LogWriter {
            stream: self.stream,
            splitter: self.splitter,
            format: self.format,
            clock,
            out: self.out,
            read_size: self.read_size,
            read_buf: self.read_buf,
            timestamps: self.timestamps,
        }
    }

    /// What was done so far.
    pub fn summary(&self) -> &CopySummary {
        &self.out.summary
    }

    /// The output.
    pub fn get_mut(&mut self) -> &mut K {
        &mut self.out.output
    }

    /// Gives back the output (call [`finish`](Self::finish) first).
    pub fn into_inner(self) -> K {
        self.out.output
    }

    /// Heap bytes held by the writer's own buffers (read buffer, carry-over, output batch).
    pub fn buffer_capacity(&self) -> usize {
        self.read_buf.capacity() + self.splitter.capacity() + self.out.buf.capacity()
    }

    /// Splits one chunk of input (all of it arrived now) and writes its records.
    pub fn write_chunk(&mut self, chunk: &[u8]) -> Result<(), WriteError> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.out.summary.bytes_read += chunk.len() as u64;
        let per_record = self.timestamps == TimestampPolicy::PerRecord;
        if !per_record {
            self.format.start_batch(self.clock.now(), self.stream);
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = Avx2Newlines::detect() {
            // SAFETY: `avx2` exists, so the CPU has AVX2.
            unsafe {
                if per_record {
                    self.split_encode_avx2::<true>(avx2, chunk)?;
                } else {
                    self.split_encode_avx2::<false>(avx2, chunk)?;
                }
            }
            return self.out.flush();
        }
        if per_record {
            self.split_encode::<_, true>(Baseline, chunk)?;
        } else {
            self.split_encode::<_, false>(Baseline, chunk)?;
        }
        self.out.flush()
    }

    /// Splits `chunk` and encodes its records into the output batch, finding newlines with
    /// `kind`; with `PER_RECORD`, each record gets its own clock reading. Inlined, so that
    /// [`split_encode_avx2`](Self::split_encode_avx2) compiles the whole loop (masks, prefix
    /// and content copies) for AVX2.
    #[inline(always)]
    fn split_encode<M: NewlineMask, const PER_RECORD: bool>(
        &mut self,
        kind: M,
        chunk: &[u8],
    ) -> Result<(), WriteError> {
        let (out, format, clock, stream) =
            (&mut self.out, &mut self.format, &self.clock, self.stream);
        // Inlined into the splitter's loop: a call per record costs more than the push.
        self.splitter.try_for_each_with(
            kind,
            chunk,
            #[inline(always)]
            |tag, content| {
                if PER_RECORD {
                    format.start_batch(clock.now(), stream);
                }
                out.push(format, tag, content, chunk)
            },
        )
    }

    /// [`split_encode`](Self::split_encode) compiled for AVX2; `avx2` shows the CPU has it.
    ///
    /// # Safety
    /// None beyond holding `avx2`; the function is `unsafe` only because
    /// `#[target_feature]` functions are (before Rust 1.86, above the MSRV).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn split_encode_avx2<const PER_RECORD: bool>(
        &mut self,
        avx2: Avx2Newlines,
        chunk: &[u8],
    ) -> Result<(), WriteError> {
        self.split_encode::<_, PER_RECORD>(avx2, chunk)
    }

    /// End of input: writes the unterminated tail as `P` records and returns the summary.
    pub fn finish(&mut self) -> Result<CopySummary, WriteError> {
        if self.splitter.buffered() > 0 {
            let per_record = self.timestamps == TimestampPolicy::PerRecord;
            if !per_record {
                self.format.start_batch(self.clock.now(), self.stream);
            }
            while let Some((tag, content)) = self.splitter.finish() {
                if per_record {
                    self.format.start_batch(self.clock.now(), self.stream);
                }
                self.out.push(&self.format, tag, content, &[])?;
            }
        }
        self.out.flush()?;
        Ok(self.out.summary.clone())
    }

    /// Reads `reader` to end of input, writing records as chunks arrive, then
    /// [`finish`](Self::finish)es. `Interrupted` reads are retried. This is
    /// [`copy_until`](Self::copy_until) with [`NoStop`].
    pub fn copy_from<R: Read>(&mut self, reader: R) -> Result<CopySummary, WriteError> {
        self.copy_until(reader, NoStop, StopPolicy::Now)?;
        Ok(self.out.summary.clone())
    }

    /// Reads `reader` as [`copy_from`](Self::copy_from) does, until end of input or until
    /// `stop` says stop; then drains as `policy` says, and [`finish`](Self::finish)es (the
    /// unterminated tail is written as `P` records). Before each read, `stop` is asked whether
    /// the input is readable or a stop came (see [`StopSignal`]).
    ///
    /// The counts are in [`summary`](Self::summary).
    ///
    /// # Errors
    ///
    /// A failed read or a failed wait of `stop`: [`WriteError::Read`], after the tail was
    /// written. Sink errors as in [`copy_from`](Self::copy_from).
    pub fn copy_until<R: Read, S: StopSignal>(
        &mut self,
        mut reader: R,
        mut stop: S,
        policy: StopPolicy,
    ) -> Result<CopyEnd, WriteError> {
        let mut buf = std::mem::take(&mut self.read_buf);
        if buf.len() != self.read_size {
            buf = vec![0; self.read_size];
        }
        // After the stop: bytes the drain may still read, and until when (`None`: no waiting).
        let mut drain: Option<(u64, Option<Instant>)> = None;
        let result = loop {
            let wake = match drain {
                None => stop.wait(true, None),
                Some((0, _)) => break Ok(CopyEnd::DrainLimit),
                Some((_, None)) => stop.wait(false, Some(Duration::ZERO)),
                Some((_, Some(t))) => {
                    stop.wait(false, Some(t.saturating_duration_since(Instant::now())))
                }
            };
            match wake {
                Ok(Wake::Input) => {}
                Ok(Wake::Stop) if drain.is_none() => match policy {
                    StopPolicy::Now => break Ok(CopyEnd::Stopped),
                    StopPolicy::Drain {
                        max_bytes,
                        max_wait,
                    } => {
                        let until = (!max_wait.is_zero()).then(|| Instant::now() + max_wait);
                        drain = Some((max_bytes, until));
                        continue;
                    }
                },
                // A stop during the drain (it was not asked for) does not start it again.
                Ok(Wake::Idle | Wake::Stop) => match drain {
                    None => continue,
                    Some((_, Some(t))) if Instant::now() < t => continue,
                    Some(_) => break Ok(CopyEnd::Stopped),
                },
                Err(source) => {
                    break Err(WriteError::Read {
                        offset: self.out.summary.bytes_read,
                        source,
                    })
                }
            }
            match reader.read(&mut buf) {
                Ok(0) => break Ok(CopyEnd::Eof),
                Ok(n) => {
                    if let Err(e) = self.write_chunk(buf.get(..n).unwrap_or(&buf)) {
                        break Err(e);
                    }
                    if let Some((left, _)) = drain.as_mut() {
                        *left = left.saturating_sub(n as u64);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    break Err(WriteError::Read {
                        offset: self.out.summary.bytes_read,
                        source,
                    })
                }
            }
        };
        self.read_buf = buf;
        match result {
            Ok(end) => {
                self.finish()?;
                Ok(end)
            }
            Err(e @ WriteError::Read { .. }) => {
                self.finish()?;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }
}

/// Each `write` call is one chunk ([`LogWriter::write_chunk`]); `flush` does nothing (records
/// reach the output at the end of every `write`). Call [`LogWriter::finish`] at end of input.
impl<F: RecordEncoder, K: RecordWriter, C: Clock> io::Write for LogWriter<F, K, C> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_chunk(buf).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
