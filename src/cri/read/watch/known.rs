//! The watcher's identity bookkeeping without I/O: which files of a listing it knows, which
//! are new, and which of the new ones to report. The scan (`Scanner::scan_once`) lists and
//! opens; this decides, so unit tests drive it with made-up identities.

use std::collections::{HashMap, HashSet};
use std::fs::File;

use crate::regular::FileId;

/// Known files (the newest) that the watcher holds an fd of.
pub(super) const KEEP_FDS: usize = 4;

/// Every file of the set seen so far and still in it.
///
/// A new file must never be mistaken for a known one whose inode number it reuses (max-file
/// pruning deletes the oldest file as the writer creates a new one). Two guards: the newest
/// [`KEEP_FDS`] known files have an fd of their own, so their inode numbers cannot be reused
/// while they are held; and a file's rank from the newest end of the set only grows
/// (rotation renames files towards older names), so a known inode number listed at a newer
/// rank than before is a new file. Entries are dropped once two listings in a row miss the
/// file (the second listing after its deletion, so a deleted file is not held for long; a
/// listing that never settled while files were renamed may miss a file that is still there,
/// and taking it for new would read it twice). Only [`KEEP_FDS`] fds are held for known
/// files, whatever the size of the set. Keyed by (device, inode): a rescan (every batch of
/// events, every poll interval) costs O(files), also for a set of thousands of backups
/// (`Backups::Unlimited`).
#[derive(Debug, Default)]
pub(super) struct KnownFiles {
    map: HashMap<FileId, Known>,
}

#[derive(Debug)]
struct Known {
    fd: Option<File>,
    /// Listings in a row that did not show it.
    missed: u8,
    /// Its place from the newest end of the set when last listed (0: the newest file).
    rank: usize,
}

/// One listing being looked at: see [`KnownFiles::begin`].
#[derive(Debug)]
pub(super) struct Listing {
    /// Files listed.
    n: usize,
    /// The newest known file's place in the listing.
    newest_known: Option<usize>,
}

impl Listing {
    /// The rank (0: newest) of the file at `k` (oldest first).
    pub fn rank(&self, k: usize) -> usize {
        self.n - 1 - k
    }
}

/// What a listed file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Entry {
    /// Known (its rank is updated): nothing to do.
    Known,
    /// Not known: open it, then [`KnownFiles::learn`] it. `report`: it is newer than every
    /// known file, so the reader reads it; a new file listed before a known one is older
    /// than a file already read (a `.gz` of a backup, a copytruncate copy, or a file missed
    /// earlier, which can no longer be printed in order) and is only learnt.
    New { report: bool },
}

