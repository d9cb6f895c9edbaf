//! Where encoded records go.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

/// Takes batches of whole encoded records.
///
/// `records` holds one or more complete records, each ending with `\n` and containing no
/// other `\n` (see [`RecordFormat`](super::RecordFormat)). A sink writes a batch as one unit,
/// so when stdout and stderr of one container share a sink ([`SharedSink`]), their records
/// interleave at record boundaries, never inside one. A sink that needs per-record decisions
/// (a rotating file that rotates between records) can split the batch at each `\n`.
pub trait RecordSink {
    /// Writes the whole batch, or fails.
    fn write_records(&mut self, records: &[u8]) -> io::Result<()>;
}

impl<S: RecordSink + ?Sized> RecordSink for &mut S {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        (**self).write_records(records)
    }
}

impl<S: RecordSink + ?Sized> RecordSink for Box<S> {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        (**self).write_records(records)
    }
}

/// Collects records in memory (tests, small captures).
impl RecordSink for Vec<u8> {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        self.extend_from_slice(records);
        Ok(())
    }
}

/// Any [`Write`] as a sink: each batch is one `write_all` (usually one `write(2)`).
///
/// No buffering is added: the writer already hands over up to a few hundred KiB at a time.
#[derive(Debug, Default)]
pub struct WriteSink<W>(pub W);

impl<W: Write> RecordSink for WriteSink<W> {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        self.0.write_all(records)
    }
}

/// One sink shared by several writers (a container's stdout and stderr), behind a mutex.
///
/// Clones share the same sink. Each batch is written under the lock, so batches (and the
/// records in them) never interleave. A writer that panicked while holding the lock does not
/// poison the others: the sink is used as it is.
///
/// ```
/// use ctrlog::cri::write::{RecordSink, SharedSink};
/// let shared = SharedSink::new(Vec::new());
/// let mut a = shared.clone();
/// a.write_records(b"one\n").unwrap();
/// shared.clone().write_records(b"two\n").unwrap();
/// assert_eq!(shared.with(|v| v.clone()), b"one\ntwo\n");
/// ```
#[derive(Debug, Default)]
pub struct SharedSink<S>(Arc<Mutex<S>>);

impl<S> Clone for SharedSink<S> {
    fn clone(&self) -> Self {
        SharedSink(Arc::clone(&self.0))
    }
}

impl<S> SharedSink<S> {
    /// Shares `sink`.
    pub fn new(sink: S) -> Self {
        SharedSink(Arc::new(Mutex::new(sink)))
    }

    /// Runs `f` with the sink locked.
    pub fn with<T>(&self, f: impl FnOnce(&mut S) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// The sink, if this is the last clone.
    pub fn try_into_inner(self) -> Result<S, Self> {
        match Arc::try_unwrap(self.0) {
            Ok(m) => Ok(m.into_inner().unwrap_or_else(|p| p.into_inner())),
            Err(arc) => Err(SharedSink(arc)),
        }
    }
}

impl<S: RecordSink> RecordSink for SharedSink<S> {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        self.with(|s| s.write_records(records))
    }
}

/// Records go to a size-capped [`RotatingFile`](crate::rotate::RotatingFile); a batch is cut
/// only between records, so no file goes over its cap and no record spans two files.
impl RecordSink for crate::rotate::RotatingFile {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        crate::rotate::RotatingFile::write_records(self, records, b'\n')
    }
}
