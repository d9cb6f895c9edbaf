//! [`PlainFile`]: a log file that never rotates, opened and written by the rules of
//! [`RotatingFile`](super::RotatingFile); and the record append both use.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::live::{self, PathWatch, Refresh};
use super::{recover, sys, RotateError, RotateOptions};

/// A failed [`append_whole`] or [`append_keeping`].
pub(crate) struct Failed {
    pub error: io::Error,
    /// Bytes of the buffer that stay in the file: whole records ([`append_keeping`]), else 0.
    pub kept: usize,
    /// Where the file ends now (`Ok`), or, when cutting the torn bytes off failed too, where it
    /// must be cut back to before anything else is written (`Err`).
    pub end: Result<u64, u64>,
}

/// Appends `buf[done..]` (the first `done` bytes are already written) to `file`, retrying short
/// writes and `EINTR`. When a write fails the bytes of this record that reached the file are
/// cut off again, so the file still ends at the record boundary it had (`size` is that
/// boundary if the file's offset cannot be read).
pub(crate) fn append_whole(
    file: &mut File,
    buf: &[u8],
    done: usize,
    size: u64,
) -> Result<(), Failed> {
    append(file, buf, done, size, None)
}

/// Appends a batch of records, each ending in `end`, to a regular file; when a write fails,
/// the whole records that reached the file stay and only the torn one is cut off
/// ([`Failed::kept`] says how many bytes stayed). For a file the writer does not own the
/// records of (stdout redirected to a file), where nothing written must be taken back.
pub(crate) fn append_keeping(file: &mut File, buf: &[u8], end: u8) -> Result<(), Failed> {
    append(file, buf, 0, 0, Some(end))
}

/// The one append with cut-back of both: `keep` is the record end when whole records of `buf`
/// may stay. The cut is made from the descriptor's offset (the end of what this write put
/// there, with or without `O_APPEND`), and the offset is moved back to the cut, so a file
/// opened without `O_APPEND` (a shell's `> file`) gets no hole.
fn append(
    file: &mut File,
    buf: &[u8],
    mut done: usize,
    size: u64,
    keep: Option<u8>,
) -> Result<(), Failed> {
    let error = loop {
        // `done` only grows by what `write` reports, at most `rest.len()`.
        let rest = &buf[done..];
        if rest.is_empty() {
            return Ok(());
        }
        match file.write(rest) {
            Ok(0) => break io::Error::from(io::ErrorKind::WriteZero),
            Ok(n) => {
                assert!(n <= rest.len(), "write reported more than it was given");
                done += n;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break e,
        }
    };
    if done == 0 {
        return Err(Failed {
            error,
            kept: 0,
            end: Ok(size),
        });
    }
    let written = &buf[..done];
    let kept = match keep {
        Some(end) => memchr::memrchr(end, written).map_or(0, |i| i + 1),
        None => 0,
    };
    let torn = (done - kept) as u64;
    let pos = match file.stream_position() {
        Ok(p) => p,
        // A file size (`off_t`) plus a slice length never overflows a `u64`.
        Err(_) => size + done as u64,
    };
    // Real clamp: the offset is the open file description's, which a process sharing it
    // (a shell's `1<>file`) may have moved under us; this write's own bytes are `torn`.
    let start = pos.saturating_sub(torn);
    // Only a tail is ever cut: a descriptor that writes inside a file (`1<>file`) leaves its
    // torn bytes where they are rather than cut off what follows them.
    let at_end = file.metadata().is_ok_and(|m| m.len() == pos);
    if torn == 0 || !at_end {
        return Err(Failed {
            error,
            kept,
            end: Ok(start),
        });
    }
    let end = match file
        .set_len(start)
        .and_then(|()| file.seek(SeekFrom::Start(start)))
    {
        Ok(_) => Ok(start),
        Err(_) => Err(start),
    };
    Err(Failed { error, kept, end })
}

/// A log file that never rotates: `ctrlog write -o` without rotation options, like
/// containerd's CRI logger (`O_APPEND`, mode 0640 minus the umask).
///
/// It is opened and watched by the rules of [`RotatingFile`](super::RotatingFile), with the
/// same code:
/// - a symbolic link or a file that is not regular (a FIFO, a device) is refused without
///   blocking, a missing parent directory is an error (never created), and the same advisory
///   `flock` is taken (checked to be the lock of the file the path names), so a plain writer
///   and a rotating writer (or two plain ones) never interleave on one file: the second fails
///   with [`RotateError::Locked`];
/// - at open, with [`RecordEnd::Newline`](super::RecordEnd::Newline) (the default), a torn last record (bytes after the
///   last `\n`, left by a writer killed mid-write) is cut, and a non-empty file with no `\n`
///   at all is refused untouched ([`RotateError::NoRecordBoundary`]), so the first record
///   never glues onto a torn one; nothing else in the file or its directory changes;
/// - before a write, once [`RotateOptions::check_interval`] (default 1 s) has passed, the
///   path's identity is checked: a file deleted or renamed away is replaced by a new one at
///   the path (the bound: records written within one interval still go to the old file).
///
/// One `write` is one record: a write that fails (`EFBIG` under `ulimit -f`, `ENOSPC`) cuts
/// the file back to the record boundary before it and returns the error; nothing is retried.
///
/// ```
/// use std::io::Write;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("c.log");
/// let mut log = ctrlog::rotate::PlainFile::open(&path, 0o640)?;
/// log.write_all(b"one record\n")?;
/// assert!(ctrlog::rotate::PlainFile::open(&path, 0o640).is_err()); // locked
/// drop(log);
/// assert_eq!(std::fs::read(&path)?, b"one record\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PlainFile {
    path: PathBuf,
    file: File,
    mode: u32,
    watch: PathWatch,
    /// Where the file ended after the last record, as far as this writer knows.
    size: u64,
    /// A record boundary the file must be cut back to before the next write (a failed cut).
    repair_at: Option<u64>,
    reopens: u64,
}

