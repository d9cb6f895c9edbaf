//! Rotated file sets: finding a log's backups and ordering them oldest to newest, with the
//! writer's one grammar of backup names ([`crate::rotate::BackupName`],
//! [`crate::rotate::split_kind`]).

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::ReadError;
use crate::regular::FileId;
use crate::regular::{open_read, Symlinks};
use crate::rotate::{split_kind, BackupName, EntryKind};

/// One file of a rotated set, as [`rotated_set`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogFile {
    /// Where it is.
    pub path: PathBuf,
    /// `None` for the live file, else its backup name (scheme and order key).
    pub backup: Option<BackupName>,
    /// Gzip-compressed (`.gz`).
    pub gzip: bool,
}

/// Parses the suffix after `name.` of a file of a set with the writer's grammar
/// ([`crate::rotate::split_kind`], [`BackupName::parse`]): the backup's name and whether it is
/// compressed. `None` if it is not a backup a supported writer names so (`01`, `s1`), or a
/// compressor's temporary (`.tmp`), which is never read.
pub fn parse_rotation_suffix(suffix: &str) -> Option<(BackupName, bool)> {
    let (stem, kind) = split_kind(suffix);
    let gzip = match kind {
        EntryKind::Raw => false,
        EntryKind::Gz => true,
        EntryKind::Tmp => return None,
    };
    Some((BackupName::parse(stem)?, gzip))
}

