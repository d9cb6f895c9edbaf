//! The reverse line scanner.

use std::cell::RefCell;
use std::io::{self, Read, Seek, SeekFrom};

use memchr::{memchr, memrchr};

use super::{read_full_at, LineItem, ReadAt};

/// Settings of a [`BackScanner`] beyond [`BackScanner::new`]'s: start from
/// [`BackOptions::new`] and assign the fields to change (the crate's
/// [conventions](crate#conventions)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackOptions {
    /// Bytes of the first read (at least 16).
    pub block: usize,
    /// Each read doubles the block up to this size (at most `block` means no growth): an
    /// answer near the end costs one small read, a long walk few large ones.
    pub max_block: usize,
    /// Lines of this many bytes or more (without their `\n`) are [`LineItem::Overlong`]
    /// (at least 16).
    pub max_record: usize,
    /// Whether the unterminated bytes after the last `\n` are returned, first, as a line
    /// without `\n` (or an overlong one); by default they are not.
    pub unterminated: bool,
}

impl BackOptions {
    /// Reads of `block` bytes, lines capped at `max_record`, no growth, no unterminated tail.
    pub fn new(block: usize, max_record: usize) -> Self {
        BackOptions {
            block,
            max_block: block,
            max_record,
            unterminated: false,
        }
    }
}

/// Walks the complete lines of `src[..size]` from the end backwards, reading blocks with
/// positional reads ([`ReadAt`]: a [`File`](std::fs::File), a byte slice, a
/// [`Cursor`](std::io::Cursor), any `Read + Seek` through [`SeekAt`]). The unterminated
/// bytes after the last `\n` are not returned (kubelet's tail does not count them either)
/// unless [`BackOptions::unterminated`] asks for them.
///
/// The buffer is right-aligned: blocks are read in front of what is kept, into room made by
/// moving the kept bytes to the right end once, or by doubling the buffer; a line spanning
/// many blocks costs linear time, and the buffer never exceeds `max_record` plus the
/// largest block. Lines of `max_record` bytes or more (without their `\n`) are
/// [`LineItem::Overlong`], as forwards ([`LineBuffer`](super::LineBuffer)). A failed
/// allocation is an `OutOfMemory` error, not an abort.
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
    /// Unreturned bytes are `buf[lo..end]`; `buf[end-1]` is a `\n` when `lo < end`, unless
    /// skipping an overlong line or `tail` is set.
    lo: usize,
    end: usize,
    /// Offset of `buf[lo]` in the source.
    off: u64,
    block: usize,
    max_block: usize,
    max_record: usize,
    /// Skipping an overlong line that ends (before its `\n`) at this offset: its bytes after
    /// `buf[lo]` were dropped.
    overlong: Option<u64>,
    /// The unterminated tail is still to be returned: the unreturned bytes do not end in a
    /// `\n` of their own.
    tail: bool,
    /// Where the complete lines end (just after the last `\n`), found by `new`; `None` with
    /// [`BackOptions::unterminated`], which does not look for it.
    complete_end: Option<u64>,
}

impl<R: ReadAt> BackScanner<R> {
    /// A scanner over `src[..size]`, reading `block` bytes at a time (at least 16), lines
    /// capped at `max_record` (at least 16).
    pub fn new(src: R, size: u64, block: usize, max_record: usize) -> io::Result<Self> {
        Self::with_options(src, size, BackOptions::new(block, max_record))
    }

    /// A scanner over `src[..size]` with [`BackOptions`].
    pub fn with_options(src: R, size: u64, opts: BackOptions) -> io::Result<Self> {
        let block = opts.block.max(16);
        let mut s = BackScanner {
            src,
            buf: Vec::new(),
            lo: 0,
            end: 0,
            off: size,
            block,
            max_block: opts.max_block.max(block),
            max_record: opts.max_record.max(16),
            overlong: None,
            tail: opts.unterminated && size > 0,
            complete_end: None,
        };
        if opts.unterminated {
            // `prev` hands the tail out as a line, from the first read on.
            return Ok(s);
        }
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
        s.complete_end = Some(s.off + (s.end - s.lo) as u64);
        Ok(s)
    }