impl PlainFile {
    /// Opens `path` for appending, creating it with `mode` (minus the umask) if missing, with
    /// the default [`RecordEnd`](super::RecordEnd) and check interval.
    pub fn open(path: impl AsRef<Path>, mode: u32) -> Result<Self, RotateError> {
        Self::open_with(
            path,
            &RotateOptions {
                mode,
                ..RotateOptions::default()
            },
        )
    }

    /// Opens `path` with the settings of `opts` that apply to a file that never rotates:
    /// [`mode`](RotateOptions::mode), [`record_end`](RotateOptions::record_end) and
    /// [`check_interval`](RotateOptions::check_interval) (the rotation settings are ignored).
    pub fn open_with(path: impl AsRef<Path>, opts: &RotateOptions) -> Result<Self, RotateError> {
        let path = path.as_ref().to_path_buf();
        let (file, _) = live::open_locked_file(&path, opts.mode, sys::Create::IfMissing)?;
        let torn = recover::torn_tail(&file, &path, opts.record_end)?;
        recover::cut_torn_tail(&file, &path, torn)?;
        let st = sys::fstat(&file).map_err(|e| RotateError::io("fstat", &path, e))?;
        Ok(PlainFile {
            path,
            file,
            mode: opts.mode,
            watch: PathWatch::new(opts.check_interval),
            size: st.size,
            repair_at: None,
            reopens: 0,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Times a new file was opened because the old one was deleted or renamed away.
    pub fn reopens(&self) -> u64 {
        self.reopens
    }

    /// Checks the file now: opens a new one at the path if it was deleted or renamed away,
    /// re-syncs the size if it was truncated. Runs by itself before a write once the check
    /// interval has passed.
    pub fn refresh(&mut self) -> Result<(), RotateError> {
        match self.watch.refresh(&self.file, &self.path, self.mode)? {
            Refresh::Same(size) => self.size = size,
            Refresh::Reopened(file, st) => {
                self.file = file;
                self.size = st.size;
                self.repair_at = None;
                self.reopens += 1;
            }
        }
        Ok(())
    }

    /// Writes `buf` as one record: all of it, or an error and nothing.
    pub fn write_record(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.watch.due() {
            // Best effort, as the rotating writer: on failure keep writing to the file we have.
            let _ = self.refresh();
        }
        if let Some(at) = self.repair_at {
            self.file.set_len(at)?;
            self.repair_at = None;
            self.size = at;
        }
        match append_whole(&mut self.file, buf, 0, self.size) {
            Ok(()) => {
                self.size += buf.len() as u64;
                Ok(())
            }
            Err(f) => {
                match f.end {
                    Ok(end) => self.size = end,
                    Err(at) => self.repair_at = Some(at),
                }
                Err(f.error)
            }
        }
    }
}

impl Write for PlainFile {
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

/// A batch of records is one record: written whole, or cut back and failed whole, so the
/// writer's count of lost records is exact.
impl crate::cri::write::RecordWriter for PlainFile {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        self.write_record(records)
    }
}
