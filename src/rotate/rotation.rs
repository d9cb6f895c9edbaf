//! One rotation: the live file becomes the newest backup and a new, locked file takes its
//! place, without the path ever naming anything but a file this writer holds the lock of.
//!
//! # The swap
//! The new live file is created and locked under a hidden name first
//! ([`SetPaths::next_live`](super::set::SetPaths::next_live), `.NAME.ctrlog-next`), then:
//! 1. Docker's shift moves every backup up one number (other schemes move nothing);
//! 2. `renameat2(RENAME_EXCHANGE)` swaps the hidden file and the live file: the path names the
//!    new locked file at once, the hidden name the old one (still locked by this writer);
//! 3. the hidden name (the old data) is renamed to the backup name (`RENAME_NOREPLACE`, the
//!    next free name if one is taken), or unlinked with [`Backups::Count`]`(0)`.
//!
//! A second writer that opens the path at any moment finds a file locked by this writer and
//! fails with [`RotateError::Locked`]; one that opened the old file just before step 2 and gets
//! its lock once this writer lets it go sees that the path names another file and opens the
//! path again (see `live::open_locked`), which is locked too. If step 3 fails, the files are
//! swapped back (atomic as well) and writing goes on in the old file (see **Failures** in the
//! module docs of [`super`]).
//!
//! Between steps 2 and 3 (microseconds, no `fsync` between them) the old data is only under
//! the hidden name, which is not part of the set: a reader that lists the set at that moment
//! (a one-shot `ctrlog logs`) does not see that file. A follower loses nothing: it holds the
//! file open, and the swap reaches its watcher as a rename onto the live name.
//!
//! # Without `RENAME_EXCHANGE`
//! File systems without it (`EINVAL`, `ENOSYS`, `EOPNOTSUPP`: some network and FUSE file
//! systems, kernels before 3.15, systems other than Linux) get the two-rename swap: the live
//! file is renamed to the backup name, then the hidden file to the path with
//! `RENAME_NOREPLACE`. Between the two renames the path names nothing: a second writer that
//! creates a file there in that window makes the second rename fail, the old file is put back
//! and the rotation is reported as failed.
//!
//! # Crash points
//! What a writer killed at each point leaves, and what the next open does with it
//! (`recover_next` in `recover.rs`; the next live file is never written before the swap is
//! complete):
//! - after the hidden file is created, before the exchange: the path holds the old live
//!   file, the hidden name an empty file. Recovery removes the empty file.
//! - in the middle of Docker's shift: a gap in the numbers (`name.2` without `name.1`), as
//!   before (module docs, **Limits**); no data lost.
//! - after the exchange, before the hidden name is renamed to the backup: the path holds the
//!   new, empty live file, the hidden name the old live data. Recovery finds a non-empty
//!   hidden file and moves it to where the rotation would have (Docker's shift, then the next
//!   backup name: with Kubelet naming, the time of the recovery), then prunes as usual (with
//!   `Count(0)` that deletes it, as the rotation would have). The rotation is completed, not
//!   undone: the new live file may already have been opened by the writer that recovers.
//!   An empty hidden file is removed: it is either a new file or an empty old one (a forced
//!   [`RotatingFile::rotate`] of an empty file), and neither holds data.
//! - without `RENAME_EXCHANGE`, between the two renames: the old data is a backup already, the
//!   path names nothing (the next open creates it) and the hidden name an empty file (removed).
//!
//! A hidden file whose lock another writer holds is left alone at open (that writer is in the
//! middle of a rotation); a hidden name that is not a regular file (a link planted there) is
//! unlinked, never followed.

use std::fs::File;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::naming::NamingScheme;
use super::{live, remove_file, set, sys, Backups, Durability, FsState, RotateError, RotatingFile};
use crate::time::Timestamp;

impl RotatingFile {
    pub(super) fn backups_allowed(&self, making_room: u32) -> Option<usize> {
        match self.backups {
            Backups::Unlimited => None,
            // Real clamp: `Count(0)` keeps none, also while making room for one.
            Backups::Count(n) => Some(n.saturating_sub(making_room) as usize),
        }
    }

    /// Deletes the oldest backups until at most `keep` remain (`None`: keep all), listing the
    /// directory first.
    pub(super) fn prune_locked(
        &self,
        keep: Option<usize>,
        st: &mut FsState,
    ) -> Result<(), RotateError> {
        let paths = &self.shared.paths;
        let mut list = set::scan(paths, &*self.shared.scheme)
            .map_err(|e| RotateError::io("read_dir", &paths.dir, e))?;
        prune_list(paths, keep, &mut list, st)
    }

