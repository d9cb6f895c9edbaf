//! The carry-over: whole records appended to the old file after the kept snapshot, copied
//! to the new one; and the lease probe that says when no writer can append any more.

use std::fs::File;
use std::io::{self, Write};

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

use super::plan::BLOCK;
use crate::lines::{LineBuffer, LineItem};
use crate::runc::parse_entry;

/// Copies the whole records of the old file from an offset on, as they come.
pub(super) struct Carry {
    lines: LineBuffer,
    batch: Batch,
    /// Bytes written to the new file.
    pub bytes: u64,
    /// Records written to the new file.
    pub records: u64,
    /// Records longer than the record cap, not carried.
    pub overlong: u64,
    /// Bytes of those, and of a torn final record, not carried.
    pub dropped_bytes: u64,
    /// Bytes of a torn final record, not carried.
    pub torn_tail: u64,
}

impl Carry {
    /// Carries from `from`, records capped at `max_record` bytes.
    pub fn new(from: u64, max_record: usize) -> Carry {
        Carry {
            lines: LineBuffer::new(from, BLOCK, max_record),
            batch: Batch::default(),
            bytes: 0,
            records: 0,
            overlong: 0,
            dropped_bytes: 0,
            torn_tail: 0,
        }
    }

    /// Appends to `dst` every whole record `old` holds past what was carried; an unfinished
    /// last one stays buffered for the next pass. Each `write` holds whole records only:
    /// `dst` is `O_APPEND` and the writers of the new file append between these writes,
    /// never inside one.
    pub fn pass(&mut self, old: &File, dst: &mut File) -> io::Result<()> {
        loop {
            let n = self.lines.fill_at(old)?;
            while let Some(item) = self.lines.next_line() {
                match item {
                    LineItem::Line { bytes, .. } => {
                        if self.batch.out.len() + bytes.len() > BLOCK && !self.batch.out.is_empty()
                        {
                            let (b, r) = self.batch.write(dst)?;
                            self.bytes += b;
                            self.records += r;
                        }
                        self.batch.out.extend_from_slice(bytes);
                        self.batch.records += 1;
                    }
                    LineItem::Overlong { len, .. } => {
                        self.overlong += 1;
                        self.dropped_bytes += len + 1;
                    }
                }
            }
            if !self.batch.out.is_empty() {
                let (b, r) = self.batch.write(dst)?;
                self.bytes += b;
                self.records += r;
            }
            if n == 0 {
                return Ok(());
            }
        }
    }

    /// After the last pass: the bytes left after the last `\n`. A whole record (runc killed
    /// after its `}`, which Go's decoder and [`crate::runc::last_error`] both read) is
    /// carried with a `\n`, so that the next record appended does not run into it; anything
    /// else is a torn record and is dropped.
    pub fn finish(&mut self, dst: &mut File) -> io::Result<()> {
        match self.lines.finish() {
            Some(LineItem::Line { bytes, .. }) if parse_entry(bytes).is_ok() => {
                self.batch.out.clear();
                self.batch.out.extend_from_slice(bytes);
                self.batch.out.push(b'\n');
                self.batch.records = 1;
                let (b, r) = self.batch.write(dst)?;
                self.bytes += b;
                self.records += r;
            }
            Some(LineItem::Line { bytes, .. }) => {
                self.torn_tail = bytes.len() as u64;
                self.dropped_bytes += self.torn_tail;
            }
            Some(LineItem::Overlong { len, .. }) => {
                self.torn_tail = len;
                self.dropped_bytes += len;
            }
            None => {}
        }
        Ok(())
    }
}

/// Whole records waiting to be written, counted only once written.
#[derive(Default)]
struct Batch {
    out: Vec<u8>,
    records: u64,
}

impl Batch {
    /// Writes the records as one unit; returns the bytes and records written.
    fn write(&mut self, dst: &mut File) -> io::Result<(u64, u64)> {
        append_whole(dst, &self.out)?;
        let done = (self.out.len() as u64, self.records);
        self.out.clear();
        self.records = 0;
        Ok(done)
    }
}

/// Appends `records` (whole records) to `dst`, opened `O_APPEND` and shared with runc's
/// writers, in one `write`. A short write (a full disk, a file size limit) would leave a
/// torn record that the next record runs into: the part written is cut back off when
/// nothing was appended after it, and the write fails either way; finishing the record in a
/// second `write` could put another writer's record inside it. (`rotate::append_keeping`,
/// the cut-back of files ctrlog alone writes, retries the rest and cuts from its offset
/// whatever follows: on a file runc appends to, both could damage runc's records.)
pub(super) fn append_whole(dst: &mut File, records: &[u8]) -> io::Result<()> {
    use std::io::Seek;
    let short = |wrote: usize, why: io::Error, dst: &mut File| -> io::Error {
        if wrote == 0 {
            return why;
        }
        // Our bytes end at the descriptor's offset (an `O_APPEND` write moves it to its end).
        let cut = dst.stream_position().and_then(|end| {
            let len = dst.metadata()?.len();
            if len == end {
                dst.set_len(end - wrote as u64)?;
                Ok(true)
            } else {
                Ok(false)
            }
        });
        match cut {
            Ok(true) => why,
            Ok(false) | Err(_) => io::Error::new(
                why.kind(),
                format!("{why}; {wrote} bytes of a record were written and could not be removed"),
            ),
        }
    };
    loop {
        match dst.write(records) {
            Ok(n) if n == records.len() => return Ok(()),
            Ok(n) => {
                let why = io::Error::new(io::ErrorKind::StorageFull, "short write (disk full?)");
                return Err(short(n, why, dst));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// What the lease probe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Probe {
    /// No other open file of the inode: no writer can append any more.
    NoWriter,
    /// Another open file holds it (a writer, or on kernels that count readers, a reader).
    Busy,
    /// No lease here (a file system without leases, a file we do not own without
    /// `CAP_LEASE`, leases disabled, or the inode still has a name).
    Unavailable,
}

/// Probes the old inode with a write lease (`F_SETLEASE`, `F_WRLCK`), released at once.
///
/// Only on an inode without a name (`nlink == 0`): nobody can open it any more, so the
/// lease cannot be broken and the kernel never sends `SIGIO` (whose default action ends the
/// process). A lease on a reachable file would get this process killed by the next open.
pub(super) fn probe(old: &File) -> Probe {
    match old.metadata() {
        Ok(m) if m.nlink() == 0 => {}
        _ => return Probe::Unavailable,
    }
    let fd = old.as_raw_fd();
    // SAFETY: `fd` is owned by `old` and open; F_SETLEASE takes an int argument.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_WRLCK as libc::c_int) };
    if rc == 0 {
        // SAFETY: as above; releasing the lease just taken.
        unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_UNLCK as libc::c_int) };
        return Probe::NoWriter;
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::EAGAIN) => Probe::Busy,
        _ => Probe::Unavailable,
    }
}
