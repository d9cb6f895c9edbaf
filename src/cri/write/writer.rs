//! Where encoded records go.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

/// Takes batches of whole encoded records.
///
/// `records` holds one or more complete records, each ending with `\n` and containing no
/// other `\n` (see [`RecordEncoder`](super::RecordEncoder)). A record writer writes a batch as one unit,
/// so when stdout and stderr of one container share a record writer ([`SharedWriter`]), their records
/// interleave at record boundaries, never inside one. A record writer that needs per-record decisions
/// (a rotating file that rotates between records) can split the batch at each `\n`.
///
/// ```
/// use ctrlog::cri::write::{CriEncoder, LogWriter, RecordWriter};
/// use ctrlog::cri::Stream;
/// use ctrlog::time::Offset;
///
/// /// Counts records and keeps none (a dry run).
/// #[derive(Default)]
/// struct Count(usize);
/// impl RecordWriter for Count {
///     fn write_records(&mut self, records: &[u8]) -> std::io::Result<()> {
///         self.0 += memchr::memchr_iter(b'\n', records).count();
///         Ok(())
///     }
/// }
/// let mut w = LogWriter::new(Stream::Stdout, CriEncoder::new(Offset::Utc), Count::default());
/// w.copy_from(&b"a\nb\nc"[..])?;
/// assert_eq!(w.into_inner().0, 3); // the unterminated `c` is a P record
/// # Ok::<(), ctrlog::cri::write::WriteError>(())
/// ```
pub trait RecordWriter {
    /// Writes the whole batch, or fails.
    fn write_records(&mut self, records: &[u8]) -> io::Result<()>;
}

impl<S: RecordWriter + ?Sized> RecordWriter for &mut S {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        (**self).write_records(records)
    }
}

impl<S: RecordWriter + ?Sized> RecordWriter for Box<S> {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        (**self).write_records(records)
    }
}

/// Collects records in memory (tests, small captures).
impl RecordWriter for Vec<u8> {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        self.extend_from_slice(records);
        Ok(())
    }
}

/// Any [`Write`] as a record writer: each batch is one `write_all` (usually one `write(2)`).
///
/// No buffering is added: the writer already hands over up to a few hundred KiB at a time.
#[derive(Debug, Default)]
pub struct IoWriter<W>(pub W);

/// A failed write reports how much of the batch went through ([`PartialWrite`]).
impl<W: Write> RecordWriter for IoWriter<W> {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        write_counting(&mut self.0, records)
    }
}

/// `write_all` that tells, when it fails after some bytes went through, how many
/// ([`PartialWrite`]).
fn write_counting<W: Write>(w: &mut W, buf: &[u8]) -> io::Result<()> {
    let mut done = 0usize;
    loop {
        let rest = &buf[done..];
        if rest.is_empty() {
            return Ok(());
        }
        match w.write(rest) {
            Ok(0) => return Err(PartialWrite::error(done, io::ErrorKind::WriteZero.into())),
            // `Write::write` returns at most what it was given (`write_all` relies on it too).
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(PartialWrite::error(done, e)),
        }
    }
}

/// The error of a record writer that failed after part of a batch went through: how many bytes did
/// (the whole records among them reached the output and are counted as written by
/// [`LogWriter`](super::LogWriter)). Carried inside the [`io::Error`] a record writer returns, with
/// the kind and the message of the OS error; read it with [`PartialWrite::written`].
#[derive(Debug)]
pub struct PartialWrite {
    written: usize,
    source: io::Error,
}

impl PartialWrite {
    /// `source`, noting that `written` bytes of the batch went through (none: `source` as is).
    pub fn error(written: usize, source: io::Error) -> io::Error {
        if written == 0 {
            return source;
        }
        io::Error::new(source.kind(), PartialWrite { written, source })
    }

    /// Bytes of the batch that went through before `err` (0 if it does not say).
    pub fn written(err: &io::Error) -> usize {
        err.get_ref()
            .and_then(|e| e.downcast_ref::<PartialWrite>())
            .map_or(0, |p| p.written)
    }
}

