//! The compression worker (feature `gzip`): one thread per writer, started at open, joined at
//! close. It picks the oldest raw backup that should be compressed, compresses it to
//! `<backup>.gz.tmp` without holding the set lock, then (under the lock) renames the temporary
//! to `<backup>.gz` at the backup's *current* name and removes the raw file.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::{remove_file, set, sys, Shared};
use crate::regular::{open_regular, Symlinks};

const BUF: usize = 64 * 1024;

/// The raw backups to compress, oldest first (kubelet keeps the newest raw), except those that
/// failed before.
fn candidates(shared: &Shared, failed: &HashSet<u64>) -> io::Result<Vec<(String, u64)>> {
    let list = set::scan(&shared.paths, &*shared.scheme)?;
    let newest = list.iter().filter(|b| b.is_backup()).map(|b| b.key).max();
    let keep_newest = shared.scheme.keeps_newest_raw();
    Ok(list
        .into_iter()
        .filter(|b| b.raw && !b.gz && !(keep_newest && Some(b.key) == newest))
        .filter_map(|b| {
            // Failures are remembered by inode: Docker's shifts rename files.
            let ino = sys::lstat(&shared.paths.raw(&b.stem)).ok()?.ino;
            (!failed.contains(&ino)).then_some((b.stem, ino))
        })
        .collect())
}

/// The worker's loop. A backup whose compression failed stays raw and is not tried again by
/// this worker, so one bad file does not hold up the others.
pub(super) fn run(shared: &Shared) {
    let mut failed: HashSet<u64> = HashSet::new();
    let mut st = shared.lock();
    loop {
        while !st.pending && !st.stop {
            st = shared.cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        let next = match candidates(shared, &failed) {
            Ok(c) => c.into_iter().next(),
            Err(_) => {
                st.compress_failures += 1;
                None
            }
        };
        let Some((stem, ino)) = next else {
            st.pending = false;
            shared.cv.notify_all();
            if st.stop {
                return;
            }
            continue;
        };
        let raw = shared.paths.raw(&stem);
        // Never through a link: the name was a regular file when listed, but whoever can
        // write the directory can swap it for a link to any file before this open.
        let src = match open_regular(&raw, OpenOptions::new().read(true), Symlinks::Refuse) {
            Ok(f) => f,
            Err(_) => {
                st.compress_failures += 1;
                failed.insert(ino);
                continue;
            }
        };
        let tmp = PathBuf::from(format!("{}.gz.tmp", raw.display()));
        st.in_flight = Some(raw);
        drop(st);
        let result = compress_file(src, &tmp, shared.sync);
        st = shared.lock();
        let current = st.in_flight.take();
        let ok = match (result, current) {
            (Ok(()), Some(cur)) => commit(&tmp, &cur, shared.sync).is_ok(),
            (Ok(()), None) => {
                // The raw backup was deleted meanwhile (pruned): drop the copy.
                let _ = remove_file(&tmp);
                true
            }
            (Err(_), _) => {
                let _ = remove_file(&tmp);
                false
            }
        };
        if ok {
            st.compressed += 1;
        } else {
            st.compress_failures += 1;
            failed.insert(ino);
        }
    }
}

/// Renames `tmp` to `<cur>.gz` (never replacing) and removes `cur`.
fn commit(tmp: &Path, cur: &Path, sync: bool) -> io::Result<()> {
    let gz = PathBuf::from(format!("{}.gz", cur.display()));
    if let Err(e) = sys::rename_noreplace(tmp, &gz) {
        let _ = std::fs::remove_file(tmp);
        return Err(e);
    }
    std::fs::remove_file(cur)?;
    if sync {
        if let Some(dir) = gz.parent() {
            sys::fsync_dir(set::dir_or_dot(dir))?;
        }
    }
    Ok(())
}

/// gzips `src` into a new file `tmp` with the source's mode (kubelet's `TestCompressLog`).
fn compress_file(mut src: File, tmp: &Path, sync: bool) -> io::Result<()> {
    let mode = src.metadata()?.permissions().mode() & 0o7777;
    let out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)?;
    out.set_permissions(std::fs::Permissions::from_mode(mode))?;
    let mut enc = GzEncoder::new(BufWriter::with_capacity(BUF, out), Compression::default());
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        enc.write_all(buf.get(..n).unwrap_or_default())?;
    }
    let out = enc.finish()?.into_inner().map_err(|e| e.into_error())?;
    if sync {
        out.sync_all()?;
    }
    Ok(())
}

/// Whether `gz` decodes completely (CRC and length checked) to exactly `raw`'s length.
pub(super) fn gz_matches(gz: &Path, raw: &Path) -> bool {
    let Ok(raw_len) = std::fs::metadata(raw).map(|m| m.len()) else {
        return false;
    };
    let Ok(f) = File::open(gz) else { return false };
    let mut dec = MultiGzDecoder::new(io::BufReader::with_capacity(BUF, f));
    match io::copy(&mut dec, &mut io::sink()) {
        Ok(n) => n == raw_len,
        Err(_) => false,
    }
}
