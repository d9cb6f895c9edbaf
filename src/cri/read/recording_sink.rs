//! Test support (the property tests and the `merge_reader` fuzz target), not API: a sink
//! that records what a read writes, either keeping the zero-copy ranges it is given until
//! [`LogSink::release`] as `ctrlog logs` does, or taking every piece as a copy.

use std::ops::{ControlFlow, Range};

use super::LogSink;
use crate::cri::Stream;

/// A kept range of the window (`Ok`) or a copy given after one (`Err`).
type Pending = Result<Range<usize>, Vec<u8>>;

/// Records a read's output: bytes per stream run in write order (consecutive pieces of one
/// stream joined: how many calls carry the bytes is not the output) and the line ends.
#[derive(Debug, Default)]
pub(crate) struct RecordingSink {
    /// Keep ranges until `release` (the zero-copy path); else copy at once.
    keep_ranges: bool,
    pending: Vec<(Stream, Pending)>,
    /// The output, per stream run.
    pub(crate) out: Vec<(Stream, Vec<u8>)>,
    /// The streams whose logical lines ended, in order.
    pub(crate) ends: Vec<Stream>,
}

impl RecordingSink {
    /// A sink that keeps ranges until they are released.
    pub(crate) fn zero_copy() -> Self {
        RecordingSink {
            keep_ranges: true,
            ..RecordingSink::default()
        }
    }

    /// A sink that copies every piece at once.
    // Only the fuzz target compares the two.
    #[cfg_attr(not(feature = "__fuzz"), allow(dead_code))]
    pub(crate) fn copying() -> Self {
        RecordingSink::default()
    }

    /// Ranges given and not yet released.
    pub(crate) fn unreleased(&self) -> usize {
        self.pending.len()
    }

    fn push(&mut self, s: Stream, data: &[u8]) {
        match self.out.last_mut() {
            Some((last, bytes)) if *last == s => bytes.extend_from_slice(data),
            _ => self.out.push((s, data.to_vec())),
        }
    }
}

impl LogSink for RecordingSink {
    fn write_stream(&mut self, s: Stream, data: &[u8]) -> std::io::Result<()> {
        if self.pending.is_empty() {
            self.push(s, data);
        } else {
            // Behind kept ranges: written after them, at release.
            self.pending.push((s, Err(data.to_vec())));
        }
        Ok(())
    }

    fn write_stream_at(&mut self, s: Stream, data: &[u8], at: usize) -> std::io::Result<()> {
        if self.keep_ranges {
            self.pending.push((s, Ok(at..at + data.len())));
            Ok(())
        } else {
            self.write_stream(s, data)
        }
    }

    fn release(&mut self, window: &[u8]) -> std::io::Result<()> {
        for (s, p) in std::mem::take(&mut self.pending) {
            match p {
                Ok(r) => self.push(s, &window[r]),
                Err(b) => self.push(s, &b),
            }
        }
        Ok(())
    }

    fn line_end(&mut self, s: Stream) -> ControlFlow<()> {
        self.ends.push(s);
        ControlFlow::Continue(())
    }
}
