//! The rotating writer's write path: one record per `write`, the checks and rotation before
//! it, and the cut-back and out-of-space retry after a failed one (see the module docs of
//! [`super`], **Failures**).

use std::io::{self, Write};
use std::sync::Arc;

use super::rotation::delete_backup;
use super::{plain, set, sys, Durability, RotateError, RotatingFile};
use super::{BACKOFF_MAX, WRITEBACK_EVERY};

impl RotatingFile {
    /// Cuts the file back to a record boundary left by a failed cut.
    pub(super) fn repair(&mut self) -> Result<(), RotateError> {
        if let Some(at) = self.repair_at {
            self.file
                .set_len(at)
                .map_err(|e| RotateError::io("truncate", &self.path, e))?;
            self.repair_at = None;
            self.size = at;
        }
        Ok(())
    }

    /// Appends the rest of `buf` (from `done`, already written) or cuts the file back to where
    /// the record started and returns the error.
    fn append_from(&mut self, buf: &[u8], done: usize) -> io::Result<()> {
        match plain::append_whole(&mut self.file, buf, done, self.size) {
            Ok(()) => Ok(()),
            Err(f) => {
                match f.end {
                    Ok(end) => self.size = end,
                    Err(at) => self.repair_at = Some(at),
                }
                Err(f.error)
            }
        }
    }

    /// Writes one record (see the module docs for the rotation and failure rules). The common
    /// case is one `write(2)` and a few compares; everything else is in cold functions.
    #[inline]
    fn write_record(&mut self, buf: &[u8]) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        // Plain sums below: a file size (`off_t`, below 2^63) plus a slice length never
        // overflows a `u64` (overflow checks catch a broken size in debug and fuzz builds).
        let len = buf.len() as u64;
        let over = match self.max_size {
            Some(max) => self.size > 0 && self.size + len > max,
            None => false,
        };
        // One coarse clock read (vDSO, a few ns) per record; the checks themselves are rare.
        let check = self.watch.due();
        if over || check || self.repair_at.is_some() {
            self.before_write(len, check)?;
        }
        match self.file.write(buf) {
            Ok(n) if n == buf.len() => {}
            first => self.finish_write(buf, first)?,
        }
        self.size += len;
        match self.durability {
            Durability::None => {}
            Durability::OnRotate => {
                self.unsynced += len;
                if self.unsynced >= WRITEBACK_EVERY {
                    self.unsynced = 0;
                    sys::start_writeback(&self.file);
                }
            }
            Durability::EveryRecord => self.file.sync_data()?,
        }
        Ok(())
    }

    /// The rare work before a write: a pending cut, the periodic check, a rotation.
    #[cold]
    #[inline(never)]
    fn before_write(&mut self, len: u64, check: bool) -> io::Result<()> {
        if self.repair_at.is_some() {
            self.repair()?;
        }
        if check {
            // Best effort: on failure keep writing to the file we have.
            let _ = self.refresh();
        }
        // Decided again: the check may have re-synced the size.
        let over = match self.max_size {
            Some(max) => self.size > 0 && self.size + len > max,
            None => false,
        };
        if over {
            if self.retry_in > 0 {
                self.retry_in -= 1;
            } else if self.rotate().is_err() {
                self.retry_in = self.backoff;
                // At most `BACKOFF_MAX`: doubling it cannot overflow.
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            }
        }
        Ok(())
    }

    /// The first `write(2)` did not take the whole record: finish it, or cut back and retry once
    /// after an out-of-space error, or cut back and fail.
    #[cold]
    #[inline(never)]
    fn finish_write(&mut self, buf: &[u8], first: io::Result<usize>) -> io::Result<()> {
        let done = match first {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return self.after_failed_write(buf, e),
        };
        match self.append_from(buf, done) {
            Ok(()) => Ok(()),
            Err(e) => self.after_failed_write(buf, e),
        }
    }

    fn after_failed_write(&mut self, buf: &[u8], e: io::Error) -> io::Result<()> {
        if !sys::is_space_error(&e) {
            return Err(e);
        }
        self.stats.space_retries += 1;
        let _ = self.free_space();
        self.append_from(buf, 0)
    }

    /// Deletes the oldest backup to make room after `ENOSPC`.
    fn free_space(&mut self) -> Result<(), RotateError> {
        let shared = Arc::clone(&self.shared);
        let mut st = shared.lock();
        let paths = &shared.paths;
        let list = set::scan(paths, &*shared.scheme)
            .map_err(|e| RotateError::io("read_dir", &paths.dir, e))?;
        if let Some(b) = list.iter().find(|b| b.is_backup()) {
            delete_backup(paths, b, &mut st)?;
        }
        Ok(())
    }
}

impl RotatingFile {
    /// Writes a batch of whole records, each ending in `end` (`b'\n'` for CRI and json-file
    /// records), cutting the batch only at record ends so that every file stays within
    /// `max_size` (a record larger than `max_size` still goes alone into a fresh file).
    ///
    /// Log writers encode all records of one read into one buffer; this keeps that to one
    /// `write(2)` per file touched instead of one per record. Bytes after the last `end` are
    /// written as one more record.
    pub fn write_records(&mut self, batch: &[u8], end: u8) -> io::Result<()> {
        let Some(max) = self.max_size else {
            return self.write_record(batch);
        };
        let mut rest = batch;
        while !rest.is_empty() {
            // Real clamps: a file can be over `max` (a failed rotation writes on past it), and
            // room beyond `usize` (32-bit targets) is as good as unlimited for a slice.
            let room = max.saturating_sub(self.size);
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            if rest.len() <= room {
                return self.write_record(rest);
            }
            // The longest run of whole records that fits, else the first record alone (the
            // write rotates before it).
            let cut = match memchr::memrchr(end, &rest[..room]) {
                Some(i) => i + 1,
                None => memchr::memchr(end, rest).map_or(rest.len(), |i| i + 1),
            };
            self.write_record(&rest[..cut])?;
            rest = &rest[cut..];
        }
        Ok(())
    }
}

impl Write for RotatingFile {
    /// Writes `buf` as one record: all of it, or an error and nothing.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_record(buf)?;
        Ok(buf.len())
    }

    /// Nothing is buffered; a no-op.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
