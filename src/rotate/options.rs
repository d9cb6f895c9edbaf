//! The rotating writer's errors, options and counters.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::Naming;
use crate::regular::OpenError;
use crate::size::SizeError;
use crate::time::{Clock, Offset, SystemClock};

/// A rotation option, by the name Docker's `--log-opt` (and the driver's URI) gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RotateOption {
    /// `max-size`.
    MaxSize,
    /// `max-file` (kubelet's `containerLogMaxFiles`).
    MaxFile,
    /// `compress`.
    Compress,
    /// `naming` (ctrlog's).
    Naming,
    /// `durability` (ctrlog's).
    Durability,
}

impl RotateOption {
    /// The option's key: `max-size`, `max-file`, `compress`, `naming`, `durability`.
    pub const fn key(self) -> &'static str {
        match self {
            RotateOption::MaxSize => "max-size",
            RotateOption::MaxFile => "max-file",
            RotateOption::Compress => "compress",
            RotateOption::Naming => "naming",
            RotateOption::Durability => "durability",
        }
    }
}

/// What is wrong with an option's value. Its `Display` is a phrase that follows the value
/// (`'10q' is not a size: …`); [`OptionError`]'s is the reference tool's whole message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptionProblem {
    /// Not a Docker size.
    #[error("is not a size: {0}")]
    NotASize(SizeError),
    /// A size of 0.
    #[error("must be positive")]
    NotPositive,
    /// Docker's `max-file` below 1.
    #[error("must be at least 1")]
    LessThanOne,
    /// kubelet's `containerLogMaxFiles` below 2.
    #[error("must be at least 2")]
    LessThanTwo,
    /// Not an integer.
    #[error("is not an integer")]
    NotAnInteger,
    /// An integer too large for Docker's `strconv.Atoi`.
    #[error("is out of range")]
    OutOfRange,
    /// `compress` without rotation (a `max-size` and a `max-file` of 2 or more).
    #[error("needs max-size and a max-file of 2 or more")]
    NeedsRotation,
    /// Not one of the values the option takes (`naming`, `durability`).
    #[error("is not one of {0}")]
    NotOneOf(&'static str),
    /// Compression was asked for but ctrlog was built without the `gzip` feature.
    #[error("needs ctrlog's `gzip` feature")]
    GzipUnavailable,
}

/// An invalid rotation option: which option, the value given, and what is wrong with it.
///
/// Its message is the reference tool's (Docker's `jsonfilelog.New`, kubelet's validation),
/// so a runtime built on ctrlog reports what dockerd would; a tool with its own spelling of
/// the options (`--max-size` flags) builds its message from [`RotateOption::key`],
/// [`OptionError::input`] and the [`OptionProblem`] phrase instead.
#[derive(Debug)]
pub struct OptionError {
    /// The option at fault.
    pub option: RotateOption,
    /// Its value as given (`"true"` for a `compress` flag).
    pub input: String,
    /// What is wrong with it.
    pub problem: OptionProblem,
}

impl OptionError {
    fn new(option: RotateOption, input: impl Into<String>, problem: OptionProblem) -> Self {
        OptionError {
            option,
            input: input.into(),
            problem,
        }
    }
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use OptionProblem as P;
        let input = &self.input;
        match (&self.problem, self.option) {
            (P::NotASize(e), _) => write!(f, "invalid max-size: {e}"),
            (P::NotPositive, _) => f.write_str("max-size must be a positive number"),
            (P::LessThanOne, _) => f.write_str("max-file cannot be less than 1"),
            (P::LessThanTwo, _) => write!(f, "invalid MaxFiles {input}, must be > 1"),
            (P::NotAnInteger, o) => write!(f, "invalid {} '{input}': not an integer", o.key()),
            (P::OutOfRange, o) => write!(f, "invalid {} '{input}': out of range", o.key()),
            (P::NeedsRotation, _) => f.write_str(
                "compress cannot be true when max-file is less than 2 or max-size is not set",
            ),
            (P::NotOneOf(values), RotateOption::Naming) => {
                write!(f, "unknown naming scheme '{input}' (expected {values})")
            }
            (P::NotOneOf(values), o) => {
                write!(f, "unknown {} '{input}' (expected {values})", o.key())
            }
            (P::GzipUnavailable, _) => {
                f.write_str("compressed backups need ctrlog's `gzip` feature")
            }
        }
    }
}

