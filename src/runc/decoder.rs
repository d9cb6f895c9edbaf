//! Streaming log.json decoder over any `BufRead`, framed by the crate's one line buffer
//! ([`LineBuffer`], in the reader's own buffer: no copy).

use std::io::BufRead;

use super::entry::{parse_entry_into, Entry, OwnedEntry};
use super::RuncError;
use crate::lines::{LineBuffer, LineItem};

/// Default per-record cap: 1 MiB. runc's records are well under 4 KiB; NVIDIA's config dump
/// is about 1 KiB.
pub const DEFAULT_MAX_RECORD_LEN: usize = 1 << 20;

/// What the decoder does with a record it cannot use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ErrorPolicy {
    /// The first malformed, torn or overlong record is an [`RuncError`] carrying its byte offset.
    /// The record is consumed, so the caller may call again to go on past it.
    Strict,
    /// Malformed, torn and overlong records are skipped and counted in [`DecodeStats`].
    #[default]
    Lenient,
}

/// Settings of a [`Decoder`], given to [`Decoder::with_options`]; set fields on `default()`
/// (the crate's [conventions](crate#conventions)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecoderOptions {
    /// See [`ErrorPolicy`].
    pub policy: ErrorPolicy,
    /// Longest record, in bytes without its `\n`. A longer one is skipped (lenient) or an
    /// error (strict) and is never held in memory whole.
    pub max_record_len: usize,
}

impl Default for DecoderOptions {
    fn default() -> Self {
        DecoderOptions {
            policy: ErrorPolicy::Lenient,
            max_record_len: DEFAULT_MAX_RECORD_LEN,
        }
    }
}

/// Counts kept while decoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct DecodeStats {
    /// Records decoded and returned.
    pub records: u64,
    /// Blank lines (only JSON whitespace), skipped under both policies.
    pub blank: u64,
    /// Records that are not valid log objects (terminated by `\n`).
    pub malformed: u64,
    /// A final record without `\n` that does not decode (runc killed mid-write, or the file
    /// is being appended to): 0 or 1.
    pub torn: u64,
    /// Records longer than the cap.
    pub overlong: u64,
}

/// A decoded record and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Byte offset of the record's first byte in the input.
    pub offset: u64,
    /// Length of the record in bytes, without its `\n`.
    pub len: usize,
    /// The decoded record.
    pub entry: Entry<'a>,
}

/// Reads log.json records one line at a time from any [`BufRead`].
///
/// Each line is framed by [`LineBuffer::next_line_in`] (in the reader's buffer, copied only
/// when it straddles two of the reader's fills) and decoded alone, once, by `serde_json`, so one bad
/// record costs one record (serde_json's own stream deserializer stops for good at the first
/// bad value): under [`ErrorPolicy::Strict`] it is one error and the next call goes on at the
/// next line. Memory: the reader's buffer plus at most one record of
/// [`max_record_len`](DecoderOptions::max_record_len) bytes, plus the entry being filled.
///
/// Two ways to read, as in the `csv` crate: [`read_entry`](Self::read_entry) refills the
/// caller's [`OwnedEntry`] and allocates nothing per record once the strings have grown;
/// [`next_record`](Self::next_record) is the convenient form, a [`Record`] borrowing the
/// decoder.
///
/// ```
/// use ctrlog::runc::{Decoder, DecoderOptions, ErrorPolicy, OwnedEntry};
/// let log = b"{\"level\":\"info\",\"msg\":\"a\"}\nnot json\n{\"level\":\"error\",\"msg\":\"b\"}\n{\"lev";
/// let mut dec = Decoder::new(&log[..]);
/// let mut entry = OwnedEntry::default();
/// let mut msgs = Vec::new();
/// while dec.read_entry(&mut entry).unwrap() {
///     msgs.extend(entry.msg.clone());
/// }
/// assert_eq!(msgs, ["a", "b"]);
/// assert_eq!((dec.stats().malformed, dec.stats().torn), (1, 1));
///
/// let mut strict = DecoderOptions::default();
/// strict.policy = ErrorPolicy::Strict;
/// let mut dec = Decoder::with_options(&log[..], strict);
/// assert_eq!(dec.next_record().unwrap().unwrap().entry.msg(), "a");
/// let err = dec.next_record().unwrap_err();
/// assert_eq!(err.offset(), Some(27));
/// // One bad record, one error: the decoder goes on at the next line.
/// assert_eq!(dec.next_record().unwrap().unwrap().offset, 36);
/// ```
pub struct Decoder<R> {
    reader: R,
    lines: LineBuffer,
    /// The reader has ended: `read_entry` does not read it again.
    done: bool,
    opts: DecoderOptions,
    stats: DecodeStats,
    /// Offset and length of the record last returned.
    last: (u64, usize),
    /// The entry [`next_record`](Self::next_record) fills and lends out.
    scratch: OwnedEntry,
}

