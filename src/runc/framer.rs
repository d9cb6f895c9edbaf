//! Newline framing over any `BufRead` with a per-line cap (ripgrep-style rolling carry).
//!
//! Lines are handed out in chunks: a run of complete lines straight from the reader's buffer
//! (zero copy), one line assembled in `carry` when it straddled two fills, the unterminated
//! final segment, or the position and length of a line longer than the cap, which is skipped
//! without ever being held in memory.

use std::io::{self, BufRead};

use memchr::{memchr, memrchr};

use crate::lines::extend_capped;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Complete lines, each ending in `\n`, at `offset`. A line inside may exceed the cap when
    /// the reader's own buffer is larger than the cap: consumers check each line.
    Lines { offset: u64, len: usize },
    /// The bytes after the last `\n` (no terminator), at most the cap.
    Final { offset: u64, len: usize },
    /// A line longer than the cap (`len` excludes its `\n`), skipped.
    Oversized { offset: u64, len: u64 },
}

pub(crate) struct LineFramer<R> {
    inner: R,
    max_line: usize,
    carry: Vec<u8>,
    carry_offset: u64,
    pos: u64,
    pending: usize,
    cur_in_carry: bool,
    cur_len: usize,
    skip: Option<(u64, u64)>,
    eof: bool,
}

impl<R: BufRead> LineFramer<R> {
    pub(crate) fn new(inner: R, max_line: usize) -> Self {
        LineFramer {
            inner,
            max_line,
            carry: Vec::new(),
            carry_offset: 0,
            pos: 0,
            pending: 0,
            cur_in_carry: false,
            cur_len: 0,
            skip: None,
            eof: false,
        }
    }

    /// Absolute offset of the next byte not yet handed out.
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    fn fill(&mut self) -> io::Result<usize> {
        loop {
            match self.inner.fill_buf() {
                Ok(b) => return Ok(b.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn advance(&mut self, n: usize) {
        self.inner.consume(n);
        self.pos = self.pos.saturating_add(n as u64);
    }

    pub(crate) fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if self.pending > 0 {
            let n = self.pending;
            self.pending = 0;
            self.inner.consume(n);
        }
        if self.cur_in_carry {
            self.carry.clear();
            self.cur_in_carry = false;
        }
        loop {
            if self.eof {
                return Ok(None);
            }
            let n = self.fill()?;
            if n == 0 {
                self.eof = true;
                if let Some((offset, len)) = self.skip.take() {
                    return Ok(Some(Chunk::Oversized { offset, len }));
                }
                if !self.carry.is_empty() {
                    self.cur_in_carry = true;
                    self.cur_len = self.carry.len();
                    return Ok(Some(Chunk::Final {
                        offset: self.carry_offset,
                        len: self.carry.len(),
                    }));
                }
                return Ok(None);
            }
            let avail = self.inner.fill_buf()?;
            if let Some((start, len)) = self.skip {
                match memchr(b'\n', avail) {
                    Some(i) => {
                        self.skip = None;
                        self.advance(i + 1);
                        return Ok(Some(Chunk::Oversized {
                            offset: start,
                            len: len.saturating_add(i as u64),
                        }));
                    }
                    None => {
                        self.skip = Some((start, len.saturating_add(n as u64)));
                        self.advance(n);
                        continue;
                    }
                }
            }
            if self.carry.is_empty() {
                match memrchr(b'\n', avail) {
                    Some(i) => {
                        let offset = self.pos;
                        self.pending = i + 1;
                        self.cur_len = i + 1;
                        self.pos = self.pos.saturating_add((i + 1) as u64);
                        return Ok(Some(Chunk::Lines { offset, len: i + 1 }));
                    }
                    None => {
                        if n > self.max_line {
                            self.skip = Some((self.pos, n as u64));
                        } else {
                            extend_capped(&mut self.carry, avail, self.max_line.saturating_add(1));
                            self.carry_offset = self.pos;
                        }
                        self.advance(n);
                        continue;
                    }
                }
            }
            match memchr(b'\n', avail) {
                Some(i) => {
                    let total = self.carry.len().saturating_add(i);
                    if total > self.max_line {
                        let offset = self.carry_offset;
                        self.carry = Vec::new();
                        self.advance(i + 1);
                        return Ok(Some(Chunk::Oversized {
                            offset,
                            len: total as u64,
                        }));
                    }
                    extend_capped(
                        &mut self.carry,
                        &avail[..=i],
                        self.max_line.saturating_add(1),
                    );
                    self.advance(i + 1);
                    self.cur_in_carry = true;
                    self.cur_len = self.carry.len();
                    return Ok(Some(Chunk::Lines {
                        offset: self.carry_offset,
                        len: self.carry.len(),
                    }));
                }
                None => {
                    let total = self.carry.len().saturating_add(n);
                    if total > self.max_line {
                        self.skip = Some((self.carry_offset, total as u64));
                        self.carry = Vec::new();
                    } else {
                        extend_capped(&mut self.carry, avail, self.max_line.saturating_add(1));
                    }
                    self.advance(n);
                }
            }
        }
    }

    /// The bytes of the chunk last returned by [`next_chunk`](Self::next_chunk) (`Lines` or
    /// `Final`).
    pub(crate) fn chunk_bytes(&mut self) -> io::Result<&[u8]> {
        if self.cur_in_carry {
            return Ok(&self.carry[..self.cur_len]);
        }
        if self.pending == 0 {
            return Ok(&[]);
        }
        // BufRead contract: without `consume`, `fill_buf` returns the same bytes again. A
        // caller's reader that breaks it is an I/O error, not a panic and not short data.
        let want = self.pending;
        let buf = self.inner.fill_buf()?;
        match buf.get(..want) {
            Some(b) => Ok(b),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the reader's fill_buf returned fewer bytes than it did before (BufRead contract)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `BufRead` that breaks the contract: after two calls, `fill_buf` returns fewer bytes
    /// although nothing was consumed.
    struct Shrinking(usize);

    impl io::Read for Shrinking {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            unreachable!("the framer reads through fill_buf")
        }
    }

    impl BufRead for Shrinking {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            self.0 += 1;
            Ok(if self.0 <= 2 { b"{}\n{}\n" } else { b"{}" })
        }
        fn consume(&mut self, _: usize) {}
    }

    #[test]
    fn a_reader_breaking_fill_buf_is_an_error_not_short_data() {
        let mut f = LineFramer::new(Shrinking(0), 100);
        assert_eq!(
            f.next_chunk().unwrap(),
            Some(Chunk::Lines { offset: 0, len: 6 })
        );
        // Before: the 2 bytes came back as the chunk, and the decoder looped on them forever.
        let err = f.chunk_bytes().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
