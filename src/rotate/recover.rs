//! Startup recovery of a set: the live file's torn tail, temporaries, `.gz` twins, excess
//! backups (see the module docs of [`super`], **Open**).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use super::{remove_file, set, FsState, RecordEnd, RotateError, RotatingFile};

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
        // The next live file of a rotation that was killed: empty, never written.
        let _ = remove_file(&paths.next_live());
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
        self.prune_locked(self.backups_allowed(0), &mut FsState::default())?;
        cut_torn_tail(&self.file, &self.path, torn)
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

/// Finds a torn trailing record. Reads backwards in 64 KiB chunks (memory stays bounded
/// whatever the size of the file or of its last record).
fn find_tail(file: &File) -> io::Result<Tail> {
    const CHUNK: u64 = 64 * 1024;
    let len = file.metadata()?.len();
    let mut f = file;
    let mut buf = vec![0u8; CHUNK.min(len) as usize];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let n = usize::try_from(end - start).unwrap_or(0);
        let Some(chunk) = buf.get_mut(..n) else { break };
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(chunk)?;
        if let Some(i) = memchr::memrchr(b'\n', chunk) {
            let keep = start + i as u64 + 1;
            return Ok(if keep < len {
                Tail::Torn(keep)
            } else {
                Tail::Clean
            });
        }
        end = start;
    }
    Ok(if len == 0 {
        Tail::Clean
    } else {
        Tail::NoBoundary(len)
    })
}
