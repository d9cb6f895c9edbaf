//! Opening a path that must be a regular file: never blocks, optionally never follows a
//! symlink.
//!
//! Every reader and writer of the crate opens its files here, so that one policy holds
//! everywhere:
//! * **No blocking.** The file is opened with `O_NONBLOCK`, checked with `fstat`, and only
//!   then switched back to blocking mode. Opening a FIFO for reading with no writer (or for
//!   writing with no reader) would otherwise block in `open(2)` forever; a FIFO, socket or
//!   device is refused with an error that says what it is.
//! * **Symlinks.** [`Symlinks::Follow`] is for a path the user named (kubelet's
//!   `/var/log/containers/*.log` links point into `/var/log/pods`). [`Symlinks::Refuse`]
//!   (`O_NOFOLLOW`) is for files the crate found by listing a directory or is about to
//!   write: a link planted there by whoever can write the directory is never followed
//!   (running as root, following it would read or cut an arbitrary file).
//!
//! ```
//! use std::fs::OpenOptions;
//! use ctrlog::regular::{open_regular, Symlinks};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("log.json");
//! std::fs::write(&path, b"{}\n")?;
//! let f = open_regular(&path, OpenOptions::new().read(true), Symlinks::Refuse)?;
//! assert!(f.metadata()?.is_file());
//! std::os::unix::fs::symlink(&path, dir.path().join("link"))?;
//! let e = open_regular(&dir.path().join("link"), OpenOptions::new().read(true), Symlinks::Refuse)
//!     .unwrap_err();
//! assert!(e.to_string().contains("symbolic link"), "{e}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::{File, FileType, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// A file's identity on this system: its device and inode numbers. Two paths (or two open
/// handles) with the same `FileId` are the same file; rotation is detected by a path whose
/// `FileId` changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId {
    /// `st_dev`: the device holding the file.
    pub dev: u64,
    /// `st_ino`: the inode number on that device.
    pub ino: u64,
}

impl FileId {
    /// The identity in `meta` (from `fstat`, `stat` or `lstat`).
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The identity of an open file (`fstat`).
    pub fn of_file(file: &File) -> io::Result<FileId> {
        file.metadata().map(|m| FileId::of(&m))
    }

    /// The identity of what `path` itself names (`lstat`: a symlink is not followed).
    pub fn of_path(path: &Path) -> io::Result<FileId> {
        std::fs::symlink_metadata(path).map(|m| FileId::of(&m))
    }
}

/// Whether the last component of a path may be a symbolic link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symlinks {
    /// Follow it (a path the user named).
    Follow,
    /// Refuse it with an error (`O_NOFOLLOW`): files found by listing a directory, and
    /// files about to be written or cut.
    Refuse,
}

/// Why [`open_regular`] did not open a path. The message does not repeat the path: callers
/// wrap it with theirs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The last component is a symbolic link and [`Symlinks::Refuse`] was asked for.
    #[error("is a symbolic link (not followed here)")]
    Symlink,
    /// Not a regular file: what it is (`"a FIFO"`, `"a directory"`, ...).
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    /// The file was to be created but its parent directory does not exist (never created
    /// here).
    #[error("its directory does not exist (parent directories are not created)")]
    NoParent,
    /// Any other error of `open(2)` or `fstat(2)`, with the OS error kind kept.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<OpenError> for io::Error {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Io(e) => e,
            OpenError::NoParent => io::Error::new(io::ErrorKind::NotFound, e),
            other => io::Error::new(io::ErrorKind::InvalidInput, other),
        }
    }
}

