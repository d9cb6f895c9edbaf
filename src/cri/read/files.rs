//! Rotated file sets: finding a log's backups and ordering them oldest to newest.

use std::cmp::Ordering;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::ReadError;

/// How a backup got its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RotationScheme {
    /// Docker json-file: `name.1` is the newest backup, `name.2` older, … (`.gz` when
    /// compressed).
    Docker(u64),
    /// kubelet: `name.YYYYMMDD-HHMMSS` (Go layout `20060102-150405`), `.gz` when compressed.
    Kubelet(u64),
    /// ctrlog's rotating writer: `name.sNNNNNNNN`; a larger sequence number is newer.
    Sequence(u64),
}

/// One file of a rotated set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFile {
    /// Where it is.
    pub path: PathBuf,
    /// `None` for the live file, else how the backup is named.
    pub scheme: Option<RotationScheme>,
    /// Gzip-compressed (`.gz`).
    pub gzip: bool,
}

/// Parses the suffix after `name.` of a backup; `None` if it is not a backup name.
pub fn parse_rotation_suffix(suffix: &str) -> Option<(RotationScheme, bool)> {
    if suffix.ends_with(".tmp") {
        return None;
    }
    let (s, gz) = match suffix.strip_suffix(".gz") {
        Some(s) => (s, true),
        None => (suffix, false),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if all_digits(s) && s.len() <= 18 {
        let n: u64 = s.parse().ok()?;
        return (n >= 1).then_some((RotationScheme::Docker(n), gz));
    }
    if let Some(seq) = s.strip_prefix('s') {
        if all_digits(seq) && seq.len() <= 18 {
            return Some((RotationScheme::Sequence(seq.parse().ok()?), gz));
        }
    }
    let b = s.as_bytes();
    if b.len() == 15 && b[8] == b'-' && all_digits(&s[..8]) && all_digits(&s[9..]) {
        let v: u64 = format!("{}{}", &s[..8], &s[9..]).parse().ok()?;
        return Some((RotationScheme::Kubelet(v), gz));
    }
    None
}

fn order_key(s: RotationScheme) -> (u8, i128) {
    match s {
        // Oldest first: larger Docker numbers are older.
        RotationScheme::Docker(n) => (0, -i128::from(n)),
        RotationScheme::Kubelet(n) => (1, i128::from(n)),
        RotationScheme::Sequence(n) => (2, i128::from(n)),
    }
}

/// The backups of `path` and `path` itself, oldest first; `path` is last when it exists.
///
/// When a backup exists both plain and compressed (Docker compresses `name.1` after the
/// rotation and removes the plain file only once the `.gz` is complete), the plain one is
/// used. `.tmp` files (kubelet's compression in progress) are ignored. When backups of more
/// than one scheme are present, schemes are ordered Docker, kubelet, ctrlog.
pub fn rotated_set(path: &Path) -> Result<Vec<LogFile>, ReadError> {
    let name = path
        .file_name()
        .and_then(OsStr::to_str)
        .ok_or_else(|| ReadError::BadPath {
            path: path.to_path_buf(),
            reason: "the file name is not UTF-8 or is missing".into(),
        })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let entries = fs::read_dir(&dir).map_err(|e| ReadError::io(&dir, e))?;
    let prefix = format!("{name}.");
    let mut backups: Vec<LogFile> = Vec::new();
    for e in entries {
        let e = e.map_err(|e| ReadError::io(&dir, e))?;
        let fname = e.file_name();
        let Some(f) = fname.to_str() else { continue };
        let Some(suffix) = f.strip_prefix(&prefix) else {
            continue;
        };
        if let Some((scheme, gzip)) = parse_rotation_suffix(suffix) {
            backups.push(LogFile {
                path: dir.join(f),
                scheme: Some(scheme),
                gzip,
            });
        }
    }
    backups.sort_by(|a, b| match (a.scheme, b.scheme) {
        (Some(x), Some(y)) => order_key(x).cmp(&order_key(y)).then(a.gzip.cmp(&b.gzip)),
        _ => Ordering::Equal,
    });
    // Plain and .gz of the same backup: keep the plain one (sorted first).
    backups.dedup_by(|later, earlier| later.scheme == earlier.scheme);
    // `symlink_metadata`: a symlink (or a loop) is there, and opening it reports why it is
    // not read; `exists()` would hide it.
    if fs::symlink_metadata(path).is_ok() {
        backups.push(LogFile {
            path: path.to_path_buf(),
            scheme: None,
            gzip: false,
        });
    }
    Ok(backups)
}

/// For a directory: the one log whose rotated set it holds.
///
/// A file is a base log when its name is not `<other entry>.<rotation suffix>`. With several
/// bases, all named `<n>.log` (kubelet's restart counter), the highest `n` (the current
/// container) is chosen; otherwise it is an error.
pub fn base_log_in_dir(dir: &Path) -> Result<PathBuf, ReadError> {
    let mut names: Vec<String> = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| ReadError::io(dir, e))? {
        let e = e.map_err(|e| ReadError::io(dir, e))?;
        let ft = e.file_type().map_err(|e| ReadError::io(dir, e))?;
        if ft.is_dir() {
            continue;
        }
        if let Some(n) = e.file_name().to_str() {
            names.push(n.to_owned());
        }
    }
    let is_backup = |n: &str| {
        n.match_indices('.').any(|(i, _)| {
            let (base, suffix) = (&n[..i], &n[i + 1..]);
            parse_rotation_suffix(suffix).is_some() && !base.is_empty()
        })
    };
    let mut bases: Vec<&String> = names
        .iter()
        .filter(|n| !is_backup(n) && !n.ends_with(".tmp"))
        .collect();
    if bases.is_empty() {
        // Only backups: the live file is missing; take the base of the first backup.
        let mut derived: Vec<String> = names
            .iter()
            .filter_map(|n| {
                n.match_indices('.').find_map(|(i, _)| {
                    parse_rotation_suffix(&n[i + 1..]).map(|_| n[..i].to_owned())
                })
            })
            .collect();
        derived.sort();
        derived.dedup();
        return match derived.as_slice() {
            [one] => Ok(dir.join(one)),
            [] => Err(ReadError::BadPath {
                path: dir.to_path_buf(),
                reason: "the directory holds no log file".into(),
            }),
            many => Err(ReadError::BadPath {
                path: dir.to_path_buf(),
                reason: format!(
                    "the directory holds {} logs ({}); pass one file",
                    many.len(),
                    many.join(", ")
                ),
            }),
        };
    }
    if bases.len() == 1 {
        return Ok(dir.join(bases[0]));
    }
    let restart = |n: &str| n.strip_suffix(".log").and_then(|s| s.parse::<u64>().ok());
    if bases.iter().all(|n| restart(n).is_some()) {
        bases.sort_by_key(|n| restart(n));
        if let Some(last) = bases.last() {
            return Ok(dir.join(last));
        }
    }
    bases.sort();
    Err(ReadError::BadPath {
        path: dir.to_path_buf(),
        reason: format!(
            "the directory holds {} logs ({}); pass one file",
            bases.len(),
            bases
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// A file of a set, its open handle and its identity.
pub(crate) type Opened = (LogFile, File, (u64, u64));

/// A listing of a set with every file opened.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// The files opened, oldest first.
    pub files: Vec<Opened>,
    /// The files that could not be opened (a symlink, a FIFO, permission denied, …), with
    /// why. A file that vanished between listing and opening (rotated away) is not here.
    pub problems: Vec<(LogFile, io::Error)>,
}

/// Opens a file found by listing a directory: never through a symlink (`O_NOFOLLOW`), never
/// blocking (`O_NONBLOCK`: a FIFO without a writer would block `open`), and only a regular
/// file. Only the path a user names is resolved through symlinks.
pub(crate) fn open_listed(path: &Path) -> io::Result<File> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            let symlink = fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            if e.raw_os_error() == Some(libc::ELOOP) && symlink {
                io::Error::other("a symbolic link, not followed (only a path named by the user is)")
            } else {
                e
            }
        })?;
    let ft = file.metadata()?.file_type();
    if !ft.is_file() {
        return Err(io::Error::other(format!(
            "not a regular file ({})",
            file_kind(ft)
        )));
    }
    Ok(file)
}