impl KnownFiles {
    /// The files the reader opened, `(id, its handle)` oldest first: known from the start.
    pub fn new<'a>(opened: impl ExactSizeIterator<Item = (FileId, Option<&'a File>)>) -> Self {
        let n = opened.len();
        let map = opened
            .enumerate()
            .map(|(k, (id, handle))| {
                let rank = n - 1 - k;
                let fd = handle
                    .filter(|_| rank < KEEP_FDS)
                    .and_then(|h| h.try_clone().ok());
                let known = Known {
                    fd,
                    missed: 0,
                    rank,
                };
                (id, known)
            })
            .collect();
        KnownFiles { map }
    }

    /// A listing begins, `ids` oldest first: a known inode number at a newer rank than
    /// before is a new file reusing it, and is forgotten.
    pub fn begin(&mut self, ids: &[FileId]) -> Listing {
        let n = ids.len();
        for (k, id) in ids.iter().enumerate() {
            if self.map.get(id).is_some_and(|kn| n - 1 - k < kn.rank) {
                self.map.remove(id);
            }
        }
        Listing {
            n,
            newest_known: ids.iter().rposition(|id| self.map.contains_key(id)),
        }
    }

    /// The file `id` listed at `k` (oldest first) in `at`.
    pub fn entry(&mut self, at: &Listing, k: usize, id: FileId) -> Entry {
        let rank = at.rank(k);
        if let Some(kn) = self.map.get_mut(&id) {
            kn.rank = rank;
            if rank >= KEEP_FDS {
                kn.fd = None;
            }
            return Entry::Known;
        }
        Entry::New {
            report: at.newest_known.is_none_or(|nk| k >= nk),
        }
    }

    /// The new file `id` at `k` was opened: known from now on, holding the fd `dup` gives
    /// when it is among the newest [`KEEP_FDS`].
    pub fn learn(
        &mut self,
        at: &Listing,
        k: usize,
        id: FileId,
        dup: impl FnOnce() -> Option<File>,
    ) {
        let rank = at.rank(k);
        let fd = if rank < KEEP_FDS { dup() } else { None };
        self.map.insert(
            id,
            Known {
                fd,
                missed: 0,
                rank,
            },
        );
    }

    /// The listing of `ids` is over: files that two listings in a row missed are forgotten.
    pub fn end(&mut self, ids: &[FileId]) {
        let ids: HashSet<&FileId> = ids.iter().collect();
        for (id, k) in &mut self.map {
            k.missed = if ids.contains(id) { 0 } else { k.missed + 1 };
        }
        self.map.retain(|_, k| k.missed < 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ino: u64) -> FileId {
        FileId { dev: 1, ino }
    }

    /// Lists `ids` and returns what each entry is, learning the new ones (with an fd when
    /// `fd` says so).
    fn list(known: &mut KnownFiles, ids: &[FileId]) -> Vec<Entry> {
        let at = known.begin(ids);
        let mut out = Vec::new();
        for (k, &i) in ids.iter().enumerate() {
            let e = known.entry(&at, k, i);
            if let Entry::New { .. } = e {
                known.learn(&at, k, i, || File::open("/dev/null").ok());
            }
            out.push(e);
        }
        known.end(ids);
        out
    }

    const NEW: Entry = Entry::New { report: true };
    const OLD_COPY: Entry = Entry::New { report: false };

    #[test]
    fn new_files_are_found_once_and_copies_not_reported() {
        let mut known = KnownFiles::new([(id(1), None), (id(2), None)].into_iter());
        // A rotation: a new live file.
        assert_eq!(
            list(&mut known, &[id(1), id(2), id(3)]),
            [Entry::Known, Entry::Known, NEW]
        );
        assert_eq!(list(&mut known, &[id(1), id(2), id(3)]), [Entry::Known; 3]);
        // A `.gz` of a backup, listed before known files: learnt, not reported.
        assert_eq!(
            list(&mut known, &[id(9), id(2), id(3)]),
            [OLD_COPY, Entry::Known, Entry::Known]
        );
    }

    /// A known inode number listed nearer the newest end than before is a new file reusing
    /// it (max-file pruning deleted the old one as the writer created this one).
    #[test]
    fn reused_inode_numbers_are_new_files() {
        let mut known = KnownFiles::new([(id(1), None), (id(2), None), (id(3), None)].into_iter());
        // id 1 was the oldest (rank 2); now it is the live file (rank 0).
        assert_eq!(
            list(&mut known, &[id(2), id(3), id(1)]),
            [Entry::Known, Entry::Known, NEW]
        );
        // Rotation moves files away from the newest end: still the same files.
        assert_eq!(
            list(&mut known, &[id(2), id(3), id(1), id(4)]),
            [Entry::Known, Entry::Known, Entry::Known, NEW]
        );
    }

    /// A file missed by one listing (one that never settled) is still known; by two in a
    /// row, it is forgotten and its inode number is new if it comes back.
    #[test]
    fn files_missed_twice_are_forgotten() {
        let mut known = KnownFiles::new([(id(1), None), (id(2), None)].into_iter());
        assert_eq!(list(&mut known, &[id(2)]), [Entry::Known]);
        assert_eq!(
            list(&mut known, &[id(1), id(2)]),
            [Entry::Known, Entry::Known]
        );
        assert_eq!(list(&mut known, &[id(2)]), [Entry::Known]);
        assert_eq!(list(&mut known, &[id(2)]), [Entry::Known]);
        assert_eq!(list(&mut known, &[id(2), id(1)]), [Entry::Known, NEW]);
    }

    /// Only the newest KEEP_FDS known files hold an fd, whatever the size of the set.
    #[test]
    fn fds_only_for_the_newest() {
        let mut known = KnownFiles::default();
        let ids: Vec<FileId> = (0..10).map(id).collect();
        list(&mut known, &ids);
        let held = |known: &KnownFiles| {
            let mut v: Vec<u64> = (known.map.iter())
                .filter(|(_, k)| k.fd.is_some())
                .map(|(i, _)| i.ino)
                .collect();
            v.sort();
            v
        };
        assert_eq!(held(&known), [6, 7, 8, 9]);
        // Two more files: those now past the newest four let go of theirs.
        let more: Vec<FileId> = (0..12).map(id).collect();
        list(&mut known, &more);
        assert_eq!(held(&known), [8, 9, 10, 11]);
    }
}
