//! Copying one container stream (fd 3 or fd 4) into the shared output until EOF, or until the
//! stop pipe is readable (then draining what is readable without blocking, at most
//! [`DRAIN_CAP`] bytes): [`LogWriter::copy_until`] with [`PollStop`].
//!
//! Each stream's pipe is grown to [`PIPE_SIZE`] first ([`grow_pipe`]) and read in reads of the
//! pipe's size: a busy container then fills more before the driver wakes, and each wake-up
//! reads, encodes and writes more (about 14× fewer context switches for two busy streams of
//! short lines in `benches/driver_pipes.sh`; the CPU time per byte stayed the same there).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use ctrlog::cri::write::{
    CopySummary, CrPolicy, CriEncoder, DockerJsonEncoder, LogWriter, MaxLen, PollStop,
    RecordEncoder, SharedWriter, StopPolicy, TimestampPolicy, WriteError, WriterOptions,
};
use ctrlog::cri::Stream;
use ctrlog::time::Offset;

use super::config::Format;
use crate::output::Destination;

/// Most bytes read per stream after SIGTERM.
pub const DRAIN_CAP: u64 = 64 << 20;

/// Pipe buffer asked for on fds 3 and 4: Linux's default `/proc/sys/fs/pipe-max-size`, the most
/// an unprivileged process may set. Pages are held only for unread bytes, so a driver that
/// keeps up costs no more kernel memory than with the default 64 KiB pipe.
pub const PIPE_SIZE: usize = 1 << 20;

/// Bytes per read of a container stream whose pipe size is unknown (not a pipe), and the least
/// read size.
const READ_SIZE: usize = 64 * 1024;

/// Asks for a [`PIPE_SIZE`] buffer on `fd` and returns the size it has then (0: not a pipe, or
/// unknown). Best effort and silent: `EPERM` (over `pipe-max-size`, or the user's pipe quota
/// spent), `EBUSY` (more unread data than the new size) or `EBADF` (not a pipe) leave the pipe as
/// it was, and the driver works as well with it.
pub fn grow_pipe(fd: BorrowedFd<'_>) -> usize {
    let fd = fd.as_raw_fd();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // `PIPE_SIZE` fits a c_int; the call only resizes a pipe's buffer.
        // SAFETY: fcntl on a descriptor we hold; a failure changes nothing.
        let _ = unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_SIZE as libc::c_int) };
        // SAFETY: F_GETPIPE_SZ only inspects the descriptor.
        let n = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
        usize::try_from(n).unwrap_or(0)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let _ = fd;
        0
    }
}

/// Bytes per read for a pipe of `pipe_size` bytes (0: unknown): the whole pipe, within
/// [`READ_SIZE`]..=[`PIPE_SIZE`] (a pipe grown past it by a privileged parent does not grow the
/// buffer).
fn read_size(pipe_size: usize) -> usize {
    pipe_size.clamp(READ_SIZE, PIPE_SIZE)
}

pub struct PumpResult {
    pub summary: CopySummary,
    pub read_error: Option<io::Error>,
}

/// How a stream's records are made: the driver's settings for both pumps.
#[derive(Clone, Copy, Debug)]
pub struct Encoding {
    pub format: Format,
    pub max_len: MaxLen,
    pub offset: Offset,
    pub timestamps: TimestampPolicy,
}

pub fn pump_any(
    fd: OwnedFd,
    stream: Stream,
    enc: Encoding,
    output: SharedWriter<Destination>,
    stop: BorrowedFd<'_>,
) -> PumpResult {
    let Encoding {
        format,
        max_len,
        offset,
        timestamps,
    } = enc;
    let mut opts = WriterOptions::default();
    opts.split.max_len = max_len;
    opts.timestamps = timestamps;
    opts.split.cr_policy = match format {
        Format::Cri => CrPolicy::Strip,
        Format::JsonFile => CrPolicy::Keep,
    };
    opts.read_size = read_size(grow_pipe(fd.as_fd()));
    match format {
        Format::Cri => pump(fd, stream, CriEncoder::new(offset), opts, output, stop),
        Format::JsonFile => pump(fd, stream, DockerJsonEncoder::new(), opts, output, stop),
    }
}

/// Copies `fd` into `output` until EOF, or until `stop` is readable (then drains without
/// blocking). Write errors are counted in the summary (policy `Continue`), never fatal.
fn pump<F: RecordEncoder>(
    fd: OwnedFd,
    stream: Stream,
    format: F,
    opts: WriterOptions,
    output: SharedWriter<Destination>,
    stop: BorrowedFd<'_>,
) -> PumpResult {
    let input = File::from(fd);
    let mut w = LogWriter::with_options(stream, format, output, opts);
    let policy = StopPolicy::Drain {
        max_bytes: DRAIN_CAP,
        max_wait: Duration::ZERO,
    };
    let read_error = match w.copy_until(&input, PollStop::new(input.as_fd(), stop), policy) {
        Err(WriteError::Read { source, .. }) => Some(source),
        // `Write` only comes with `WriteErrorPolicy::Stop`.
        _ => None,
    };
    PumpResult {
        summary: w.summary().clone(),
        read_error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::FromRawFd;

    #[test]
    fn reads_whole_pipes_within_bounds() {
        assert_eq!(read_size(0), READ_SIZE);
        assert_eq!(read_size(4096), READ_SIZE);
        assert_eq!(read_size(256 << 10), 256 << 10);
        assert_eq!(read_size(PIPE_SIZE), PIPE_SIZE);
        assert_eq!(read_size(PIPE_SIZE * 4), PIPE_SIZE);
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn grows_a_pipe_and_leaves_other_files_alone() {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array of two ints.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both descriptors were just created and are owned here.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let max: usize = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let n = grow_pipe(r.as_fd());
        // Granted to root, and to anyone within pipe-max-size (1 MiB by default).
        // SAFETY: geteuid has no preconditions.
        if max >= PIPE_SIZE || unsafe { libc::geteuid() } == 0 {
            assert_eq!(n, PIPE_SIZE);
        } else {
            assert!(n >= 4096, "{n}");
        }
        drop(w);
        let file = tempfile::tempfile().unwrap();
        assert_eq!(grow_pipe(file.as_fd()), 0);
    }
}
