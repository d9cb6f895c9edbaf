//! Line framing, forwards and backwards, over any byte source: the one mechanism every
//! reader of newline-delimited logs (CRI files, runc `log.json`) uses to cut lines.
//!
//! * [`LineBuffer`] reads forwards from any [`io::Read`] (a file with `pread`, a gzip
//!   decoder, a pipe), in ripgrep `grep-searcher`'s shape: [`LineBuffer::buffer`] is what is
//!   buffered and not consumed, [`LineBuffer::consume`] drops bytes from its front, and every
//!   line carries its absolute offset.
//! * [`BackScanner`] walks complete lines from the end backwards over any [`ReadAt`] (a
//!   [`File`], a byte slice, a [`Cursor`], any `Read + Seek` through [`SeekAt`]), for
//!   `--tail` and runc's last-error search; [`BackOptions`] adds growing reads and the
//!   unterminated tail.
//! * Over a `BufRead` source, [`LineBuffer::next_line_in`] frames in the source's own
//!   buffer, copying only a line that straddles two of its fills; both directions also hand
//!   out many lines at once ([`LineBuffer::next_lines_in`], [`BackScanner::prev_lines`])
//!   for a consumer with a `memmem` prefilter.
//!
//! Both share one overlong-line policy, reported as [`LineItem::Overlong`]: a line of
//! `max_record` bytes or more (its `\n` not counted) is never handed out nor held whole; its
//! offset and length are reported and the scan goes on at the next line (the many-lines
//! forms may hand out a long line already in memory: their consumer checks each). Memory is bounded
//! by about `max_record` plus one read (forwards) or twice that (backwards).

#[cfg(unix)]
use std::fs::File;
use std::io::{self, Cursor, Read};

mod backward;
mod forward;

pub use backward::{BackOptions, BackScanner, SeekAt};
pub use forward::LineBuffer;

/// A line found by [`LineBuffer`] or [`BackScanner`].
#[derive(Debug, PartialEq, Eq)]
pub enum LineItem<'a> {
    /// A line starting at `offset`, with its `\n` (only the unterminated final segment from
    /// [`LineBuffer::finish`] has none).
    Line {
        /// Absolute offset of the line's first byte.
        offset: u64,
        /// The line's bytes.
        bytes: &'a [u8],
    },
    /// A line of `max_record` bytes or more, skipped without being held in memory.
    Overlong {
        /// Absolute offset of the line's first byte.
        offset: u64,
        /// Its length in bytes, without its `\n`.
        len: u64,
    },
}

/// Positional reads, as `std::os::unix::fs::FileExt::read_at`: reading never moves a shared
/// offset, so clones of one open file do not disturb each other, and a byte slice needs no
/// temporary file.
///
/// ```
/// use ctrlog::lines::{BackScanner, LineItem, ReadAt};
/// /// A source of zeros and newlines, never in memory whole.
/// struct Stripes(u64);
/// impl ReadAt for Stripes {
///     fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
///         let n = buf.len().min(self.0.saturating_sub(offset) as usize);
///         for (i, b) in buf[..n].iter_mut().enumerate() {
///             *b = if (offset + i as u64) % 4 == 3 { b'\n' } else { b'0' };
///         }
///         Ok(n)
///     }
/// }
/// // 1 GiB of "000\n", scanned from its end in 64-byte blocks.
/// let mut back = BackScanner::new(Stripes(1 << 30), 1 << 30, 64, 1024)?;
/// assert_eq!(back.prev()?, Some(LineItem::Line { offset: (1 << 30) - 4, bytes: b"000\n" }));
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait ReadAt {
    /// Reads bytes at `offset` into `buf`; returns how many (0 at the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

#[cfg(unix)]
impl ReadAt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        // Clamped: reading past the end is a valid request that reads nothing.
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.len());
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
}

impl<T: AsRef<[u8]>> ReadAt for Cursor<T> {
    /// Reads the underlying bytes at `offset` (the cursor's own position is not used).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.get_ref().as_ref().read_at(buf, offset)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_at(buf, offset)
    }
}

/// Fills `buf` from `offset` until it is full or the source ends; returns the bytes read.
pub(crate) fn read_full_at<R: ReadAt + ?Sized>(
    src: &R,
    buf: &mut [u8],
    mut off: u64,
) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read_at(&mut buf[n..], off) {
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

/// A [`Read`] over a [`ReadAt`] source at an offset of its own: clones of one open file
/// (sharing the kernel's file offset) read through it without disturbing each other.
#[derive(Debug)]
pub struct OffsetReader<F> {
    src: F,
    /// Offset of the next read.
    pub off: u64,
}

impl<F: ReadAt> OffsetReader<F> {
    /// Reads `src` from `off`.
    pub fn new(src: F, off: u64) -> Self {
        OffsetReader { src, off }
    }
}

impl<F: ReadAt> Read for OffsetReader<F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.src.read_at(buf, self.off)?;
        self.off += n as u64;
        Ok(n)
    }
}

/// Makes room in `v` for `need` bytes in all, doubling for amortised linear work but never
/// past `cap` unless `need` itself is larger: a plain `extend` or `resize` may double a
/// buffer to twice its bound. The one capped-grow rule of the crate's buffers.
pub(crate) fn reserve_capped(v: &mut Vec<u8>, need: usize, cap: usize) {
    if need > v.capacity() {
        // Saturating: doubling past `usize::MAX` is clamped by `cap` anyway.
        let target = v.capacity().saturating_mul(2).max(need).min(cap.max(need));
        v.reserve_exact(target - v.len());
    }
}

/// Appends `data` to `v` under [`reserve_capped`]'s rule.
pub(crate) fn extend_capped(v: &mut Vec<u8>, data: &[u8], cap: usize) {
    // No overflow: two live allocations hold at most `isize::MAX` bytes each.
    reserve_capped(v, v.len() + data.len(), cap);
    v.extend_from_slice(data);
}

#[cfg(test)]
mod tests;

/// Counts the `\n` in `src[from..to]` through one buffer of at most 64 KiB: the one such
/// loop (a cap counts the records it drops, `top` the lines a file grew by). Returns the
/// count and where the reading stopped: `to`, or before it when the source ended first.
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) fn count_newlines_at<R: ReadAt + ?Sized>(
    src: &R,
    from: u64,
    to: u64,
) -> io::Result<(u64, u64)> {
    const BLOCK: u64 = 64 << 10;
    // Sized to the range, so a small range costs a small buffer; never more than BLOCK.
    let mut buf = vec![0u8; to.saturating_sub(from).min(BLOCK) as usize];
    let (mut off, mut lines) = (from, 0u64);
    while off < to {
        let want = (to - off).min(BLOCK) as usize;
        let n = src.read_at(&mut buf[..want], off)?;
        if n == 0 {
            break;
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        off += n as u64;
    }
    Ok((lines, off))
}
