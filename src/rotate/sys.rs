//! Thin `libc` wrappers used by the rotating writer (Linux/Unix only).

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

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
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    pub size: u64,
    pub mode: u32,
}

impl Stat {
    fn from_meta(m: &std::fs::Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt;
        Stat {
            dev: m.dev(),
            ino: m.ino(),
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

/// What a non-regular file is, for messages ("PATH: is a FIFO, not a regular file").
pub(crate) fn kind_name(ft: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
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
        "of an unknown type"
    }
}

/// How [`open_log`] treats a missing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Create {
    /// Create it if missing (`O_CREAT`).
    IfMissing,
    /// It must not exist (`O_CREAT | O_EXCL`): a rotation's new live file.
    New,
}

/// Why [`open_log`] refused a path.
#[derive(Debug)]
pub(crate) enum OpenFailure {
    /// The last component is a symbolic link.
    Symlink,
    /// Not a regular file: what it is.
    NotRegular(&'static str),
    /// The parent directory does not exist.
    NoParent,
    /// Any other error of `open` or `fstat`.
    Io(io::Error),
}

/// Opens a log file for appending (and reading, for the torn-record scan) without ever
/// following a symbolic link in the last component or blocking, and only if it is a regular
/// file: `O_NOFOLLOW | O_NONBLOCK` (a FIFO without a reader would block a plain `open` forever;
/// a device is never opened for writing), then `fstat`, then `O_NONBLOCK` is cleared so writes
/// block as usual. A missing parent directory is reported as such, never created.
pub(crate) fn open_log(path: &Path, mode: u32, create: Create) -> Result<File, OpenFailure> {
    use std::os::unix::fs::OpenOptionsExt;
    // Refuse what is visibly wrong before opening it at all (opening some devices has side
    // effects); the `fstat` below is what makes it race-free.
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => return Err(OpenFailure::Symlink),
        Ok(m) if !m.file_type().is_file() => {
            return Err(OpenFailure::NotRegular(kind_name(m.file_type())))
        }
        _ => {}
    }
    let mut o = std::fs::OpenOptions::new();
    o.read(true)
        .append(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    match create {
        Create::IfMissing => o.create(true),
        Create::New => o.create_new(true),
    };
    let file = o.open(path).map_err(|e| open_failure(path, e))?;
    let meta = file.metadata().map_err(OpenFailure::Io)?;
    if !meta.file_type().is_file() {
        return Err(OpenFailure::NotRegular(kind_name(meta.file_type())));
    }
    // SAFETY: the descriptor is owned by `file` and open; F_GETFL/F_SETFL take plain ints.
    unsafe {
        let fd = file.as_raw_fd();
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
            return Err(OpenFailure::Io(io::Error::last_os_error()));
        }
    }
    Ok(file)
}

/// Names the reason of a failed `open`: `ELOOP` is a symlink at the path only if `lstat` says
/// so (it also means too many links in the directories); `ENOENT` with a missing parent is
/// that directory; `ENXIO` (a FIFO or socket with nobody on the other side) is the file type.
fn open_failure(path: &Path, e: io::Error) -> OpenFailure {
    let lstat = std::fs::symlink_metadata(path);
    match e.raw_os_error() {
        Some(libc::ELOOP) if lstat.as_ref().is_ok_and(|m| m.file_type().is_symlink()) => {
            OpenFailure::Symlink
        }
        Some(libc::ENOENT) => {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            match parent {
                Some(p) if !p.exists() => OpenFailure::NoParent,
                _ => OpenFailure::Io(e),
            }
        }
        _ => match lstat {
            Ok(m) if !m.file_type().is_file() => OpenFailure::NotRegular(kind_name(m.file_type())),
            _ => OpenFailure::Io(e),
        },
    }
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
            let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
            let nanos = u32::try_from(ts.tv_nsec).unwrap_or(0);
            return std::time::Duration::new(secs, nanos);
        }
    }
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}
