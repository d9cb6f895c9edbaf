//! The forward line buffer.

use std::io::{self, BufRead, Read};

use memchr::{memchr, memrchr};

use super::{extend_capped, read_full_at, reserve_capped, LineItem, ReadAt};

/// The one forward line framer: a rolling buffer filled from any byte source (a file read
/// with `pread`, a gzip decoder, a pipe, a byte slice), handing out complete lines with
/// their absolute offset and keeping the unterminated tail.
///
/// The shape is ripgrep's `grep-searcher` line buffer: [`LineBuffer::buffer`] is what is
/// buffered and not consumed, [`LineBuffer::consume`] drops bytes from its front,
/// [`LineBuffer::fill_from`] reads more. Overlong-line policy: a line of `max_record` bytes
/// or more (its `\n` not counted) is never handed out; it is reported as
/// [`LineItem::Overlong`], and while it is being skipped at most `max_record + read_size`
/// bytes are buffered.
///
/// ```
/// use ctrlog::lines::{LineBuffer, LineItem};
/// let mut lb = LineBuffer::new(0, 16, 1024);
/// lb.fill_from(&mut &b"one\ntwo\nthr"[..]).unwrap();
/// assert_eq!(lb.next_line(), Some(LineItem::Line { offset: 0, bytes: b"one\n" }));
/// assert_eq!(lb.next_line(), Some(LineItem::Line { offset: 4, bytes: b"two\n" }));
/// assert_eq!(lb.next_line(), None); // read more, or at the end:
/// assert_eq!(lb.finish(), Some(LineItem::Line { offset: 8, bytes: b"thr" }));
/// ```
///
/// Over a [`BufRead`] (a byte slice, a `BufReader`), [`LineBuffer::next_line_in`] frames in
/// the source's own buffer instead: a line lying whole in it is handed out without a copy,
/// and this buffer only assembles a line that straddles two of the source's fills. One
/// `LineBuffer` is driven either by `fill_*` with `next_line`/`finish`, or by `next_line_in`
/// and `next_lines_in`, not both.
///
/// ```
/// use ctrlog::lines::{LineBuffer, LineItem};
/// let mut src = std::io::BufReader::with_capacity(5, &b"one\ntwo\nthr"[..]);
/// let mut lb = LineBuffer::new(0, 16, 1024);
/// assert_eq!(lb.next_line_in(&mut src).unwrap(), Some(LineItem::Line { offset: 0, bytes: b"one\n" }));
/// // Straddles the reader's 5-byte fills: assembled in the line buffer.
/// assert_eq!(lb.next_line_in(&mut src).unwrap(), Some(LineItem::Line { offset: 4, bytes: b"two\n" }));
/// assert_eq!(lb.next_line_in(&mut src).unwrap(), Some(LineItem::Line { offset: 8, bytes: b"thr" }));
/// assert_eq!(lb.next_line_in(&mut src).unwrap(), None);
/// ```
#[derive(Debug)]
pub struct LineBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// How far `start..` has been searched for `\n` without success.
    searched: usize,
    /// Absolute offset of `buf[end]`: where the next byte read belongs.
    read_off: u64,
    read_size: usize,
    max_record: usize,
    /// Inside an overlong line being skipped (started at this offset).
    discarding: Option<u64>,
    /// Over a `BufRead`: bytes of the source's buffer handed out (and counted in
    /// `read_off`) but not yet consumed from it; consumed at the next call.
    pending: usize,
    /// The per-line newline search, its CPU dispatch done once.
    newline: NewlineFinder,
}

/// Where [`LineBuffer::frame_in`] found the next item.
enum Found {
    /// `len` bytes at the front of the source's buffer.
    Src {
        offset: u64,
        len: usize,
    },
    /// `buf[s..e]`, assembled across the source's fills.
    Carry {
        offset: u64,
        s: usize,
        e: usize,
    },
    Overlong {
        offset: u64,
        len: u64,
    },
    End,
}

