//! Byte-level scanning: a forward rolling buffer over a file read with `pread`, a backward
//! record scanner for tail, and the tail counter (sans-IO).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use memchr::{memchr, memrchr};

use crate::cri::{Stream, Tag};

use super::merge::idx;

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

/// What [`Chunker::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A complete physical line (with its `\n`) starting at this offset.
    Line(u64, &'a [u8]),
    /// A line longer than the cap was skipped; it started at this offset.
    Overlong(u64),
    /// Nothing complete is buffered: read more.
    NeedData,
}

/// A rolling buffer over one file: complete lines out, the unterminated tail kept.
#[derive(Debug)]
pub struct Chunker {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// How far `start..` has been searched for `\n` without success.
    searched: usize,
    /// File offset of `buf[end]`: where the next read goes.
    pub read_off: u64,
    read_size: usize,
    max_record: usize,
    /// Inside an overlong line being skipped (started at this offset).
    discarding: Option<u64>,
}

impl Chunker {
    /// Starts reading at `offset`, `read_size` bytes per read, lines capped at `max_record`.
    pub fn new(offset: u64, read_size: usize, max_record: usize) -> Self {
        Chunker {
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

    /// File offset of the first unconsumed byte.
    pub fn consumed_off(&self) -> u64 {
        self.read_off - (self.end - self.start) as u64
    }

    /// Bytes of buffer allocated (at most `max_record + read_size`).
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Bytes buffered after the last complete line (an unterminated record).
    pub fn fragment(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Forgets buffered bytes and restarts at `offset` (after a truncation).
    pub fn reset(&mut self, offset: u64) {
        self.start = 0;
        self.end = 0;
        self.searched = 0;
        self.read_off = offset;
        self.discarding = None;
    }

    /// Reads more of `file`; returns the number of bytes read (0 at its end).
    pub fn fill(&mut self, file: &File) -> io::Result<usize> {
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
        let n = pread_full(file, &mut self.buf[self.end..want], self.read_off)?;
        self.end += n;
        self.read_off += n as u64;
        Ok(n)
    }

    /// Appends bytes as if read from the file (tests and fuzzing).
    #[doc(hidden)]
    pub fn push_for_test(&mut self, data: &[u8]) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        self.buf.truncate(self.end);
        self.buf.extend_from_slice(data);
        self.end = self.buf.len();
        self.read_off += data.len() as u64;
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
#[derive(Debug)]
pub struct BackScanner<'f> {
    file: &'f File,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_off: u64,
    /// Unreturned bytes are `buf[..end]`; `buf[end-1]` is a `\n` when `end > 0`.
    end: usize,
    block: usize,
    max_record: usize,
    /// Bytes already dropped from an overlong line's end.
    overlong: bool,
}

impl<'f> BackScanner<'f> {
    /// A scanner over `file[..size]`.
    pub fn new(file: &'f File, size: u64, block: usize, max_record: usize) -> io::Result<Self> {
        let mut s = BackScanner {
            file,
            buf: Vec::new(),
            buf_off: size,
            end: 0,
            block: block.max(16),
            max_record: max_record.max(16),
            overlong: false,
        };
        // Find the last newline: everything after it is unterminated.
        loop {
            if s.buf_off == 0 {
                s.end = 0;
                break;
            }
            s.prepend()?;
            if let Some(i) = memrchr(b'\n', &s.buf[..s.end]) {
                s.end = i + 1;
                break;
            }
            if s.end > s.max_record {
                s.end = 0;
                s.buf.clear();
            }
        }
        Ok(s)
    }

    /// Reads the block before `buf_off` in front of `buf[..end]`.
    fn prepend(&mut self) -> io::Result<()> {
        let k = self
            .block
            .min(usize::try_from(self.buf_off).unwrap_or(usize::MAX));
        let new_off = self.buf_off - k as u64;
        let mut nb = vec![0u8; k + self.end];
        let got = pread_full(self.file, &mut nb[..k], new_off)?;
        if got < k {
            // The file shrank under us: treat what is missing as absent.
            nb.truncate(got);
            nb.extend_from_slice(&self.buf[..self.end]);
            self.buf = nb;
            self.end = self.buf.len();
            self.buf_off = 0;
            return Ok(());
        }
        nb[k..].copy_from_slice(&self.buf[..self.end]);
        self.buf = nb;
        self.end += k;
        self.buf_off = new_off;
        Ok(())
    }

    /// Bytes of buffer allocated.
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The previous complete line, or `None` at the start of the file.
    pub fn prev(&mut self) -> io::Result<Option<BackItem<'_>>> {
        loop {
            if self.end == 0 && !self.overlong {
                if self.buf_off == 0 {
                    return Ok(None);
                }
                self.prepend()?;
                // The block must end on a newline here (we only stop right after one).
                continue;
            }
            let search_end = if self.overlong {
                self.end
            } else {
                self.end - 1
            };
            match memrchr(b'\n', &self.buf[..search_end]) {
                Some(i) => {
                    let rec_end = self.end;
                    self.end = i + 1;
                    let pos = self.buf_off + (i + 1) as u64;
                    if self.overlong {
                        self.overlong = false;
                        return Ok(Some(BackItem::Overlong(pos)));
                    }
                    return Ok(Some(BackItem::Line(pos, &self.buf[i + 1..rec_end])));
                }
                None if self.buf_off == 0 => {
                    let rec_end = self.end;
                    self.end = 0;
                    if self.overlong {
                        self.overlong = false;
                        return Ok(Some(BackItem::Overlong(0)));
                    }
                    return Ok(Some(BackItem::Line(0, &self.buf[..rec_end])));
                }
                None => {
                    if self.end > self.max_record {
                        self.overlong = true;
                        self.buf.clear();
                        self.end = 0;
                        // Keep skipping: read blocks until a newline shows up.
                        let k = self
                            .block
                            .min(usize::try_from(self.buf_off).unwrap_or(usize::MAX));
                        let new_off = self.buf_off - k as u64;
                        self.buf = vec![0u8; k];
                        let got = pread_full(self.file, &mut self.buf, new_off)?;
                        self.buf.truncate(got);
                        self.end = got;
                        self.buf_off = new_off;
                    } else {
                        self.prepend()?;
                    }
                }
            }
        }
    }
}

/// How `tail` counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TailMode {
    /// Logical lines: `P` pieces and their `F` count once, per stream (ctrlog's default).
    #[default]
    Lines,
    /// Physical records, each `\n`-terminated line (kubelet's `FindTailLineStartIndex`).
    Records,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StreamTail {
    Unseen,
    /// Inside a kept line whose earliest piece seen so far is at `first`.
    Open(Pos),
    /// Kept lines of this stream start at this position.
    Closed(Pos),
}

/// Finds where the last `n` lines start while records are fed to it from the end backwards.
/// Sans-IO: callers feed `(stream, tag)` of each record (or `None` for garbage) with its
/// position.
#[derive(Clone, Debug)]
pub struct TailCounter {
    n: u64,
    mode: TailMode,
    count: u64,
    state: [StreamTail; 2],
    earliest: Pos,
}

impl TailCounter {
    /// Counts the last `n` lines in `mode`.
    pub fn new(n: u64, mode: TailMode) -> Self {
        let mut t = TailCounter {
            n,
            mode,
            count: 0,
            state: [StreamTail::Unseen; 2],
            earliest: NEVER,
        };
        if n == 0 {
            t.state = [StreamTail::Closed(NEVER); 2];
        }
        t
    }

    /// Whether enough has been seen.
    pub fn done(&self) -> bool {
        match self.mode {
            TailMode::Records => self.count >= self.n,
            TailMode::Lines => {
                self.count >= self.n && self.state.iter().all(|s| !matches!(s, StreamTail::Open(_)))
            }
        }
    }

    /// Feeds the record at `pos` (walking backwards). `rec` is `None` for a line that is not
    /// a record.
    pub fn push(&mut self, rec: Option<(Stream, Tag)>, pos: Pos) {
        if self.mode == TailMode::Records {
            if self.count < self.n {
                self.count += 1;
                self.earliest = pos;
            }
            return;
        }
        let Some((stream, tag)) = rec else { return };
        let i = idx(stream);
        let full = self.count >= self.n;
        self.state[i] = match (self.state[i], tag) {
            (StreamTail::Closed(p), _) => StreamTail::Closed(p),
            (StreamTail::Open(first), Tag::Full) => {
                if full {
                    StreamTail::Closed(first)
                } else {
                    self.count += 1;
                    StreamTail::Open(pos)
                }
            }
            (StreamTail::Open(_), Tag::Partial) => StreamTail::Open(pos),
            (StreamTail::Unseen, _) => {
                if full {
                    StreamTail::Closed(NEVER)
                } else {
                    self.count += 1;
                    StreamTail::Open(pos)
                }
            }
        };
    }

    /// At the start of the whole set: where each stream's kept lines start.
    pub fn finish(&self) -> [Pos; 2] {
        if self.count < self.n {
            // Fewer lines than asked for: all of them.
            return [(0, 0), (0, 0)];
        }
        if self.mode == TailMode::Records {
            let p = if self.n == 0 { NEVER } else { self.earliest };
            return [p, p];
        }
        let f = |s: StreamTail| match s {
            StreamTail::Unseen => NEVER,
            StreamTail::Open(p) | StreamTail::Closed(p) => p,
        };
        [f(self.state[0]), f(self.state[1])]
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
        let mut c = Chunker::new(0, read_size, max);
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

    #[test]
    fn tail_counter_lines_and_records() {
        use crate::cri::{Stream::*, Tag::*};
        // stdout P(0) stderr F(1) stdout F(2) stderr F(3), fed backwards.
        let recs = [
            (Stdout, Partial),
            (Stderr, Full),
            (Stdout, Full),
            (Stderr, Full),
        ];
        let run = |n, mode| {
            let mut t = TailCounter::new(n, mode);
            for (i, r) in recs.iter().enumerate().rev() {
                if t.done() {
                    break;
                }
                t.push(Some(*r), (0, i as u64));
            }
            t.finish()
        };
        // Last line: stderr F(3); stdout has no kept line.
        assert_eq!(run(1, TailMode::Lines), [NEVER, (0, 3)]);
        // Two lines: stderr(3) and stdout(0..2).
        assert_eq!(run(2, TailMode::Lines), [(0, 0), (0, 3)]);
        assert_eq!(run(3, TailMode::Lines), [(0, 0), (0, 1)]);
        assert_eq!(run(9, TailMode::Lines), [(0, 0), (0, 0)]);
        assert_eq!(run(0, TailMode::Lines), [NEVER, NEVER]);
        assert_eq!(run(2, TailMode::Records), [(0, 2), (0, 2)]);
    }
}
