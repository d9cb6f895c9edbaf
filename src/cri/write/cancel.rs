//! Stopping a copy from outside: [`LogWriter::copy_until`] reads until end of input or until a
//! [`StopSignal`] says stop, then drains as its [`StopPolicy`] says.
//!
//! ```
//! # #[cfg(unix)] fn main() {
//! use std::io::Write;
//! use std::os::fd::AsFd;
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//!
//! use ctrlog::cri::write::{CopyEnd, CriEncoder, LogWriter, PollStop, StopPolicy};
//! use ctrlog::cri::Stream;
//! use ctrlog::time::{FixedClock, Offset, Timestamp};
//!
//! // The container's stdout (still open: no end of input) and the stop pipe.
//! let (input, mut container) = UnixStream::pair().unwrap();
//! let (stop, mut stopper) = UnixStream::pair().unwrap();
//! container.write_all(b"hello\nwor").unwrap();
//! stopper.write_all(&[1]).unwrap(); // SIGTERM arrived
//!
//! let mut w = LogWriter::new(Stream::Stdout, CriEncoder::new(Offset::Utc), Vec::new())
//!     .with_clock(FixedClock(Timestamp::new(0, 0)));
//! // Stop first, then what the pipe already holds is drained (at most 64 MiB, no waiting
//! // for more) and the unterminated tail is written as a `P` record.
//! let policy = StopPolicy::Drain { max_bytes: 64 << 20, max_wait: Duration::ZERO };
//! let end = w.copy_until(&input, PollStop::new(input.as_fd(), stop.as_fd()), policy).unwrap();
//! assert_eq!(end, CopyEnd::Stopped);
//! assert_eq!(
//!     w.into_inner(),
//!     b"1970-01-01T00:00:00Z stdout F hello\n1970-01-01T00:00:00Z stdout P wor\n"
//! );
//! # }
//! # #[cfg(not(unix))] fn main() {}
//! ```
//!
//! The stop is a separate channel because a blocked `read` cannot be cancelled portably: the
//! copy asks the signal before each read whether the input is readable or a stop came, so a
//! signal that can wait on both ([`PollStop`], over `poll(2)`) stops even a copy whose input is
//! silent. [`LogWriter::copy_from`] is the same loop with [`NoStop`]; an [`AtomicBool`] is a
//! signal that is looked at between reads only.
//!
//! This is what containerd's `binary://` logger needs on SIGTERM (`runtime/v2/logging`
//! cancels a context and leaves unread data to the logger): the container's pipes still hold
//! output it wrote before it was stopped, and a copy that stopped dead would lose it. The
//! drain is bounded in bytes (a writer that never pauses cannot keep it going) and in time.
//!
//! # Limits
//!
//! - With a signal that cannot tell whether the input is readable (an [`AtomicBool`],
//!   [`NoStop`]), every read may block; the stop is seen when it returns, and a drain reads
//!   until end of input or its byte limit.
//! - The byte limit is checked before each read: a drain reads at most one read size
//!   ([`WriterOptions::read_size`](super::WriterOptions::read_size)) past it.

use std::io;
#[cfg(unix)]
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[cfg(doc)]
use super::LogWriter;

/// What a [`StopSignal`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Wake {
    /// The input is readable: a read returns data, end of input or an error without blocking
    /// (or, for a signal that cannot tell, the read may block).
    Input,
    /// A stop was requested.
    Stop,
    /// Neither within the timeout, or the wait was interrupted: ask again (a drain whose time
    /// is up ends).
    Idle,
}

/// Where a cancellable copy learns that its input is readable or that it must stop.
///
/// ```
/// use std::sync::atomic::AtomicBool;
///
/// use ctrlog::cri::write::{CopyEnd, CriEncoder, LogWriter, StopPolicy};
/// use ctrlog::cri::Stream;
/// use ctrlog::time::Offset;
///
/// // Set by another thread (a signal handler's flag): seen before the next read.
/// let stop = AtomicBool::new(true);
/// let mut w = LogWriter::new(Stream::Stdout, CriEncoder::new(Offset::Utc), Vec::new());
/// let end = w.copy_until(&b"never read\n"[..], &stop, StopPolicy::Now).unwrap();
/// assert_eq!(end, CopyEnd::Stopped);
/// assert!(w.into_inner().is_empty());
/// ```
pub trait StopSignal {
    /// Waits at most `timeout` (`None`: no limit) until the input is readable or, when
    /// `watch_stop` is set, a stop is requested. A stop wins over readable input: a writer
    /// that never pauses must not hide it. During a drain `watch_stop` is false (the stop is
    /// known) and the timeout is what is left of the drain's time.
    ///
    /// # Errors
    ///
    /// A failed wait; the copy ends with it as a read error.
    fn wait(&mut self, watch_stop: bool, timeout: Option<Duration>) -> io::Result<Wake>;
}

