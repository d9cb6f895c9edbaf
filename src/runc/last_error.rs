//! The last error record of a log.json: read backwards from the end of a seekable file, or
//! forward over a stream, skipping records that cannot be errors without decoding them.

use std::io::{BufRead, Read, Seek, SeekFrom};

use memchr::memmem::Finder;
use memchr::{memchr, memrchr};

use super::decoder::{record_lines, DEFAULT_MAX_RECORD_LEN};
use super::entry::parse_entry;
use super::RuncError;
use crate::lines::{BackOptions, BackScanner, LineItem, SeekAt};
use crate::time::{parse_rfc3339nano, Timestamp};

/// The last error record found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct LastError {
    /// `msg`, trimmed of Unicode whitespace (as Go's `strings.TrimSpace`).
    pub msg: String,
    /// `time`, when present and valid RFC 3339.
    pub time: Option<Timestamp>,
    /// Byte offset of the record in the file.
    pub offset: u64,
}

/// Settings for [`last_error_with`] and [`last_error_stream_with`]; set fields on `default()`
/// (the crate's [conventions](crate#conventions)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LastErrorOptions {
    /// Records longer than this (bytes, without `\n`) are skipped unread.
    pub max_record_len: usize,
    /// Bytes read by the first step (backwards scan, doubling per step up to 1 MiB or this
    /// size if larger) and the stream buffer size.
    pub block_size: usize,
}

impl Default for LastErrorOptions {
    fn default() -> Self {
        LastErrorOptions {
            max_record_len: DEFAULT_MAX_RECORD_LEN,
            block_size: 64 * 1024,
        }
    }
}

const PAT_ERROR: &[u8] = b"\"error\"";
const MAX_BLOCK: usize = 1 << 20;
const PAT_ESCAPE: &[u8] = b"\\u";

/// Decodes one record (a line without `\n`) and returns it if its level is `error`.
pub(crate) fn error_in_line(line: &[u8], offset: u64) -> Option<LastError> {
    let e = parse_entry(line).ok()?;
    if !e.is_error() {
        return None;
    }
    Some(LastError {
        msg: e.msg().trim().to_owned(),
        time: e
            .time
            .as_deref()
            .and_then(|t| parse_rfc3339nano(t.as_bytes()).ok()),
        offset,
    })
}

/// The last error of a seekable log.json (robust semantics), reading backwards from the end.
///
/// The answer is the last record whose level is exactly `error`, its `msg` trimmed. Records
/// are judged one by one: a torn final record, a corrupt line, a text line or an overlong
/// record elsewhere does not hide the answer. Cost is proportional to the distance of that
/// record from the end of the file; memory is one block plus one record (capped).
///
/// ```
/// use std::io::Cursor;
/// let log = b"{\"level\":\"error\",\"msg\":\" exec failed \",\"time\":\"2026-11-23T08:27:20Z\"}\n\
///             {\"level\":\"info\",\"msg\":\"ok\"}\n{\"level\":\"err";
/// let e = ctrlog::runc::last_error(Cursor::new(&log[..])).unwrap().unwrap();
/// assert_eq!(e.msg, "exec failed");
/// assert_eq!(e.offset, 0);
/// ```
pub fn last_error<R: Read + Seek>(file: R) -> Result<Option<LastError>, RuncError> {
    last_error_with(file, LastErrorOptions::default())
}