impl std::error::Error for OptionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            OptionProblem::NotASize(e) => Some(e),
            _ => None,
        }
    }
}

/// Errors of the rotating writer. Every I/O variant names the operation and the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// An option's value is invalid (see [`OptionError`]).
    #[error(transparent)]
    Option(#[from] OptionError),
    /// The path has no file name, or it is not valid UTF-8.
    #[error("{}: not a usable log file name", path.display())]
    BadPath {
        /// The path given to `open`.
        path: PathBuf,
    },
    /// Another writer holds the file's advisory lock.
    #[error("{}: locked by another writer (flock)", path.display())]
    Locked {
        /// The live file.
        path: PathBuf,
    },
    /// The path is a symbolic link. It is never written through: a link planted in a log
    /// directory would point the writer (often root) at any file on the system.
    #[error("{}: is a symbolic link, refusing to write through it", path.display())]
    Symlink {
        /// The path given to `open`.
        path: PathBuf,
    },
    /// The path is not a regular file (a FIFO, a device, a directory, ...).
    #[error("{}: is {kind}, not a regular file", path.display())]
    NotRegular {
        /// The path given to `open`.
        path: PathBuf,
        /// What it is instead (`a FIFO`, `a directory`, ...).
        kind: &'static str,
    },
    /// The directory the file goes in does not exist. Directories are never created.
    #[error(
        "{}: directory {} does not exist (parent directories are not created)",
        path.display(),
        dir.display()
    )]
    NoParent {
        /// The path given to `open`.
        path: PathBuf,
        /// Its missing directory.
        dir: PathBuf,
    },
    /// With [`RecordEnd::Newline`], an existing file that is not empty and holds no newline:
    /// it has no record boundary to cut a torn record back to, so it is not a log of
    /// newline-ended records and is left alone.
    #[error(
        "{}: {size} bytes and no newline: not a log of newline-ended records, refusing to \
         cut or append to it",
        path.display()
    )]
    NoRecordBoundary {
        /// The live file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The naming scheme has no free name left (sequence or year 9999 exhausted).
    #[error("{}: no free backup name", path.display())]
    NoBackupName {
        /// The live file.
        path: PathBuf,
    },
    /// A system call failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`open`, `rename`, ...).
        op: &'static str,
        /// The file it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl RotateError {
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        RotateError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl RotateError {
    /// The error of [`super::sys::open_log`] for `path`.
    pub(crate) fn open(path: &Path, op: &'static str, f: OpenError) -> Self {
        let path = path.to_path_buf();
        match f {
            OpenError::Symlink => RotateError::Symlink { path },
            OpenError::NotRegular(kind) => RotateError::NotRegular { path, kind },
            OpenError::NoParent => RotateError::NoParent {
                dir: crate::regular::dir_of(&path).to_path_buf(),
                path,
            },
            OpenError::Io(source) => RotateError::Io { op, path, source },
        }
    }
}

impl From<RotateError> for io::Error {
    fn from(e: RotateError) -> Self {
        match e {
            RotateError::Io { source, .. } => source,
            RotateError::Locked { .. } => io::Error::new(io::ErrorKind::WouldBlock, e),
            other => io::Error::other(other),
        }
    }
}

/// How many backups a set keeps besides the live file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backups {
    /// At most this many; 0 means none (the live file is removed when it rotates).
    Count(u32),
    /// Never delete backups.
    Unlimited,
}

impl Default for Backups {
    /// Docker's default `max-file=1`: no backups.
    fn default() -> Self {
        Backups::Count(0)
    }
}