/// A word for a non-regular file type, for messages.
pub(crate) fn file_kind(ft: fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "a regular file"
    }
}

fn open_set(set: Vec<LogFile>) -> Snapshot {
    let mut snap = Snapshot::default();
    for f in set {
        match open_listed(&f.path).and_then(|h| Ok((identity(&h)?, h))) {
            Ok((id, h)) => snap.files.push((f, h, id)),
            // Rotated away or pruned since the listing: not an error.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => snap.problems.push((f, e)),
        }
    }
    snap
}

/// The set with every file opened, taken when two listings agree (a writer may rotate
/// while the set is listed).
pub(crate) fn snapshot(path: &Path) -> Result<Snapshot, ReadError> {
    let mut last = Snapshot::default();
    for _ in 0..50 {
        let snap = open_set(rotated_set(path)?);
        let again = rotated_set(path)?;
        let stable = again.len() == snap.files.len() + snap.problems.len()
            && again.iter().all(|a| {
                snap.problems.iter().any(|(f, _)| f.path == a.path)
                    || snap.files.iter().any(|(f, _, id)| {
                        a.path == f.path
                            && fs::symlink_metadata(&a.path)
                                .map(|m| (m.dev(), m.ino()))
                                .is_ok_and(|x| x == *id)
                    })
            });
        if stable {
            return Ok(snap);
        }
        last = snap;
        std::thread::yield_now();
    }
    Ok(last)
}

/// (device, inode) of an open file.
pub(crate) fn identity(f: &File) -> io::Result<(u64, u64)> {
    let m = f.metadata()?;
    Ok((m.dev(), m.ino()))
}
