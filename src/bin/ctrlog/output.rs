//! Where `ctrlog write` and the `binary://` driver put records: a plain file (or stdout),
//! or a size-capped rotating set with Docker's options.

use std::fs::File;
use std::io;
use std::path::Path;

use ctrlog::cri::write::{FileWriter, RecordWriter};
use ctrlog::rotate::{LogOutput, Naming, OptionError, OptionProblem, RotateOptions};

/// How the rotation options are spelled in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spelling {
    /// `ctrlog write`'s flags: `--max-size`, and `--compress` without a value.
    Flags,
    /// The driver's keys: `max-size`, and `compress` with its value.
    Keys,
}

/// Docker's rotation options as given (`max-size`, `max-file`, `compress`) and the naming.
/// `ctrlog write` and the driver both turn them into [`RotateOptions`] here, once, with one
/// set of messages.
pub struct Rotation<'a> {
    pub max_size: Option<&'a str>,
    pub max_file: Option<&'a str>,
    pub compress: bool,
    pub naming: Naming,
    pub spelling: Spelling,
}

impl Rotation<'_> {
    /// The rotating writer's options ([`RotateOptions::from_docker`] with the naming), or
    /// `None` when no rotation option is given (a plain file). The error names the option at
    /// fault and quotes its value: `max-size: '10q' is not a size: …` (`--max-size: …` for
    /// flags).
    pub fn options(&self) -> Result<Option<RotateOptions>, String> {
        if self.max_size.is_none() && self.max_file.is_none() && !self.compress {
            return Ok(None);
        }
        let mut opts = RotateOptions::from_docker(self.max_size, self.max_file, self.compress)
            .map_err(|e| self.error(e))?;
        opts.naming = self.naming;
        Ok(Some(opts))
    }

    /// The message for an invalid option in this spelling: the option, its value (escaped,
    /// so that a message stays on one line) and the library's phrase for what is wrong.
    fn error(&self, e: OptionError) -> String {
        let p = match self.spelling {
            Spelling::Flags => "--",
            Spelling::Keys => "",
        };
        let key = e.option.key();
        match e.problem {
            // The phrase names other options: spelled as they are here.
            OptionProblem::NeedsRotation => {
                let needs = format!("needs {p}max-size and a {p}max-file of 2 or more");
                match self.spelling {
                    Spelling::Flags => format!("--{key} {needs}"),
                    Spelling::Keys => format!("{key}: '{}' {needs}", e.input.escape_debug()),
                }
            }
            problem => format!("{p}{key}: '{}' {problem}", e.input.escape_debug()),
        }
    }
}

/// Where records go.
enum Target {
    /// stdout (`ctrlog write` without `-o`): a regular file is cut back to its last whole
    /// record after a failed write; a pipe or a terminal is written as it is (a torn record
    /// cannot be taken back).
    Stdout(FileWriter),
    /// A plain file or a rotating set: the library's one type for both.
    File(LogOutput),
}

/// The CLI's record writer: stdout or a [`LogOutput`], remembering the last write error for
/// the final report and warning once on stderr when a rotation fails.
pub struct Destination {
    target: Target,
    last_error: Option<io::Error>,
    /// Failed rotations already warned about (the first is reported on stderr at once, the
    /// count at close).
    rotation_failures_seen: u64,
}

impl Destination {
    /// Opens `path` for appending: a rotating set with `rotation` (from
    /// [`Rotation::options`]), a plain file without ([`LogOutput::open`]). The error names
    /// the path.
    pub fn open(path: &Path, rotation: Option<RotateOptions>) -> Result<Self, String> {
        let out =
            LogOutput::open(path, rotation).map_err(|e| format!("cannot open the output: {e}"))?;
        Ok(Self::with(Target::File(out)))
    }

    /// Records to stdout (a duplicate of fd 1).
    pub fn stdout(f: File) -> Self {
        Self::with(Target::Stdout(FileWriter::new(f)))
    }

    fn with(target: Target) -> Self {
        Destination {
            target,
            last_error: None,
            rotation_failures_seen: 0,
        }
    }

    /// The file written to, or `stdout`.
    pub fn name(&self) -> String {
        match &self.target {
            Target::Stdout(_) => "stdout".to_owned(),
            Target::File(f) => f.path().display().to_string(),
        }
    }

