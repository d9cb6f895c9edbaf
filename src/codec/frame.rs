//! Newline framing over a buffer the caller owns (tokio-util's `BytesMut`), with the crate's
//! overlong-line policy.
//!
//! [`LineBuffer`](crate::lines::LineBuffer) owns its buffer and reads into it; a tokio-util
//! decoder is handed the framed reader's buffer instead, so this is the same rule (a line of
//! `max` bytes or more, its `\n` not counted, is reported as [`Frame::Overlong`] and never
//! held whole; the scan goes on at the next line) over that buffer. Memory: the buffer holds
//! at most `max` bytes plus one read of a line being skipped.

use bytes::{Buf, BytesMut};

/// What [`Framer::next`] found at the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// The first `len` bytes are a line (with its `\n`, except an unterminated last line at
    /// the end of input); `offset` is its offset in the stream.
    Line { offset: u64, len: usize },
    /// A line of `max` bytes or more was dropped.
    Overlong { offset: u64, len: u64 },
    /// No whole line buffered yet.
    NeedMore,
}

#[derive(Debug)]
pub(crate) struct Framer {
    max: usize,
    /// Stream offset of `buf[0]`.
    offset: u64,
    /// Bytes of `buf` already searched for `\n`.
    searched: usize,
    /// Skipping an overlong line: its offset and the bytes dropped so far.
    discarding: Option<(u64, u64)>,
}

impl Framer {
    pub(crate) fn new(max: usize) -> Self {
        Framer {
            max: max.max(1),
            offset: 0,
            searched: 0,
            discarding: None,
        }
    }

    /// The next line at the front of `buf`. A [`Frame::Line`] is left in `buf` for the caller
    /// to take with `split_to(len)` (it must, before calling again); overlong bytes are
    /// dropped here.
    pub(crate) fn next(&mut self, buf: &mut BytesMut) -> Frame {
        if let Some((start, dropped)) = self.discarding {
            return match memchr::memchr(b'\n', buf) {
                Some(i) => {
                    buf.advance(i + 1);
                    self.offset += i as u64 + 1;
                    self.discarding = None;
                    Frame::Overlong {
                        offset: start,
                        len: dropped + i as u64,
                    }
                }
                None => {
                    self.offset += buf.len() as u64;
                    self.discarding = Some((start, dropped + buf.len() as u64));
                    buf.clear();
                    Frame::NeedMore
                }
            };
        }
        let from = self.searched.min(buf.len());
        match memchr::memchr(b'\n', &buf[from..]) {
            Some(i) => {
                let end = from + i;
                self.searched = 0;
                let offset = self.offset;
                if end >= self.max {
                    buf.advance(end + 1);
                    self.offset += end as u64 + 1;
                    return Frame::Overlong {
                        offset,
                        len: end as u64,
                    };
                }
                self.offset += end as u64 + 1;
                Frame::Line {
                    offset,
                    len: end + 1,
                }
            }
            None if buf.len() >= self.max => {
                self.discarding = Some((self.offset, buf.len() as u64));
                self.offset += buf.len() as u64;
                self.searched = 0;
                buf.clear();
                Frame::NeedMore
            }
            None => {
                self.searched = buf.len();
                Frame::NeedMore
            }
        }
    }

    /// [`next`](Self::next), or at the end of input (`end`) [`finish`](Self::finish): what a
    /// decoder's `decode` and `decode_eof` ask for.
    pub(crate) fn step(&mut self, buf: &mut BytesMut, end: bool) -> Frame {
        if end {
            self.finish(buf)
        } else {
            self.next(buf)
        }
    }

    /// At the end of input: the unterminated last line, or the end of a line being skipped.
    pub(crate) fn finish(&mut self, buf: &mut BytesMut) -> Frame {
        match self.next(buf) {
            Frame::NeedMore => {}
            found => return found,
        }
        if let Some((offset, len)) = self.discarding.take() {
            return Frame::Overlong { offset, len };
        }
        if buf.is_empty() {
            return Frame::NeedMore;
        }
        let offset = self.offset;
        self.offset += buf.len() as u64;
        self.searched = 0;
        Frame::Line {
            offset,
            len: buf.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in `chunk`-byte pieces and lists what comes out.
    fn frames(input: &[u8], chunk: usize, max: usize) -> Vec<(u64, Result<Vec<u8>, u64>)> {
        let mut f = Framer::new(max);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut take = |f: &mut Framer, buf: &mut BytesMut, end: bool| loop {
            match if end { f.finish(buf) } else { f.next(buf) } {
                Frame::Line { offset, len } => out.push((offset, Ok(buf.split_to(len).to_vec()))),
                Frame::Overlong { offset, len } => out.push((offset, Err(len))),
                Frame::NeedMore => break,
            }
        };
        for c in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(c);
            take(&mut f, &mut buf, false);
        }
        take(&mut f, &mut buf, true);
        out
    }

    #[test]
    fn lines_overlong_and_tail_whatever_the_chunking() {
        let input = b"ab\n0123456789\ncd\nlonger-than-eight\nend";
        let want: Vec<(u64, Result<Vec<u8>, u64>)> = vec![
            (0, Ok(b"ab\n".to_vec())),
            (3, Err(10)),
            (14, Ok(b"cd\n".to_vec())),
            (17, Err(17)),
            (35, Ok(b"end".to_vec())),
        ];
        for chunk in 1..=input.len() {
            assert_eq!(frames(input, chunk, 8), want, "chunk {chunk}");
        }
    }

    #[test]
    fn a_line_of_max_minus_one_passes_and_max_does_not() {
        assert_eq!(frames(b"1234567\n", 3, 8), [(0, Ok(b"1234567\n".to_vec()))]);
        assert_eq!(frames(b"12345678\n", 3, 8), [(0, Err(8))]);
        assert_eq!(frames(b"12345678", 3, 8), [(0, Err(8))]);
    }
}
