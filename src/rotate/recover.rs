//! Startup recovery of a set: the live file's torn tail, temporaries, `.gz` twins, excess
//! backups (see the module docs of [`super`], **Open**).

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{remove_file, rotation, set, sys, FsState, RecordEnd, RotateError, RotatingFile};
use crate::lines::BackScanner;
use crate::regular::{open_regular, Symlinks};

impl RotatingFile {
    /// Startup recovery, before any write: temporaries removed, complete `.gz` twins win,
    /// excess backups pruned, torn trailing record cut.
    pub(super) fn recover(&mut self, record_end: RecordEnd) -> Result<(), RotateError> {
        // The live file first: a file that is not a log of ours is refused before anything in
        // its directory is touched.
        let torn = torn_tail(&self.file, &self.path, record_end)?;
        let shared = Arc::clone(&self.shared);
        let _guard = shared.lock();
        let paths = &shared.paths;
        let mut strays = Vec::new();
        let list = set::scan_all(paths, &*shared.scheme, &mut strays)
            .map_err(|e| RotateError::io("read_dir", &paths.dir, e))?;
        // Links and FIFOs at the set's names (never followed, see `set::scan_all`).
        for p in &strays {
            remove_file(p)?;
        }
        for b in &list {
            for t in &b.tmps {
                remove_file(&paths.tmp(t))?;
            }
            if b.raw && b.gz {
                let raw = paths.raw(&b.stem);
                let gz = paths.gz(&b.stem);
                if gz_complete(&gz, &raw) {
                    remove_file(&raw)?;
                } else {
                    remove_file(&gz)?;
                }
            }
        }
        // The hidden file of a rotation that was killed (see "Crash points" in `rotation.rs`):
        // the old live data, moved to where the rotation would have put it, or nothing.
        self.recover_next(&mut FsState::default())?;
        self.prune_locked(self.backups_allowed(0), &mut FsState::default())?;
        cut_torn_tail(&self.file, &self.path, torn)
    }
}

impl RotatingFile {
    /// The hidden next live file left by a writer killed in the middle of a rotation (see
    /// "Crash points" in `rotation.rs`): empty, it is removed; with data, it is the old live
    /// file, swapped out of the path but not yet renamed to its backup name, and the rotation
    /// is completed (Docker's shift, then the next backup name; the directory is listed again
    /// for it, after the temporaries and twins are settled). Left alone while another writer
    /// holds its lock (that writer is rotating); anything but a regular file there is unlinked.
    fn recover_next(&self, st: &mut FsState) -> Result<(), RotateError> {
        let paths = &self.shared.paths;
        let next = paths.next_live();
        let meta = match std::fs::symlink_metadata(&next) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(RotateError::io("stat", &next, e)),
        };
        // A second hard link (of the live file, or of a backup: a crash inside the link +
        // unlink fallback of `rename_noreplace`) holds data that is reachable under its other
        // name: the hidden name goes, or the data would be read twice or, being the live
        // file's inode, could never be locked and would block every rotation.
        if !meta.is_file() || meta.len() == 0 || std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
            return remove_file(&next);
        }
        let mut o = std::fs::OpenOptions::new();
        o.read(true);
        let file = open_regular(&next, &o, Symlinks::Refuse)
            .map_err(|f| RotateError::open(&next, "open", f))?;
        if !sys::try_lock(&file).map_err(|e| RotateError::io("flock", &next, e))? {
            return Ok(());
        }
        let scheme = &*self.shared.scheme;
        let list =
            set::scan(paths, scheme).map_err(|e| RotateError::io("read_dir", &paths.dir, e))?;
        rotation::shift(paths, scheme, &list, st)?;
        let newest = list.iter().map(|b| b.key).max();
        rotation::retire(paths, scheme, &next, &self.path, newest, self.clock.now())?;
        Ok(())
    }
}

/// The start-up check of a live file's tail, shared by both writers: with
/// [`RecordEnd::Newline`], where a torn last record starts (`Some`: the file must be cut
/// there), or [`RotateError::NoRecordBoundary`] for a non-empty file without any `\n`. Reads
/// only.
pub(super) fn torn_tail(
    file: &File,
    path: &Path,
    record_end: RecordEnd,
) -> Result<Option<u64>, RotateError> {
    let tail = match record_end {
        RecordEnd::Newline => find_tail(file).map_err(|e| RotateError::io("read", path, e))?,
        RecordEnd::Any => Tail::Clean,
    };
    match tail {
        Tail::Clean => Ok(None),
        Tail::Torn(keep) => Ok(Some(keep)),
        Tail::NoBoundary(size) => Err(RotateError::NoRecordBoundary {
            path: path.to_path_buf(),
            size,
        }),
    }
}

/// Cuts the torn record [`torn_tail`] found (a no-op for `None`).
pub(super) fn cut_torn_tail(
    file: &File,
    path: &Path,
    torn: Option<u64>,
) -> Result<(), RotateError> {
    match torn {
        Some(keep) => file
            .set_len(keep)
            .map_err(|e| RotateError::io("truncate", path, e)),
        None => Ok(()),
    }
}

