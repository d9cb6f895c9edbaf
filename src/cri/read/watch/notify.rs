//! Directory events through inotify (Linux); elsewhere there are none and the watcher polls.

use super::*;

/// What a wait saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Wake {
    /// Files of the set may have been created, renamed or deleted: list it again.
    pub rescan: bool,
    /// Data may have been written.
    pub changed: bool,
    /// `IN_CREATE` events of the live file's name: new files of the writer.
    pub created: u64,
    /// Events were lost (`IN_Q_OVERFLOW`): `created` is not a count.
    pub overflow: bool,
}

impl Wake {
    /// Nothing happened.
    pub(super) const NONE: Wake = Wake {
        rescan: false,
        changed: false,
        created: 0,
        overflow: false,
    };
    /// Anything may have happened (a timeout, polling, an overflow).
    pub(super) const ALL: Wake = Wake {
        rescan: true,
        changed: true,
        created: 0,
        overflow: true,
    };
}

/// Whether `name` is the live file's name (`base`) or one of its backups' (`base.…`).
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
fn in_set(name: &std::ffi::OsStr, base: &std::ffi::OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (n, b) = (name.as_bytes(), base.as_bytes());
    n.strip_prefix(b)
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'.')
}

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) struct Events {
    inotify: inotify::Inotify,
    base: OsString,
    /// ctrlog's rotating writer makes its next live file under this name and swaps it in
    /// (`renameat2(RENAME_EXCHANGE)`): no creation of `base`, a rename onto it instead.
    next_live: OsString,
    /// The cookie of the last rename away from `next_live`: the rename onto `base` with the
    /// same cookie is the swap, and counts as a new live file.
    swap_cookie: Option<u32>,
    buf: Vec<u8>,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Events {
    /// Watches the directory of `path` for its set's files being created, moved in or
    /// out, deleted, written and closed.
    pub(super) fn new(path: &Path) -> io::Result<Events> {
        use inotify::{Inotify, WatchMask};
        let base = path
            .file_name()
            .ok_or_else(|| io::Error::other("no file name"))?
            .to_os_string();
        let dir = crate::regular::dir_of(path);
        let inotify = Inotify::init()?;
        inotify.watches().add(
            dir,
            WatchMask::CREATE
                | WatchMask::MOVED_TO
                | WatchMask::MOVED_FROM
                | WatchMask::DELETE
                | WatchMask::MODIFY
                | WatchMask::CLOSE_WRITE
                | WatchMask::DELETE_SELF
                | WatchMask::MOVE_SELF
                | WatchMask::ONLYDIR,
        )?;
        Ok(Events {
            inotify,
            next_live: crate::rotate::next_live_name(&base),
            base,
            swap_cookie: None,
            buf: vec![0; 16 << 10],
        })
    }

    /// Drops the events queued so far.
    pub(super) fn discard_pending(&mut self) {
        while let Ok(ev) = self.inotify.read_events(&mut self.buf) {
            if ev.count() == 0 {
                break;
            }
        }
    }

    /// Waits up to `timeout` for events (`poll(2)` on the inotify fd, so a stop is seen
    /// within `timeout`). A timeout asks for a rescan too: cheap insurance against
    /// changes inotify does not report (a network file system's other clients).
    pub(super) fn wait(&mut self, timeout: Duration) -> io::Result<Wake> {
        use inotify::EventMask;
        use std::os::fd::AsRawFd;
        let mut pfd = libc::pollfd {
            fd: self.inotify.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // A real clamp: `poll(2)` waits at most `c_int::MAX` ms (24 days).
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted {
                Ok(Wake::NONE)
            } else {
                Err(e)
            };
        }
        if r == 0 {
            return Ok(Wake {
                rescan: true,
                ..Wake::NONE
            });
        }
        let mut wake = Wake::NONE;
        loop {
            let events = match self.inotify.read_events(&mut self.buf) {
                Ok(ev) => ev,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(wake),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            for ev in events {
                if ev.mask.contains(EventMask::Q_OVERFLOW) {
                    // Events were dropped: list the set again.
                    wake = Wake {
                        created: wake.created,
                        ..Wake::ALL
                    };
                    continue;
                }
                if ev
                    .mask
                    .intersects(EventMask::IGNORED | EventMask::DELETE_SELF | EventMask::MOVE_SELF)
                {
                    return Err(io::Error::other("the directory watch is gone"));
                }
                let Some(name) = ev.name else { continue };
                if ev.mask.contains(EventMask::MOVED_FROM) && name == self.next_live.as_os_str() {
                    self.swap_cookie = Some(ev.cookie);
                    continue;
                }
                if !in_set(name, &self.base) {
                    continue;
                }
                wake.changed = true;
                // A writer makes its new live file with open(O_CREAT). A rename onto
                // the name (kubelet renaming a backup back after a failed reopen) is
                // not counted: it may be a file already known.
                let swapped_in = ev.mask.contains(EventMask::MOVED_TO)
                    && ev.cookie != 0
                    && self.swap_cookie == Some(ev.cookie);
                if (ev.mask.contains(EventMask::CREATE) || swapped_in)
                    && !ev.mask.contains(EventMask::ISDIR)
                    && name == self.base.as_os_str()
                {
                    wake.created += 1;
                    self.swap_cookie = None;
                }
                if ev.mask.intersects(
                    EventMask::CREATE
                        | EventMask::MOVED_TO
                        | EventMask::MOVED_FROM
                        | EventMask::DELETE,
                ) {
                    wake.rescan = true;
                }
            }
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) struct Events;

#[cfg(not(any(target_os = "linux", target_os = "android")))]
impl Events {
    pub(super) fn new(_path: &Path) -> io::Result<Events> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "inotify is Linux only",
        ))
    }

    pub(super) fn discard_pending(&mut self) {}

    pub(super) fn wait(&mut self, _timeout: Duration) -> io::Result<Wake> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "no events"))
    }
}
