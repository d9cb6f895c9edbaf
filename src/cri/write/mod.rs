//! Writing container output as CRI or Docker json-file records.
//!
//! This is containerd's CRI logger (`internal/cri/io/logger.go`, `redirectLogs`; in
//! containerd 1.6 `pkg/cri/io/logger.go`) as a library: a container's stdout/stderr bytes
//! become `<time> <stream> <P|F> <content>\n` records, lines longer than the limit cut into
//! `P` pieces closed by an `F`. The same splitter feeds a Docker json-file encoder,
//! byte-identical to dockerd's (moby `daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go`).
//!
//! The pieces, from the inside out:
//!
//! * [`LineSplitter`]: a sans-IO state machine fed `&[u8]` chunks, yielding `(Tag, &[u8])`
//!   pieces that borrow from the input; one bounded carry-over buffer for lines that straddle
//!   chunks. [`MaxLen`] and [`CrPolicy`] are its policies.
//! * [`RecordEncoder`]: encodes one piece as one record, [`CriEncoder`] or [`DockerJsonEncoder`]
//!   ([`escape_docker_json`] is the hand-written Docker string escaper).
//! * [`RecordWriter`]: takes batches of whole records ([`IoWriter`] over any `Write`,
//!   [`SharedWriter`] for stdout and stderr sharing one file).
//! * [`LogWriter`]: drains a `Read` (or takes chunks) through all three, reading the clock
//!   once per chunk, set up by [`WriterOptions`]; [`CopySummary`] counts what happened,
//!   [`WriteErrorPolicy`] decides whether a failing output stops the copy.
//!   [`LogWriter::copy_until`] is the same copy, stopped from
//!   outside ([`StopSignal`], [`PollStop`]) and drained as a [`StopPolicy`] says.
//!
//! ```
//! use ctrlog::cri::write::{CriEncoder, LogWriter, MaxLen, WriterOptions};
//! use ctrlog::cri::Stream;
//! use ctrlog::time::{FixedClock, Offset, Timestamp};
//!
//! let input = b"short\n0123456789\n\nno newline";
//! let mut opts = WriterOptions::default();
//! opts.split.max_len = MaxLen::from_signed(8);
//! let mut w = LogWriter::with_options(Stream::Stdout, CriEncoder::new(Offset::Utc), Vec::new(), opts)
//!     .with_clock(FixedClock(Timestamp::new(1_700_000_000, 0)));
//! w.copy_from(&input[..]).unwrap();
//! assert_eq!(
//!     String::from_utf8(w.into_inner()).unwrap(),
//!     "2023-11-14T22:13:20Z stdout F short\n\
//!      2023-11-14T22:13:20Z stdout P 01234567\n\
//!      2023-11-14T22:13:20Z stdout F 89\n\
//!      2023-11-14T22:13:20Z stdout F \n\
//!      2023-11-14T22:13:20Z stdout P no newli\n\
//!      2023-11-14T22:13:20Z stdout P ne\n"
//! );
//! ```
//!
//! # Splitting rules (containerd's)
//!
//! For a maximum content length `M` (containerd's `max_container_log_line_size`, 16384 by
//! default): a line of `L` bytes gives `max(1, ceil(L / M))` records, `P` records of exactly
//! `M` bytes then one `F` with the rest; the `\n` and one `\r` directly before it are dropped
//! (also when `\r` and `\n` arrive in different reads); an unterminated tail at end of input is
//! cut the same way but all its records are `P`; empty input gives nothing; an empty line is
//! `<time> stdout F \n`. Cuts are byte-based, so a UTF-8 character may be split across two
//! records (as in containerd and Docker); joining the pieces restores it.
//!
//! # Limits
//!
//! Memory is bounded for every input (see [`LogWriter`]): records are never longer than the
//! memory cap ([`DEFAULT_MEMORY_CAP`], 2 MiB by default), whatever `M` is. Throughput and peak
//! RSS figures are in `BENCHMARKS.md` (CRI writer section).
//!
//! # Differences from containerd, on purpose
//!
//! * `M` from 1 to 15: containerd reads through a 16-byte minimum buffer and panics on lines
//!   of 17+ bytes, killing the daemon; ctrlog cuts at exactly `M`.
//! * Unlimited (`M <= 0`): containerd buffers the whole line (one endless line grew it to
//!   ~3.6x the line size: 960 MB for a 256 MiB line); ctrlog buffers at most the memory cap and
//!   past it emits `P` records of the cap's size, which every CRI reader merges back.
//! * The clock is read once per input chunk, not per record: every record of one read arrived
//!   at the same moment. Records of one chunk carry the same timestamp.
//! * A failing output loses a whole batch (up to one chunk's records) rather than one record;
//!   like containerd, draining continues ([`WriteErrorPolicy::Continue`]), or, by option, the
//!   copy stops.
//! * Metrics (containerd's Prometheus counters) become [`CopySummary`].
//!
//! # Differences from dockerd (json-file)
//!
//! * dockerd's copier cuts lines at 16384 bytes with a buffer that fills before it sees the
//!   `\n`, so a line of exactly 16384 bytes becomes a partial plus `{"log":"\n",...}`; ctrlog
//!   writes one record (the same splitter as CRI). Longer lines are cut identically.
//! * No `attrs` key (log labels / env options).

mod cancel;
mod copy;
mod format;
#[cfg(feature = "__fuzz")]
mod fuzz;
mod split;
mod writer;

#[cfg(unix)]
pub use cancel::PollStop;
pub use cancel::{CopyEnd, NoStop, StopPolicy, StopSignal, Wake};
pub use copy::{
    CopySummary, LogWriter, TimestampPolicy, WriteErrorPolicy, WriterOptions, DEFAULT_FLUSH_SIZE,
    DEFAULT_READ_SIZE,
};
pub use format::{escape_docker_json, CriEncoder, DockerJsonEncoder, RecordEncoder};
pub use split::{
    CrPolicy, LineSplitter, MaxLen, Split, SplitOptions, DEFAULT_MAX_LEN, DEFAULT_MEMORY_CAP,
};
#[cfg(unix)]
pub use writer::FileWriter;
pub use writer::{IoWriter, PartialWrite, RecordWriter, SharedWriter};

// Test support, not API: compiled only with the internal `__fuzz` feature.
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub use fuzz::{fuzz_json_encode, fuzz_split, split_oracle};

use std::io;

/// Why a [`LogWriter`] stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// Reading the container's output failed after `offset` input bytes. The tail read so far
    /// was still written (as `P` records).
    #[error("reading container output after {offset} bytes: {source}")]
    Read {
        /// Input bytes consumed before the error.
        offset: u64,
        /// The read error.
        #[source]
        source: io::Error,
    },
    /// The output failed (only with [`WriteErrorPolicy::Stop`]) after `offset` input bytes.
    #[error("writing log records (input offset {offset}): {source}")]
    Write {
        /// Input bytes consumed when the batch failed.
        offset: u64,
        /// The output's error.
        #[source]
        source: io::Error,
    },
}