    pub(super) fn rotate_inner(&mut self) -> Result<(), RotateError> {
        self.repair()?;
        let sync = self.durability != Durability::None;
        if sync {
            self.file
                .sync_all()
                .map_err(|e| RotateError::io("fsync", &self.path, e))?;
        }
        let old = sys::fstat(&self.file).map_err(|e| RotateError::io("fstat", &self.path, e))?;
        let shared = Arc::clone(&self.shared);
        let paths = &shared.paths;
        let scheme = &*shared.scheme;
        let mut st = shared.lock();
        // The one listing of the directory in a rotation: the mutex serialises every rename
        // and delete in the set, so it stays true while it is held (pruning and the shift
        // below keep it up to date).
        let mut strays = Vec::new();
        let mut list = set::scan_all(paths, scheme, &mut strays)
            .map_err(|e| RotateError::io("read_dir", &paths.dir, e))?;
        // Docker's `os.Rename` replaces whatever holds a backup name; ours never replaces, so a
        // link (or FIFO) at a backup name is unlinked first: `unlink` removes the link itself,
        // never its target.
        for p in &strays {
            remove_file(p)?;
        }
        let newest = list.iter().map(|b| b.key).max();
        // Make room: the new backup must fit in the count.
        prune_list(paths, self.backups_allowed(1), &mut list, &mut st)?;
        let live_is_ours = matches!(sys::lstat(&self.path), Ok(p) if p.id == old.id);
        let next = paths.next_live();
        let file = create_next(&next, old.mode)?;
        let swapped = if !live_is_ours {
            // Deleted or renamed away under us: nothing to swap, the new file just goes there.
            place(&next, &self.path).map(|()| None)
        } else {
            let keep = self.backups != Backups::Count(0);
            let now = self.clock.now();
            let shifted = if keep {
                shift(paths, scheme, &list, &mut st)
            } else {
                Ok(())
            };
            shifted.and_then(|()| match sys::rename_exchange(&next, &self.path) {
                Ok(true) => {
                    let retired = if keep {
                        retire(paths, scheme, &next, &self.path, newest, now).map(Some)
                    } else {
                        remove_file(&next).map(|()| None)
                    };
                    if retired.is_err() {
                        // Swap back: writing goes on in the old file, and the path never
                        // names an unlocked one.
                        if sys::rename_exchange(&next, &self.path).unwrap_or(false) {
                            let _ = remove_file(&next);
                        }
                    }
                    retired
                }
                Ok(false) => self.two_renames(&next, keep, newest, now),
                Err(e) => Err(RotateError::io("rename", &self.path, e)),
            })
        };
        let backup = match swapped {
            Ok(b) => b,
            Err(e) => {
                // Our new file, unless the swap back failed (then it is the old data and the
                // next open recovers it).
                if matches!(sys::lstat(&next), Ok(p) if p.size == 0) {
                    let _ = remove_file(&next);
                }
                return Err(e);
            }
        };
        if sync {
            sys::fsync_dir(set::dir_or_dot(&paths.dir))
                .map_err(|e| RotateError::io("fsync", &paths.dir, e))?;
        }
        drop(st);
        let new = sys::fstat(&file).map_err(|e| RotateError::io("fstat", &self.path, e))?;
        self.file = file;
        self.id = new.id;
        self.size = new.size;
        self.watch.reset();
        self.unsynced = 0;
        if backup.is_some() {
            self.wake_worker();
        }
        Ok(())
    }

    /// The swap where `RENAME_EXCHANGE` is not supported (see the module docs): the live file
    /// goes to the backup name (or is removed), then the hidden file to the path.
    fn two_renames(
        &self,
        next: &Path,
        keep: bool,
        newest: Option<u64>,
        now: Timestamp,
    ) -> Result<Option<PathBuf>, RotateError> {
        let paths = &self.shared.paths;
        let backup = if keep {
            Some(retire(
                paths,
                &*self.shared.scheme,
                &self.path,
                &self.path,
                newest,
                now,
            )?)
        } else {
            remove_file(&self.path)?;
            None
        };
        if let Err(e) = place(next, &self.path) {
            // Someone made a file at the path in between (another writer): ours is dropped.
            let _ = remove_file(next);
            if let Some(dest) = &backup {
                // Put the old file back so that writing continues where it was.
                let _ = sys::rename_noreplace(dest, &self.path);
            }
            return Err(e);
        }
        Ok(backup)
    }
}