    /// Reads the block before `off` in front of `buf[lo..end]`; returns where `lo` was.
    fn prepend(&mut self) -> io::Result<usize> {
        // A block larger than the bytes left is clamped to them.
        let k = self
            .block
            .min(usize::try_from(self.off).unwrap_or(usize::MAX));
        // Saturating: clamped by `max_block` anyway.
        self.block = self.block.saturating_mul(2).min(self.max_block);
        if self.lo < k {
            let kept = self.end - self.lo;
            if self.buf.len() < kept + k {
                // Double (amortised linear), right-aligned, but not past what a kept line
                // and the largest block can need (`kept <= max_record`: longer lines are
                // dropped; saturating: a cap of `usize::MAX` is no cap). No more than the
                // first read needs: an answer in the last block costs one block of memory.
                let bound = self.max_record.saturating_add(self.max_block);
                let new_len = (2 * self.buf.len()).min(bound).max(kept + k);
                self.buf
                    .try_reserve_exact(new_len - self.buf.len())
                    .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
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
            // The source is shorter than the size the scan started from (a file truncated
            // while scanned): the bytes read no longer sit where the kept ones say, so no
            // offset could be trusted. An error, as `SeekAt` gives for the same case.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was read backwards",
            ));
        }
        self.lo = old_lo - k;
        self.off = new_off;
        Ok(old_lo)
    }

    /// Where the source's complete lines end: just after its last `\n` (0 when it has
    /// none). The bytes after it are an unterminated tail, which `prev` does not return.
    /// Known as soon as the scanner is made, having read only that tail and the block
    /// holding the `\n`; `None` with [`BackOptions::unterminated`].
    pub fn complete_end(&self) -> Option<u64> {
        self.complete_end
    }

    /// Bytes of buffer allocated.
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Offset in the source of the first byte kept: lines before it are not read yet.
    pub fn offset(&self) -> u64 {
        self.off
    }

    /// Bytes of the last unreturned line that are not its own `\n`: where its search for
    /// the previous `\n` stops.
    fn search_end(&self) -> usize {
        if self.lo == self.end || self.overlong.is_some() || self.tail {
            self.end
        } else {
            self.end - 1
        }
    }

    /// The previous complete line, or `None` at the start of the source.
    pub fn prev(&mut self) -> io::Result<Option<LineItem<'_>>> {
        // Where the newline search in buf[lo..] may stop: bytes after it were searched.
        let mut searched_to = self.search_end();
        loop {
            if self.lo == self.end && self.overlong.is_none() {
                if self.off == 0 {
                    self.tail = false;
                    return Ok(None);
                }
                self.prepend()?;
                // The block ends with a newline, or is the unterminated tail.
                searched_to = self.search_end();
                continue;
            }
            match memrchr(b'\n', &self.buf[self.lo..searched_to]) {
                Some(i) if self.tail && self.overlong.is_none() && self.lo + i + 1 == self.end => {
                    // The source ends with `\n`: its unterminated tail is empty.
                    self.tail = false;
                    searched_to = self.lo + i;
                }
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
                        // bytes end with the line's `\n` unless already skipping or in the
                        // tail.
                        if self.overlong.is_none() {
                            let nl = u64::from(!self.tail);
                            self.overlong = Some(self.off + (self.end - self.lo) as u64 - nl);
                        }
                        self.lo = self.end;
                    }
                    searched_to = self.prepend()?;
                }
            }
        }
    }

    /// As [`BackScanner::prev`], but every complete line already read at once, as one
    /// [`LineItem::Line`] of lines each ending in `\n` (for a consumer that scans many lines
    /// in one pass, as a `memmem` prefilter does). A line inside may be `max_record` bytes
    /// or longer (it is in memory anyway): the consumer checks each.
    pub fn prev_lines(&mut self) -> io::Result<Option<LineItem<'_>>> {
        if self.overlong.is_none() && !self.tail && self.lo < self.end {
            // The first kept line is complete only at the start of the source.
            let from = if self.off == 0 {
                Some(self.lo)
            } else {
                memchr(b'\n', &self.buf[self.lo..self.end - 1]).map(|i| self.lo + i + 1)
            };
            if let Some(from) = from {
                let to = self.end;
                self.end = from;
                return Ok(Some(LineItem::Line {
                    offset: self.off + (from - self.lo) as u64,
                    bytes: &self.buf[from..to],
                }));
            }
        }
        self.prev()
    }

    /// The line `buf[from..to]` (with its `\n`, unless it is the tail) at `pos`, or an
    /// overlong one.
    fn item(&mut self, pos: u64, from: usize, to: usize) -> LineItem<'_> {
        let nl = usize::from(!std::mem::take(&mut self.tail));
        if let Some(end) = self.overlong.take() {
            return LineItem::Overlong {
                offset: pos,
                len: end - pos,
            };
        }
        if to - from - nl >= self.max_record {
            return LineItem::Overlong {
                offset: pos,
                len: (to - from - nl) as u64,
            };
        }
        LineItem::Line {
            offset: pos,
            bytes: &self.buf[from..to],
        }
    }
}

/// [`ReadAt`] over a `Read + Seek` source (a seek, then reads), for a scan within a length
/// known beforehand: the source ending before it is an `UnexpectedEof` error (it was
/// truncated meanwhile), not a shorter source.
#[derive(Debug)]
pub struct SeekAt<R>(RefCell<R>);

impl<R: Read + Seek> SeekAt<R> {
    /// Wraps `src`.
    pub fn new(src: R) -> Self {
        SeekAt(RefCell::new(src))
    }
}

impl<R: Read + Seek> ReadAt for SeekAt<R> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let mut src = self.0.borrow_mut();
        src.seek(SeekFrom::Start(offset))?;
        match src.read(buf)? {
            0 if !buf.is_empty() => Err(io::ErrorKind::UnexpectedEof.into()),
            n => Ok(n),
        }
    }
}
