//! `ctrlog logs`'s output: buffered writes to fds 1 and 2 (one queue, record order kept,
//! when both are the same file), and content that lies in the reader's buffer written from
//! there with `writev(2)` instead of copied ([`LogSink::write_stream_at`]).
//!
//! Per output, what is to be written is a queue of segments in call order: ranges of the
//! reader's window (kept until [`LogSink::release`] hands the window over) and ranges of an
//! owned buffer (prefixes, decoded json-file content, anything not in the window). At
//! `release` the queue goes out in `writev` calls of up to `IOV_MAX` segments. With nothing
//! kept from the window, the owned buffer is written once it holds [`BUF`] bytes, as a
//! plain buffered writer does.
//!
//! Memory is bounded: at most [`MAX_SEGS`] segments are queued (past that, content is
//! copied into the owned buffer, in order), and the owned buffer holds at most what the
//! read of one window outputs (the window's bytes and their prefixes) or [`BUF`] bytes.

use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::mem::ManuallyDrop;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::FromRawFd;

use ctrlog::cri::read::{FileWarning, LogSink};
use ctrlog::cri::Stream;

/// Owned bytes written at once when no window range is queued (a plain buffered writer's).
pub const BUF: usize = 256 << 10;

/// Content shorter than this is copied, not kept as a range: tracking it and the kernel's
/// cost per `writev` segment (for a file or a pipe: each is a copy of its own) outweigh
/// copying it. Measured on the bench's workloads (instructions, `cachegrind`): CRI 1.8 KB
/// records mostly kept, json-file 150-byte records copied as before.
pub const MIN_KEEP: usize = 1024;

/// Queued segments per output before content is copied instead (a bound on memory; with
/// [`MIN_KEEP`], the window of a 256 KiB read holds at most 256 kept ranges).
pub const MAX_SEGS: usize = 8192;

/// Where a queued segment's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    /// In the reader's window (given at the next release).
    Window(Range<usize>),
    /// In the output's own buffer.
    Own(Range<usize>),
}

/// One output: its writer, owned bytes and queue.
#[derive(Debug)]
struct Output<W> {
    w: W,
    buf: Vec<u8>,
    /// Empty unless window ranges are queued; then it covers all of `buf`, in order.
    segs: Vec<Seg>,
    /// [`MIN_KEEP`] (tests lower it).
    min_keep: usize,
}

impl<W: Write> Output<W> {
    fn new(w: W, cap: usize) -> Self {
        Output {
            w,
            buf: Vec::with_capacity(cap),
            segs: Vec::new(),
            min_keep: MIN_KEEP,
        }
    }

    /// Copies `data` (into the buffer, or queued after the ranges kept).
    #[inline(always)]
    fn copy(&mut self, data: &[u8]) -> io::Result<()> {
        if !self.segs.is_empty() {
            return self.copy_queued(data);
        }
        // Small enough to inline: a record's one-byte newline is then a store, not a call.
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BUF {
            return self.write_buf();
        }
        Ok(())
    }

    #[inline(never)]
    fn copy_queued(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            // No empty segment: `writev` of empty slices only would return 0.
            return Ok(());
        }
        let s = self.buf.len();
        self.buf.extend_from_slice(data);
        let e = self.buf.len();
        match self.segs.last_mut() {
            Some(Seg::Own(r)) if r.end == s => r.end = e,
            _ => self.segs.push(Seg::Own(s..e)),
        }
        Ok(())
    }

    /// Keeps `data`, at `at` in the window, to write at release; copies it when it is short
    /// or the queue is full.
    #[inline(always)]
    fn keep(&mut self, data: &[u8], at: usize) -> io::Result<()> {
        if data.len() < self.min_keep || self.segs.len() >= MAX_SEGS {
            return self.copy(data);
        }
        self.keep_range(at..at + data.len());
        Ok(())
    }

    #[inline(never)]
    fn keep_range(&mut self, r: Range<usize>) {
        if self.segs.is_empty() && !self.buf.is_empty() {
            self.segs.push(Seg::Own(0..self.buf.len()));
        }
        match self.segs.last_mut() {
            Some(Seg::Window(w)) if w.end == r.start => w.end = r.end,
            _ => self.segs.push(Seg::Window(r)),
        }
    }

    fn write_buf(&mut self) -> io::Result<()> {
        debug_assert!(
            self.segs.is_empty(),
            "owned bytes written before window ranges"
        );
        let r = self.w.write_all(&self.buf);
        self.buf.clear();
        r
    }

    /// Writes the queue (its window ranges from `window`).
    fn release(&mut self, window: &[u8]) -> io::Result<()> {
        if self.segs.is_empty() {
            return Ok(());
        }
        let mut iov: Vec<IoSlice<'_>> = self
            .segs
            .iter()
            .map(|s| {
                IoSlice::new(match s {
                    Seg::Window(r) => &window[r.clone()],
                    Seg::Own(r) => &self.buf[r.clone()],
                })
            })
            .collect();
        let r = write_all_vectored(&mut self.w, &mut iov);
        self.segs.clear();
        self.buf.clear();
        r
    }
}