/// Renames the hidden next live file to the path, never replacing anything there.
fn place(next: &Path, path: &Path) -> Result<(), RotateError> {
    sys::rename_noreplace(next, path).map_err(|e| RotateError::io("rename", next, e))
}

/// Deletes the oldest backups of `list` (oldest first) until at most `keep` remain (`None`:
/// keep all), and drops them from `list`.
pub(super) fn prune_list(
    paths: &set::SetPaths,
    keep: Option<usize>,
    list: &mut Vec<set::Backup>,
    st: &mut FsState,
) -> Result<(), RotateError> {
    let Some(keep) = keep else { return Ok(()) };
    // Real clamp: fewer backups than allowed means nothing to delete.
    let excess = list
        .iter()
        .filter(|b| b.is_backup())
        .count()
        .saturating_sub(keep);
    let mut deleted = 0;
    for b in list.iter().filter(|b| b.is_backup()).take(excess) {
        delete_backup(paths, b, st)?;
        deleted += 1;
    }
    list.retain(|b| {
        if deleted > 0 && b.is_backup() {
            deleted -= 1;
            false
        } else {
            true
        }
    });
    Ok(())
}

/// Docker's shift: every backup of `list` moves up one number, oldest first (a no-op for
/// schemes whose names never move).
pub(super) fn shift(
    paths: &set::SetPaths,
    scheme: &dyn NamingScheme,
    list: &[set::Backup],
    st: &mut FsState,
) -> Result<(), RotateError> {
    for b in list.iter().filter(|b| b.is_backup()) {
        let Some(to) = scheme.shift(&b.stem) else {
            continue;
        };
        if b.gz {
            rename(&paths.gz(&b.stem), &paths.gz(&to))?;
        }
        if b.raw {
            let from = paths.raw(&b.stem);
            let dest = paths.raw(&to);
            rename(&from, &dest)?;
            if st.in_flight.as_deref() == Some(from.as_path()) {
                st.in_flight = Some(dest);
            }
        }
    }
    Ok(())
}

/// Renames `from` (the old live data) to the next backup name after `newest`; a taken name (a
/// directory, a file someone else made) moves on to the next one: a rename never replaces
/// anything. Errors name `live`, the file the user knows.
pub(super) fn retire(
    paths: &set::SetPaths,
    scheme: &dyn NamingScheme,
    from: &Path,
    live: &Path,
    mut newest: Option<u64>,
    now: Timestamp,
) -> Result<PathBuf, RotateError> {
    let mut attempt = 0;
    loop {
        let suffix = scheme
            .next(newest, now)
            .ok_or_else(|| RotateError::NoBackupName {
                path: live.to_path_buf(),
            })?;
        let dest = paths.raw(&suffix);
        match sys::rename_noreplace(from, &dest) {
            Ok(()) => return Ok(dest),
            Err(e)
                if e.kind() == io::ErrorKind::AlreadyExists
                    && attempt < 8
                    && scheme.shift(&suffix).is_none() =>
            {
                attempt += 1;
                newest = scheme.parse(&suffix);
            }
            Err(e) => return Err(RotateError::io("rename", live, e)),
        }
    }
}

/// Creates the next live file at `next` (see the module docs), locked, with `mode`. Something
/// already there (left by a rotation whose swap back failed, or planted) is removed first if
/// it holds no data: an empty file, or anything but a regular file (a link is unlinked, never
/// followed). A non-empty file is old live data that only the recovery at open moves
/// (`recover_next`): the rotation fails (`EEXIST`) rather than lose it.
fn create_next(next: &Path, mode: u32) -> Result<File, RotateError> {
    if let Ok(m) = std::fs::symlink_metadata(next) {
        // With another hard link its data is reachable under that name (see `recover_next`).
        if m.is_file() && m.len() > 0 && std::os::unix::fs::MetadataExt::nlink(&m) == 1 {
            return Err(RotateError::io(
                "create",
                next,
                io::Error::from_raw_os_error(libc::EEXIST),
            ));
        }
        remove_file(next)?;
    }
    let (file, _) = live::open_locked_file(next, mode, sys::Create::New)?;
    let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
    Ok(file)
}

fn rename(from: &Path, to: &Path) -> Result<(), RotateError> {
    sys::rename_noreplace(from, to).map_err(|e| RotateError::io("rename", from, e))
}