    /// The last failed write's error, if any write failed.
    pub fn last_error(&self) -> Option<&io::Error> {
        self.last_error.as_ref()
    }

    /// Closes the output ([`LogOutput::close`]). Failed rotations are an error here (the
    /// records were written, but the file grew past max-size): the message names the file,
    /// the count and the last reason.
    pub fn close(self) -> Result<(), String> {
        let Target::File(out) = self.target else {
            return Ok(());
        };
        let failed = out.stats().map_or(0, |s| s.rotation_failures);
        let report = match out.rotation_error() {
            Some(why) if failed > 0 => Some(format!(
                "{}: {failed} rotation(s) failed, the file grew past max-size (last: {why})",
                out.path().display()
            )),
            _ => None,
        };
        let closed = out.close().map_err(|e| e.to_string());
        match (closed, report) {
            (Err(e), Some(r)) => Err(format!("{r}; {e}")),
            (Err(e), None) | (Ok(()), Some(e)) => Err(e),
            (Ok(()), None) => Ok(()),
        }
    }

    /// Warns on stderr at the first failed rotation (the writer keeps appending to the live
    /// file and retries with a back-off; the count is reported at close).
    fn warn_rotation(&mut self) {
        let Target::File(out) = &self.target else {
            return;
        };
        let failed = out.stats().map_or(0, |s| s.rotation_failures);
        if failed > self.rotation_failures_seen {
            if self.rotation_failures_seen == 0 {
                say!(
                    "ctrlog: warning: {}: rotation failed, writing on into the live file \
                     (retried with back-off): {}",
                    out.path().display(),
                    out.rotation_error().unwrap_or_default()
                );
            }
            self.rotation_failures_seen = failed;
        }
    }
}

impl RecordWriter for Destination {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        let r = match &mut self.target {
            Target::Stdout(w) => w.write_records(records),
            Target::File(f) => RecordWriter::write_records(f, records),
        };
        if let Err(e) = &r {
            self.last_error = Some(io::Error::new(e.kind(), e.to_string()));
        }
        self.warn_rotation();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotation(
        max_size: Option<&'static str>,
        max_file: Option<&'static str>,
        compress: bool,
        spelling: Spelling,
    ) -> Result<Option<RotateOptions>, String> {
        Rotation {
            max_size,
            max_file,
            compress,
            naming: Naming::Ctrlog,
            spelling,
        }
        .options()
    }

    /// One mapping for both front ends: the same words, only the option's spelling differs.
    #[test]
    fn flags_and_keys_get_the_same_messages() {
        use Spelling::{Flags, Keys};
        let cases: &[(Option<&'static str>, Option<&'static str>, bool, &str)] = &[
            (Some("10q"), None, false, "max-size: '10q' is not a size: "),
            (Some("0"), None, false, "max-size: '0' must be positive"),
            (
                Some("1m"),
                Some("0"),
                false,
                "max-file: '0' must be at least 1",
            ),
            (
                Some("1m"),
                Some("x\n"),
                false,
                "max-file: 'x\\n' is not an integer",
            ),
            (
                Some("1m"),
                Some("99999999999999999999"),
                false,
                "max-file: '99999999999999999999' is out of range",
            ),
        ];
        for &(size, file, compress, want) in cases {
            let keys = rotation(size, file, compress, Keys).unwrap_err();
            assert!(keys.starts_with(want), "{keys}");
            let flags = rotation(size, file, compress, Flags).unwrap_err();
            assert_eq!(flags, format!("--{keys}"));
        }
        assert_eq!(
            rotation(Some("1m"), None, true, Keys).unwrap_err(),
            "compress: 'true' needs max-size and a max-file of 2 or more"
        );
        assert_eq!(
            rotation(Some("1m"), None, true, Flags).unwrap_err(),
            "--compress needs --max-size and a --max-file of 2 or more"
        );
        assert!(rotation(None, None, false, Keys).unwrap().is_none());
        let o = rotation(Some("1k"), Some("2"), false, Flags)
            .unwrap()
            .unwrap();
        assert_eq!((o.max_size, o.naming), (Some(1000), Naming::Ctrlog));
    }
}
