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
//! * [`RecordFormat`]: encodes one piece as one record, [`CriFormat`] or [`DockerJsonFormat`]
//!   ([`escape_docker_json`] is the hand-written Docker string escaper).
//! * [`RecordSink`]: takes batches of whole records ([`WriteSink`] over any `Write`,
//!   [`SharedSink`] for stdout and stderr sharing one file).
//! * [`LogWriter`]: drains a `Read` (or takes chunks) through all three, reading the clock
//!   once per chunk; [`CopySummary`] counts what happened, [`WriteErrorPolicy`] decides whether
//!   a failing sink stops the copy.
//!
//! ```
//! use ctrlog::cri::write::{CriFormat, LineSplitter, LogWriter, MaxLen};
//! use ctrlog::cri::Stream;
//! use ctrlog::time::{FixedClock, Offset, Timestamp};
//!
//! let input = b"short\n0123456789\n\nno newline";
//! let mut w = LogWriter::new(Stream::Stdout, CriFormat::new(Offset::Utc), Vec::new())
//!     .with_splitter(LineSplitter::new(MaxLen::from_signed(8)))
//!     .with_clock(FixedClock(Timestamp::new(1_700_000_000, 0)));
//! w.copy_from(&input[..]).unwrap();
//! assert_eq!(
//!     String::from_utf8(w.into_sink()).unwrap(),
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
//! * A failing sink loses a whole batch (up to one chunk's records) rather than one record;
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

mod copy;
mod format;
mod sink;
mod split;

pub use copy::{CopySummary, LogWriter, WriteErrorPolicy, DEFAULT_FLUSH_SIZE, DEFAULT_READ_SIZE};
pub use format::{escape_docker_json, CriFormat, DockerJsonFormat, RecordFormat};
pub use sink::{FileSink, PartialWrite, RecordSink, SharedSink, WriteSink};
pub use split::{
    split_oracle, CrPolicy, LineSplitter, MaxLen, Split, DEFAULT_MAX_LEN, DEFAULT_MEMORY_CAP,
};

use std::io;

use crate::cri::Tag;

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
    /// The sink failed (only with [`WriteErrorPolicy::Stop`]) after `offset` input bytes.
    #[error("writing log records (input offset {offset}): {source}")]
    Write {
        /// Input bytes consumed when the batch failed.
        offset: u64,
        /// The sink's error.
        #[source]
        source: io::Error,
    },
}

/// Runs `input` through a [`LineSplitter`] in the given chunk sizes and collects the records.
fn split_chunked(
    input: &[u8],
    max: usize,
    cr: CrPolicy,
    mut next_chunk: impl FnMut() -> usize,
) -> Vec<(Tag, Vec<u8>)> {
    let max_len = MaxLen::from_signed(i64::try_from(max).unwrap_or(i64::MAX));
    let mut s = LineSplitter::new(max_len).with_cr_policy(cr);
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let n = next_chunk().clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        s.for_each(chunk, |t, c| out.push((t, c.to_vec())));
        rest = tail;
    }
    s.finish_each(|t, c| out.push((t, c.to_vec())));
    out
}

/// Fuzz target `split`: any chunking of any input gives the oracle's records.
///
/// Byte 0 picks `M` (1..=64, or 16384 when 0), byte 1 the `\r` policy and a chunking seed,
/// the rest is the input.
#[doc(hidden)]
pub fn fuzz_split(data: &[u8]) {
    let (head, input) = data.split_at(data.len().min(2));
    let m = match head.first() {
        None | Some(0) => DEFAULT_MAX_LEN,
        Some(&b) => usize::from(b % 64) + 1,
    };
    let seed = head.get(1).copied().unwrap_or(0);
    let cr = if seed & 1 == 0 {
        CrPolicy::Strip
    } else {
        CrPolicy::Keep
    };
    let expected = split_oracle(input, m, cr);
    for r in &expected {
        assert!(r.1.len() <= m, "record longer than M");
    }
    assert_eq!(
        split_chunked(input, m, cr, || usize::MAX),
        expected,
        "one shot"
    );
    assert_eq!(split_chunked(input, m, cr, || 1), expected, "byte by byte");
    // A small xorshift drives irregular chunk sizes around M.
    let mut x = u32::from(seed) | 0x9e37_0000;
    let chunked = split_chunked(input, m, cr, || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x as usize) % (m + 3) + 1
    });
    assert_eq!(chunked, expected, "random chunks");
}

/// Decodes like Go's `utf8.DecodeRune` loop: a valid sequence is one char, anything else one
/// U+FFFD per byte. Independent of [`escape_docker_json`]'s scanning, for the fuzz oracle.
fn go_lossy(s: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < s.len() {
        let found = (1..=4).find_map(|k| {
            let piece = s.get(i..i + k)?;
            std::str::from_utf8(piece).ok().map(|p| (p, k))
        });
        match found {
            Some((p, k)) => {
                out.push_str(p);
                i += k;
            }
            None => {
                out.push('\u{fffd}');
                i += 1;
            }
        }
    }
    out
}

/// Fuzz target `json_encode`: the Docker escaper's output is a JSON string that decodes to
/// the input (invalid UTF-8 as U+FFFD per byte), with no raw control byte, `<`, `>`, `&`,
/// U+2028 or U+2029 left in it.
#[doc(hidden)]
pub fn fuzz_json_encode(data: &[u8]) {
    let mut out = vec![b'"'];
    escape_docker_json(data, &mut out);
    out.push(b'"');
    let text = std::str::from_utf8(&out).expect("escaped output is UTF-8");
    assert!(!text
        .chars()
        .any(|c| c < ' ' || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}')));
    let decoded: String = serde_json::from_str(text).expect("escaped output is a JSON string");
    assert_eq!(decoded, go_lossy(data));
}