pub(super) fn delete_backup(
    paths: &set::SetPaths,
    b: &set::Backup,
    st: &mut FsState,
) -> Result<(), RotateError> {
    if b.raw {
        let raw = paths.raw(&b.stem);
        if st.in_flight.as_deref() == Some(raw.as_path()) {
            st.in_flight = None;
        }
        remove_file(&raw)?;
    }
    if b.gz {
        remove_file(&paths.gz(&b.stem))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::rotate::{Naming, RotateOptions};

    fn opts(max: u64, backups: Backups, naming: Naming) -> RotateOptions {
        RotateOptions {
            max_size: Some(max),
            backups,
            naming,
            durability: Durability::None,
            ..RotateOptions::default()
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    fn read(p: &Path) -> Vec<u8> {
        std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    const NEXT: &str = ".c.log.ctrlog-next";

    /// Crash after the exchange, before the old data got its backup name: the path holds the
    /// new (empty) live file, the hidden name the old data. Open completes the rotation.
    #[test]
    fn crash_after_exchange_completes_the_rotation_at_open() {
        // (naming, backups before, backups after): (name, contents).
        type Files<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(Naming, Files, Files)] = &[
            (
                Naming::Docker,
                &[("c.log.1", "older\n"), ("c.log.2", "oldest\n")],
                &[
                    ("c.log.1", "old\n"),
                    ("c.log.2", "older\n"),
                    ("c.log.3", "oldest\n"),
                ],
            ),
            (
                Naming::Ctrlog,
                &[("c.log.s00000007", "older\n")],
                &[("c.log.s00000007", "older\n"), ("c.log.s00000008", "old\n")],
            ),
        ];
        for (naming, before, after) in cases {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let path = d.join("c.log");
            std::fs::write(&path, b"").unwrap();
            std::fs::write(d.join(NEXT), b"old\n").unwrap();
            for (n, data) in *before {
                std::fs::write(d.join(n), data).unwrap();
            }
            let mut l = RotatingFile::open(&path, opts(100, Backups::Count(5), *naming)).unwrap();
            let mut want: Vec<&str> = after.iter().map(|(n, _)| *n).collect();
            want.push("c.log");
            want.sort();
            assert_eq!(names(d), want, "{naming:?}");
            for (n, data) in *after {
                assert_eq!(read(&d.join(n)), data.as_bytes(), "{naming:?} {n}");
            }
            l.write_all(b"new\n").unwrap();
            assert_eq!(read(&path), b"new\n");
        }
    }

    /// The same crash with Kubelet naming: the old data gets a timestamped backup name.
    #[test]
    fn crash_after_exchange_kubelet_names_the_backup() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let path = d.join("c.log");
        std::fs::write(&path, b"new\n").unwrap();
        std::fs::write(d.join(NEXT), b"old\n").unwrap();
        drop(RotatingFile::open(&path, opts(100, Backups::Count(5), Naming::Kubelet)).unwrap());
        let n = names(d);
        assert_eq!(n.len(), 2, "{n:?}");
        assert_eq!(n[0], "c.log");
        assert!(n[1].starts_with("c.log.2"), "{n:?}");
        assert_eq!(read(&d.join(&n[1])), b"old\n");
        assert_eq!(read(&path), b"new\n");
    }

    /// With no backups kept, the recovered old data is pruned, as the rotation would have
    /// deleted it; with a count, the oldest backups go first, never the recovered data.
    #[test]
    fn crash_after_exchange_then_pruned_by_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let path = d.join("c.log");
        std::fs::write(d.join(NEXT), b"old\n").unwrap();
        drop(RotatingFile::open(&path, opts(100, Backups::Count(0), Naming::Docker)).unwrap());
        assert_eq!(names(d), ["c.log"]);
        std::fs::write(d.join(NEXT), b"old\n").unwrap();
        std::fs::write(d.join("c.log.1"), b"older\n").unwrap();
        drop(RotatingFile::open(&path, opts(100, Backups::Count(1), Naming::Docker)).unwrap());
        assert_eq!(names(d), ["c.log", "c.log.1"]);
        assert_eq!(read(&d.join("c.log.1")), b"old\n");
    }

    /// Crash before the exchange (or between the two renames without `RENAME_EXCHANGE`): the
    /// hidden file is the new, empty one and is removed; nothing else moves.
    #[test]
    fn crash_before_exchange_removes_the_empty_next_file() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let path = d.join("c.log");
        std::fs::write(&path, b"live\n").unwrap();
        std::fs::write(d.join("c.log.1"), b"older\n").unwrap();
        std::fs::write(d.join(NEXT), b"").unwrap();
        drop(RotatingFile::open(&path, opts(100, Backups::Count(5), Naming::Docker)).unwrap());
        assert_eq!(names(d), ["c.log", "c.log.1"]);
        assert_eq!(read(&path), b"live\n");
        assert_eq!(read(&d.join("c.log.1")), b"older\n");
        // Without the live file (killed between the two renames): it is created.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(d.join(NEXT), b"").unwrap();
        drop(RotatingFile::open(&path, opts(100, Backups::Count(5), Naming::Docker)).unwrap());
        assert_eq!(names(d), ["c.log", "c.log.1"]);
    }

    /// A hidden file locked by another writer (in the middle of its rotation) is not touched;
    /// a link planted at the hidden name is unlinked, its target untouched.
    #[test]
    fn locked_or_planted_next_file_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let path = d.join("c.log");
        std::fs::write(d.join(NEXT), b"theirs\n").unwrap();
        let held = File::open(d.join(NEXT)).unwrap();
        assert!(sys::try_lock(&held).unwrap());
        drop(RotatingFile::open(&path, opts(100, Backups::Count(5), Naming::Docker)).unwrap());
        assert_eq!(read(&d.join(NEXT)), b"theirs\n");
        assert_eq!(names(d), [NEXT, "c.log"]);
        drop(held);
        std::fs::remove_file(d.join(NEXT)).unwrap();
        let victim = d.join("victim");
        std::fs::write(&victim, b"precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, d.join(NEXT)).unwrap();
        drop(RotatingFile::open(&path, opts(100, Backups::Count(5), Naming::Docker)).unwrap());
        assert_eq!(names(d), ["c.log", "victim"]);
        assert_eq!(read(&victim), b"precious\n");
    }

    /// A rotation never removes a hidden file that holds data (the old data of a swap back that
    /// failed): it fails instead, and the next open recovers the data.
    #[test]
    fn rotation_keeps_a_next_file_with_data() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let path = d.join("c.log");
        let mut l = RotatingFile::open(&path, opts(4, Backups::Count(5), Naming::Docker)).unwrap();
        l.write_all(b"abc\n").unwrap();
        std::fs::write(d.join(NEXT), b"stranded\n").unwrap();
        l.write_all(b"def\n").unwrap();
        assert_eq!(l.stats().rotation_failures, 1);
        assert_eq!(read(&d.join(NEXT)), b"stranded\n");
        assert_eq!(read(&path), b"abc\ndef\n");
        drop(l);
        drop(RotatingFile::open(&path, opts(4, Backups::Count(5), Naming::Docker)).unwrap());
        assert_eq!(names(d), ["c.log", "c.log.1"]);
        assert_eq!(read(&d.join("c.log.1")), b"stranded\n");
    }

    /// Both swaps (the exchange and the two-rename fallback) give the same files, leave no
    /// hidden file, and a failed rotation puts the old file back at the path.
    #[test]
    fn exchange_and_fallback_rotate_alike() {
        for no_exchange in [false, true] {
            sys::NO_EXCHANGE.with(|c| c.set(no_exchange));
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let path = d.join("c.log");
            let mut l =
                RotatingFile::open(&path, opts(4, Backups::Count(2), Naming::Docker)).unwrap();
            for r in [&b"one\n"[..], b"two\n", b"six\n", b"ten\n"] {
                l.write_all(r).unwrap();
            }
            assert_eq!(l.stats().rotations, 3, "{no_exchange}");
            assert_eq!(names(d), ["c.log", "c.log.1", "c.log.2"]);
            assert_eq!(read(&d.join("c.log.2")), b"two\n");
            assert_eq!(read(&d.join("c.log.1")), b"six\n");
            assert_eq!(read(&path), b"ten\n");
            // The new live file carries the lock.
            assert!(matches!(
                live::open_locked_file(&path, 0o640, sys::Create::IfMissing),
                Err(RotateError::Locked { .. })
            ));
            // A directory at the only backup name: the rotation fails, writing goes on in the
            // old file, at the path.
            drop(l);
            for n in ["c.log.1", "c.log.2"] {
                std::fs::remove_file(d.join(n)).unwrap();
            }
            std::fs::create_dir(d.join("c.log.1")).unwrap();
            let mut l =
                RotatingFile::open(&path, opts(4, Backups::Count(1), Naming::Docker)).unwrap();
            l.write_all(b"end\n").unwrap();
            assert_eq!(l.stats().rotation_failures, 1, "{no_exchange}");
            assert_eq!(read(&path), b"ten\nend\n");
            assert_eq!(names(d), ["c.log", "c.log.1"]);
            let why = l.rotation_error().unwrap();
            assert!(why.contains("rename") && why.contains("c.log"), "{why}");
        }
        sys::NO_EXCHANGE.with(|c| c.set(false));
    }
}