/// [`last_error`] with explicit options.
///
/// Lines are walked backwards by [`BackScanner`], whose reads start at `block_size` and
/// double up to 1 MiB (or `block_size` if larger): an answer near the end costs one small
/// read. Its buffer grows with what the scan meets (the open line plus one block), never
/// past `max_record_len` plus 1 MiB, so a huge cap costs nothing until a line that long is
/// read. A failed allocation is an [`RuncError::Io`] of kind `OutOfMemory`, not an abort.
pub fn last_error_with<R: Read + Seek>(
    mut file: R,
    opts: LastErrorOptions,
) -> Result<Option<LastError>, RuncError> {
    let io = |offset: u64| move |source| RuncError::Io { offset, source };
    let len = file.seek(SeekFrom::End(0)).map_err(io(0))?;
    let cap = opts.max_record_len;
    // Saturating: a cap of `usize::MAX` is no cap.
    let mut back_opts = BackOptions::new(opts.block_size, cap.saturating_add(1));
    back_opts.max_block = opts.block_size.max(MAX_BLOCK);
    // The final record without `\n` is a record too (runc killed after its `}`).
    back_opts.unterminated = true;
    let mut back = BackScanner::with_options(SeekAt::new(file), len, back_opts).map_err(io(len))?;
    let fin_err = Finder::new(PAT_ERROR);
    let fin_esc = Finder::new(PAT_ESCAPE);
    let mut cands: Vec<(usize, usize)> = Vec::new();
    loop {
        let at = back.offset();
        let (base, region) = match back.prev_lines().map_err(io(at))? {
            None => return Ok(None),
            Some(LineItem::Overlong { .. }) => continue,
            Some(LineItem::Line { offset, bytes }) => (offset, bytes),
        };
        // memmem's forward finder has a SIMD prefilter (its reverse one has not): find the
        // candidate lines of the region forward, then judge them from the last.
        cands.clear();
        for_candidate_lines(region, &fin_err, &fin_esc, |a, b| cands.push((a, b)));
        for &(a, b) in cands.iter().rev() {
            if b - a <= cap {
                if let Some(found) = error_in_line(&region[a..b], base + a as u64) {
                    return Ok(Some(found));
                }
            }
        }
    }
}

/// The last error of a log.json read forward from any `BufRead` (pipes, sockets,
/// decompressors). Same answer as [`last_error`]; cost proportional to the input size, with
/// `memmem` skipping records that cannot be errors without decoding them.
pub fn last_error_stream<R: BufRead>(reader: R) -> Result<Option<LastError>, RuncError> {
    last_error_stream_with(reader, LastErrorOptions::default())
}

/// A finder's next hit, remembered while it lies ahead of the search.
#[derive(Clone, Copy)]
enum Cached {
    Unknown,
    Known(Option<usize>),
}

fn next_hit(cache: &mut Cached, finder: &Finder<'_>, buf: &[u8], start: usize) -> Option<usize> {
    match *cache {
        Cached::Known(None) => return None,
        Cached::Known(Some(p)) if p >= start => return Some(p),
        _ => {}
    }
    // `start < buf.len()`: the caller's loop condition.
    let r = finder.find(&buf[start..]).map(|i| start + i);
    *cache = Cached::Known(r);
    r
}

/// Calls `f(start, end)`, in order, for each line of `bytes` (split on `\n`, terminator
/// excluded) that contains `"error"` or `\u`.
fn for_candidate_lines(
    bytes: &[u8],
    fin_err: &Finder<'_>,
    fin_esc: &Finder<'_>,
    mut f: impl FnMut(usize, usize),
) {
    let (mut c_err, mut c_esc) = (Cached::Unknown, Cached::Unknown);
    let mut start = 0;
    while start < bytes.len() {
        let a = next_hit(&mut c_err, fin_err, bytes, start);
        let b = next_hit(&mut c_esc, fin_esc, bytes, start);
        let hit = match (a, b) {
            (Some(a), Some(b)) => a.min(b),
            (Some(h), None) | (None, Some(h)) => h,
            (None, None) => break,
        };
        let ls = memrchr(b'\n', &bytes[start..hit]).map_or(start, |i| start + i + 1);
        let le = memchr(b'\n', &bytes[hit..]).map_or(bytes.len(), |i| hit + i);
        f(ls, le);
        start = le + 1;
    }
}

/// [`last_error_stream`] with explicit options.
pub fn last_error_stream_with<R: BufRead>(
    reader: R,
    opts: LastErrorOptions,
) -> Result<Option<LastError>, RuncError> {
    let cap = opts.max_record_len;
    let mut reader = reader;
    let mut lines = record_lines(cap);
    let fin_err = Finder::new(PAT_ERROR);
    let fin_esc = Finder::new(PAT_ESCAPE);
    let mut best = None;
    loop {
        let pos = lines.read_off();
        // Every complete line in the reader's buffer at once: the prefilter skips most.
        let item = lines
            .next_lines_in(&mut reader)
            .map_err(|source| RuncError::Io {
                offset: pos,
                source,
            })?;
        let (base, bytes) = match item {
            None => break,
            Some(LineItem::Overlong { .. }) => continue,
            Some(LineItem::Line { offset, bytes }) => (offset, bytes),
        };
        for_candidate_lines(bytes, &fin_err, &fin_esc, |a, b| {
            if b - a <= cap {
                if let Some(found) = error_in_line(&bytes[a..b], base + a as u64) {
                    best = Some(found);
                }
            }
        });
    }
    Ok(best)
}
