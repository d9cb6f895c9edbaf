//! runc's `log.json`: streaming decoder, last error read from the end, containerd-compatible
//! last error, runc-format writer, spam summary.
//!
//! runc, crun and youki append one JSON object per line to `log.json` in the bundle
//! directory, on every create, start, exec, kill and delete:
//! `{"level":"error","msg":"container not running","time":"2026-11-23T08:27:21Z"}`. When a
//! runtime call fails, containerd's shim reads the file to report the last error message.
//!
//! ```
//! use std::io::Cursor;
//! use ctrlog::runc::{last_error, last_error_compat};
//!
//! let log = concat!(
//!     "{\"level\":\"warning\",\"msg\":\"Kernel memory settings are ignored\",\"time\":\"2026-11-23T08:27:40Z\"}\n",
//!     "{\"level\":\"error\",\"msg\":\"container not running\",\"time\":\"2026-11-23T08:27:41Z\"}\n",
//!     "{\"level\":\"info\",\"msg\":\"Using low-level runtime /usr/bin/runc\",\"ti", // torn: runc killed mid-write
//! );
//! // Robust: read backwards from the end; the torn record does not hide the answer.
//! let e = last_error(Cursor::new(log)).unwrap().unwrap();
//! assert_eq!(e.msg, "container not running");
//! assert_eq!(e.time.map(|t| t.secs), Some(1795422461)); // 2026-11-23T08:27:41Z
//! // containerd-compatible: Go's json.Decoder fails on the torn record, so containerd errors.
//! assert!(last_error_compat(log.as_bytes()).is_err());
//! ```
//!
//! # Pieces
//! * [`parse_entry`] / [`Entry`]: one record, decoded with `serde_json::from_slice`,
//!   borrowing its strings; other keys kept as raw JSON.
//! * [`Decoder`]: records from any `BufRead`, framed by [`crate::lines::LineBuffer`] in the
//!   reader's own buffer, with an [`ErrorPolicy`]
//!   (strict: each bad record is one error with its offset, and decoding goes on at the next
//!   line; lenient: skipped and counted) and a per-record cap (an overlong record is skipped
//!   without being buffered). As in the `csv` crate, [`Decoder::read_entry`] refills the
//!   caller's [`OwnedEntry`] (no allocation per record once its strings have grown) and
//!   [`Decoder::next_record`] lends a borrowed [`Record`].
//! * [`last_error`] (seekable, backwards in blocks, stops at the first error record from the
//!   end) and [`last_error_stream`] (forward, `memmem` prefilter): robust semantics.
//! * [`last_error_compat`] / [`CompatScanner`]: exactly what containerd's
//!   `getLastRuntimeError` returns, or an error wherever it errors.
//! * [`EntryWriter`] / [`encode_entry`]: runc-format (logrus `JSONFormatter`) records.
//! * [`summarize`]: counts per level, first/last time, top repeated messages.
//! * `cap` (Linux): [`cap::cap_log`] brings a `log.json` over a size down to its newest
//!   whole records, keeping the last error record, while runc may be appending to it.
//!
//! # Reference
//! containerd `getLastRuntimeError` (`pkg/process/utils.go` in 1.6/1.7,
//! `cmd/containerd-shim-runc-v2/process/utils.go` in 2.x), Go's `encoding/json` `Decoder` and
//! `time.Time.UnmarshalJSON`, logrus `JSONFormatter`. The rules, each with a test in
//! `tests/runc/rules.rs`:
//!
//! * containerd decodes the whole file with one `json.Decoder` into ONE reused
//!   `struct{Level, Msg string; Time time.Time}`: a record that omits `level` or `msg` keeps
//!   the previous record's value; `null` keeps it too; after each record, if `Level` is
//!   exactly `"error"`, the answer becomes `strings.TrimSpace(Msg)` (a blank message
//!   overwrites an earlier one).
//! * values may be separated by JSON whitespace or by nothing; keys match case-insensitively
//!   (Unicode simple folding: `"mſg"` is `Msg`); a repeated key's last value wins; unknown
//!   keys are skipped but must be valid JSON; a top-level `null` is a no-op.
//! * any decode error discards everything: a torn last record (`unexpected EOF`), a BOM, a
//!   text-format log, a non-string `level`/`msg`, a `time` that is not absent, `null` or
//!   RFC 3339 (checked on the raw, unescaped bytes, with `time.Parse`'s lax rules),
//!   nesting deeper than 10 000.
//! * Go turns invalid UTF-8 in strings into U+FFFD per byte, and unpaired surrogate escapes
//!   into U+FFFD.
//!
//! # Robust semantics ([`last_error`], [`last_error_stream`], [`Decoder`])
//! Records are lines (`\n`); each is judged alone, with no state carried between records.
//! The answer is the last record whose `level` is exactly `error`, `msg` trimmed of Unicode
//! whitespace, with its `time` parsed when valid. Differences from containerd, on purpose:
//!
//! * a torn, corrupt, text or overlong record is skipped instead of failing the whole file;
//! * no state between records: `{"level":"error","msg":"a"}` then `{"level":"error"}` gives
//!   `""` (containerd: `a`); a record without `msg` gives `""`;
//! * keys are matched exactly (`level`, `msg`, `time`, as every runtime writes them);
//! * records must be one per line (`{}{}` on one line is malformed);
//! * an invalid `time` does not disqualify an error record (its time is `None`);
//! * serde_json rules apply within a record: invalid UTF-8 or lone surrogate escapes make the
//!   record malformed (Go substitutes U+FFFD), nesting is limited to 128 levels (Go: 10 000),
//!   a non-string `level`/`msg`/`time` makes the record malformed;
//! * records over [`DEFAULT_MAX_RECORD_LEN`] (1 MiB, configurable) are skipped unread, so
//!   memory stays bounded (containerd buffers a whole record: ~344 MB for one 64 MiB record).
//!
//! # Writer
//! [`encode_entry`] follows logrus's `JSONFormatter` on Go < 1.22 (runc 1.1 as packaged):
//! sorted keys, `time.RFC3339` whole seconds, HTML-safe escaping, control bytes other than
//! `\n` `\r` `\t` as `\u00XX` (Go 1.22+ writes `\b` and `\f`; both decode the same).
//!
//! # Other limits
//! * [`last_error`] reads the length once; a file truncated while it is read (rotation) is an
//!   I/O error, bytes appended meanwhile are not seen.
//! * an overlong record is skipped even if it is an error record: with the default cap, a
//!   1 MiB+ error message is not reported (raise [`LastErrorOptions::max_record_len`]).
//!
//! # Limits of the compatible mode
//! * the kept `msg` is capped ([`CompatOptions::max_msg_len`], 1 MiB by default): if the
//!   answer would be longer, [`CompatErrorKind::MessageTooLong`] is returned instead;
//! * error values are not Go's error strings (the CLI exits 2 where containerd errors).

