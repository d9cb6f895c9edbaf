//! Where `ctrlog write` and the `binary://` driver put records: a plain file (or stdout),
//! or a size-capped rotating set with Docker's options.

use std::fs::File;
use std::io;
use std::path::Path;

use ctrlog::cri::write::{FileSink, RecordSink};
use ctrlog::rotate::{Naming, PlainFile, RotateError, RotateOptions, RotatingFile};

/// Docker's rotation options as given (`max-size`, `max-file`, `compress`) and the naming.
pub struct Rotation<'a> {
    pub max_size: Option<&'a str>,
    pub max_file: Option<&'a str>,
    pub compress: bool,
    pub naming: Naming,
    /// How the options are spelled in messages: `--` for flags, empty for driver keys.
    pub prefix: &'a str,
}

impl Rotation<'_> {
    fn wanted(&self) -> bool {
        self.max_size.is_some() || self.max_file.is_some() || self.compress
    }

    /// Docker's message, prefixed with the option and the value it is about.
    fn error(&self, e: RotateError) -> String {
        let (name, value) = match &e {
            RotateError::MaxSizeNotPositive | RotateError::MaxSize(_) => {
                ("max-size", self.max_size)
            }
            RotateError::MaxFileLessThanOne
            | RotateError::MaxFile { .. }
            | RotateError::MaxFileOutOfRange { .. } => ("max-file", self.max_file),
            _ => return e.to_string(),
        };
        format!("{}{name} '{}': {e}", self.prefix, value.unwrap_or_default())
    }
}

/// Where records go.
enum Target {
    /// stdout (`ctrlog write` without `-o`): a regular file is cut back to its last whole
    /// record after a failed write; a pipe or a terminal is written as it is (a torn record
    /// cannot be taken back).
    Stdout(FileSink),
    Plain(PlainFile),
    Rotating(Box<RotatingFile>),
}

/// A record sink over stdout, a plain file or a rotating set, remembering the last write error
/// for the final report.
pub struct LogOutput {
    target: Target,
    last_error: Option<io::Error>,
    /// Failed rotations already warned about (the first is reported on stderr at once, the
    /// count at close).
    rotation_failures_seen: u64,
}

impl LogOutput {
    /// Opens `path` for appending (created with mode 0640), rotating when any rotation option
    /// is given. The error names the option or the path.
    ///
    /// Both kinds open the file by the same rules (`ctrlog::rotate`'s module docs): never
    /// through a symbolic link, only a regular file, without blocking (a FIFO is refused at
    /// once), no parent directory created, and an advisory `flock` so that a second writer on
    /// the file fails fast.
    pub fn open(path: &Path, rotation: &Rotation<'_>) -> Result<Self, String> {
        let target = if rotation.wanted() {
            let base =
                RotateOptions::from_docker(rotation.max_size, rotation.max_file, rotation.compress)
                    .map_err(|e| rotation.error(e))?;
            let opts = RotateOptions {
                naming: rotation.naming,
                ..base
            };
            RotatingFile::open(path, opts).map(|f| Target::Rotating(Box::new(f)))
        } else {
            PlainFile::open(path, 0o640).map(Target::Plain)
        };
        let target = target.map_err(|e| format!("cannot open the output: {e}"))?;
        Ok(LogOutput {
            target,
            last_error: None,
            rotation_failures_seen: 0,
        })
    }

    /// Records to stdout (a duplicate of fd 1).
    pub fn stdout(f: File) -> Self {
        LogOutput {
            target: Target::Stdout(FileSink::new(f)),
            last_error: None,
            rotation_failures_seen: 0,
        }
    }

    /// The file written to, or `stdout`.
    pub fn name(&self) -> String {
        match &self.target {
            Target::Stdout(_) => "stdout".to_owned(),
            Target::Plain(f) => f.path().display().to_string(),
            Target::Rotating(r) => r.path().display().to_string(),
        }
    }

    /// The last failed write's error, if any write failed.
    pub fn last_error(&self) -> Option<&io::Error> {
        self.last_error.as_ref()
    }

    /// Syncs and waits for pending compressions, so the set is complete on exit. Failed
    /// rotations are an error here (the records were written, but the file grew past
    /// max-size): the message names the file, the count and the last reason.
    pub fn close(self) -> Result<(), String> {
        match self.target {
            Target::Stdout(_) | Target::Plain(_) => Ok(()),
            Target::Rotating(r) => {
                let failed = r.stats().rotation_failures;
                let report = match r.rotation_error() {
                    Some(why) if failed > 0 => Some(format!(
                        "{}: {failed} rotation(s) failed, the file grew past max-size (last: {why})",
                        r.path().display()
                    )),
                    _ => None,
                };
                let closed = r.close().map_err(|e| e.to_string());
                match (closed, report) {
                    (Err(e), Some(r)) => Err(format!("{r}; {e}")),
                    (Err(e), None) | (Ok(()), Some(e)) => Err(e),
                    (Ok(()), None) => Ok(()),
                }
            }
        }
    }

    /// Warns on stderr at the first failed rotation (the writer keeps appending to the live
    /// file and retries with a back-off; the count is reported at close).
    fn warn_rotation(&mut self) {
        let Target::Rotating(r) = &self.target else {
            return;
        };
        let failed = r.stats().rotation_failures;
        if failed > self.rotation_failures_seen {
            if self.rotation_failures_seen == 0 {
                eprintln!(
                    "ctrlog: warning: {}: rotation failed, writing on into the live file \
                     (retried with back-off): {}",
                    r.path().display(),
                    r.rotation_error().unwrap_or_default()
                );
            }
            self.rotation_failures_seen = failed;
        }
    }
}

impl RecordSink for LogOutput {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        let r = match &mut self.target {
            Target::Stdout(w) => w.write_records(records),
            Target::Plain(f) => f.write_records(records),
            Target::Rotating(r) => RecordSink::write_records(&mut **r, records),
        };
        if let Err(e) = &r {
            self.last_error = Some(io::Error::new(e.kind(), e.to_string()));
        }
        self.warn_rotation();
        r
    }
}
