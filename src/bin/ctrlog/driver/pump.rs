//! Copying one container stream (fd 3 or fd 4) into the shared output until EOF, or until the
//! stop pipe is readable (then draining what is readable without blocking, at most
//! [`DRAIN_CAP`] bytes): [`LogWriter::copy_until`] with [`PollStop`].

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use ctrlog::cri::write::{
    CopySummary, CrPolicy, CriEncoder, DockerJsonEncoder, LogWriter, MaxLen, PollStop,
    RecordEncoder, SharedWriter, StopPolicy, WriteError, WriterOptions,
};
use ctrlog::cri::Stream;
use ctrlog::time::Offset;

use super::config::Format;
use crate::output::LogOutput;

/// Most bytes read per stream after SIGTERM.
pub const DRAIN_CAP: u64 = 64 << 20;

/// Bytes per read of a container stream.
const READ_SIZE: usize = 64 * 1024;

pub struct PumpResult {
    pub summary: CopySummary,
    pub read_error: Option<io::Error>,
}

pub fn pump_any(
    fd: OwnedFd,
    stream: Stream,
    format: Format,
    max_len: MaxLen,
    offset: Offset,
    output: SharedWriter<LogOutput>,
    stop: BorrowedFd<'_>,
) -> PumpResult {
    let mut opts = WriterOptions::default();
    opts.split.max_len = max_len;
    opts.split.cr_policy = match format {
        Format::Cri => CrPolicy::Strip,
        Format::JsonFile => CrPolicy::Keep,
    };
    opts.read_size = READ_SIZE;
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
    output: SharedWriter<LogOutput>,
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
