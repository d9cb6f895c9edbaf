//! Byte-level scanning: the forward line buffer over any byte source ([`LineBuffer`]), a
//! backward line scanner for tail over a plain file ([`BackScanner`]), and the tail counter
//! (sans-IO).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use memchr::{memchr, memrchr};

/// A position in a file set: (file number, byte offset). Ordered.
pub type Pos = (usize, u64);

/// No position: after everything.
pub const NEVER: Pos = (usize::MAX, u64::MAX);

fn pread_full(file: &File, buf: &mut [u8], mut off: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], off) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                off += k as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What [`LineBuffer::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A complete physical line (with its `\n`) starting at this offset.
    Line(u64, &'a [u8]),
    /// A line longer than the cap was skipped; it started at this offset.
    Overlong(u64),
    /// Nothing complete is buffered: read more.
    NeedData,
}

/// The one forward line framer: a rolling buffer filled from any byte source (a file read
/// with `pread`, a gzip decoder, a pipe), handing out complete lines with their absolute
/// offset and keeping the unterminated tail.
///
/// The shape is ripgrep's `grep-searcher` line buffer: [`LineBuffer::buffer`] is what is
/// buffered and not consumed, [`LineBuffer::consume`] drops bytes from its front,
/// [`LineBuffer::fill_from`] reads more. Overlong-line policy: a line of `max_record` bytes
/// or more (its `\n` not counted) is never handed out; it is reported as
/// [`Item::Overlong`] with its start offset, and while it is being skipped at most
/// `max_record + read_size` bytes are buffered.
#[derive(Debug)]
pub struct LineBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// How far `start..` has been searched for `\n` without success.
    searched: usize,
    /// Absolute offset of `buf[end]`: where the next byte read belongs.
    pub read_off: u64,
    read_size: usize,
    max_record: usize,
    /// Inside an overlong line being skipped (started at this offset).
    discarding: Option<u64>,
}

/// The former name of [`LineBuffer`].
#[doc(hidden)]
pub type Chunker = LineBuffer;

/// A [`Read`] over a file at an offset of its own, with `pread`: clones of one open file
/// (sharing the kernel's file offset) never disturb each other.
#[derive(Debug)]
pub struct ReadAt<F> {
    file: F,
    /// Offset of the next read.
    pub off: u64,
}

impl<F: std::borrow::Borrow<File>> ReadAt<F> {
    /// Reads `file` from `off`.
    pub fn new(file: F, off: u64) -> Self {
        ReadAt { file, off }
    }
}

impl<F: std::borrow::Borrow<File>> Read for ReadAt<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.borrow().read_at(buf, self.off)?;
        self.off += n as u64;
        Ok(n)
    }
}

impl LineBuffer {
    /// Starts at absolute offset `offset`, `read_size` bytes per read, lines capped at
    /// `max_record`.
    pub fn new(offset: u64, read_size: usize, max_record: usize) -> Self {
        LineBuffer {
            buf: Vec::new(),
            start: 0,
            end: 0,
            searched: 0,
            read_off: offset,
            read_size: read_size.max(16),
            max_record: max_record.max(16),
            discarding: None,
        }
    }

    /// Absolute offset of the first unconsumed byte.
    pub fn consumed_off(&self) -> u64 {
        self.read_off - (self.end - self.start) as u64
    }

    /// Bytes of buffer allocated (at most `max_record + read_size`, doubled at worst).
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The buffered bytes not consumed yet.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Drops `n` bytes from the front of [`LineBuffer::buffer`].
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.searched = self.searched.saturating_sub(n);
    }

    /// Bytes buffered after the last complete line (an unterminated record), once
    /// [`LineBuffer::next_line`] returned [`Item::NeedData`].
    pub fn fragment(&self) -> &[u8] {
        self.buffer()
    }

    /// Forgets buffered bytes and restarts at `offset` (after a truncation).
    pub fn reset(&mut self, offset: u64) {
        self.start = 0;
        self.end = 0;
        self.searched = 0;
        self.read_off = offset;
        self.discarding = None;
    }

    /// Room for one more read at the end of the buffer.
    fn make_room(&mut self) -> &mut [u8] {
        if self.start > 0 && (self.start == self.end || self.buf.len() - self.end < self.read_size)
        {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let want = self.end + self.read_size;
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        &mut self.buf[self.end..want]
    }

    /// One read from `src` (a decoder, a pipe, anything read forward); returns the number
    /// of bytes read (0 at its end). `src` must continue at [`LineBuffer::read_off`].
    pub fn fill_from<R: Read + ?Sized>(&mut self, src: &mut R) -> io::Result<usize> {
        let room = self.make_room();
        let n = loop {
            match src.read(room) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break r?,
            }
        };
        self.end += n;
        self.read_off += n as u64;
        Ok(n)
    }

    /// Reads more of the plain file `file` at [`LineBuffer::read_off`] (`pread`: the file's
    /// own offset is not used); returns the number of bytes read (0 at its end).
    pub fn fill(&mut self, file: &File) -> io::Result<usize> {
        let off = self.read_off;
        let room = self.make_room();
        let n = pread_full(file, room, off)?;
        self.end += n;
        self.read_off += n as u64;
        Ok(n)
    }

    /// Appends bytes as if read (tests and fuzzing).
    #[doc(hidden)]
    pub fn push_for_test(&mut self, data: &[u8]) {
        let _ = self.fill_from(&mut &data[..]);
        if data.len() > self.read_size {
            self.push_for_test(&data[self.read_size..]);
        }
    }

    /// The next complete line, if buffered.
    #[inline]
    pub fn next_line(&mut self) -> Item<'_> {
        let from = self.start + self.searched;
        match memchr(b'\n', &self.buf[from..self.end]) {
            Some(i) => {
                let nl = from + i;
                let s = self.start;
                let pos = self.consumed_off();
                self.start = nl + 1;
                self.searched = 0;
                if let Some(at) = self.discarding.take() {
                    return Item::Overlong(at);
                }
                // Over the cap even though it happened to fit in one read: skipped the
                // same whatever the read size.
                if nl - s >= self.max_record {
                    return Item::Overlong(pos);
                }
                Item::Line(pos, &self.buf[s..nl + 1])
            }
            None => {
                let pending = self.end - self.start;
                if pending >= self.max_record {
                    // Too long: drop what is buffered and skip to the next newline.
                    if self.discarding.is_none() {
                        self.discarding = Some(self.consumed_off());
                    }
                    self.start = self.end;
                    self.searched = 0;
                } else {
                    self.searched = pending;
                }
                Item::NeedData
            }
        }
    }
}

/// What [`BackScanner::prev`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum BackItem<'a> {
    /// A complete line (with its `\n`) starting at this offset.
    Line(u64, &'a [u8]),
    /// A line over the cap, starting at this offset (skipped).
    Overlong(u64),
}

/// Walks a file's complete lines from the end backwards, reading blocks with `pread`.
/// The unterminated bytes after the last `\n` are not returned (kubelet's tail does not
/// count them either).
///
/// The buffer is right-aligned: blocks are read in front of what is kept, into room made by
/// moving the kept bytes to the right end once, or by doubling the buffer; a line spanning
/// many blocks costs linear time and at most about `2 × (max_record + block)` bytes. Lines
/// of `max_record` bytes or more (without their `\n`) are [`BackItem::Overlong`], as
/// forwards ([`LineBuffer`]).
#[derive(Debug)]
pub struct BackScanner<'f> {
    file: &'f File,
    buf: Vec<u8>,
    /// Unreturned bytes are `buf[lo..end]`; `buf[end-1]` is a `\n` when `lo < end` and not
    /// skipping an overlong line.
    lo: usize,
    end: usize,
    /// File offset of `buf[lo]`.
    off: u64,
    block: usize,
    max_record: usize,
    /// Skipping an overlong line: its bytes after `buf[lo]` were dropped.
    overlong: bool,
}

impl<'f> BackScanner<'f> {
    /// A scanner over `file[..size]`.
    pub fn new(file: &'f File, size: u64, block: usize, max_record: usize) -> io::Result<Self> {
        let mut s = BackScanner {
            file,
            buf: Vec::new(),
            lo: 0,
            end: 0,
            off: size,
            block: block.max(16),
            max_record: max_record.max(16),
            overlong: false,
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
        let got = pread_full(self.file, &mut self.buf[old_lo - k..old_lo], new_off)?;
        if got < k {
            // The file shrank under us: what is missing is treated as absent and the
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

    /// The previous complete line, or `None` at the start of the file.
    pub fn prev(&mut self) -> io::Result<Option<BackItem<'_>>> {
        // Where the newline search in buf[lo..] may stop: bytes after it were searched.
        let mut searched_to = if self.overlong {
            self.end
        } else {
            self.end.saturating_sub(1).max(self.lo)
        };
        loop {
            if self.lo == self.end && !self.overlong {
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
                        // Too long: drop what is kept of it and skip to its start.
                        self.overlong = true;
                        self.lo = self.end;
                    }
                    searched_to = self.prepend()?;
                }
            }
        }
    }

    /// The line `buf[from..to]` at `pos`, or an overlong one.
    fn item(&mut self, pos: u64, from: usize, to: usize) -> BackItem<'_> {
        let long = std::mem::take(&mut self.overlong) || to - from > self.max_record;
        if long {
            BackItem::Overlong(pos)
        } else {
            BackItem::Line(pos, &self.buf[from..to])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(data: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(data).unwrap();
        f
    }

    /// Lines with offsets, overlong line offsets, peak buffer capacity.
    type Scan = (Vec<(u64, Vec<u8>)>, Vec<u64>, usize);

    fn forward(f: &File, read_size: usize, max: usize) -> Scan {
        let mut c = LineBuffer::new(0, read_size, max);
        let (mut lines, mut long, mut peak) = (Vec::new(), Vec::new(), 0);
        loop {
            loop {
                match c.next_line() {
                    Item::Line(p, l) => lines.push((p, l.to_vec())),
                    Item::Overlong(p) => long.push(p),
                    Item::NeedData => break,
                }
            }
            peak = peak.max(c.buffer_capacity());
            if c.fill(f).unwrap() == 0 {
                break;
            }
        }
        (lines, long, peak)
    }

    fn backward(f: &File, block: usize, max: usize) -> Scan {
        let size = f.metadata().unwrap().len();
        let mut b = BackScanner::new(f, size, block, max).unwrap();
        let (mut lines, mut long, mut peak) = (Vec::new(), Vec::new(), 0);
        while let Some(item) = b.prev().unwrap() {
            match item {
                BackItem::Line(p, l) => lines.push((p, l.to_vec())),
                BackItem::Overlong(p) => long.push(p),
            }
            peak = peak.max(b.buffer_capacity());
        }
        lines.reverse();
        long.reverse();
        (lines, long, peak)
    }

    #[test]
    fn memory_is_capped_and_overlong_lines_skipped_both_ways() {
        let mut data = b"a\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 1 << 20));
        data.extend_from_slice(b"\nbb\ncc\nunterminated");
        let f = file_with(&data);
        let max = 4096;
        let (lines, long, peak) = forward(&f, 512, max);
        assert_eq!(
            lines,
            vec![
                (0, b"a\n".to_vec()),
                (1_048_579, b"bb\n".to_vec()),
                (1_048_582, b"cc\n".to_vec())
            ]
        );
        assert_eq!(long, vec![2]);
        assert!(peak <= 2 * (max + 512), "forward buffer grew to {peak}");
        let (blines, blong, bpeak) = backward(&f, 512, max);
        assert_eq!(blines, lines);
        assert_eq!(blong, long);
        assert!(bpeak <= 4 * (max + 512), "backward buffer grew to {bpeak}");
    }

    #[test]
    fn backward_equals_forward_for_every_block_size() {
        let data = b"one\n\ntwo two\nthree three three\n\n\nfour\nx";
        let f = file_with(data);
        let (want, _, _) = forward(&f, 16, 1 << 20);
        for block in 16..40 {
            assert_eq!(backward(&f, block, 1 << 20).0, want, "block {block}");
        }
    }
}
