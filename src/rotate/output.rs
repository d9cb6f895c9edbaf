//! [`LogOutput`]: where a logger writes records, a plain file or a size-capped rotating set,
//! as one type.

use std::io;
use std::path::Path;

use super::{PlainFile, RotateError, RotateOptions, RotateStats, RotatingFile};

/// Mode of a plain file [`LogOutput::open`] creates (minus the umask): owner read-write,
/// group read, as containerd's and kubelet's log files.
pub const PLAIN_MODE: u32 = 0o640;

/// A log file that rotates or not: what Docker's and containerd's loggers write, decided by
/// whether rotation options were given (`max-size`, `max-file`, `compress`). Both kinds open
/// the file by the same rules (see the [module docs](super)): never through a symbolic link,
/// only a regular file, without blocking on a FIFO, no parent directory created, and an
/// advisory `flock` so that a second writer fails fast. It is a
/// [`RecordWriter`](crate::cri::write::RecordWriter): records are never split across files.
///
/// ```
/// use ctrlog::cri::write::{CriEncoder, LogWriter};
/// use ctrlog::cri::Stream;
/// use ctrlog::rotate::{LogOutput, RotateOptions};
/// use ctrlog::time::Offset;
///
/// let dir = tempfile::tempdir()?;
/// // `--log-opt max-size=1k --log-opt max-file=2`, or `None` for a plain file.
/// let rotation = RotateOptions::from_docker(Some("1k"), Some("2"), false)?;
/// let out = LogOutput::open(dir.path().join("c.log"), Some(rotation))?;
/// let mut w = LogWriter::new(Stream::Stdout, CriEncoder::new(Offset::Utc), out);
/// w.copy_from(&b"hello\n".repeat(200)[..])?;
/// let out = w.into_inner();
/// assert_eq!(out.stats().map(|s| s.rotations > 0), Some(true));
/// out.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum LogOutput {
    /// A file that never rotates.
    Plain(PlainFile),
    /// A size-capped rotating set.
    Rotating(Box<RotatingFile>),
}

impl LogOutput {
    /// Opens `path` for appending: a rotating set with `rotation`, else a plain file created
    /// with [`PLAIN_MODE`].
    pub fn open(
        path: impl AsRef<Path>,
        rotation: Option<RotateOptions>,
    ) -> Result<Self, RotateError> {
        match rotation {
            Some(opts) => RotatingFile::open(path, opts).map(|f| LogOutput::Rotating(Box::new(f))),
            None => PlainFile::open(path, PLAIN_MODE).map(LogOutput::Plain),
        }
    }

    /// The live file's path.
    pub fn path(&self) -> &Path {
        match self {
            LogOutput::Plain(f) => f.path(),
            LogOutput::Rotating(r) => r.path(),
        }
    }

    /// The rotating set's counters (`None` for a plain file).
    pub fn stats(&self) -> Option<RotateStats> {
        match self {
            LogOutput::Plain(_) => None,
            LogOutput::Rotating(r) => Some(r.stats()),
        }
    }

    /// Why the last rotation failed, if one did (the writer goes on in the live file and
    /// retries with a back-off).
    pub fn rotation_error(&self) -> Option<&str> {
        match self {
            LogOutput::Plain(_) => None,
            LogOutput::Rotating(r) => r.rotation_error(),
        }
    }

    /// Writes `records` (whole records, each ending with `end`): a rotating set rotates only
    /// between records.
    pub fn write_records(&mut self, records: &[u8], end: u8) -> io::Result<()> {
        match self {
            LogOutput::Plain(f) => crate::cri::write::RecordWriter::write_records(f, records),
            LogOutput::Rotating(r) => r.write_records(records, end),
        }
    }

    /// Closes it: a rotating set the way its durability policy says, waiting for pending
    /// compressions, so the set is complete on return; a plain file has nothing left to do
    /// (every batch was written when it was accepted).
    pub fn close(self) -> Result<(), RotateError> {
        match self {
            LogOutput::Plain(_) => Ok(()),
            LogOutput::Rotating(r) => r.close(),
        }
    }
}

impl crate::cri::write::RecordWriter for LogOutput {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        LogOutput::write_records(self, records, b'\n')
    }
}
