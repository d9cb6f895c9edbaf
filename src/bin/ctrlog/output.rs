//! Where `ctrlog write` and the `binary://` driver put records: a plain file (or stdout),
//! or a size-capped rotating set with Docker's options.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ctrlog::cri::write::{RecordSink, WriteSink};
use ctrlog::rotate::{Naming, RotateError, RotateOptions, RotatingFile};

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

/// A record sink over a plain file or a rotating set.
pub enum LogOutput {
    Plain(WriteSink<File>),
    Rotating(Box<RotatingFile>),
}

impl LogOutput {
    /// Opens `path` for appending (created with mode 0640), rotating when any rotation option
    /// is given. The error names the option or the path.
    pub fn open(path: &Path, rotation: &Rotation<'_>) -> Result<Self, String> {
        if rotation.wanted() {
            let base =
                RotateOptions::from_docker(rotation.max_size, rotation.max_file, rotation.compress)
                    .map_err(|e| rotation.error(e))?;
            let opts = RotateOptions {
                naming: rotation.naming,
                ..base
            };
            return RotatingFile::open(path, opts)
                .map(|f| LogOutput::Rotating(Box::new(f)))
                .map_err(|e| format!("cannot open {}: {e}", path.display()));
        }
        OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .open(path)
            .map(|f| LogOutput::Plain(WriteSink(f)))
            .map_err(|e| format!("cannot open {}: {e}", path.display()))
    }

    /// Syncs and waits for pending compressions, so the set is complete on exit.
    pub fn close(self) -> Result<(), String> {
        match self {
            LogOutput::Plain(_) => Ok(()),
            LogOutput::Rotating(r) => r.close().map_err(|e| e.to_string()),
        }
    }
}

impl RecordSink for LogOutput {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        match self {
            LogOutput::Plain(w) => w.write_records(records),
            LogOutput::Rotating(r) => RecordSink::write_records(&mut **r, records),
        }
    }
}