impl LineBuffer {
    /// Starts at absolute offset `offset`, `read_size` bytes per read, lines capped at
    /// `max_record` (both at least 16).
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
            pending: 0,
            newline: NewlineFinder::new(),
        }
    }

    /// Absolute offset where the next byte read belongs (the source must continue there).
    pub fn read_off(&self) -> u64 {
        self.read_off
    }

    /// Absolute offset of the first unconsumed byte.
    pub fn consumed_off(&self) -> u64 {
        self.read_off - (self.end - self.start) as u64
    }

    /// Bytes of buffer allocated (at most `max_record + read_size`).
    pub fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// The buffered bytes not consumed yet: after [`LineBuffer::next_line`] returned `None`,
    /// the unterminated tail.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Every buffered byte, consumed or not, with the absolute offset of the first: the lines
    /// handed out since the last fill lie in it, unchanged until the next fill or reset.
    pub fn window(&self) -> (u64, &[u8]) {
        (self.read_off - self.end as u64, &self.buf[..self.end])
    }

    /// Drops `n` bytes from the front of [`LineBuffer::buffer`].
    ///
    /// # Panics
    /// If `n` is more than is buffered: a caller bug, as in ripgrep's `consume`.
    pub fn consume(&mut self, n: usize) {
        assert!(n <= self.end - self.start, "consumed more than is buffered");
        self.start += n;
        // Clamped: consuming past the searched bytes leaves nothing searched.
        self.searched = self.searched.saturating_sub(n);
    }

    /// Forgets buffered bytes and restarts at `offset` (after a truncation).
    pub fn reset(&mut self, offset: u64) {
        self.start = 0;
        self.end = 0;
        self.searched = 0;
        self.read_off = offset;
        self.discarding = None;
        self.pending = 0;
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
            // Saturating: a `max_record` of `usize::MAX` means no cap.
            let cap = self.max_record.saturating_add(self.read_size);
            reserve_capped(&mut self.buf, want, cap);
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

    /// Reads more of `src` at [`LineBuffer::read_off`] with positional reads (a file's own
    /// offset is not used); returns the number of bytes read (0 at its end).
    pub fn fill_at<R: ReadAt + ?Sized>(&mut self, src: &R) -> io::Result<usize> {
        let off = self.read_off;
        let room = self.make_room();
        let n = read_full_at(src, room, off)?;
        self.end += n;
        self.read_off += n as u64;
        Ok(n)
    }

    /// The next complete line, or `None` when no complete line is buffered: read more
    /// ([`LineBuffer::fill_from`]), or at the end of the input call [`LineBuffer::finish`].
    // Always inlined into the read loops: outlined, it cost more than the search it saves.
    #[inline(always)]
    pub fn next_line(&mut self) -> Option<LineItem<'_>> {
        let from = self.start + self.searched;
        match self.newline.find(&self.buf[from..self.end]) {
            Some(i) => {
                let nl = from + i;
                let s = self.start;
                let offset = self.consumed_off();
                self.start = nl + 1;
                self.searched = 0;
                let nl_off = offset + (nl - s) as u64;
                if let Some(at) = self.discarding.take() {
                    return Some(LineItem::Overlong {
                        offset: at,
                        len: nl_off - at,
                    });
                }
                // Over the cap even though it happened to fit in one read: skipped the
                // same whatever the read size.
                if nl - s >= self.max_record {
                    return Some(LineItem::Overlong {
                        offset,
                        len: (nl - s) as u64,
                    });
                }
                Some(LineItem::Line {
                    offset,
                    bytes: &self.buf[s..nl + 1],
                })
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
                None
            }
        }
    }

    /// The unconsumed bytes from the next line's start, at most `max_record` of them, for a
    /// caller that finds where the line ends as it reads it (a decoder that scans the whole
    /// record anyway), instead of [`LineBuffer::next_line`]'s search. `None` while an
    /// overlong line is being skipped. A line found in them is taken with
    /// [`LineBuffer::take_line`]; one that is not (no `\n` in them, or not the caller's
    /// shape) is left to `next_line`, which then frames it by its own rules.
    // Only the file reader (Unix-only) uses it.
    #[cfg_attr(not(unix), allow(dead_code))]
    #[inline(always)]
    pub(crate) fn unframed(&self) -> Option<&[u8]> {
        if self.discarding.is_some() {
            return None;
        }
        let end = self.end.min(self.start.saturating_add(self.max_record));
        Some(&self.buf[self.start..end])
    }

    /// Consumes the first `len` bytes of [`LineBuffer::unframed`], which the caller found
    /// to end in its first `\n`: the line [`LineBuffer::next_line`] would hand out there
    /// (shorter than `max_record`, as `unframed` holds fewer than `max_record` bytes before
    /// its `\n`), skipped without a search.
    ///
    /// # Panics
    /// If `len` is more than is buffered (a caller bug, as in [`LineBuffer::consume`]).
    // Only the file reader (Unix-only) uses it.
    #[cfg_attr(not(unix), allow(dead_code))]
    #[inline(always)]
    pub(crate) fn take_line(&mut self, len: usize) {
        debug_assert_eq!(
            memchr(b'\n', &self.buffer()[..len]).map(|i| i + 1),
            Some(len),
            "not a line"
        );
        self.consume(len);
        self.searched = 0;
    }

    /// At the end of the input: the next complete line if any is left, else the final
    /// segment without `\n` (as a [`LineItem::Line`] whose bytes do not end in `\n`) or the
    /// overlong line being skipped; `None` when nothing is left.
    pub fn finish(&mut self) -> Option<LineItem<'_>> {
        if memchr(b'\n', self.buffer()).is_some() {
            return self.next_line();
        }
        if self.discarding.is_none() && self.end - self.start >= self.max_record {
            // An overlong tail that no `next_line` call has seen yet.
            self.discarding = Some(self.consumed_off());
        }
        let (s, offset) = (self.start, self.consumed_off());
        self.start = self.end;
        self.searched = 0;
        if let Some(at) = self.discarding.take() {
            return Some(LineItem::Overlong {
                offset: at,
                len: self.read_off - at,
            });
        }
        if s == self.end {
            return None;
        }
        Some(LineItem::Line {
            offset,
            bytes: &self.buf[s..self.end],
        })
    }

    /// The next line of a [`BufRead`] source, framed in the source's own buffer: a line
    /// lying whole in it is handed out without a copy; one straddling two fills is
    /// assembled here (capped as any line). At the end of `src`: the unterminated final
    /// segment (a [`LineItem::Line`] without `\n`) or the overlong line being skipped, then
    /// `None`. The line handed out is consumed from `src` at the next call.
    ///
    /// # Errors
    /// The source's errors, and `InvalidData` if its `fill_buf` breaks the `BufRead`
    /// contract by returning fewer bytes than before without a `consume`.
    #[inline]
    pub fn next_line_in<'a, R: BufRead + ?Sized>(
        &'a mut self,
        src: &'a mut R,
    ) -> io::Result<Option<LineItem<'a>>> {
        let found = self.frame_in(src, false)?;
        self.item_in(found, src)
    }

    /// As [`LineBuffer::next_line_in`], but every complete line lying in the source's buffer
    /// at once, as one [`LineItem::Line`] of lines each ending in `\n` (for a consumer that
    /// scans many lines in one pass, as a `memmem` prefilter does). A line inside may be
    /// `max_record` bytes or longer (it is in memory anyway): the consumer checks each.
    pub fn next_lines_in<'a, R: BufRead + ?Sized>(
        &'a mut self,
        src: &'a mut R,
    ) -> io::Result<Option<LineItem<'a>>> {
        let found = self.frame_in(src, true)?;
        self.item_in(found, src)
    }

    /// Turns where the item lies into the item. Two steps because the borrow checker does
    /// not let a loop that consumes from `src` also return a slice of it; the second
    /// `fill_buf` returns the bytes already seen (nothing was consumed in between).
    #[inline]
    fn item_in<'a, R: BufRead + ?Sized>(
        &'a self,
        found: Found,
        src: &'a mut R,
    ) -> io::Result<Option<LineItem<'a>>> {
        Ok(Some(match found {
            Found::End => return Ok(None),
            Found::Overlong { offset, len } => LineItem::Overlong { offset, len },
            Found::Carry { offset, s, e } => LineItem::Line {
                offset,
                bytes: &self.buf[s..e],
            },
            Found::Src { offset, len } => match src.fill_buf()?.get(..len) {
                Some(bytes) => LineItem::Line { offset, bytes },
                // The caller's reader, not this buffer, is at fault: an error, not a panic
                // and not short data.
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the reader's fill_buf returned fewer bytes than it did before \
                         (BufRead contract)",
                    ))
                }
            },
        }))
    }

    /// Appends bytes consumed from the source to the carry `buf[start..end]`.
    fn append(&mut self, data: &[u8]) {
        if self.start > 0 {
            // Part of the carry was consumed by the caller.
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        self.buf.truncate(self.end);
        extend_capped(&mut self.buf, data, self.max_record);
        self.end = self.buf.len();
        self.searched = self.end;
    }

    /// Finds the next item of a `BufRead` source (`bulk`: every complete line in its buffer
    /// at once), consuming from the source all but the bytes it hands out.
    #[inline]
    fn frame_in<R: BufRead + ?Sized>(&mut self, src: &mut R, bulk: bool) -> io::Result<Found> {
        if self.pending > 0 {
            src.consume(self.pending);
            self.pending = 0;
        }
        if self.start == self.end {
            (self.start, self.end, self.searched) = (0, 0, 0);
        }
        loop {
            let avail = loop {
                match src.fill_buf() {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    r => break r?,
                }
            };
            let n = avail.len();
            if n == 0 {
                return Ok(self.end_in());
            }
            if let Some(at) = self.discarding {
                if let Some(i) = memchr(b'\n', avail) {
                    src.consume(i + 1);
                    let nl_off = self.read_off + i as u64;
                    self.read_off = nl_off + 1;
                    self.discarding = None;
                    return Ok(Found::Overlong {
                        offset: at,
                        len: nl_off - at,
                    });
                }
            } else if self.start == self.end {
                let nl = if bulk {
                    memrchr(b'\n', avail)
                } else {
                    memchr(b'\n', avail)
                };
                if let Some(i) = nl {
                    let offset = self.read_off;
                    self.pending = i + 1;
                    self.read_off += (i + 1) as u64;
                    if !bulk && i >= self.max_record {
                        return Ok(Found::Overlong {
                            offset,
                            len: i as u64,
                        });
                    }
                    return Ok(Found::Src { offset, len: i + 1 });
                }
                if n >= self.max_record {
                    self.discarding = Some(self.read_off);
                } else {
                    self.append(avail);
                }
            } else {
                let carry = self.end - self.start;
                let offset = self.consumed_off();
                if let Some(i) = memchr(b'\n', avail) {
                    let total = carry + i;
                    if total < self.max_record {
                        self.append(&avail[..=i]);
                    } else {
                        (self.start, self.end) = (0, 0);
                    }
                    src.consume(i + 1);
                    self.read_off += (i + 1) as u64;
                    if total >= self.max_record {
                        return Ok(Found::Overlong {
                            offset,
                            len: total as u64,
                        });
                    }
                    let (s, e) = (self.start, self.end);
                    self.start = e;
                    return Ok(Found::Carry { offset, s, e });
                }
                if carry + n >= self.max_record {
                    self.discarding = Some(offset);
                    (self.start, self.end) = (0, 0);
                } else {
                    self.append(avail);
                }
            }
            src.consume(n);
            self.read_off += n as u64;
        }
    }

    /// The end of a `BufRead` source: the overlong line being skipped, else the carry as
    /// the final segment, else the end.
    fn end_in(&mut self) -> Found {
        if let Some(at) = self.discarding.take() {
            return Found::Overlong {
                offset: at,
                len: self.read_off - at,
            };
        }
        if self.start == self.end {
            return Found::End;
        }
        let (offset, s, e) = (self.consumed_off(), self.start, self.end);
        self.start = e;
        Found::Carry { offset, s, e }
    }
}

/// `memchr(b'\n', ..)` with the CPU dispatch done once, when the buffer is made: `memchr`
/// dispatches on every call (through a function pointer, two calls deep), which cost a
/// Docker json-file read about 25 instructions per line, on lines of ~170 bytes searched in
/// about 60. Same answers: `memchr`'s own AVX2 searcher, else `memchr` itself.
#[derive(Clone, Copy, Debug)]
pub(super) struct NewlineFinder {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::One>,
}

impl NewlineFinder {
    pub(super) fn new() -> Self {
        NewlineFinder {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(b'\n'),
        }
    }

    /// Without the AVX2 searcher, as on a CPU without AVX2 (the tests' portable path).
    #[cfg(test)]
    pub(super) fn portable() -> Self {
        NewlineFinder {
            #[cfg(target_arch = "x86_64")]
            avx2: None,
        }
    }

    /// The first `\n` in `hay`.
    #[inline(always)]
    pub(super) fn find(&self, hay: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(one) = &self.avx2 {
            return one.find(hay);
        }
        memchr(b'\n', hay)
    }
}