#[cfg(target_os = "linux")]
pub mod bundle;
#[cfg(target_os = "linux")]
pub mod cap;
mod compat;
mod decoder;
mod entry;
#[cfg(feature = "__fuzz")]
mod fuzz;
mod last_error;
mod summary;
mod writer;

pub use compat::{
    last_error_compat, last_error_compat_with, CompatErrorKind, CompatOptions, CompatScanner,
    DEFAULT_MAX_MSG_LEN,
};
pub use decoder::{
    DecodeStats, Decoder, DecoderOptions, ErrorPolicy, Record, DEFAULT_MAX_RECORD_LEN,
};
#[cfg(feature = "tokio")]
pub(crate) use entry::parse_entry_into;
pub use entry::{parse_entry, Entry, EntryError, OwnedEntry};
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub use fuzz::{fuzz_runc_decode, fuzz_runc_last_error, last_error_naive};
pub use last_error::{
    last_error, last_error_stream, last_error_stream_with, last_error_with, LastError,
    LastErrorOptions,
};
pub use summary::{summarize, MessageCount, Summary, SummaryOptions};
pub use writer::{encode_entry, escape_logrus_json, EntryWriter, FieldValue};

/// Errors of the `runc` module (named like `cri::read::ReadError` and `rotate::RotateError`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuncError {
    /// Reading failed.
    #[error("I/O error at byte {offset}: {source}")]
    Io {
        /// Offset reached when it failed.
        offset: u64,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A record is not a valid log object (strict policy).
    #[error("malformed record at byte {offset}{}: {error}", if *torn { " (torn, no newline)" } else { "" })]
    Malformed {
        /// Offset of the record.
        offset: u64,
        /// Whether it is the final record without `\n`.
        torn: bool,
        /// What is wrong with it.
        error: EntryError,
    },
    /// A record longer than the cap (strict policy).
    #[error("record at byte {offset} is {len} bytes, over the {max}-byte cap")]
    Overlong {
        /// Offset of the record.
        offset: u64,
        /// Its length without `\n`.
        len: u64,
        /// The cap.
        max: usize,
    },
    /// Where containerd's decoder would have failed (compatible mode).
    #[error("containerd's decoder fails at byte {offset}: {kind}")]
    Compat {
        /// Offset of the offending byte (or the end of input).
        offset: u64,
        /// Why.
        kind: CompatErrorKind,
    },
}

impl RuncError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> Option<u64> {
        match self {
            RuncError::Io { offset, .. }
            | RuncError::Malformed { offset, .. }
            | RuncError::Overlong { offset, .. }
            | RuncError::Compat { offset, .. } => Some(*offset),
        }
    }
}
