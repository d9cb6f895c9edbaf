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
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fs::{File, FileType, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Whether the last component of a path may be a symbolic link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symlinks {
    /// Follow it (a path the user named).
    Follow,
    /// Refuse it with an error (`O_NOFOLLOW`): files found by listing a directory, and
    /// files about to be written or cut.
    Refuse,
}

/// Opens `path` with `opts` (whose read/write/append/create flags the caller sets) and
/// checks that it is a regular file, without ever blocking in `open(2)`.
///
/// The returned file is in blocking mode. Errors keep the OS error kind (`NotFound`,
/// `PermissionDenied`, …); a symlink refused by [`Symlinks::Refuse`] and a non-regular file
/// get a message that says so. The error does not repeat the path: callers wrap it with
/// theirs.
pub fn open_regular(path: &Path, opts: &OpenOptions, symlinks: Symlinks) -> io::Result<File> {
    let mut opts = opts.clone();
    let nofollow = match symlinks {
        Symlinks::Follow => 0,
        Symlinks::Refuse => libc::O_NOFOLLOW,
    };
    opts.custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | nofollow);
    let file = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) && symlinks == Symlinks::Refuse => {
            // O_NOFOLLOW answers ELOOP for a final symlink; say what it really is (a real
            // loop further up the path is reported as is).
            let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            return Err(if is_link {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "is a symbolic link (not followed here)",
                )
            } else {
                e
            });
        }
        Err(e) => return Err(e),
    };
    let ft = file.metadata()?.file_type();
    if !ft.is_file() {
        return Err(not_regular(ft));
    }
    set_blocking(&file)?;
    Ok(file)
}

/// Opens `path` read-only as a regular file (see [`open_regular`]).
pub fn open_read(path: &Path, symlinks: Symlinks) -> io::Result<File> {
    open_regular(path, OpenOptions::new().read(true), symlinks)
}

/// The error for a file that is not regular, naming its type.
pub fn not_regular(ft: FileType) -> io::Error {
    let what = if ft.is_dir() {
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
    };
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("is {what}, not a regular file"),
    )
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
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("is a FIFO"), "{e}");
        let e = open_regular(&p, OpenOptions::new().append(true), Symlinks::Refuse).unwrap_err();
        // For writing with no reader, the kernel answers ENXIO at once.
        assert!(
            e.to_string().contains("FIFO") || e.raw_os_error() == Some(libc::ENXIO),
            "{e}"
        );
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
        let e = open_read(&a, Symlinks::Follow).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP));
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
