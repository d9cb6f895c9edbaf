//! The live file's identity, shared by [`RotatingFile`](super::RotatingFile) and
//! [`PlainFile`](super::PlainFile): opening it under its lock ([`open_locked`]), and noticing on
//! a time basis that it was deleted or renamed away ([`PathWatch`]).

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use super::{sys, RotateError};
use crate::regular::FileId;

/// How often [`open_locked`] re-opens a path that no longer names the file it just locked
/// before giving up: each round follows a rotation by the writer that holds the lock, so a few
/// are plenty; the bound keeps a path that changes all the time from holding the caller.
const OPEN_ATTEMPTS: u32 = 8;

/// What [`open_locked`] found.
pub(crate) enum Opened {
    /// The path names the file the caller already has (`current`): nothing was locked.
    Same(sys::Stat),
    /// A file, locked, that the path named after the lock was taken.
    New(File, sys::Stat),
}

/// Opens the live file at `path` (by [`sys::open_log`]'s rules) and takes its `flock`.
///
/// A writer that rotates renames its locked file away and then releases the lock on it, so
/// the lock just taken can belong to a file that is no longer at the path (another writer
/// would then append to a backup that pruning deletes). After the lock is taken, the path is
/// `lstat`ed: if it no longer names the locked file, the file is dropped and the path opened
/// again, at most [`OPEN_ATTEMPTS`] times; a path that keeps changing is another writer's
/// ([`RotateError::Locked`]). With `current`, a path that names that file is reported as
/// [`Opened::Same`] before any lock is tried (the caller holds it already).
pub(crate) fn open_locked(
    path: &Path,
    mode: u32,
    create: sys::Create,
    current: Option<FileId>,
) -> Result<Opened, RotateError> {
    for _ in 0..OPEN_ATTEMPTS {
        let file =
            sys::open_log(path, mode, create).map_err(|f| RotateError::open(path, "open", f))?;
        let st = sys::fstat(&file).map_err(|e| RotateError::io("fstat", path, e))?;
        if current == Some(st.id) {
            return Ok(Opened::Same(st));
        }
        if !sys::try_lock(&file).map_err(|e| RotateError::io("flock", path, e))? {
            return Err(RotateError::Locked {
                path: path.to_path_buf(),
            });
        }
        // Re-read after the lock: the size may have changed while the lock was awaited.
        let st = sys::fstat(&file).map_err(|e| RotateError::io("fstat", path, e))?;
        if st.nlink > 0 && names(path, &st) {
            return Ok(Opened::New(file, st));
        }
        if create == sys::Create::New {
            // Created by us a moment ago and already replaced: another writer is at work.
            break;
        }
    }
    Err(RotateError::Locked {
        path: path.to_path_buf(),
    })
}

/// [`open_locked`] without a current file: always a new, locked file (or an error).
pub(crate) fn open_locked_file(
    path: &Path,
    mode: u32,
    create: sys::Create,
) -> Result<(File, sys::Stat), RotateError> {
    match open_locked(path, mode, create, None)? {
        Opened::New(file, st) => Ok((file, st)),
        // Only reported for a `current` file, and there is none.
        Opened::Same(_) => Err(RotateError::Locked {
            path: path.to_path_buf(),
        }),
    }
}

/// Whether `path` (not followed) names the file `st` describes.
fn names(path: &Path, st: &sys::Stat) -> bool {
    matches!(sys::lstat(path), Ok(p) if p.id == st.id)
}

/// When to check that the path still names the live file: at most once per `interval`, on a
/// monotonic clock ([`sys::coarse_now`]), so a wall-clock jump neither stops nor floods the
/// checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PathWatch {
    interval: Duration,
    last: Duration,
}

/// What [`PathWatch::refresh`] found.
pub(crate) enum Refresh {
    /// The path still names the file (or a new one could not be opened): its size now.
    Same(u64),
    /// The file was deleted or renamed away: the new file at the path, locked.
    Reopened(File, sys::Stat),
}

impl PathWatch {
    pub(crate) fn new(interval: Duration) -> Self {
        PathWatch {
            interval,
            last: sys::coarse_now(),
        }
    }

    /// Whether a check is due. One coarse clock read (vDSO, a few ns, no system call).
    #[inline]
    pub(crate) fn due(&self) -> bool {
        // Real clamp: the clock is monotonic, but a reading that went back (a broken clock
        // source) must not panic the writer; it only delays the check.
        sys::coarse_now().saturating_sub(self.last) >= self.interval
    }

    /// Restarts the interval (the file was just opened or checked).
    pub(crate) fn reset(&mut self) {
        self.last = sys::coarse_now();
    }

    /// Checks now: `fstat`s `file` and `lstat`s `path`; if the file was deleted (link count 0)
    /// or the path names another file (or nothing), opens the file at the path by
    /// [`open_locked`]'s rules (created with `mode` if missing).
    pub(crate) fn refresh(
        &mut self,
        file: &File,
        path: &Path,
        mode: u32,
    ) -> Result<Refresh, RotateError> {
        self.reset();
        let st = sys::fstat(file).map_err(|e| RotateError::io("fstat", path, e))?;
        if st.nlink > 0 && names(path, &st) {
            return Ok(Refresh::Same(st.size));
        }
        self.reopen(path, mode, st.id)
    }

    /// Opens the file at the path unless it is `current` (kubelet's `ReopenContainerLog`).
    pub(crate) fn reopen(
        &mut self,
        path: &Path,
        mode: u32,
        current: FileId,
    ) -> Result<Refresh, RotateError> {
        self.reset();
        match open_locked(path, mode, sys::Create::IfMissing, Some(current))? {
            Opened::Same(st) => Ok(Refresh::Same(st.size)),
            Opened::New(file, st) => {
                if st.size == 0 {
                    // Most likely created just now: the umask applied, set the mode asked for.
                    let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
                }
                Ok(Refresh::Reopened(file, st))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_locked_refuses_a_locked_file_and_reports_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let Opened::New(first, st) = open_locked(&path, 0o640, sys::Create::IfMissing, None)
            .unwrap_or_else(|e| panic!("{e}"))
        else {
            panic!("no file")
        };
        let again = open_locked(&path, 0o640, sys::Create::IfMissing, None);
        assert!(matches!(again, Err(RotateError::Locked { .. })));
        let same = open_locked(&path, 0o640, sys::Create::IfMissing, Some(st.id));
        assert!(matches!(same, Ok(Opened::Same(_))));
        drop(first);
    }

    #[test]
    fn refresh_reopens_a_deleted_file_at_once_with_a_zero_interval() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let Ok(Opened::New(file, _)) = open_locked(&path, 0o600, sys::Create::IfMissing, None)
        else {
            panic!("open")
        };
        let mut watch = PathWatch::new(Duration::ZERO);
        assert!(watch.due());
        assert!(matches!(
            watch.refresh(&file, &path, 0o600),
            Ok(Refresh::Same(0))
        ));
        std::fs::remove_file(&path).unwrap();
        match watch.refresh(&file, &path, 0o600) {
            Ok(Refresh::Reopened(_, st)) => assert_eq!(st.mode, 0o600),
            _ => panic!("a deleted file was not replaced"),
        }
        let watch = PathWatch::new(Duration::from_secs(3600));
        assert!(!watch.due());
    }
}
