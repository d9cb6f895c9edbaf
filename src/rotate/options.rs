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

/// Errors of the rotating writer. Every I/O variant names the operation and the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotateError {
    /// Docker's error for `max-size` 0.
    #[error("max-size must be a positive number")]
    MaxSizeNotPositive,
    /// Docker's error for `max-file` below 1.
    #[error("max-file cannot be less than 1")]
    MaxFileLessThanOne,
    /// Docker's error for `compress=true` without rotation.
    #[error("compress cannot be true when max-file is less than 2 or max-size is not set")]
    CompressWithoutRotation,
    /// `max-size` is not a Docker size.
    #[error("invalid max-size: {0}")]
    MaxSize(#[from] SizeError),
    /// `max-file` is not an integer.
    #[error("invalid max-file '{input}': not an integer")]
    MaxFile {
        /// The rejected text.
        input: String,
    },
    /// `max-file` is an integer too large for Docker's `strconv.Atoi`.
    #[error("invalid max-file '{input}': out of range")]
    MaxFileOutOfRange {
        /// The rejected text.
        input: String,
    },
    /// kubelet's error for `MaxFiles` below 2.
    #[error("invalid MaxFiles {0}, must be > 1")]
    KubeletMaxFiles(u32),
    /// Not one of `docker`, `kubelet`, `ctrlog`.
    #[error("unknown naming scheme '{input}' (expected docker, kubelet or ctrlog)")]
    UnknownNaming {
        /// The rejected text.
        input: String,
    },
    /// Not one of `none`, `rotate`, `record`.
    #[error("unknown durability '{input}' (expected none, rotate or record)")]
    UnknownDurability {
        /// The rejected text.
        input: String,
    },
    /// Compression was asked for but ctrlog was built without the `gzip` feature.
    #[error("compressed backups need ctrlog's `gzip` feature")]
    GzipUnavailable,
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
    pub fn from_max_file(max_file: i64) -> Result<Self, RotateError> {
        if max_file < 1 {
            return Err(RotateError::MaxFileLessThanOne);
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
    type Err = RotateError;

    /// `none`, `rotate` or `record`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Durability::None),
            "rotate" => Ok(Durability::OnRotate),
            "record" => Ok(Durability::EveryRecord),
            _ => Err(RotateError::UnknownDurability {
                input: s.to_owned(),
            }),
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
    ) -> Result<Self, RotateError> {
        let max_size = match max_size {
            None => None,
            Some(s) => {
                let n = crate::size::from_human_size(s)?;
                if n == 0 {
                    return Err(RotateError::MaxSizeNotPositive);
                }
                Some(n)
            }
        };
        let max_file = match max_file {
            None => 1,
            Some(s) => s.trim().parse::<i64>().map_err(|e| {
                let input = s.to_owned();
                match e.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                        RotateError::MaxFileOutOfRange { input }
                    }
                    _ => RotateError::MaxFile { input },
                }
            })?,
        };
        let backups = Backups::from_max_file(max_file)?;
        if compress && (max_file == 1 || max_size.is_none()) {
            return Err(RotateError::CompressWithoutRotation);
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
    pub fn kubelet(max_size: u64, max_files: u32) -> Result<Self, RotateError> {
        if max_files <= 1 {
            return Err(RotateError::KubeletMaxFiles(max_files));
        }
        if max_size == 0 {
            return Err(RotateError::MaxSizeNotPositive);
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
            Err(RotateError::MaxFileLessThanOne)
        ));
        let e: io::Error = RotateError::Locked { path: "x".into() }.into();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }
}