impl std::fmt::Display for PartialWrite {
    /// The OS error's message: the byte count is for the counters, not for people.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.source.fmt(f)
    }
}

impl std::error::Error for PartialWrite {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Records to an open file the writer did not open by path: `ctrlog write`'s stdout.
///
/// - A **regular file** (`> o.log`, `>> o.log`): a write that fails part way (`EFBIG` under
///   `ulimit -f`, `ENOSPC`) keeps the whole records that reached the file and cuts the torn
///   one off (by the rotating writer's cut-back, from the descriptor's offset, which is moved
///   back so no hole follows), so the file ends on a record boundary. Only a tail is cut.
/// - Anything else (a **pipe**, a terminal, a socket) cannot be cut back: the whole records
///   are counted as written and a torn record stays at the end of what the reader got.
///
/// Either way the error says how many bytes went through ([`PartialWrite`]), so
/// [`LogWriter`](super::LogWriter)'s counts of written and lost records are exact.
#[cfg(unix)]
#[derive(Debug)]
pub struct FileWriter {
    file: std::fs::File,
    regular: bool,
    /// Where a regular file must be cut back to before the next write (a failed cut).
    repair_at: Option<u64>,
}

#[cfg(unix)]
impl FileWriter {
    /// Writes to `file` (looked at once: is it a regular file).
    pub fn new(file: std::fs::File) -> Self {
        let regular = file.metadata().is_ok_and(|m| m.is_file());
        FileWriter {
            file,
            regular,
            repair_at: None,
        }
    }
}

#[cfg(unix)]
impl RecordWriter for FileWriter {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        if !self.regular {
            return write_counting(&mut self.file, records);
        }
        if let Some(at) = self.repair_at {
            use std::io::Seek;
            self.file.set_len(at)?;
            self.file.seek(io::SeekFrom::Start(at))?;
            self.repair_at = None;
        }
        crate::rotate::append_keeping(&mut self.file, records, b'\n').map_err(|f| {
            if let Err(at) = f.end {
                self.repair_at = Some(at);
            }
            PartialWrite::error(f.kept, f.error)
        })
    }
}

/// One record writer shared by several writers (a container's stdout and stderr), behind a mutex.
///
/// Clones share the same output. Each batch is written under the lock, so batches (and the
/// records in them) never interleave. A writer that panicked while holding the lock does not
/// poison the others: the output is used as it is.
///
/// ```
/// use ctrlog::cri::write::{RecordWriter, SharedWriter};
/// let shared = SharedWriter::new(Vec::new());
/// let mut a = shared.clone();
/// a.write_records(b"one\n").unwrap();
/// shared.clone().write_records(b"two\n").unwrap();
/// assert_eq!(shared.with(|v| v.clone()), b"one\ntwo\n");
/// ```
#[derive(Debug, Default)]
pub struct SharedWriter<S>(Arc<Mutex<S>>);

impl<S> Clone for SharedWriter<S> {
    fn clone(&self) -> Self {
        SharedWriter(Arc::clone(&self.0))
    }
}

impl<S> SharedWriter<S> {
    /// Shares `output`.
    pub fn new(output: S) -> Self {
        SharedWriter(Arc::new(Mutex::new(output)))
    }

    /// Runs `f` with the output locked.
    pub fn with<T>(&self, f: impl FnOnce(&mut S) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// The output, if this is the last clone.
    pub fn try_into_inner(self) -> Result<S, Self> {
        match Arc::try_unwrap(self.0) {
            Ok(m) => Ok(m.into_inner().unwrap_or_else(|p| p.into_inner())),
            Err(arc) => Err(SharedWriter(arc)),
        }
    }
}

impl<S: RecordWriter> RecordWriter for SharedWriter<S> {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        self.with(|s| s.write_records(records))
    }
}

/// Records go to a size-capped [`RotatingFile`](crate::rotate::RotatingFile); a batch is cut
/// only between records, so no file goes over its cap and no record spans two files.
#[cfg(unix)]
impl RecordWriter for crate::rotate::RotatingFile {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        crate::rotate::RotatingFile::write_records(self, records, b'\n')
    }
}