impl Backups {
    /// Docker's `max-file` (the number of files including the live one): `Count(max_file - 1)`;
    /// below 1 is Docker's error `max-file cannot be less than 1`.
    pub fn from_max_file(max_file: i64) -> Result<Self, OptionError> {
        if max_file < 1 {
            return Err(OptionError::new(
                RotateOption::MaxFile,
                max_file.to_string(),
                OptionProblem::LessThanOne,
            ));
        }
        // Real clamp: more than `u32::MAX` backups is as good as unlimited on any file system.
        let n = u32::try_from(max_file - 1).unwrap_or(u32::MAX);
        Ok(Backups::Count(n))
    }
}

/// When data is flushed to stable storage (`fsync`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Never: the page cache decides (Docker, kubelet, lumberjack).
    None,
    /// `fsync` the file before it is renamed and at close; `fsync` the directory after renames.
    /// Writeback is started (`sync_file_range`, not waited for) every 1 MiB written, so the
    /// `fsync` at rotation has little left to do.
    #[default]
    OnRotate,
    /// As `OnRotate`, plus `fdatasync` after every record: a returned `write` is durable.
    EveryRecord,
}

impl FromStr for Durability {
    type Err = OptionError;

    /// `none`, `rotate` or `record`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Durability::None),
            "rotate" => Ok(Durability::OnRotate),
            "record" => Ok(Durability::EveryRecord),
            _ => Err(OptionError::new(
                RotateOption::Durability,
                s,
                OptionProblem::NotOneOf("none, rotate or record"),
            )),
        }
    }
}

/// What ends a record; used at open to find a torn trailing record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecordEnd {
    /// Records end with `\n` (CRI, json-file and log.json lines). At open, bytes after the last
    /// `\n` of the live file are a torn record (a crash during a write) and are cut off.
    #[default]
    Newline,
    /// Records are opaque: the live file is appended to as it is.
    Any,
}

/// Settings of a [`RotatingFile`](super::RotatingFile). Start from `Default` (no size cap,
/// ctrlog naming), from Docker's strings with [`RotateOptions::from_docker`] or from kubelet's
/// with [`RotateOptions::kubelet`], and assign the fields to change (the crate's
/// [conventions](crate#conventions)).
///
/// ```
/// use ctrlog::rotate::{Backups, RotateOptions};
/// let mut opts = RotateOptions::default();
/// opts.max_size = Some(10 << 20);
/// opts.backups = Backups::Count(3);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct RotateOptions {
    /// Rotate before a write that would make the live file larger than this. `None`: never.
    pub max_size: Option<u64>,
    /// Backups kept besides the live file.
    pub backups: Backups,
    /// gzip backups (feature `gzip`).
    pub compress: bool,
    /// How backups are named.
    pub naming: Naming,
    /// When to `fsync`.
    pub durability: Durability,
    /// Mode of new files (default 0640; the umask is not applied).
    pub mode: u32,
    /// What ends a record (torn-record cleanup at open).
    pub record_end: RecordEnd,
    /// The zone of kubelet backup names (kubelet uses local time).
    pub offset: Offset,
    /// Where "now" comes from (kubelet backup names).
    pub clock: Arc<dyn Clock + Send + Sync>,
    /// Check the live file for deletion, renaming and truncation before a write when at least
    /// this long has passed since the last check (and at each rotation); zero checks before
    /// every record. Default 1 s.
    pub check_interval: Duration,
}

impl fmt::Debug for RotateOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotateOptions")
            .field("max_size", &self.max_size)
            .field("backups", &self.backups)
            .field("compress", &self.compress)
            .field("naming", &self.naming)
            .field("durability", &self.durability)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("record_end", &self.record_end)
            .field("offset", &self.offset)
            .field("check_interval", &self.check_interval)
            .finish_non_exhaustive()
    }
}

impl Default for RotateOptions {
    fn default() -> Self {
        RotateOptions {
            max_size: None,
            backups: Backups::default(),
            compress: false,
            naming: Naming::default(),
            durability: Durability::default(),
            mode: 0o640,
            record_end: RecordEnd::default(),
            offset: Offset::Local,
            clock: Arc::new(SystemClock),
            check_interval: DEFAULT_CHECK_INTERVAL,
        }
    }
}