/// `Write::write_all_vectored` (unstable): `writev` until all is written (std passes at most
/// `IOV_MAX` slices per call).
fn write_all_vectored<W: Write>(w: &mut W, mut bufs: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !bufs.is_empty() {
        match w.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The output of `ctrlog logs` over any two writers: stdout records to the first, stderr
/// records to the second, or both to the first when `merged`.
#[derive(Debug)]
pub struct QueueSink<W> {
    outs: [Output<W>; 2],
    merged: bool,
}

impl<W: Write> QueueSink<W> {
    /// Over `stdout` and `stderr`; `merged`: both streams to `stdout`, in record order.
    pub fn new(stdout: W, stderr: W, merged: bool) -> Self {
        QueueSink {
            outs: [Output::new(stdout, BUF), Output::new(stderr, 0)],
            merged,
        }
    }

    #[inline]
    fn out(&mut self, stream: Stream) -> &mut Output<W> {
        let i = usize::from(!self.merged && stream == Stream::Stderr);
        &mut self.outs[i]
    }

    /// Keeps ranges from `min_keep` bytes (tests: 1, so that every range is kept).
    #[cfg(test)]
    pub fn with_min_keep(mut self, min_keep: usize) -> Self {
        for o in &mut self.outs {
            o.min_keep = min_keep.max(1);
        }
        self
    }

    /// The writers (tests).
    #[cfg(test)]
    pub fn into_writers(self) -> [W; 2] {
        self.outs.map(|o| o.w)
    }
}

impl<W: Write> LogSink for QueueSink<W> {
    // Always inlined, as `copy` and `keep`: per record, the emitter's call then costs a few
    // instructions (a one-byte newline is a store), as the plain buffered writer's did.
    #[inline(always)]
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        self.out(stream).copy(data)
    }

    #[inline(always)]
    fn write_stream_at(&mut self, stream: Stream, data: &[u8], at: usize) -> io::Result<()> {
        self.out(stream).keep(data, at)
    }

    fn release(&mut self, window: &[u8]) -> io::Result<()> {
        let [a, b] = &mut self.outs;
        let ra = a.release(window);
        let rb = b.release(window);
        ra.and(rb)
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut r = Ok(());
        for o in &mut self.outs {
            // The reader releases before it flushes: a queue left is a bug, and writing the
            // owned bytes alone would reorder the output.
            debug_assert!(o.segs.is_empty(), "flush with window ranges queued");
            o.segs.clear();
            if !o.buf.is_empty() {
                r = r.and(o.write_buf());
            }
            r = r.and(o.w.flush());
        }
        r
    }

    fn warning(&mut self, w: &FileWarning) {
        // Output so far first, so the warning shows where it happened.
        let _ = self.flush();
        // The read goes on, and the exit status reports the skip.
        say!("ctrlog: warning: {w}");
    }
}

/// A standard fd, never closed.
#[derive(Debug)]
pub struct Fd(ManuallyDrop<File>);

impl Write for Fd {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }
    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self.0).write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// fds 1 and 2, one queue when both are the same file.
pub fn fd_sink() -> QueueSink<Fd> {
    // SAFETY: fds 1 and 2 are open for the whole process; ManuallyDrop never closes them.
    let [out, err] = unsafe {
        [
            ManuallyDrop::new(File::from_raw_fd(1)),
            ManuallyDrop::new(File::from_raw_fd(2)),
        ]
    };
    let id = |f: &File| f.metadata().ok().map(|m| (m.dev(), m.ino(), m.rdev()));
    let merged = matches!((id(&out), id(&err)), (Some(a), Some(b)) if a == b);
    QueueSink::new(Fd(out), Fd(err), merged)
}

#[cfg(test)]
mod tests;