/// Whether `gz` is a complete gzip file holding exactly as many bytes as `raw`.
fn gz_complete(gz: &Path, raw: &Path) -> bool {
    #[cfg(feature = "gzip")]
    {
        super::compress::gz_matches(gz, raw)
    }
    #[cfg(not(feature = "gzip"))]
    {
        // Cannot check without the decoder: keep the raw file (never lose data), drop the twin.
        let _ = (gz, raw);
        false
    }
}

/// Where the live file's records end.
#[derive(Debug, PartialEq, Eq)]
enum Tail {
    /// Empty, or ends with `\n`.
    Clean,
    /// Bytes after the last `\n` (a torn record): keep this many bytes.
    Torn(u64),
    /// Not empty and no `\n` anywhere: no record boundary at all.
    NoBoundary(u64),
}

/// Finds a torn trailing record: where the last complete line ends, by the crate's reverse
/// line scanner, which finds the last `\n` reading back from the end one 64 KiB block at a
/// time (memory stays bounded: the unterminated tail is not kept).
fn find_tail(file: &File) -> io::Result<Tail> {
    const BLOCK: usize = 64 * 1024;
    let len = file.metadata()?.len();
    let back = BackScanner::new(file, len, BLOCK, 0)?;
    let keep = back
        .complete_end()
        .expect("a scanner made without `unterminated` knows where its lines end");
    assert!(keep <= len, "a line ends past the end of the file");
    Ok(if len == 0 || keep == len {
        Tail::Clean
    } else if keep == 0 {
        Tail::NoBoundary(len)
    } else {
        Tail::Torn(keep)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn docker_opts(max_size: u64) -> crate::rotate::RotateOptions {
        crate::rotate::RotateOptions {
            max_size: Some(max_size),
            backups: crate::rotate::Backups::Count(3),
            naming: crate::rotate::Naming::Docker,
            durability: crate::rotate::Durability::None,
            ..Default::default()
        }
    }

    fn names(d: &Path) -> Vec<String> {
        let mut n: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        n.sort();
        n
    }

    /// The hidden next file is a second link of the live file (planted, or left by the link +
    /// unlink fallback of `rename_noreplace`): its data is the live file's, so the name goes.
    /// It used to stay (the writer's own lock on that inode made it look busy) and fail every
    /// rotation with EEXIST, also across restarts, the live file growing without bound.
    #[test]
    fn hidden_hard_link_of_the_live_file_does_not_block_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let path = d.join("c.log");
        std::fs::write(&path, b"old\n").unwrap();
        std::fs::hard_link(&path, d.join(".c.log.ctrlog-next")).unwrap();
        let mut l = RotatingFile::open(&path, docker_opts(8)).unwrap();
        for _ in 0..4 {
            l.write_all(b"0123456789\n").unwrap();
        }
        let st = l.stats();
        assert!(st.rotations >= 3, "{st:?} {:?}", l.rotation_error());
        assert_eq!(st.rotation_failures, 0, "{:?}", l.rotation_error());
        drop(l);
        assert!(
            !names(d).iter().any(|n| n.starts_with('.')),
            "{:?}",
            names(d)
        );
    }

    /// A crash inside the link + unlink fallback while retiring the hidden file leaves it and
    /// `c.log.1` as one inode: recovery removes the hidden name instead of retiring the same
    /// data a second time.
    #[test]
    fn hidden_hard_link_of_a_backup_is_not_read_twice() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let path = d.join("c.log");
        std::fs::write(d.join("c.log.1"), b"old\n").unwrap();
        std::fs::hard_link(d.join("c.log.1"), d.join(".c.log.ctrlog-next")).unwrap();
        drop(RotatingFile::open(&path, docker_opts(100)).unwrap());
        assert_eq!(names(d), ["c.log", "c.log.1"], "the old data once");
        assert_eq!(std::fs::read(d.join("c.log.1")).unwrap(), b"old\n");
    }

    #[test]
    fn find_tail_table() {
        let big = "x".repeat(200_000);
        let cases: Vec<(String, Tail)> = vec![
            (String::new(), Tail::Clean),
            ("a\n".into(), Tail::Clean),
            ("a\nb".into(), Tail::Torn(2)),
            ("abc".into(), Tail::NoBoundary(3)),
            ("\n".into(), Tail::Clean),
            ("\nxyz".into(), Tail::Torn(1)),
            (format!("{big}\n"), Tail::Clean),
            (format!("{big}\n{big}"), Tail::Torn(200_001)),
            (format!("a\n{big}"), Tail::Torn(2)),
            (big.clone(), Tail::NoBoundary(200_000)),
            (format!("a\n{big}\nb"), Tail::Torn(200_003)),
        ];
        for (data, want) in cases {
            let mut f = tempfile::tempfile().unwrap();
            f.write_all(data.as_bytes()).unwrap();
            assert_eq!(find_tail(&f).unwrap(), want, "{} bytes", data.len());
        }
    }
}