/// Opens `path` with `opts` (whose read/write/append/create/mode the caller sets) and checks
/// that it is a regular file, without ever blocking in `open(2)`.
///
/// `O_NONBLOCK | O_NOCTTY | O_CLOEXEC` (plus `O_NOFOLLOW` for [`Symlinks::Refuse`]), then
/// `fstat`, then `O_NONBLOCK` is cleared: the returned file is in blocking mode. A path that
/// `lstat` already shows to be a device, FIFO or socket is refused before it is opened at
/// all (opening some devices has side effects); the `fstat` is what makes the check
/// race-free.
pub fn open_regular(
    path: &Path,
    opts: &OpenOptions,
    symlinks: Symlinks,
) -> Result<File, OpenError> {
    let follow = symlinks == Symlinks::Follow;
    let pre = if follow {
        std::fs::metadata(path)
    } else {
        std::fs::symlink_metadata(path)
    };
    match pre {
        Ok(m) if m.file_type().is_symlink() => return Err(OpenError::Symlink),
        Ok(m) if !m.file_type().is_file() => {
            return Err(OpenError::NotRegular(kind_name(m.file_type())))
        }
        _ => {}
    }
    let mut opts = opts.clone();
    let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
    opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC | nofollow);
    let file = opts.open(path).map_err(|e| open_failure(path, e, follow))?;
    let ft = file.metadata()?.file_type();
    if !ft.is_file() {
        return Err(OpenError::NotRegular(kind_name(ft)));
    }
    set_blocking(&file)?;
    Ok(file)
}

/// Opens `path` read-only as a regular file (see [`open_regular`]).
pub fn open_read(path: &Path, symlinks: Symlinks) -> Result<File, OpenError> {
    open_regular(path, OpenOptions::new().read(true), symlinks)
}

/// Names the reason of a failed `open`: `ELOOP` is a symlink at the path only if `lstat` says
/// so (it also means a loop further up); `ENOENT` with a missing parent is that directory;
/// `ENXIO` (a FIFO or socket with nobody on the other side) is the file type.
fn open_failure(path: &Path, e: io::Error, follow: bool) -> OpenError {
    let lstat = std::fs::symlink_metadata(path);
    match e.raw_os_error() {
        Some(libc::ELOOP)
            if !follow && lstat.as_ref().is_ok_and(|m| m.file_type().is_symlink()) =>
        {
            OpenError::Symlink
        }
        Some(libc::ENOENT) => match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) if !p.exists() => OpenError::NoParent,
            _ => OpenError::Io(e),
        },
        Some(libc::ENXIO) => match std::fs::metadata(path) {
            Ok(m) if !m.file_type().is_file() => OpenError::NotRegular(kind_name(m.file_type())),
            _ => OpenError::Io(e),
        },
        _ => OpenError::Io(e),
    }
}

/// What a file type is, for messages: `"a FIFO"`, `"a directory"`, ...
pub fn kind_name(ft: FileType) -> &'static str {
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

/// The directory that holds `path`: its parent, or `.` for a bare file name.
pub(crate) fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// The soft open-files limit (`RLIMIT_NOFILE`), `None` when unknown or unlimited: what
/// bounds how many files of a set may be held open at once.
pub(crate) fn nofile_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    Some(lim.rlim_cur)
}

fn set_blocking(file: &File) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own; F_GETFL/F_SETFL take no pointers.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    fn mkfifo(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    #[test]
    fn fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        mkfifo(&p);
        // With no writer, a blocking open for reading would hang here.
        let e = open_read(&p, Symlinks::Follow).unwrap_err();
        assert!(matches!(e, OpenError::NotRegular("a FIFO")), "{e}");
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::InvalidInput);
        let e = open_regular(&p, OpenOptions::new().append(true), Symlinks::Refuse).unwrap_err();
        assert!(e.to_string().contains("is a FIFO"), "{e}");
    }

    #[test]
    fn directory_and_device_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = open_read(dir.path(), Symlinks::Follow).unwrap_err();
        assert!(e.to_string().contains("a directory"), "{e}");
        let e = open_read(Path::new("/dev/zero"), Symlinks::Follow).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
    }

    #[test]
    fn symlink_followed_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        std::fs::write(&target, b"x").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_read(&link, Symlinks::Follow).is_ok());
        let e = open_read(&link, Symlinks::Refuse).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        // A real loop is reported as the OS reports it.
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let e = io::Error::from(open_read(&a, Symlinks::Follow).unwrap_err());
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
        let e = open_regular(
            &dir.path().join("no/such/dir/f"),
            OpenOptions::new().append(true).create(true),
            Symlinks::Refuse,
        )
        .unwrap_err();
        assert!(matches!(e, OpenError::NoParent), "{e}");
    }

    #[test]
    fn opened_file_is_blocking_and_readable() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        let f = open_read(&p, Symlinks::Refuse).unwrap();
        // SAFETY: F_GETFL on an owned fd.
        let flags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0);
        assert_eq!(std::io::read_to_string(f).unwrap(), "hello");
    }
}
