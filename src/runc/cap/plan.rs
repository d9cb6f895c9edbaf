//! What a cap keeps: the last error record and the newest whole records, found from the
//! end of the file without reading what is dropped more than once.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use crate::lines::{BackScanner, LineBuffer, LineItem, ReadAt};
use crate::runc::{last_error_with, LastErrorOptions, RuncError};

/// Bytes per read of the scans and copies (the fixed buffer of the copy).
pub(super) const BLOCK: usize = 64 * 1024;

/// The byte ranges of the old file a cap keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Plan {
    /// Just after the last `\n` of the snapshot: whole records end here; the carry-over
    /// starts here.
    pub complete_end: u64,
    /// The last error record, when it is older than the window and kept ahead of it.
    pub error: Option<(u64, u64)>,
    /// The kept window of newest whole records: `window..complete_end`.
    pub window: u64,
    /// Records kept (the error record included).
    pub kept_records: u64,
    /// Whole records before the window that are not kept.
    pub dropped_records: u64,
}

impl Plan {
    /// Bytes kept from the snapshot.
    pub fn kept_bytes(&self) -> u64 {
        let err = self.error.map_or(0, |(a, b)| b - a);
        err + (self.complete_end - self.window)
    }
}

/// A read-only `Read + Seek` view of `file[..len]`, for [`last_error_with`], which reads up
/// to the end it seeks to: the bytes after the last `\n` are the carry-over's, not the
/// plan's.
struct Prefix<'a> {
    file: &'a File,
    len: u64,
    pos: u64,
}

impl Read for Prefix<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.len.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let n = buf.len().min(left);
        let got = self.file.read_at(&mut buf[..n], self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Seek for Prefix<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new.ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(self.pos)
    }
}

fn runc_io(e: RuncError) -> io::Error {
    match e {
        RuncError::Io { source, .. } => source,
        other => io::Error::other(other),
    }
}

/// The plan for `file[..size]` under `max_size`. Reads: the tail up to the last `\n`, the
/// lines back to the last error record (with the `memmem` prefilter of
/// [`crate::runc::last_error`]), the window, and a newline count of the dropped part.
pub(super) fn plan(
    file: &File,
    size: u64,
    max_size: u64,
    max_record_len: usize,
) -> io::Result<Plan> {
    let mut back = BackScanner::new(file, size, BLOCK, BLOCK)?;
    // `new` has found the last `\n`; nothing after it is a whole record yet.
    let complete_end = back.complete_end().unwrap_or(0);
    let opts = LastErrorOptions {
        max_record_len,
        ..LastErrorOptions::default()
    };
    let found = last_error_with(
        Prefix {
            file,
            len: complete_end,
            pos: 0,
        },
        opts,
    )
    .map_err(runc_io)?;
    let mut plan = Plan {
        complete_end,
        window: complete_end,
        ..Plan::default()
    };
    let mut budget = max_size;
    if let Some(e) = found.filter(|e| complete_end - e.offset > max_size) {
        // Older than any window the cap allows: kept first, the window gets what is left.
        let end = line_end(file, e.offset, complete_end)?;
        plan.error = Some((e.offset, end));
        plan.kept_records = 1;
        budget = budget.saturating_sub(end - e.offset);
    }
    // Offsets only: a line is kept or not by where it starts, so an overlong one (not held
    // in memory) counts as well as a short one.
    while let Some(item) = back.prev()? {
        let start = match item {
            LineItem::Line { offset, .. } | LineItem::Overlong { offset, .. } => offset,
        };
        if complete_end - start > budget {
            break;
        }
        plan.window = start;
        plan.kept_records += 1;
    }
    plan.dropped_records = count_lines(file, plan.window)? - u64::from(plan.error.is_some());
    Ok(plan)
}

/// Where the record starting at `start` ends (after its `\n`, which lies before `limit`).
fn line_end(file: &File, start: u64, limit: u64) -> io::Result<u64> {
    let mut lb = LineBuffer::new(start, BLOCK, usize::MAX);
    loop {
        if let Some(item) = lb.next_line() {
            let (offset, len) = match item {
                LineItem::Line { offset, bytes } => (offset, bytes.len() as u64),
                LineItem::Overlong { offset, len } => (offset, len + 1),
            };
            return Ok(offset + len);
        }
        if lb.read_off() >= limit || lb.fill_at(file)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was read",
            ));
        }
    }
}

/// The number of `\n` in `file[..end]`, read with one fixed buffer.
fn count_lines(file: &File, end: u64) -> io::Result<u64> {
    match crate::lines::count_newlines_at(file, 0, end)? {
        (n, stopped) if stopped == end => Ok(n),
        _ => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file shrank while it was read",
        )),
    }
}

/// Appends `src[from..to]` to `dst` through one fixed buffer.
pub(super) fn copy_range(
    src: &File,
    dst: &mut File,
    from: u64,
    to: u64,
    buf: &mut [u8],
) -> io::Result<()> {
    use std::io::Write;
    let mut off = from;
    while off < to {
        let want = usize::try_from(to - off)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let got = src.read_at(&mut buf[..want], off)?;
        if got == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file shrank while it was copied",
            ));
        }
        dst.write_all(&buf[..got])?;
        off += got as u64;
    }
    Ok(())
}