/// The backups of `path` and `path` itself, oldest first; `path` is last when it exists.
///
/// When a backup exists both plain and compressed (Docker compresses `name.1` after the
/// rotation and removes the plain file only once the `.gz` is complete), the plain one is
/// used. `.tmp` files (kubelet's compression in progress) are ignored. When backups of more
/// than one scheme are present, schemes are ordered Docker, kubelet, ctrlog ([`BackupName`]'s
/// order). Only names a writer produces are backups (the grammar of
/// [`crate::rotate::BackupName`]): `name.01` or `name.s1` are not read, as no writer would
/// ever prune them.
pub fn rotated_set(path: &Path) -> Result<Vec<LogFile>, ReadError> {
    let name = path
        .file_name()
        .and_then(OsStr::to_str)
        .ok_or_else(|| ReadError::BadPath {
            path: path.to_path_buf(),
            reason: "the file name is not UTF-8 or is missing".into(),
        })?;
    let dir = crate::regular::dir_of(path).to_path_buf();
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
        if let Some((name, gzip)) = parse_rotation_suffix(suffix) {
            backups.push(LogFile {
                path: dir.join(f),
                backup: Some(name),
                gzip,
            });
        }
    }
    // Every entry is a backup here (`backup` is `Some`), the live file comes after.
    backups.sort_by_key(|f| (f.backup, f.gzip));
    // Plain and .gz of the same backup: keep the plain one (sorted first).
    backups.dedup_by(|later, earlier| later.backup == earlier.backup);
    // `symlink_metadata`: a symlink (or a loop) is there, and opening it reports why it is
    // not read; `exists()` would hide it.
    if fs::symlink_metadata(path).is_ok() {
        backups.push(LogFile {
            path: path.to_path_buf(),
            backup: None,
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
        let last = bases.last().expect("two or more bases");
        return Ok(dir.join(last));
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

/// Files of a set opened when it is listed, newest first, at most; older ones are opened
/// when they are read (one at a time), so that a set of any size fits in the open-files
/// limit.
const OPEN_AHEAD: usize = 16;

/// [`OPEN_AHEAD`], or an eighth of the open-files limit (`RLIMIT_NOFILE`) when that is less.
/// Never less than 2: the live file and the newest backup (which a writer may still append
/// to just after a rotation, changing its modification time) are always opened with the
/// listing.
pub(crate) fn open_ahead() -> usize {
    crate::regular::nofile_limit().map_or(OPEN_AHEAD, |n| {
        // A real clamp: the limit may be `RLIM_INFINITY` (`u64::MAX`).
        usize::try_from(n / 8)
            .unwrap_or(usize::MAX)
            .clamp(2, OPEN_AHEAD)
    })
}

/// A file of a set as listed: its identity (`lstat`, no fd needed) and, for the newest
/// [`OPEN_AHEAD`], its handle opened with the listing (so that a rotation during the read
/// cannot change what those names hold).
#[derive(Debug)]
pub(crate) struct Listed {
    pub file: LogFile,
    pub id: FileId,
    /// Its modification time when listed: a file opened later must still have it. A backup
    /// no longer changes; a new file that reuses the inode number of a backup deleted
    /// meanwhile (max-file pruning) has another.
    pub mtime: (i64, i64),
    pub handle: Option<File>,
}

/// A listing of a set.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// The files, oldest first.
    pub files: Vec<Listed>,
    /// The directory could not be listed (the backups are unknown): it and why. Only the
    /// live file is in `files` then.
    pub list_error: Option<ListError>,
}

/// Opens a file found by listing a directory through the crate's one safe open: never through
/// a symlink, never blocking on a FIFO, only a regular file. Only the path a user names is
/// resolved through symlinks.
pub(crate) fn open_listed(path: &Path) -> io::Result<File> {
    Ok(open_read(path, Symlinks::Refuse)?)
}

/// A directory that could not be listed, and why.
pub(crate) type ListError = (PathBuf, io::Error);

/// [`rotated_set`], or the live file alone when the directory cannot be listed (mode 0711,
/// say) but the file is there: the backups are unknown, which the second value says.
pub(crate) fn list_set(path: &Path) -> Result<(Vec<LogFile>, Option<ListError>), ReadError> {
    match rotated_set(path) {
        Err(ReadError::Io { path: dir, source })
            if source.kind() != io::ErrorKind::NotFound && fs::symlink_metadata(path).is_ok() =>
        {
            let live = LogFile {
                path: path.to_path_buf(),
                backup: None,
                gzip: false,
            };
            let why = io::Error::new(
                source.kind(),
                format!("cannot list the directory, backups not read: {source}"),
            );
            Ok((vec![live], Some((dir, why))))
        }
        r => r.map(|set| (set, None)),
    }
}

/// (device, inode) and modification time of a listed name itself (a symlink is not
/// followed); `None` if it is gone.
fn listed_id(path: &Path) -> Option<(FileId, (i64, i64))> {
    fs::symlink_metadata(path).ok().map(|m| stamp(&m))
}

fn stamp(m: &fs::Metadata) -> (FileId, (i64, i64)) {
    (FileId::of(m), (m.mtime(), m.mtime_nsec()))
}

/// The set listed with every file's identity, taken when two listings agree (a writer may
/// rotate while the set is listed); the newest `open_ahead` files are opened with it. A file
/// that vanished between listing and `lstat` is left out; one that cannot be opened is
/// reported when it is read (if it is needed at all).
pub(crate) fn snapshot(path: &Path, open_ahead: usize) -> Result<Snapshot, ReadError> {
    let mut last = Snapshot::default();
    for _ in 0..50 {
        let (set, list_error) = list_set(path)?;
        let n = set.len();
        let mut files: Vec<Listed> = Vec::with_capacity(n);
        let mut stable = true;
        for (k, f) in set.into_iter().enumerate() {
            let Some((id, mtime)) = listed_id(&f.path) else {
                stable = false;
                continue;
            };
            let mut handle = None;
            if k + open_ahead >= n {
                match open_listed(&f.path).and_then(|h| Ok((FileId::of_file(&h)?, h))) {
                    Ok((got, h)) if got == id => handle = Some(h),
                    Ok(_) => stable = false,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => stable = false,
                    Err(_) => {}
                }
            }
            files.push(Listed {
                file: f,
                id,
                mtime,
                handle,
            });
        }
        let again = list_set(path)?.0;
        stable = stable
            && again.len() == files.len()
            && again.iter().zip(&files).all(|(a, f)| {
                a.path == f.file.path && listed_id(&a.path).map(|s| s.0) == Some(f.id)
            });
        last = Snapshot { files, list_error };
        if stable {
            break;
        }
        std::thread::yield_now();
    }
    Ok(last)
}

/// Opens `want` (as listed: identity and modification time) to read it. When its name now
/// holds another file (a Docker backup renamed to the next number since the listing), the
/// set is listed again and the file is opened under its new name. A file no longer in the
/// set was rotated away and deleted before it could be read: an error that says so.
pub(crate) fn open_as_listed(live: &Path, want: &Listed) -> io::Result<File> {
    let wanted = (want.id, want.mtime);
    let try_open = |p: &Path| -> io::Result<Option<File>> {
        match open_listed(p) {
            Ok(h) if stamp(&h.metadata()?) == wanted => Ok(Some(h)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    };
    if let Some(h) = try_open(&want.file.path)? {
        return Ok(h);
    }
    if let Ok(set) = rotated_set(live) {
        for f in set.iter().filter(|f| listed_id(&f.path) == Some(wanted)) {
            if let Some(h) = try_open(&f.path)? {
                return Ok(h);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "rotated away and deleted before it could be read",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file opened after its listing is found again after a Docker-style rename (`name.1`
    /// to `name.2`); one deleted meanwhile is an error that says so, never another file.
    #[test]
    fn open_as_listed_follows_renames_and_reports_deletion() {
        let d = tempfile::tempdir().unwrap();
        let live = d.path().join("c.log");
        std::fs::write(&live, "live\n").unwrap();
        std::fs::write(d.path().join("c.log.1"), "one\n").unwrap();
        std::fs::write(d.path().join("c.log.2"), "two\n").unwrap();
        let snap = snapshot(&live, 0).unwrap();
        assert!(snap.files.iter().all(|l| l.handle.is_none()));
        let names: Vec<_> = snap.files.iter().map(|l| l.file.path.clone()).collect();
        assert_eq!(
            names,
            [
                d.path().join("c.log.2"),
                d.path().join("c.log.1"),
                live.clone()
            ]
        );
        // A rotation: .2 pruned, .1 -> .2, live -> .1, a new live file.
        std::fs::remove_file(d.path().join("c.log.2")).unwrap();
        std::fs::rename(d.path().join("c.log.1"), d.path().join("c.log.2")).unwrap();
        std::fs::rename(&live, d.path().join("c.log.1")).unwrap();
        std::fs::write(&live, "new\n").unwrap();
        let read =
            |l: &Listed| open_as_listed(&live, l).map(|f| std::io::read_to_string(f).unwrap());
        let e = read(&snap.files[0]).unwrap_err();
        assert!(
            e.to_string().contains("deleted before it could be read"),
            "{e}"
        );
        assert_eq!(read(&snap.files[1]).unwrap(), "one\n");
        assert_eq!(read(&snap.files[2]).unwrap(), "live\n");
    }
}