/// The line buffer of a reader of records capped at `max_record_len` bytes (without `\n`):
/// it skips a line of `max_record_len + 1` bytes or more, which is "longer than the cap"
/// (saturating: a cap of `usize::MAX` means no cap). Its read size is unused: the reader
/// brings its own buffer.
pub(crate) fn record_lines(max_record_len: usize) -> LineBuffer {
    LineBuffer::new(0, 16, max_record_len.saturating_add(1))
}

pub(crate) fn is_blank(line: &[u8]) -> bool {
    line.iter()
        .all(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

impl<R: BufRead> Decoder<R> {
    /// A lenient decoder with the default cap.
    pub fn new(reader: R) -> Self {
        Self::with_options(reader, DecoderOptions::default())
    }

    /// A decoder with explicit options.
    pub fn with_options(reader: R, opts: DecoderOptions) -> Self {
        Decoder {
            reader,
            lines: record_lines(opts.max_record_len),
            done: false,
            opts,
            stats: DecodeStats::default(),
            last: (0, 0),
            scratch: OwnedEntry::default(),
        }
    }

    /// Bytes of input consumed so far (up to the end of the record last returned, or
    /// further when records after it were skipped).
    pub fn position(&self) -> u64 {
        self.lines.read_off()
    }

    /// Counts so far.
    pub fn stats(&self) -> DecodeStats {
        self.stats
    }

    /// Where the record last returned lies in the input: its first byte to its last, without
    /// the `\n`. Empty before the first record.
    pub fn record_span(&self) -> std::ops::Range<u64> {
        let (offset, len) = self.last;
        offset..offset + len as u64
    }

    /// Decodes the next record into `entry`, reusing its allocations; `Ok(false)` at the end
    /// of the input. After `Ok(false)` or an error, `entry` holds no meaningful record.
    pub fn read_entry(&mut self, entry: &mut OwnedEntry) -> Result<bool, RuncError> {
        let strict = self.opts.policy == ErrorPolicy::Strict;
        let max = self.opts.max_record_len;
        loop {
            if self.done {
                return Ok(false);
            }
            let pos = self.lines.read_off();
            let item = self
                .lines
                .next_line_in(&mut self.reader)
                .map_err(|source| RuncError::Io {
                    offset: pos,
                    source,
                })?;
            let (offset, line, terminated) = match item {
                None => {
                    self.done = true;
                    return Ok(false);
                }
                Some(LineItem::Overlong { offset, len }) => {
                    self.stats.overlong += 1;
                    if strict {
                        return Err(RuncError::Overlong { offset, len, max });
                    }
                    continue;
                }
                Some(LineItem::Line { offset, bytes }) => match bytes.split_last() {
                    Some((b'\n', line)) => (offset, line, true),
                    _ => (offset, bytes, false),
                },
            };
            // The line buffer caps lines at `max + 1` bytes but at least 16: a cap under 15
            // is enforced here. Length first: a streamed line over the cap is reported overlong before its
            // bytes are seen, so a whole one must be too, blank or not (found by fuzzing:
            // 109 `\r` counted blank whole, overlong when read in 7-byte chunks).
            if line.len() > max {
                self.stats.overlong += 1;
                if strict {
                    return Err(RuncError::Overlong {
                        offset,
                        len: line.len() as u64,
                        max,
                    });
                }
                continue;
            }
            if is_blank(line) {
                self.stats.blank += 1;
                continue;
            }
            match parse_entry_into(line, entry) {
                Ok(()) => {
                    self.stats.records += 1;
                    self.last = (offset, line.len());
                    return Ok(true);
                }
                Err(error) => {
                    if terminated {
                        self.stats.malformed += 1;
                    } else {
                        self.stats.torn += 1;
                    }
                    if strict {
                        return Err(RuncError::Malformed {
                            offset,
                            torn: !terminated,
                            error,
                        });
                    }
                }
            }
        }
    }

    /// The next record, `Ok(None)` at the end of the input: [`read_entry`](Self::read_entry)
    /// into an entry the decoder keeps, lent out until the next call.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, RuncError> {
        let mut scratch = std::mem::take(&mut self.scratch);
        let more = self.read_entry(&mut scratch);
        self.scratch = scratch;
        if !more? {
            return Ok(None);
        }
        let (offset, len) = self.last;
        Ok(Some(Record {
            offset,
            len,
            entry: self.scratch.as_entry(),
        }))
    }

    /// Calls `f` for every record; `f` returns `Ok(false)` to stop early.
    pub fn for_each<E, F>(&mut self, mut f: F) -> Result<(), E>
    where
        F: FnMut(Record<'_>) -> Result<bool, E>,
        E: From<RuncError>,
    {
        while let Some(rec) = self.next_record()? {
            if !f(rec)? {
                break;
            }
        }
        Ok(())
    }
}