impl RotateOptions {
    /// Docker json-file's `max-size`, `max-file` and `compress` log options, with Docker's
    /// validation and messages (`jsonfilelog.New`): `max-size` is decimal (`10m` = 10,000,000
    /// bytes) and must be positive; `max-file` (default 1) cannot be less than 1; `compress`
    /// needs `max-file` of 2 or more and a `max-size`. Names are Docker's.
    pub fn from_docker(
        max_size: Option<&str>,
        max_file: Option<&str>,
        compress: bool,
    ) -> Result<Self, OptionError> {
        let max_size = match max_size {
            None => None,
            Some(s) => {
                let size_error = |p| OptionError::new(RotateOption::MaxSize, s, p);
                let n = crate::size::from_human_size(s)
                    .map_err(|e| size_error(OptionProblem::NotASize(e)))?;
                if n == 0 {
                    return Err(size_error(OptionProblem::NotPositive));
                }
                Some(n)
            }
        };
        let max_file_given = max_file;
        let max_file = match max_file {
            None => 1,
            Some(s) => s.trim().parse::<i64>().map_err(|e| {
                let problem = match e.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                        OptionProblem::OutOfRange
                    }
                    _ => OptionProblem::NotAnInteger,
                };
                OptionError::new(RotateOption::MaxFile, s, problem)
            })?,
        };
        let backups = Backups::from_max_file(max_file).map_err(|mut e| {
            // The value as given, not as parsed (` 0` stays ` 0`).
            if let Some(given) = max_file_given {
                e.input = given.to_owned();
            }
            e
        })?;
        if compress && (max_file == 1 || max_size.is_none()) {
            return Err(OptionError::new(
                RotateOption::Compress,
                "true",
                OptionProblem::NeedsRotation,
            ));
        }
        Ok(RotateOptions {
            max_size,
            backups,
            compress,
            naming: Naming::Docker,
            ..RotateOptions::default()
        })
    }

    /// kubelet's `containerLogMaxSize` (in bytes) and `containerLogMaxFiles` (the live file
    /// included, more than 1): kubelet names, every backup but the newest compressed.
    pub fn kubelet(max_size: u64, max_files: u32) -> Result<Self, OptionError> {
        if max_files <= 1 {
            return Err(OptionError::new(
                RotateOption::MaxFile,
                max_files.to_string(),
                OptionProblem::LessThanTwo,
            ));
        }
        if max_size == 0 {
            return Err(OptionError::new(
                RotateOption::MaxSize,
                "0",
                OptionProblem::NotPositive,
            ));
        }
        Ok(RotateOptions {
            max_size: Some(max_size),
            backups: Backups::Count(max_files - 1),
            compress: cfg!(feature = "gzip"),
            naming: Naming::Kubelet,
            ..RotateOptions::default()
        })
    }
}

/// Counters of a writer's life, for tests and monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotateStats {
    /// Successful rotations.
    pub rotations: u64,
    /// Rotations that failed (the writer kept appending).
    pub rotation_failures: u64,
    /// Backups compressed by the worker.
    pub compressed: u64,
    /// Compressions that failed (the raw backup was kept).
    pub compress_failures: u64,
    /// Times a new live file was opened because the old one was deleted or renamed away.
    pub reopens: u64,
    /// Writes retried after an out-of-space error.
    pub space_retries: u64,
}

/// [`RotateOptions::check_interval`] by default: a deleted or renamed live file is noticed at
/// the first write a second or more after the last check.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durability_and_backups_parse() {
        assert_eq!("none".parse::<Durability>().unwrap(), Durability::None);
        assert_eq!(
            "rotate".parse::<Durability>().unwrap(),
            Durability::OnRotate
        );
        assert_eq!(
            "record".parse::<Durability>().unwrap(),
            Durability::EveryRecord
        );
        assert!("always".parse::<Durability>().is_err());
        assert_eq!(Backups::from_max_file(1).unwrap(), Backups::Count(0));
        assert_eq!(Backups::from_max_file(5).unwrap(), Backups::Count(4));
        assert!(matches!(
            Backups::from_max_file(0),
            Err(OptionError {
                option: RotateOption::MaxFile,
                problem: OptionProblem::LessThanOne,
                ..
            })
        ));
        let e: io::Error = RotateError::Locked { path: "x".into() }.into();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }
}
