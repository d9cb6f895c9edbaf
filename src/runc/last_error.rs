//! The last error record of a log.json: read backwards from the end of a seekable file, or
//! forward over a stream, skipping records that cannot be errors without decoding them.

use std::io::{BufRead, Read, Seek, SeekFrom};

use memchr::memmem::Finder;
use memchr::{memchr, memrchr};

use super::decoder::{record_lines, DEFAULT_MAX_RECORD_LEN};
use super::entry::parse_entry;
use super::RuncError;
use crate::lines::LineItem;
use crate::time::{parse_rfc3339nano, Timestamp};

/// The last error record found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastError {
    /// `msg`, trimmed of Unicode whitespace (as Go's `strings.TrimSpace`).
    pub msg: String,
    /// `time`, when present and valid RFC 3339.
    pub time: Option<Timestamp>,
    /// Byte offset of the record in the file.
    pub offset: u64,
}

/// Settings for [`last_error_with`] and [`last_error_stream_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
/// are judged one by one: a torn final record, a corrupt line, a text line or an oversized
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

#[derive(Clone, Copy)]
enum Cached {
    Unknown,
    Known(Option<usize>),
}

/// [`last_error`] with explicit options.
///
/// The buffer grows with what the scan meets (the open line plus one block), never past
/// `max_record_len` plus 1 MiB, so a huge cap costs nothing until a line that long is read. A
/// failed allocation is an [`RuncError::Io`] of kind `OutOfMemory`, not an abort.
pub fn last_error_with<R: Read + Seek>(
    mut file: R,
    opts: LastErrorOptions,
) -> Result<Option<LastError>, RuncError> {
    let io = |offset: u64| move |source| RuncError::Io { offset, source };
    let len = file.seek(SeekFrom::End(0)).map_err(io(0))?;
    let mut block = opts.block_size.max(1);
    let max_block = block.max(MAX_BLOCK);
    let cap = opts.max_record_len;
    // The buffer grows (right-aligned) as the scan needs it, up to `buf_max`: a huge cap costs
    // nothing until a line that long is actually met.
    let buf_max = usize::try_from(len)
        .unwrap_or(usize::MAX)
        .min(cap.saturating_add(max_block));
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_len = 0;
    let fin_err = Finder::new(PAT_ERROR);
    let fin_esc = Finder::new(PAT_ESCAPE);
    let mut cands: Vec<(usize, usize)> = Vec::new();
    // buf[lo..line_end] holds the open (incomplete on the left) line, right-aligned after
    // compaction; buf[lo] is at file offset `file_pos`.
    let mut file_pos = len;
    let mut lo = buf_len;
    let mut line_end = buf_len;
    let mut skipping = false;
    while file_pos > 0 {
        let seg = line_end - lo;
        if line_end != buf_len {
            buf.copy_within(lo..line_end, buf_len - seg);
            lo = buf_len - seg;
            line_end = buf_len;
        }
        let n = usize::try_from(file_pos.min(block as u64)).unwrap_or(block);
        // Near the end answers come after one small read; far scans get big reads.
        block = block.saturating_mul(2).min(max_block);
        if lo < n {
            let want = seg.saturating_add(n);
            let new_len = buf_len.saturating_mul(2).max(want).min(buf_max.max(want));
            grow_right_aligned(&mut buf, new_len, seg).map_err(io(file_pos))?;
            buf_len = new_len;
            lo = buf_len - seg;
            line_end = buf_len;
        }
        // The growth above made room for the `n` bytes left of the open line.
        assert!(
            lo >= n,
            "backward buffer: {n} bytes do not fit left of {lo}"
        );
        let new_lo = lo - n;
        file_pos -= n as u64;
        file.seek(SeekFrom::Start(file_pos)).map_err(io(file_pos))?;
        file.read_exact(&mut buf[new_lo..lo])
            .map_err(io(file_pos))?;
        lo = new_lo;
        let at_start = file_pos == 0;
        let block_end = lo + n;
        if skipping {
            match memrchr(b'\n', &buf[lo..block_end]) {
                None => {
                    lo = buf_len;
                    line_end = buf_len;
                    continue;
                }
                Some(i) => {
                    skipping = false;
                    line_end = lo + i;
                }
            }
        }
        // Complete lines lie in buf[region_start..line_end].
        let first_nl = memchr(b'\n', &buf[lo..line_end.min(block_end)]).map(|i| lo + i);
        let region_start = if at_start {
            lo
        } else {
            match first_nl {
                Some(p) => p + 1,
                None => {
                    if line_end - lo > cap {
                        skipping = true;
                        lo = buf_len;
                        line_end = buf_len;
                    }
                    continue;
                }
            }
        };
        // memmem's forward finder has a SIMD prefilter (its reverse one has not): find the
        // candidate lines of the region forward, then judge them from the last.
        cands.clear();
        let region = &buf[region_start..line_end];
        for_candidate_lines(region, &fin_err, &fin_esc, |a, b| cands.push((a, b)));
        for &(a, b) in cands.iter().rev() {
            if b - a <= cap {
                let offset = file_pos + (region_start + a - lo) as u64;
                if let Some(found) = error_in_line(&region[a..b], offset) {
                    return Ok(Some(found));
                }
            }
        }
        if at_start {
            break;
        }
        line_end = region_start - 1;
        if line_end - lo > cap {
            skipping = true;
            lo = buf_len;
            line_end = buf_len;
        }
    }
    Ok(None)
}

/// The last error of a log.json read forward from any `BufRead` (pipes, sockets,
/// decompressors). Same answer as [`last_error`]; cost proportional to the input size, with
/// `memmem` skipping records that cannot be errors without decoding them.
pub fn last_error_stream<R: BufRead>(reader: R) -> Result<Option<LastError>, RuncError> {
    last_error_stream_with(reader, LastErrorOptions::default())
}

/// Grows `buf` to `new_len` bytes (fallibly: a failed allocation is an error, not an abort),
/// moving its last `seg` bytes to the new end.
fn grow_right_aligned(buf: &mut Vec<u8>, new_len: usize, seg: usize) -> std::io::Result<()> {
    let old = buf.len();
    let extra = new_len.saturating_sub(old);
    buf.try_reserve_exact(extra)
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::OutOfMemory))?;
    buf.resize(old + extra, 0);
    let seg = seg.min(old);
    let to = buf.len() - seg;
    buf.copy_within(old - seg..old, to);
    Ok(())
}

fn next_hit(cache: &mut Cached, finder: &Finder<'_>, buf: &[u8], start: usize) -> Option<usize> {
    match *cache {
        Cached::Known(None) => return None,
        Cached::Known(Some(p)) if p >= start => return Some(p),
        _ => {}
    }
    let r = buf
        .get(start..)
        .and_then(|h| finder.find(h))
        .map(|i| start + i);
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