/// Never stops: every read is made at once and may block. [`LogWriter::copy_from`] uses it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoStop;

impl StopSignal for NoStop {
    #[inline]
    fn wait(&mut self, _: bool, _: Option<Duration>) -> io::Result<Wake> {
        Ok(Wake::Input)
    }
}

/// Stops once the flag is set, seen between reads (a blocked read is not interrupted); the
/// input always counts as readable, so a drain reads until end of input or its byte limit.
impl StopSignal for &AtomicBool {
    #[inline]
    fn wait(&mut self, watch_stop: bool, _: Option<Duration>) -> io::Result<Wake> {
        if watch_stop && self.load(Ordering::Acquire) {
            return Ok(Wake::Stop);
        }
        Ok(Wake::Input)
    }
}

/// Waits with `poll(2)` on the input and on a stop descriptor (a pipe, socket or eventfd that
/// becomes readable, or hangs up, when the copy must stop); a hang-up or error on either
/// counts as readable, so the read or the stop that follows sees it.
#[cfg(unix)]
#[derive(Clone, Copy, Debug)]
pub struct PollStop<'a> {
    input: BorrowedFd<'a>,
    stop: BorrowedFd<'a>,
}

#[cfg(unix)]
impl<'a> PollStop<'a> {
    /// Watches `input` (the descriptor the copy reads) and `stop`.
    pub fn new(input: BorrowedFd<'a>, stop: BorrowedFd<'a>) -> Self {
        PollStop { input, stop }
    }
}

#[cfg(unix)]
impl StopSignal for PollStop<'_> {
    fn wait(&mut self, watch_stop: bool, timeout: Option<Duration>) -> io::Result<Wake> {
        let pfd = |fd: BorrowedFd<'_>| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds = [pfd(self.input), pfd(self.stop)];
        let n: libc::nfds_t = if watch_stop { 2 } else { 1 };
        // Rounded up: a timeout of 0.5 ms must not become a busy 0 ms loop.
        let ms = match timeout {
            None => -1,
            Some(t) => {
                libc::c_int::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(libc::c_int::MAX)
            }
        };
        // SAFETY: `fds` is a valid array of at least `n` pollfd for the duration of the call.
        if unsafe { libc::poll(fds.as_mut_ptr(), n, ms) } < 0 {
            let e = io::Error::last_os_error();
            // EINTR: the caller asks again with what is left of its time.
            return match e.kind() {
                io::ErrorKind::Interrupted => Ok(Wake::Idle),
                _ => Err(e),
            };
        }
        let ready = |p: &libc::pollfd| {
            p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
        };
        Ok(if watch_stop && ready(&fds[1]) {
            Wake::Stop
        } else if ready(&fds[0]) {
            Wake::Input
        } else {
            Wake::Idle
        })
    }
}

/// What a copy does once its [`StopSignal`] says stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopPolicy {
    /// Reads nothing more.
    Now,
    /// Goes on reading while the input is readable, until end of input, `max_bytes` more
    /// bytes were read, or `max_wait` after the stop, whichever comes first. With
    /// `Duration::ZERO` only what the input holds already is read, without blocking (the
    /// `binary://` driver's choice: the container was told to stop, its pipes hold what it
    /// wrote).
    Drain {
        /// Most bytes read after the stop (checked before each read).
        max_bytes: u64,
        /// Longest the drain waits for more input, from the stop.
        max_wait: Duration,
    },
}

/// How a [`LogWriter::copy_until`] ended (the unterminated tail is written as `P` records in
/// every case).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CopyEnd {
    /// End of input (also during a drain).
    Eof,
    /// A stop, and with [`StopPolicy::Drain`] nothing more to read within its time.
    Stopped,
    /// A drain read its `max_bytes`: the input may hold more, which was not read.
    DrainLimit,
}

// The tests drive `PollStop` over Unix socket pairs.
#[cfg(all(test, unix))]
mod tests;
