//! The compression worker (feature `gzip`): one thread per writer, started at open, joined at
//! close. It picks the oldest raw backup that should be compressed, compresses it to
//! `<backup>.gz.tmp` without holding the set lock, then (under the lock) renames the temporary
//! to `<backup>.gz` at the backup's *current* name and removes the raw file.
//!
//! Whoever can write the directory can swap a backup's name for something else between the
//! listing and the open. The open never follows a link and never blocks (a FIFO is refused,
//! see [`crate::regular`]), and the opened file must be the very inode that was listed, with
//! no other hard link: a file linked elsewhere (a link to a file the writer can read and the
//! planter cannot, where `fs.protected_hardlinks` is off) is never copied into a `.gz` of the
//! set. Such a backup stays raw and counts as a failed compression (kubelet and Docker open
//! the name as it is).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::{remove_file, set, sys, Shared};
use crate::regular::{open_read, open_regular, Symlinks};

const BUF: usize = 64 * 1024;

use crate::regular::FileId as Id;

/// The raw backups to compress with their listed identity, oldest first (kubelet keeps the
/// newest raw), except those that failed before.
fn candidates(shared: &Shared, failed: &HashSet<Id>) -> io::Result<Vec<(String, Id)>> {
    let list = set::scan(&shared.paths, &*shared.scheme)?;
    let newest = list.iter().filter(|b| b.is_backup()).map(|b| b.key).max();
    let keep_newest = shared.scheme.keeps_newest_raw();
    Ok(list
        .into_iter()
        .filter(|b| b.raw && !b.gz && !(keep_newest && Some(b.key) == newest))
        .filter_map(|b| {
            // Failures are remembered by inode: Docker's shifts rename files.
            let st = sys::lstat(&shared.paths.raw(&b.stem)).ok()?;
            let id = st.id;
            (!failed.contains(&id)).then_some((b.stem, id))
        })
        .collect())
}

/// The worker's loop. A backup whose compression failed stays raw and is not tried again by
/// this worker, so one bad file does not hold up the others.
pub(super) fn run(shared: &Shared) {
    let mut failed: HashSet<Id> = HashSet::new();
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
        let Some((stem, id)) = next else {
            st.pending = false;
            shared.cv.notify_all();
            if st.stop {
                return;
            }
            continue;
        };
        let raw = shared.paths.raw(&stem);
        #[cfg(test)]
        hook::before_open(&raw);
        let src = match open_listed(&raw, id) {
            Ok(f) => f,
            Err(_) => {
                st.compress_failures += 1;
                failed.insert(id);
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
            failed.insert(id);
        }
    }
}

/// Opens the raw backup listed as `listed` (see the module docs): never through a link, never
/// blocking, only the listed inode, only with no other hard link.
fn open_listed(raw: &Path, listed: Id) -> io::Result<File> {
    let f = open_read(raw, Symlinks::Refuse)?;
    let st = sys::fstat(&f)?;
    if st.id != listed {
        return Err(io::Error::other("replaced since it was listed"));
    }
    if st.nlink != 1 {
        return Err(io::Error::other("has other hard links"));
    }
    Ok(f)
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
    let out = open_regular(
        tmp,
        OpenOptions::new().write(true).create_new(true).mode(mode),
        Symlinks::Refuse,
    )?;
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
        // `read` returns at most the buffer's length.
        enc.write_all(&buf[..n])?;
    }
    let out = enc.finish()?.into_inner().map_err(|e| e.into_error())?;
    if sync {
        out.sync_all()?;
    }
    Ok(())
}

/// Whether `gz` decodes completely (CRC and length checked) to exactly `raw`'s length.
///
/// Both are opened as the worker opens a backup (never through a link, never blocking on a
/// FIFO): recovery lists the set, then calls this, and either name may have been swapped in
/// between. `false` keeps the raw file (recovery then drops the `.gz`).
pub(super) fn gz_matches(gz: &Path, raw: &Path) -> bool {
    let raw_len = match open_read(raw, Symlinks::Refuse).and_then(|f| Ok(f.metadata()?.len())) {
        Ok(n) => n,
        Err(_) => return false,
    };
    let Ok(f) = open_read(gz, Symlinks::Refuse) else {
        return false;
    };
    let mut dec = MultiGzDecoder::new(io::BufReader::with_capacity(BUF, f));
    match io::copy(&mut dec, &mut io::sink()) {
        Ok(n) => n == raw_len,
        Err(_) => false,
    }
}

