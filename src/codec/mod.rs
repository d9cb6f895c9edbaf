//! tokio support (feature `tokio`): tokio-util codecs over `BytesMut` for the three record
//! formats, and an async copy of a container's two streams into one log.
//!
//! * [`RecordCodec`]: CRI and Docker json-file records; decodes either (per line, as the
//!   file reader does), encodes with any [`RecordEncoder`](crate::cri::write::RecordEncoder).
//! * [`RuncCodec`]: runc's log.json.
//! * [`copy_streams`]: stdout and stderr to one sink as records, as the `binary://` driver
//!   does with threads.
//! * [`FollowStream`] (Unix): `kubectl logs -f` as a `Stream` of lines, across rotation.
//!
//! The codecs are thin: framing is the crate's overlong-line policy over the framed
//! reader's buffer (a line of the cap or more is dropped as it streams, never buffered
//! whole, as tokio-util's `LinesCodec::new_with_max_length` does; it is counted, not an
//! error, because tokio-util ends a framed stream at its first error), and each line goes
//! to the same sans-IO parsers the file readers use
//! ([`RecordParser`](crate::cri::read::RecordParser), runc's entry decoder).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use futures_util::StreamExt;
//! use tokio_util::codec::FramedRead;
//! use ctrlog::codec::RecordCodec;
//!
//! // Any AsyncRead: a file, a socket, a pipe from a container.
//! let log = &b"2024-01-01T00:00:00Z stdout F hello\ngarbage\n2024-01-01T00:00:01Z stderr F bye\n"[..];
//! let mut records = FramedRead::new(log, RecordCodec::cri_utc());
//! let mut got = Vec::new();
//! while let Some(r) = records.next().await {
//!     got.push(r?.content);
//! }
//! assert_eq!(got, ["hello", "bye"]);
//! assert_eq!(records.decoder().counts().skipped, 1);
//! # Ok::<(), ctrlog::codec::CodecError>(()) }).unwrap();
//! ```

use std::io;

mod copy;
// Following reads files (`cri::read::Follower`), which is Unix-only.
#[cfg(unix)]
mod follow;
mod frame;
mod record;
mod runc;

pub use copy::copy_streams;
#[cfg(unix)]
pub use follow::FollowStream;
pub use record::{RecordCodec, SkipCounts, DEFAULT_MAX_RECORD_LEN};
pub use runc::RuncCodec;

/// Why a codec call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// Reading or writing the underlying stream failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A record to encode holds a `\n`: a record is one line (split the content with a
    /// [`LineSplitter`](crate::cri::write::LineSplitter) first).
    #[error("record content holds a newline; a record is one line")]
    NewlineInContent,
    /// A runc entry to encode has no `time`, or one that is not RFC 3339.
    #[error("entry has no valid RFC 3339 time")]
    BadTime,
}
