//! The reverse line scanner.

use std::io;

use memchr::memrchr;

use super::{read_full_at, LineItem, ReadAt};

/// Walks the complete lines of `src[..size]` from the end backwards, reading blocks with
/// positional reads ([`ReadAt`]: a [`File`](std::fs::File), a byte slice, a
/// [`Cursor`](std::io::Cursor)). The unterminated bytes after the last `\n` are not returned
/// (kubelet's tail does not count them either).
///
/// The buffer is right-aligned: blocks are read in front of what is kept, into room made by
/// moving the kept bytes to the right end once, or by doubling the buffer; a line spanning
/// many blocks costs linear time and at most about `2 × (max_record + block)` bytes. Lines
/// of `max_record` bytes or more (without their `\n`) are [`LineItem::Overlong`], as
/// forwards ([`LineBuffer`](super::LineBuffer)).
///
/// ```
/// use ctrlog::lines::{BackScanner, LineItem};
/// let data = b"one\ntwo\nunterminated";
/// let mut b = BackScanner::new(&data[..], data.len() as u64, 16, 1024).unwrap();
/// assert_eq!(b.prev().unwrap(), Some(LineItem::Line { offset: 4, bytes: b"two\n" }));
/// assert_eq!(b.prev().unwrap(), Some(LineItem::Line { offset: 0, bytes: b"one\n" }));
/// assert_eq!(b.prev().unwrap(), None);
/// ```
#[derive(Debug)]
pub struct BackScanner<R> {
    src: R,
    buf: Vec<u8>,
    /// Unreturned bytes are `buf[lo..end]`; `buf[end-1]` is a `\n` when `lo < end` and not
    /// skipping an overlong line.
    lo: usize,
    end: usize,
    /// Offset of `buf[lo]` in the source.
    off: u64,
    block: usize,
    max_record: usize,
    /// Skipping an overlong line that ends (before its `\n`) at this offset: its bytes after
    /// `buf[lo]` were dropped.
    overlong: Option<u64>,
}

impl<R: ReadAt> BackScanner<R> {
    /// A scanner over `src[..size]`, reading `block` bytes at a time (at least 16), lines
    /// capped at `max_record` (at least 16).
    pub fn new(src: R, size: u64, block: usize, max_record: usize) -> io::Result<Self> {
        let mut s = BackScanner {
            src,
            buf: Vec::new(),
            lo: 0,
            end: 0,
            off: size,
            block: block.max(16),
            max_record: max_record.max(16),
            overlong: None,
        };
        // Find the last newline: everything after it is unterminated.
        loop {
            if s.off == 0 {
                s.end = s.lo;
                break;
            }
            let old_lo = s.prepend()?;
            if let Some(i) = memrchr(b'\n', &s.buf[s.lo..old_lo]) {
                s.end = s.lo + i + 1;
                break;
            }
            if s.end - s.lo > s.max_record {
                // An unterminated tail too long to keep: drop it, keep looking.
                s.lo = s.end;
            }
        }
        Ok(s)
    }

    /// Reads the block before `off` in front of `buf[lo..end]`; returns where `lo` was.
    fn prepend(&mut self) -> io::Result<usize> {
        let k = self
            .block
            .min(usize::try_from(self.off).unwrap_or(usize::MAX));
        if self.lo < k {
            let kept = self.end - self.lo;
            if self.buf.len() < kept + k {
                // Double (amortised linear), right-aligned.
                let new_len = (2 * self.buf.len()).max(kept + k).max(2 * self.block);
                self.buf.resize(new_len, 0);
            }
            let to = self.buf.len() - kept;
            self.buf.copy_within(self.lo..self.end, to);
            self.lo = to;
            self.end = self.buf.len();
        }
        let old_lo = self.lo;
        let new_off = self.off - k as u64;
        let got = read_full_at(&self.src, &mut self.buf[old_lo - k..old_lo], new_off)?;
        if got < k {
            // The source shrank under us: what is missing is treated as absent and the
            // scan ends at what was read.
            self.buf
                .copy_within(old_lo - k..old_lo - k + got, old_lo - got);
            self.lo = old_lo - got;
            self.off = 0;
            return Ok(old_lo);
        }
        self.lo = old_lo - k;
        self.off = new_off;
        Ok(old_lo)
    }

    /// Bytes of buffer allocated.
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The previous complete line, or `None` at the start of the source.
    pub fn prev(&mut self) -> io::Result<Option<LineItem<'_>>> {
        // Where the newline search in buf[lo..] may stop: bytes after it were searched.
        let mut searched_to = if self.overlong.is_some() {
            self.end
        } else {
            self.end.saturating_sub(1).max(self.lo)
        };
        loop {
            if self.lo == self.end && self.overlong.is_none() {
                if self.off == 0 {
                    return Ok(None);
                }
                // We only stop right after a newline: the block ends with one.
                self.prepend()?;
                searched_to = self.end - 1;
                continue;
            }
            match memrchr(b'\n', &self.buf[self.lo..searched_to]) {
                Some(i) => {
                    let nl = self.lo + i;
                    let rec_end = self.end;
                    self.end = nl + 1;
                    let pos = self.off + (nl + 1 - self.lo) as u64;
                    return Ok(Some(self.item(pos, nl + 1, rec_end)));
                }
                None if self.off == 0 => {
                    let (lo, rec_end) = (self.lo, self.end);
                    self.end = lo;
                    return Ok(Some(self.item(self.off, lo, rec_end)));
                }
                None => {
                    if self.end - self.lo > self.max_record {
                        // Too long: drop what is kept of it and skip to its start. Kept
                        // bytes end with the line's `\n` unless already skipping.
                        if self.overlong.is_none() {
                            self.overlong = Some(self.off + (self.end - self.lo) as u64 - 1);
                        }
                        self.lo = self.end;
                    }
                    searched_to = self.prepend()?;
                }
            }
        }
    }

    /// The line `buf[from..to]` (with its `\n`) at `pos`, or an overlong one.
    fn item(&mut self, pos: u64, from: usize, to: usize) -> LineItem<'_> {
        if let Some(end) = self.overlong.take() {
            return LineItem::Overlong {
                offset: pos,
                len: end - pos,
            };
        }
        if to - from > self.max_record {
            return LineItem::Overlong {
                offset: pos,
                len: (to - from - 1) as u64,
            };
        }
        LineItem::Line {
            offset: pos,
            bytes: &self.buf[from..to],
        }
    }
}