/// A test-only pause between the listing and the open of a raw backup: the only way to swap
/// the name in that window deterministically. Hooks are keyed by the set's directory, so
/// tests running in parallel do not see each other's.
#[cfg(test)]
pub(super) mod hook {
    use std::path::{Path, PathBuf};
    use std::sync::Mutex;

    type Hook = Box<dyn FnOnce(&Path) + Send>;
    static BEFORE_OPEN: Mutex<Vec<(PathBuf, Hook)>> = Mutex::new(Vec::new());

    /// Runs `f` (once) just before the worker of the set in `dir` opens a raw backup.
    pub(crate) fn set(dir: &Path, f: Hook) {
        let mut v = BEFORE_OPEN.lock().unwrap_or_else(|e| e.into_inner());
        v.push((dir.to_path_buf(), f));
    }

    pub(super) fn before_open(raw: &Path) {
        let hook = {
            let mut v = BEFORE_OPEN.lock().unwrap_or_else(|e| e.into_inner());
            let i = v
                .iter()
                .position(|(d, _)| Some(d.as_path()) == raw.parent());
            i.map(|i| v.swap_remove(i).1)
        };
        if let Some(f) = hook {
            f(raw);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotate::{Backups, Naming, RotateOptions, RotatingFile};
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileTypeExt;
    use std::sync::mpsc;
    use std::time::Duration;

    /// The guard against a hang: long enough for any machine, only reached by a bug.
    const HANG: Duration = Duration::from_secs(20);

    fn mkfifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    /// Runs `f` in a thread; if it has not returned after [`HANG`], opens `fifo` for writing
    /// (releasing a blocked `open` for reading) and fails.
    fn within<T: Send + 'static>(fifo: &Path, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        match rx.recv_timeout(HANG) {
            Ok(v) => v,
            Err(_) => {
                let _w = std::fs::OpenOptions::new().write(true).open(fifo);
                let _ = rx.recv_timeout(HANG);
                panic!("blocked on the FIFO at {}", fifo.display());
            }
        }
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn gunzip(path: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        MultiGzDecoder::new(File::open(path).unwrap())
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// Every `.gz` of `dir`, decoded.
    fn all_gz(dir: &Path) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "gz") {
                v.push(gunzip(&p));
            }
        }
        v
    }

    /// Opens a compressing writer in `dir`, arms `hook` for its worker, rotates once (the
    /// first record becomes the raw backup `c.log.s00000001`), waits for the worker, closes
    /// (under the hang guard, `guard` is the FIFO a bug would block on) and returns the stats.
    fn rotate_with_hook(
        dir: &Path,
        guard: &Path,
        hook: Box<dyn FnOnce(&Path) + Send>,
    ) -> crate::rotate::RotateStats {
        let o = RotateOptions {
            max_size: Some(10),
            backups: Backups::Unlimited,
            compress: true,
            naming: Naming::Ctrlog,
            ..RotateOptions::default()
        };
        super::hook::set(dir, hook);
        let path = dir.join("c.log");
        within(guard, move || {
            let mut l = RotatingFile::open(path, o).unwrap();
            l.write_all(b"one 12345\n").unwrap();
            l.write_all(b"two 12345\n").unwrap();
            l.wait_compressed();
            let st = l.stats();
            l.close().unwrap();
            st
        })
    }

    /// Finding 1: between the listing and the open, the raw backup is replaced by a hard link
    /// to a file the writer can read (a "root-only" file): it is never copied into a `.gz`.
    #[test]
    fn backup_swapped_for_hard_link_is_not_compressed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let victim = d.join("secret");
        std::fs::write(&victim, b"SECRET\n").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        let v = victim.clone();
        let st = rotate_with_hook(
            &d,
            &d.join("unused"),
            Box::new(move |raw| {
                std::fs::remove_file(raw).unwrap();
                std::fs::hard_link(&v, raw).unwrap();
            }),
        );
        assert!(
            !all_gz(&d).iter().any(|g| g == b"SECRET\n"),
            "the linked file was compressed into the set"
        );
        assert!(st.compress_failures >= 1, "{st:?}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"SECRET\n");
    }

    /// Between the listing and the open, the raw backup is replaced by another regular file:
    /// the listed inode is gone, so this pass compresses nothing (the new file is a backup
    /// of its own at the next listing).
    #[test]
    fn backup_replaced_after_listing_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let st = rotate_with_hook(
            &d,
            &d.join("unused"),
            Box::new(|raw| {
                let other = raw.with_extension("other");
                std::fs::write(&other, b"swapped\n").unwrap();
                std::fs::rename(&other, raw).unwrap();
            }),
        );
        assert!(st.compress_failures >= 1, "{st:?}");
    }

    /// The raw backup is replaced by a FIFO (no writer) after the listing: the worker does not
    /// block, so `close` returns; the FIFO is left alone and nothing is compressed.
    #[test]
    fn backup_swapped_for_fifo_does_not_block_close() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let fifo = d.join("c.log.s00000001");
        let st = rotate_with_hook(
            &d,
            &fifo,
            Box::new(|raw| {
                std::fs::remove_file(raw).unwrap();
                mkfifo(raw);
            }),
        );
        assert!(st.compress_failures >= 1, "{st:?}");
        assert_eq!(st.compressed, 0);
        assert!(std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo());
    }

    /// The raw backup is replaced by a symbolic link to a readable file after the listing: the
    /// link is not followed.
    #[test]
    fn backup_swapped_for_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let victim = d.join("secret");
        std::fs::write(&victim, b"SECRET\n").unwrap();
        let v = victim.clone();
        let st = rotate_with_hook(
            &d,
            &d.join("unused"),
            Box::new(move |raw| {
                std::fs::remove_file(raw).unwrap();
                std::os::unix::fs::symlink(&v, raw).unwrap();
            }),
        );
        assert!(!all_gz(&d).iter().any(|g| g == b"SECRET\n"));
        assert_eq!(st.compressed, 0);
        assert!(st.compress_failures >= 1, "{st:?}");
    }

    /// Recovery's check of a `.gz` twin: a FIFO at either name is not opened (no hang), a link
    /// at either name is not followed, and a real match is still a match.
    #[test]
    fn gz_matches_refuses_fifo_and_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        let data = b"hello world\n";
        let raw = d.join("c.log.1");
        let gz = d.join("c.log.1.gz");
        std::fs::write(&raw, data).unwrap();
        std::fs::write(&gz, gzip(data)).unwrap();
        assert!(gz_matches(&gz, &raw));

        // Links to a good pair elsewhere: not followed.
        let (graw, ggz) = (d.join("good"), d.join("good.gz"));
        std::fs::write(&graw, data).unwrap();
        std::fs::write(&ggz, gzip(data)).unwrap();
        let lgz = d.join("l.gz");
        std::os::unix::fs::symlink(&ggz, &lgz).unwrap();
        assert!(!gz_matches(&lgz, &raw), "followed a link at the .gz");
        let lraw = d.join("l.raw");
        std::os::unix::fs::symlink(&graw, &lraw).unwrap();
        assert!(!gz_matches(&gz, &lraw), "followed a link at the raw name");

        // A FIFO with no writer at the .gz name, then at the raw name.
        let fgz = d.join("f.gz");
        mkfifo(&fgz);
        let (g, r) = (fgz.clone(), raw.clone());
        assert!(!within(&fgz, move || gz_matches(&g, &r)));
        let fraw = d.join("f.raw");
        mkfifo(&fraw);
        let (g, r) = (gz.clone(), fraw.clone());
        assert!(!within(&fraw, move || gz_matches(&g, &r)));
    }
}
