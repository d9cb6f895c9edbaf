//! Thin `libc` wrappers used by the rotating writer (Linux/Unix only).

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use crate::regular::{open_regular, FileId, OpenError, Symlinks};

fn cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Renames `from` to `to`, failing with `EEXIST` if `to` exists (never replaces).
///
/// Uses `renameat2(RENAME_NOREPLACE)`; on file systems or kernels without it (`EINVAL`,
/// `ENOSYS`), falls back to `link` + `unlink` (`link` never replaces either).
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    let f = cstr(from)?;
    let t = cstr(to)?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: both pointers are valid NUL-terminated strings for the duration of the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                f.as_ptr(),
                libc::AT_FDCWD,
                t.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => {}
            _ => return Err(err),
        }
    }
    link_unlink(&f, &t)
}

/// Swaps `a` and `b` atomically (`renameat2(RENAME_EXCHANGE)`): each path names the other's
/// file, and at no moment does either name nothing. `Ok(false)` where the file system or the
/// kernel cannot (`EINVAL`, `ENOSYS`, `EOPNOTSUPP`; every system but Linux): nothing changed.
pub(crate) fn rename_exchange(a: &Path, b: &Path) -> io::Result<bool> {
    #[cfg(test)]
    if NO_EXCHANGE.with(std::cell::Cell::get) {
        return Ok(false);
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let a = cstr(a)?;
        let b = cstr(b)?;
        // SAFETY: both pointers are valid NUL-terminated strings for the duration of the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
            _ => Err(err),
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = (a, b);
        Ok(false)
    }
}

#[cfg(test)]
thread_local! {
    /// Unit tests: make [`rename_exchange`] report "unsupported" on this thread (the fallback
    /// of a file system without `RENAME_EXCHANGE`).
    pub(crate) static NO_EXCHANGE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The fallback of [`rename_noreplace`]: `link(from, to)` then `unlink(from)`.
pub(crate) fn link_unlink(f: &CString, t: &CString) -> io::Result<()> {
    // SAFETY: valid NUL-terminated strings.
    if unsafe { libc::link(f.as_ptr(), t.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: valid NUL-terminated string.
    if unsafe { libc::unlink(f.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `flock(LOCK_EX | LOCK_NB)`: `Ok(false)` if another open file description holds the lock.
///
/// A lock that is busy is tried again for about 130 ms before giving up: a writer that was
/// just closed may still share its open file description with a child that this (or any
/// multi-threaded) process is forking, until that child execs and its close-on-exec
/// descriptors go. A real second writer still fails fast.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    let mut wait_ms = 1;
    loop {
        // SAFETY: the descriptor is owned by `file` and open.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(err);
        }
        if wait_ms > 64 {
            return Ok(false);
        }
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        wait_ms *= 2;
    }
}

/// The identity and size of an open file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub id: FileId,
    pub nlink: u64,
    pub size: u64,
    pub mode: u32,
}

impl Stat {
    fn from_meta(m: &std::fs::Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt;
        Stat {
            id: FileId::of(m),
            nlink: m.nlink(),
            size: m.size(),
            mode: m.mode() & 0o7777,
        }
    }
}

/// `fstat` of an open file.
pub(crate) fn fstat(file: &File) -> io::Result<Stat> {
    file.metadata().map(|m| Stat::from_meta(&m))
}

/// `lstat` of a path: a symbolic link at the path is not the file it points to.
pub(crate) fn lstat(path: &Path) -> io::Result<Stat> {
    std::fs::symlink_metadata(path).map(|m| Stat::from_meta(&m))
}

/// `fsync` of a directory, so that renames and creations in it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Whether an error is "out of space" in the sense of the write-failure policy: deleting a
/// backup may let the write through. Not `EFBIG`: that is a limit on one file's size
/// (`ulimit -f`, the file system's maximum), which deleting other files never lifts.
pub(crate) fn is_space_error(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// Starts writeback of a file's dirty pages without waiting (`sync_file_range(WRITE)`), so that
/// the `fsync` at rotation has little left to flush. A no-op where unsupported.
pub(crate) fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    // SAFETY: the descriptor is owned by `file` and open; offset 0, length 0 means "to the end".
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// How [`open_log`] treats a missing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    /// Create it if missing (`O_CREAT`).
    IfMissing,
    /// It must not exist (`O_CREAT | O_EXCL`): a rotation's new live file.
    New,
}

/// Opens a log file for appending (and reading, for the torn-record scan) through the crate's
/// one safe open ([`crate::regular::open_regular`]): never through a symbolic link in the last
/// component, never blocking on a FIFO, only a regular file, a missing parent directory
/// reported as such and never created.
pub(crate) fn open_log(path: &Path, mode: u32, create: Create) -> Result<File, OpenError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.read(true).append(true).mode(mode);
    match create {
        Create::IfMissing => o.create(true),
        Create::New => o.create_new(true),
    };
    open_regular(path, &o, Symlinks::Refuse)
}

/// A monotonic time for the writer's periodic checks: `CLOCK_MONOTONIC_COARSE` on Linux (tick
/// resolution, 1-4 ms, and a few ns per read where `Instant::now` costs 20-30 ns; it is read
/// once per record), `Instant` elsewhere. Only differences of two readings mean anything.
pub(crate) fn coarse_now() -> std::time::Duration {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) } == 0 {
            // Real clamp: never negative by POSIX; a broken kernel must not panic the writer.
            let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
            let nanos = u32::try_from(ts.tv_nsec).unwrap_or(0);
            return std::time::Duration::new(secs, nanos);
        }
    }
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}
