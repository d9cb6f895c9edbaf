//! Copying one container stream (fd 3 or fd 4) into the shared sink until EOF, or until the
//! stop pipe is readable (then draining what is readable without blocking, at most
//! [`DRAIN_CAP`] bytes).

use std::fs::File;
use std::io::{self, Read};
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use ctrlog::cri::write::{
    CopySummary, CrPolicy, CriFormat, DockerJsonFormat, LineSplitter, LogWriter, MaxLen,
    RecordFormat, SharedSink, DEFAULT_MEMORY_CAP,
};
use ctrlog::cri::Stream;
use ctrlog::time::Offset;

use super::config::Format;
use super::stop::poll;
use crate::output::LogOutput;

/// Most bytes read per stream after SIGTERM.
pub const DRAIN_CAP: u64 = 64 << 20;

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
    sink: SharedSink<LogOutput>,
    stop: RawFd,
) -> PumpResult {
    let cap = NonZeroUsize::new(DEFAULT_MEMORY_CAP).unwrap_or(NonZeroUsize::MIN);
    let cr = match format {
        Format::Cri => CrPolicy::Strip,
        Format::JsonFile => CrPolicy::Keep,
    };
    let splitter = LineSplitter::new(max_len)
        .with_memory_cap(cap)
        .with_cr_policy(cr);
    match format {
        Format::Cri => pump(fd, stream, CriFormat::new(offset), splitter, sink, stop),
        Format::JsonFile => pump(fd, stream, DockerJsonFormat::new(), splitter, sink, stop),
    }
}

/// Copies `fd` into `sink` until EOF, or until `stop` is readable (then drains without
/// blocking).
fn pump<F: RecordFormat>(
    fd: OwnedFd,
    stream: Stream,
    format: F,
    splitter: LineSplitter,
    sink: SharedSink<LogOutput>,
    stop: RawFd,
) -> PumpResult {
    let raw = fd.as_raw_fd();
    let mut input = File::from(fd);
    let mut w = LogWriter::new(stream, format, sink).with_splitter(splitter);
    let mut buf = vec![0u8; 64 * 1024];
    let mut read_error = None;
    let mut draining: Option<u64> = None;
    loop {
        let ready = match draining {
            None => match poll([raw, stop], None) {
                // The signal first: a writer that never pauses must not keep us here.
                Ok(r) if r[1] => {
                    draining = Some(0);
                    continue;
                }
                Ok(r) if r[0] => true,
                Ok(_) => continue,
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            },
            Some(done) if done >= DRAIN_CAP => break,
            Some(_) => match poll([raw], Some(Duration::ZERO)) {
                Ok(r) => r[0],
                Err(e) => {
                    read_error = Some(e);
                    break;
                }
            },
        };
        if !ready {
            break;
        }
        match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // Write errors are counted in the summary (policy Continue), never fatal.
                let _ = w.write_chunk(buf.get(..n).unwrap_or(&buf));
                if let Some(d) = draining.as_mut() {
                    *d = d.saturating_add(n as u64);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
    }
    let summary = match w.finish() {
        Ok(s) => s,
        Err(_) => w.summary().clone(),
    };
    PumpResult {
        summary,
        read_error,
    }
}
